"""Read-side queries of the admin intranet: what waits for action, the months' overview, a unit's items
with their incidents, per-staff and per-window tallies, and the audit log's filtered pages.

Nothing here computes a score: every point shown comes from `services.standings` (the scoring's items),
so the dashboard, the tallies and the standings page agree with `standings --json` by construction.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from models import AuditLog, Incident, IncidentStatus, Month, MonthStatus, Staff, Unit, User, db
from scoring import MonthResult, Rulebook, format_month
from scoring.calendar import prev_month
from services import notices
from services.clock import from_hall, hall_today, month_utc_range, to_hall
from services.rulebooks import as_rulebook, by_key, rulebook_for_month, version_in_force
from services.standings import month_row, standings, standings_for


def current_month() -> tuple[int, int]:
    today = hall_today()
    return today.year, today.month


def recent_months(count: int = 24) -> list[tuple[int, int]]:
    """The current month and the `count - 1` before it, newest first."""
    year, month = current_month()
    out = []
    for _step in range(count):
        out.append((year, month))
        year, month = prev_month(year, month)
    return out


def pending_count(year: int | None = None, month: int | None = None) -> int:
    """Proposed (detected, not yet confirmed or dismissed) incidents, in one month or in all."""
    query = select(func.count(Incident.id)).where(Incident.status == IncidentStatus.PROPOSED)
    if year is not None and month is not None:
        start, end = month_utc_range(year, month)
        query = query.where(Incident.occurred_at >= start, Incident.occurred_at < end)
    return db.session.scalar(query) or 0


def pending_months() -> list[tuple[str, int]]:
    """("YYYY-MM", number) of the months that hold proposed incidents, newest first."""
    counts: dict[str, int] = {}
    for (at,) in db.session.execute(
        select(Incident.occurred_at).where(Incident.status == IncidentStatus.PROPOSED)
    ):
        label = to_hall(at).strftime("%Y-%m")
        counts[label] = counts.get(label, 0) + 1
    return sorted(counts.items(), reverse=True)


def months_to_close() -> list[str]:
    """Past months still open that hold records, or that were reopened, plus last month: close them.

    Only the last 24 months are looked at: older open months are history nobody is waiting for. Three
    queries however many months: the months' statuses, the oldest incident, and one EXISTS per candidate
    month, all in one statement (grouping by hall-time month in SQL differs between SQLite and PostgreSQL).
    """
    year, month = current_month()
    statuses = {
        (y, m): status for y, m, status in db.session.execute(select(Month.year, Month.month, Month.status))
    }
    previous = prev_month(year, month)
    first = min([current_month(), *statuses])
    earliest = db.session.scalar(select(func.min(Incident.occurred_at)))
    if earliest is not None:
        at = to_hall(earliest)
        first = min(first, (at.year, at.month))
    candidates = []
    for y, m in recent_months(24)[1:]:
        if (y, m) < first:
            break  # before the hall's first data: nothing to close (and not listed on the months page)
        status = statuses.get((y, m))
        if status is None or status == MonthStatus.OPEN:
            candidates.append((y, m))
    if not candidates:
        return []
    checks = []
    for y, m in candidates:
        start, end = month_utc_range(y, m)
        checks.append(
            select(Incident.id)
            .where(
                Incident.occurred_at >= start,
                Incident.occurred_at < end,
                Incident.status.in_([IncidentStatus.CONFIRMED, IncidentStatus.PROPOSED]),
            )
            .exists()
            .label(f"held_{y}_{m:02d}")
        )
    held = db.session.execute(select(*checks)).one()
    return [
        format_month(y, m)
        for (y, m), has in zip(candidates, held, strict=True)
        if has or (y, m) in statuses or (y, m) == previous
    ]


@dataclass
class MonthLine:
    """One line of the months page."""

    year: int
    month: int
    status: str
    rulebook_key: str
    row: Month | None = None

    @property
    def label(self) -> str:
        return format_month(self.year, self.month)


def notice_counts() -> dict[str, int]:
    """Notices that need an answer, by state (unread, read, answered, overdue): the dashboard's cards."""
    return notices.state_counts()


def requests_waiting() -> dict[str, int]:
    """Undecided appeals, rectification reports (with extension requests) and bonus claims: one statement."""
    from models import Appeal, BonusClaim, RectificationReport, RequestStatus

    def waiting(model):
        return select(func.count(model.id)).where(model.status == RequestStatus.OPEN).scalar_subquery()

    appeals, reports, claims = db.session.execute(
        select(waiting(Appeal), waiting(RectificationReport), waiting(BonusClaim))
    ).one()
    return {"appeals": appeals, "reports": reports, "claims": claims, "total": appeals + reports + claims}


def months_to_publish() -> list[str]:
    """Closed months not yet published ("YYYY-MM", newest first): the leader/admin still has to publish."""
    rows = db.session.execute(
        select(Month.year, Month.month)
        .where(Month.status == MonthStatus.CLOSED)
        .order_by(Month.year.desc(), Month.month.desc())
    )
    return [format_month(y, m) for y, m in rows]


