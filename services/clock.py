"""Hall time: everything is stored in UTC and shown in HALL_TZ. "Today" may be pinned by HALL_TODAY."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

from flask import Flask, current_app, has_app_context

from scoring.calendar import next_month


def hall_tz() -> ZoneInfo:
    name = current_app.config["HALL_TZ"] if has_app_context() else "Asia/Shanghai"
    return ZoneInfo(name)


def utc_now() -> datetime:
    pinned = current_app.config.get("HALL_NOW") if has_app_context() else None
    if pinned:
        return pinned if pinned.tzinfo else pinned.replace(tzinfo=hall_tz()).astimezone(UTC)
    return datetime.now(UTC)


def hall_now() -> datetime:
    return utc_now().astimezone(hall_tz())


def hall_today() -> date:
    pinned = current_app.config.get("HALL_TODAY") if has_app_context() else None
    return pinned or hall_now().date()


def to_hall(dt: datetime) -> datetime:
    return dt.astimezone(hall_tz())


def from_hall(naive: datetime) -> datetime:
    """A naive hall-time datetime (as typed or imported) to aware UTC."""
    return naive.replace(tzinfo=hall_tz()).astimezone(UTC)


def hall_day_start(day: date) -> datetime:
    return from_hall(datetime.combine(day, time.min))


def month_utc_range(year: int, month: int) -> tuple[datetime, datetime]:
    """[start, end) of a hall-time month in UTC."""
    first = date(year, month, 1)
    nxt = date(*next_month(year, month), 1)
    return hall_day_start(first), hall_day_start(nxt)


def register_template_filters(app: Flask) -> None:
    @app.template_filter("hall_time")
    def hall_time(dt: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
        return to_hall(dt).strftime(fmt) if dt else ""

    @app.template_filter("hall_date")
    def hall_date(dt: datetime | date | None) -> str:
        if dt is None:
            return ""
        if isinstance(dt, datetime):
            dt = to_hall(dt).date()
        return dt.isoformat()

    @app.template_filter("signed")
    def signed(points: int) -> str:
        return f"+{points}" if points > 0 else str(points)
