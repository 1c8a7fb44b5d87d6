"""The patrol sheet (日常巡查扣分表): windows as rows, the rulebook's patrol items as columns, one day.

A tap logs one incident for a window at the time it was tapped on the tablet (hall time), so a tap queued
offline and sent later keeps its own time; the tablet's own `client_key` makes a tap re-sent after a dropped
connection count once. The same inspector may undo a tap within a minute, and add the staff member, a photo
and a remark to a tap afterwards (through services.incidents.correct and services.evidence).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from flask_babel import gettext as _
from sqlalchemy import func, select

from models import Incident, IncidentStatus, Unit, db
from scoring import Rule
from services import DomainError, incidents, notifications
from services import evidence as evidence_service
from services.audit import acting_user_id
from services.bounds import check_incident_day, check_month_open, closed_month_problem
from services.clock import from_hall, hall_today, to_hall, utc_now
from services.incidents import staff_on  # one query for who staffs a unit on a day
from services.rulebooks import rulebook_for_month

UNDO_SECONDS = 60
UNDO_REASON = "巡查撤销"
DETAIL_REASON = "巡查补充人员、照片或备注"
# How far ahead of the server's clock a tablet's clock may run: a tap "from the future" within this is
# taken as now; beyond it the tablet's clock is wrong and the tap is refused (nothing is written).
CLOCK_SKEW = timedelta(minutes=5)
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


def active_units() -> list[Unit]:
    """The units on the sheet: every active unit with a window, in display order."""
    units = db.session.scalars(
        select(Unit).where(Unit.active.is_(True)).order_by(Unit.display_order, Unit.code)
    )
    return [u for u in units if u.window_list]


def rows(units: list[Unit] | None = None) -> list[Row]:
    """Every window of the given units (default: every active unit), grouped by unit in display order."""
    units = active_units() if units is None else units
    return [Row(unit=u, window=w, first=i == 0) for u in units for i, w in enumerate(u.window_list)]


@dataclass(frozen=True)
class Group:
    """One screenful of the sheet: GROUP_SIZE units in display order (200 units are twenty groups)."""

    number: int  # from 1
    units: list[Unit]

    @property
    def label(self) -> str:
        return _(
            "第 %(n)d 组:%(first)s – %(last)s",
            n=self.number,
            first=self.units[0].name,
            last=self.units[-1].name,
        )


GROUP_SIZE = 10


def groups(units: list[Unit], size: int = GROUP_SIZE) -> list[Group]:
    """The units cut into groups of `size` in display order: the sheet shows one group at a time, so a
    large hall's page stays small (200 units × 5 windows × 14 items would be 14,000 cells)."""
    return [Group(number=i // size + 1, units=units[i : i + size]) for i in range(0, len(units), size)]


def _day_range(day: date) -> tuple[datetime, datetime]:
    start = from_hall(datetime.combine(day, time.min))
    return start, from_hall(datetime.combine(day + timedelta(days=1), time.min))


def counts(day: date, unit_ids: list[int] | None = None) -> dict[tuple[int, str, str], int]:
    """(unit id, window, rule code) -> how many times it was recorded that day (confirmed incidents);
    with `unit_ids`, only those units' cells."""
    start, end = _day_range(day)
    conditions = [
        Incident.status == IncidentStatus.CONFIRMED,
        Incident.occurred_at >= start,
        Incident.occurred_at < end,
        Incident.window.is_not(None),
    ]
    if unit_ids is not None:
        conditions.append(Incident.unit_id.in_(unit_ids))
    result = db.session.execute(
        select(Incident.unit_id, Incident.window, Incident.rule_code, func.sum(Incident.count))
        .where(*conditions)
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


def tap_time(day: date, at: time | None) -> datetime:
    """When a tap happened, in UTC, from the tablet's hall-time day and time; bounded.

    Without a time (an old page, a script): now for today's sheet, noon for an earlier day. A time ahead of
    the server by at most CLOCK_SKEW is taken as now; further ahead is refused. Then the incident-day
    bounds (not before the first rulebook, not in a closed month) of services.bounds.
    """
    now = utc_now()
    today = hall_today()
    if at is None:
        check_incident_day(day, today=today)
        if day != today:
            return from_hall(datetime.combine(day, time(12, 0)))
        if to_hall(now).date() == day:
            return now
        # HALL_TODAY pinned apart from the clock (tests, demos)
        return from_hall(datetime.combine(day, to_hall(now).time()))
    try:
        occurred_at = from_hall(datetime.combine(day, at))
    except (OverflowError, ValueError):
        check_incident_day(day, today=today)
        raise DomainError(_("巡查时间无效")) from None
    if occurred_at > now:
        if occurred_at - now > CLOCK_SKEW:
            raise DomainError(
                _(
                    "巡查时间 %(at)s 晚于服务器当前时间 %(now)s,请检查平板的日期和时间后重新登记",
                    at=to_hall(occurred_at).strftime("%Y-%m-%d %H:%M"),
                    now=to_hall(now).strftime("%Y-%m-%d %H:%M"),
                )
            )
        occurred_at = now
    check_incident_day(occurred_at, today=today)
    return occurred_at


def tap(
    unit: Unit, window: str, rule_code: str, client_key: str, day: date, at: time | None = None
) -> tuple[Incident, bool]:
    """Log the tap of a cell; (incident, True) if new, (the earlier incident, False) for a re-sent key.

    `day` and `at` are when the tap was made on the tablet (hall time): a tap queued offline keeps its own
    time however late it is sent (see `tap_time` for the bounds). Patrol taps carry no extra fields (D06's
    exemption is false); the staff member, a photo and a remark are added afterwards (`add_details`).
    Checks come before any write: a refused tap writes nothing.
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
    occurred_at = tap_time(day, at)
    day = to_hall(occurred_at).date()
    if rule_code not in {r.code for r in patrol_rules(day)}:
        raise DomainError(_("%(code)s 不是巡查表上的项目", code=rule_code))
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
    voided = incidents.void(incident, UNDO_REASON)
    notifications.withdraw_incident(voided)  # a slip undone at once never reaches the unit's inbox
    return voided


def cell_incidents(unit: Unit, window: str, rule_code: str, day: date) -> list[Incident]:
    """The confirmed incidents of one cell of a day's sheet, oldest first (what its count adds up)."""
    start, end = _day_range(day)
    return list(
        db.session.scalars(
            select(Incident)
            .where(
                Incident.status == IncidentStatus.CONFIRMED,
                Incident.unit_id == unit.id,
                Incident.window == window,
                Incident.rule_code == rule_code,
                Incident.occurred_at >= start,
                Incident.occurred_at < end,
            )
            .order_by(Incident.occurred_at, Incident.id)
        )
    )


def detail_problem(incident: Incident, *, is_admin: bool) -> str | None:
    """Why the acting user may not add details to this incident from the sheet (Chinese); None if they may.

    An inspector adds to their own taps; an admin to any incident of the sheet. The month must be open.
    """
    if incident.window is None:
        return _("该记录不在巡查表上")
    if not is_admin and (incident.source != "patrol" or incident.recorded_by_id != acting_user_id()):
        return _("只能补充本人在巡查表上登记的记录;其他记录请由管理员在记录详情页修改")
    if incident.status != IncidentStatus.CONFIRMED:
        return _("该记录已经撤销或作废")
    return closed_month_problem(incident.occurred_at)


def add_details(
    incident: Incident,
    *,
    is_admin: bool,
    staff_pk: int | None,
    note: str,
    uploads: list[evidence_service.Upload],
) -> list:
    """Add the staff member, a remark and photos to a tap: a correction (with its history) and evidence.

    Returns the evidence rows written (their files are removed by the caller if the commit fails). Nothing
    is written when anything is refused.
    """
    problem = detail_problem(incident, is_admin=is_admin)
    if problem:
        raise DomainError(problem)
    day = to_hall(incident.occurred_at).date()
    if staff_pk is not None and staff_pk not in {s.id for s, _p in staff_on(incident.unit, day)}:
        raise DomainError(_("该人员在发生日期不在%(name)s", name=incident.unit.name))
    note = (note or "").strip()
    changes = {}
    if staff_pk != incident.staff_pk:
        changes["staff_pk"] = staff_pk
    if note != (incident.note or ""):
        changes["note"] = note
    if not changes and not uploads:
        raise DomainError(_("没有任何改动"))
    check_month_open(incident.occurred_at)
    if changes:
        incidents.correct(incident, changes, DETAIL_REASON)
    return evidence_service.store(incident, uploads) if uploads else []