def _first_month() -> tuple[int, int]:
    """The first month that holds anything (a Month row or an incident), else the current month."""
    first = current_month()
    query = select(Month.year, Month.month).order_by(Month.year, Month.month).limit(1)
    row = db.session.execute(query).first()
    if row is not None:
        first = min(first, (row.year, row.month))
    earliest = db.session.scalar(select(func.min(Incident.occurred_at)))
    if earliest is not None:
        at = to_hall(earliest)
        first = min(first, (at.year, at.month))
    return first


def month_lines() -> list[MonthLine]:
    """Every month from the first one holding data (or the current one) up to now, newest first: an
    empty month before the hall started using the system has nothing to close."""
    rows = {(r.year, r.month): r for r in db.session.scalars(select(Month))}
    first, (year, month) = _first_month(), current_month()
    keys = set(rows)
    while (year, month) >= first:
        keys.add((year, month))
        year, month = prev_month(year, month)
    lines = []
    for year, month in sorted(keys, reverse=True):
        row = rows.get((year, month))
        status = row.status if row else MonthStatus.OPEN
        key = (row.rulebook_key if row and row.status != MonthStatus.OPEN else None) or version_in_force(
            date(year, month, 1)
        ).key
        lines.append(MonthLine(year, month, str(status), key, row))
    return lines


def rulebook_of(result: MonthResult) -> Rulebook:
    """The rulebook a month was scored with (a closed month keeps its own, even after a new version)."""
    row = by_key(result.rulebook_key) if result.rulebook_key else None
    return as_rulebook(row) if row else rulebook_for_month(result.year, result.month)


@dataclass
class ItemLine:
    """One scored item of a unit's month with what the incident says about it."""

    rule_code: str
    rule_title: str
    occurred_on: date
    count: int
    points: int
    derived: bool
    exempt: bool
    incident: Incident | None = None


def unit_items(year: int, month: int, unit_code: str) -> list[ItemLine]:
    """The unit's items in the month's standings (frozen or live), each with its incident row."""
    result = standings(year, month)
    unit = result.unit(unit_code)
    if unit is None:
        return []
    rulebook = rulebook_of(result)
    ids = [i.incident_id for i in unit.items if i.incident_id is not None]
    incidents = (
        {i.id: i for i in db.session.scalars(select(Incident).where(Incident.id.in_(ids)))} if ids else {}
    )
    lines = []
    for item in unit.items:
        try:
            title = rulebook.rule(item.rule_code).title
        except KeyError:
            title = ""
        lines.append(
            ItemLine(
                item.rule_code,
                title,
                item.occurred_on,
                item.count,
                item.points,
                item.derived,
                item.exempt,
                incidents.get(item.incident_id),
            )
        )
    return lines


# ---------------------------------------------------------------- tallies


@dataclass
class TallyRow:
    """Deduction points of one staff member (or one unit's window), month by month."""

    key: tuple
    label: str
    unit_name: str
    by_month: dict[int, int] = field(default_factory=dict)
    items: int = 0

    @property
    def total(self) -> int:
        return sum(self.by_month.values())


def _incidents_of_items(ids: set[int], year: int, months: list[int]) -> dict[int, Incident]:
    """The incidents behind a year's items, each with its staff member and postings (the window of an
    item without one). Read by the year's time range, not by a list of ids (a busy hall's year holds more
    than a database takes as parameters); only the few dated earlier (an overdue D19a of last December)
    are read by id, in batches."""
    with_staff = selectinload(Incident.staff).selectinload(Staff.postings)
    start, _end = month_utc_range(year, months[0])
    _start, end = month_utc_range(year, months[-1])
    found = {
        i.id: i
        for i in db.session.scalars(
            select(Incident)
            .where(Incident.occurred_at >= start, Incident.occurred_at < end)
            .options(with_staff)
        )
        if i.id in ids
    }
    rest = sorted(ids - found.keys())
    for at in range(0, len(rest), 500):
        batch = rest[at : at + 500]
        found.update(
            (i.id, i)
            for i in db.session.scalars(select(Incident).where(Incident.id.in_(batch)).options(with_staff))
        )
    return found


