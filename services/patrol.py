"""The patrol sheet (日常巡查扣分表): windows as rows, the rulebook's patrol items as columns, one day.

A tap logs one incident for a window at the time of the round; the tablet's own `client_key` makes a tap
re-sent after a dropped connection count once. The same inspector may undo a tap within a minute.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from flask_babel import gettext as _
from sqlalchemy import func, select

from models import Incident, IncidentStatus, Unit, db
from scoring import Rule
from services import DomainError, incidents
from services.audit import acting_user_id
from services.clock import from_hall, hall_today, to_hall, utc_now
from services.rulebooks import rulebook_for_month

UNDO_SECONDS = 60
UNDO_REASON = "巡查撤销"
CLIENT_KEY = re.compile(r"^[A-Za-z0-9-]{8,64}$")


@dataclass(frozen=True)
class Row:
    """One line of the sheet: a window of a unit. `first` marks the unit's first window (a group starts)."""

    unit: Unit
    window: str
    first: bool


def patrol_rules(day: date) -> list[Rule]:
    """The columns: the patrol items of the rulebook in force in that day's month, in rulebook order."""
    return [r for r in rulebook_for_month(day.year, day.month).rules if r.patrol and not r.derived]


def rows() -> list[Row]:
    """Every window of every active unit, grouped by unit in display order."""
    units = db.session.scalars(
        select(Unit).where(Unit.active.is_(True)).order_by(Unit.display_order, Unit.code)
    )
    return [Row(unit=u, window=w, first=i == 0) for u in units for i, w in enumerate(u.window_list)]


def _day_range(day: date) -> tuple[datetime, datetime]:
    start = from_hall(datetime.combine(day, time.min))
    return start, from_hall(datetime.combine(day + timedelta(days=1), time.min))


def counts(day: date) -> dict[tuple[int, str, str], int]:
    """(unit id, window, rule code) -> how many times it was recorded that day (confirmed incidents)."""
    start, end = _day_range(day)
    result = db.session.execute(
        select(Incident.unit_id, Incident.window, Incident.rule_code, func.sum(Incident.count))
        .where(
            Incident.status == IncidentStatus.CONFIRMED,
            Incident.occurred_at >= start,
            Incident.occurred_at < end,
            Incident.window.is_not(None),
        )
        .group_by(Incident.unit_id, Incident.window, Incident.rule_code)
    )
    return {(u, w, r): int(n or 0) for u, w, r, n in result}


def cell_count(unit: Unit, window: str, rule_code: str, day: date) -> int:
    start, end = _day_range(day)
    return int(
        db.session.scalar(
            select(func.coalesce(func.sum(Incident.count), 0)).where(
                Incident.status == IncidentStatus.CONFIRMED,
                Incident.unit_id == unit.id,
                Incident.window == window,
                Incident.rule_code == rule_code,
                Incident.occurred_at >= start,
                Incident.occurred_at < end,
            )
        )
        or 0
    )


def undo_seconds_left(incident: Incident) -> int:
    """Seconds in which the tap may still be undone by whoever made it (0: too late)."""
    if incident.status != IncidentStatus.CONFIRMED or incident.source != "patrol":
        return 0
    elapsed = (utc_now() - incident.created_at).total_seconds()
    return max(0, int(UNDO_SECONDS - elapsed))


def recent_taps(day: date) -> dict[tuple[int, str, str], Incident]:
    """The acting user's taps of that day that can still be undone, by cell (the newest per cell)."""
    user_id = acting_user_id()
    if user_id is None:
        return {}
    start, end = _day_range(day)
    since = utc_now() - timedelta(seconds=UNDO_SECONDS)
    rows_ = db.session.scalars(
        select(Incident)
        .where(
            Incident.source == "patrol",
            Incident.recorded_by_id == user_id,
            Incident.status == IncidentStatus.CONFIRMED,
            Incident.created_at > since,
            Incident.occurred_at >= start,
            Incident.occurred_at < end,
        )
        .order_by(Incident.id)
    )
    return {(i.unit_id, i.window, i.rule_code): i for i in rows_}


def by_client_key(client_key: str) -> Incident | None:
    return db.session.scalar(select(Incident).where(Incident.client_key == client_key))


def tap(
    unit: Unit, window: str, rule_code: str, client_key: str, day: date, at: time | None = None
) -> tuple[Incident, bool]:
    """Log the tap of a cell; (incident, True) if new, (the earlier incident, False) for a re-sent key.

    The time is the round's: now, for today's sheet. A tap queued offline and sent after midnight keeps
    its own day, at the time the tablet noted (`at`), else noon. Patrol taps carry no extra fields (D06's
    exemption is false); an admin corrects the incident if it applies.
    """
    if not CLIENT_KEY.match(client_key or ""):
        raise DomainError(_("巡查记录缺少有效的标识,请刷新页面后重试"))
    existing = by_client_key(client_key)
    if existing is not None:
        return existing, False
    if not unit.active:
        raise DomainError(_("单位“%(name)s”已停用", name=unit.name))
    if window not in unit.window_list:
        raise DomainError(_("窗口 %(window)s 不属于%(name)s", window=window, name=unit.name))
    today = hall_today()
    if day > today:
        raise DomainError(_("不能登记未来日期的巡查记录"))
    if rule_code not in {r.code for r in patrol_rules(day)}:
        raise DomainError(_("%(code)s 不是巡查表上的项目", code=rule_code))
    if day == today:
        occurred_at = utc_now()
        if to_hall(occurred_at).date() != day:  # HALL_TODAY pinned apart from the clock (tests, demos)
            occurred_at = from_hall(datetime.combine(day, to_hall(occurred_at).time()))
    else:
        occurred_at = from_hall(datetime.combine(day, at or time(12, 0)))
    incident = incidents.create(unit, rule_code, occurred_at, count=1, window=window, source="patrol")
    incident.client_key = client_key
    db.session.flush()
    return incident, True


def undo(incident: Incident) -> Incident:
    """Void a tap made by the same user less than a minute ago; anything else is refused."""
    if (
        incident.source != "patrol"
        or incident.recorded_by_id is None
        or incident.recorded_by_id != acting_user_id()
    ):
        raise DomainError(_("只能撤销本人在巡查表上的记录"))
    if incident.status != IncidentStatus.CONFIRMED:
        raise DomainError(_("该记录已经撤销或作废"))
    if undo_seconds_left(incident) <= 0:
        raise DomainError(_("已超过一分钟,不能撤销;如确属误录,请由管理员在记录详情页作废"))
    return incidents.void(incident, UNDO_REASON)