def tallies(year: int) -> tuple[list[TallyRow], list[TallyRow]]:
    """Confirmed deduction points of the year by staff member and by unit + window, from the standings.

    A derived D19b counts against the D19a's staff and window; an item without a staff member (or a
    window, even through the staff member's posting that day) is left out of that table only.
    """
    today = hall_today()
    months = [m for m in range(1, 13) if (year, m) <= (today.year, today.month)]
    lines: list[tuple[int, str, int, int]] = []  # (month, unit code, incident id, positive points)
    results = standings_for([(year, m) for m in months])
    for m in months:
        for unit in results[(year, m)].units:
            for item in unit.items:
                if item.points < 0 and item.incident_id is not None:
                    lines.append((m, unit.code, item.incident_id, -item.points))
    ids = {line[2] for line in lines}
    incidents = _incidents_of_items(ids, year, months) if ids else {}
    units = {u.code: u for u in db.session.scalars(select(Unit))}
    by_staff: dict[tuple, TallyRow] = {}
    by_window: dict[tuple, TallyRow] = {}
    for m, code, incident_id, points in lines:
        incident = incidents.get(incident_id)
        if incident is None:
            continue
        unit_name = units[code].name if code in units else code
        staff: Staff | None = incident.staff
        window = incident.window
        if window is None and staff is not None:
            posting = staff.posting_on(to_hall(incident.occurred_at).date())
            window = posting.window if posting and posting.unit_id == incident.unit_id else None
        if staff is not None:
            row = by_staff.setdefault(
                (staff.staff_id,), TallyRow((staff.staff_id,), f"{staff.name}({staff.staff_id})", unit_name)
            )
            row.by_month[m] = row.by_month.get(m, 0) + points
            row.items += 1
        if window:
            row = by_window.setdefault((code, window), TallyRow((code, window), window, unit_name))
            row.by_month[m] = row.by_month.get(m, 0) + points
            row.items += 1

    def order(rows: dict[tuple, TallyRow]) -> list[TallyRow]:
        return sorted(rows.values(), key=lambda r: (-r.total, r.key))

    return order(by_staff), order(by_window)


# ---------------------------------------------------------------- audit log


@dataclass
class AuditFilter:
    action: str = ""
    user_id: int | None = None
    target: str = ""
    date_from: date | None = None
    date_to: date | None = None


def audit_actions() -> list[str]:
    """The actions in the log, in order. A DISTINCT reads every row (0.6 s at 2,000,000 on PostgreSQL,
    which has no skip scan): instead each next action is one probe of the action index."""
    first = select(func.min(AuditLog.action).label("action")).cte("actions", recursive=True)
    following = select(func.min(AuditLog.action)).where(AuditLog.action > first.c.action).scalar_subquery()
    actions = first.union_all(select(following).where(first.c.action.is_not(None)))
    return list(
        db.session.scalars(select(actions.c.action).where(actions.c.action.is_not(None)).order_by("action"))
    )


def audit_users() -> list[User]:
    """The users who appear in the log: each user looked up by the user index, not the log read whole."""
    appears = select(AuditLog.id).where(AuditLog.user_id == User.id).exists()
    return list(db.session.scalars(select(User).where(appears).order_by(User.username)))


def audit_page(filters: AuditFilter, page: int = 1, per_page: int = 50) -> tuple[list[AuditLog], int]:
    """One page of the audit log, newest first, and the number of rows matching the filters."""
    query = select(AuditLog)
    if filters.action:
        query = query.where(AuditLog.action == filters.action)
    if filters.user_id:
        query = query.where(AuditLog.user_id == filters.user_id)
    if filters.target:
        query = query.where(AuditLog.target.contains(filters.target.strip(), autoescape=True))
    if filters.date_from:
        query = query.where(AuditLog.at >= from_hall(datetime.combine(filters.date_from, time.min)))
    if filters.date_to:
        query = query.where(
            AuditLog.at < from_hall(datetime.combine(filters.date_to + timedelta(days=1), time.min))
        )
    total = db.session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = db.session.scalars(
        query.order_by(AuditLog.id.desc()).offset(max(page - 1, 0) * per_page).limit(per_page)
    )
    return list(rows), total


def _text(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return _("是") if value else _("否")
    if isinstance(value, dict):
        return ";".join(f"{k}: {_text(v)}" for k, v in value.items())
    if isinstance(value, list):
        return "、".join(_text(v) for v in value) or "—"
    return str(value)


def audit_diff(before: Any, after: Any) -> list[tuple[str, str, str]]:
    """(key, before, after) of what changed. A creation (or removal) lists the keys that hold a value:
    an empty field of a new record says nothing."""
    if not isinstance(before, dict) and not isinstance(after, dict):
        if before is None and after is None:
            return []
        return [("", _text(before), _text(after))]
    old = before if isinstance(before, dict) else {}
    new = after if isinstance(after, dict) else {}
    keys = list(old) + [k for k in new if k not in old]
    lines = []
    for k in keys:
        if before is None or after is None:
            value = new.get(k) if before is None else old.get(k)
            if value is None or value == "" or value == []:
                continue
        elif old.get(k) == new.get(k):
            continue
        lines.append(
            (
                k,
                _text(old.get(k)) if before is not None else "",
                _text(new.get(k)) if after is not None else "",
            )
        )
    return lines


def month_is_closed(year: int, month: int) -> bool:
    row = month_row(year, month)
    return row is not None and row.status != MonthStatus.OPEN
