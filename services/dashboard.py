"""Read-side queries of the admin intranet: what waits for action, the months' overview, a unit's items
with their incidents, per-staff and per-window tallies, and the audit log's filtered pages.

Nothing here computes a score: every point shown comes from `services.standings` (the scoring's items),
so the dashboard, the tallies and the standings page agree with `standings --json` by construction.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import String, and_, case, cast, func, literal, or_, select, text, union_all
from sqlalchemy.orm import selectinload

from models import AuditLog, Incident, IncidentStatus, Month, MonthStatus, Staff, Unit, User, db
from scoring import MonthResult, Rulebook, format_month
from scoring.calendar import month_bounds, prev_month
from services import notices
from services.clock import hall_today, month_utc_range, to_hall
from services.memo import database_key, newest_change, remember
from services.rulebooks import as_rulebook, by_key, rulebook_for_month, version_in_force
from services.standings import month_row, standings


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
    # The frozen standings are not read: decoding every snapshot took seconds on a hall of five years.
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


# The year's tallies, keyed as the live standings are (database, year, today, newest audit row): every
# change that moves them (an incident, a month closed, a posting, a unit) writes an audit row.
_tally_cache: dict[tuple, tuple[list[TallyRow], list[TallyRow]]] = {}


def tallies(year: int) -> tuple[list[TallyRow], list[TallyRow]]:
    """Confirmed deduction points of the year by staff member and by unit + window, as the standings count
    them (each month's rulebook and units; a closed month as it was frozen).

    A derived D19b counts against the D19a's staff and window; an item without a staff member (or a
    window, even through the staff member's posting that day) is left out of that table only.

    The database sums the year's confirmed incidents per (month, unit, staff, window, rule, exemption) in one
    scan, and the scoring turns each sum into points (`signed_points`): no object per incident. Only the
    window-less incidents of staff whose posting changes within the year are read one by one (their window
    is the posting of their day), and the few D19a whose D19b lands in the year. A frozen month whose
    per-unit deductions these sums do not reproduce (its incidents changed after closing) is read from its
    snapshot's items instead.

    A frozen month is not summed again: closing keeps its cells (`MonthTallyCell`, `month_tally_cells`),
    read here in one query; only the open months, and a closed month without cells, are summed. The kept
    cells go through the same check against the frozen deductions, with the derived D19b computed afresh,
    and a month whose window-less items' staff have had their postings within it changed since (a roster
    corrected) is summed again: both ways give the same tables.
    """
    key = (database_key(), year, hall_today(), newest_change())
    hit = remember(_tally_cache, key, lambda: _year_tallies(year), most=32)
    return list(hit[0]), list(hit[1])


def _year_tallies(year: int) -> tuple[list[TallyRow], list[TallyRow]]:
    today = hall_today()
    months = [m for m in range(1, 13) if (year, m) <= (today.year, today.month)]
    if not months:
        return [], []
    plan = _YearPlan(year, months, today)
    lines = plan.sum_lines()
    for m in plan.snapshot_months:
        lines.extend(_item_lines(year, m))
    return _tables(lines, plan)


# A tally cell's deduction points: (month, unit code, staff pk or None, window or None, points, items).
_Line = tuple[int, str, int | None, str | None, int, int]


def month_tally_cells(year: int, month: int) -> list[dict] | None:
    """The rows of `MonthTallyCell` for a month just frozen (its snapshot and result rows flushed): the
    lines the tallies sum for it by unit, staff member and window, the derived D19b left out (computed each
    time), and the month's roster row (`roster_key`). None when the sums do not reproduce its frozen
    deductions (the tallies then read its snapshot's items each time, as before) or when it is not frozen."""
    plan = _YearPlan(year, [month], hall_today(), keep=True)
    if month not in plan.frozen_deductions:
        return None
    summed = plan.summed_lines([month])
    plan._checked([*summed, *plan._derived_lines()])
    if month in plan.snapshot_months:
        return None
    cells: dict[tuple, list[int]] = {}
    for _m, code, staff_pk, window, points, items in summed:
        key = (code, staff_pk, window)
        cell = cells.get(key)
        if cell is None:
            cells[key] = [points, items]
        else:
            cell[0] += points
            cell[1] += items
    posted = plan.posted.get(month, set())
    rows = [
        {
            "unit_code": code,
            "staff_pk": staff_pk,
            "window": window,
            "posted": staff_pk in posted,
            "roster_key": None,
            "points": points,
            "items": items,
        }
        for (code, staff_pk, window), (points, items) in cells.items()
    ]
    roster = plan.roster_key(month, posted)
    rows.append(
        {
            "unit_code": "",
            "staff_pk": None,
            "window": None,
            "posted": False,
            "roster_key": roster,
            "points": 0,
            "items": 0,
        }
    )
    return rows


class _YearPlan:
    """What a year's tallies read besides the sums: each month's rulebook and units, the staff and their
    postings, and the units' codes and names."""

    def __init__(self, year: int, months: list[int], today: date, *, keep: bool = False) -> None:
        """`keep`: the plan of a month being frozen (`month_tally_cells`): no kept cells read, and the staff
        whose window came from their posting noted (`posted`)."""
        from models import MonthTallyCell, MonthUnitResult, Posting
        from services.rulebooks import versions

        self.year, self.months, self.today, self.keep = year, months, today, keep
        self.first_day, self.last_day = date(year, months[0], 1), date(year, months[-1], 1)
        known = versions()
        status = {
            m: (s, key)
            for m, s, key in db.session.execute(
                select(Month.month, Month.status, Month.rulebook_key).where(Month.year == year)
            )
        }
        frozen_units: dict[int, list[tuple[str, int, int]]] = {}
        for m, code, deductions, score in db.session.execute(
            select(Month.month, MonthUnitResult.unit_code, MonthUnitResult.deductions, MonthUnitResult.score)
            .join(Month, Month.id == MonthUnitResult.month_id)
            .where(Month.year == year, Month.status != MonthStatus.OPEN)
            .order_by(MonthUnitResult.id)
        ):
            frozen_units.setdefault(m, []).append((code, deductions, score))
        self.units: dict[int, tuple[str, str]] = {}
        active: set[str] = set()
        for i, code, name, is_active in db.session.execute(
            select(Unit.id, Unit.code, Unit.name, Unit.active)
        ):
            self.units[i] = (code, name)
            if is_active:
                active.add(code)
        self.rulebooks: dict[int, Rulebook] = {}
        self.month_units: dict[int, set[str]] = {}
        self.frozen_deductions: dict[int, dict[str, int]] = {}
        self.frozen_scores: dict[int, dict[str, int]] = {}
        self.snapshot_months: list[int] = []
        for m in months:
            state, key = status.get(m, (MonthStatus.OPEN, None))
            if state != MonthStatus.OPEN:
                if m not in frozen_units:  # no result rows (a snapshot from an older backup): its items
                    self.snapshot_months.append(m)
                    continue
                row = next((v for v in known if v.key == key), None) if key else None
                self.rulebooks[m] = as_rulebook(row) if row else self._in_force(known, m)
                self.month_units[m] = {code for code, _d, _s in frozen_units[m]}
                self.frozen_deductions[m] = {code: d for code, d, _s in frozen_units[m]}
                self.frozen_scores[m] = {code: score for code, _d, score in frozen_units[m]}
            else:
                self.rulebooks[m] = self._in_force(known, m)
                self.month_units[m] = active
        self.staff = {
            pk: (staff_id, name)
            for pk, staff_id, name in db.session.execute(select(Staff.id, Staff.staff_id, Staff.name))
        }
        self.postings: dict[int, list[tuple[int, str | None, date, date | None]]] = {}
        for pk, unit_id, window, start, end in db.session.execute(
            select(
                Posting.staff_pk, Posting.unit_id, Posting.window, Posting.start_date, Posting.end_date
            ).order_by(Posting.staff_pk, Posting.start_date)
        ):
            self.postings.setdefault(pk, []).append((unit_id, window, start, end))
        # month -> staff whose window-less incidents took their posting's window (a plan with `keep`)
        self.posted: dict[int, set[int]] = {}
        # The kept cells of the frozen months (`MonthTallyCell`): those months are not summed again, unless
        # the roster their windows came from has changed since (`roster_key`).
        self.kept: dict[int, list[_Line]] = {}
        if not keep and self.frozen_deductions:
            self._read_kept(MonthTallyCell)

    def _read_kept(self, cell) -> None:
        lines: dict[int, list[_Line]] = {}
        posted: dict[int, set[int]] = {}
        rosters: dict[int, str] = {}
        # Core rows (no ORM result processing: 16,000 rows a large year)
        for m, code, staff_pk, window, was_posted, roster, points, items in db.session.connection().execute(
            select(
                Month.month,
                cell.unit_code,
                cell.staff_pk,
                cell.window,
                cell.posted,
                cell.roster_key,
                cell.points,
                cell.items,
            )
            .join(Month, Month.id == cell.month_id)
            .where(Month.year == self.year, Month.status != MonthStatus.OPEN)
        ):
            if m not in self.frozen_deductions:
                continue
            if roster is not None:  # the month's roster row: it marks the month as kept
                rosters[m] = roster
                continue
            # tuples of plain values: the garbage collector soon stops walking them
            lines.setdefault(m, []).append((m, code, staff_pk, window, points, items))
            if was_posted:
                posted.setdefault(m, set()).add(staff_pk)
        for m, roster in rosters.items():
            if roster == self.roster_key(m, posted.get(m, ())):
                self.kept[m] = lines.get(m, [])

    def roster_key(self, m: int, staff_pks) -> str:
        """A digest of these staff members' postings within month `m` (each clipped to the month, in the
        order `window_of` reads them): equal digests, the same window for each of their days."""
        first, last = month_bounds(self.year, m)
        spans = []
        for pk in sorted(staff_pks):
            for unit_id, window, start, end in self.postings.get(pk, ()):
                if start <= last and (end is None or end >= first):
                    spans.append((pk, unit_id, window, max(start, first), min(end or last, last)))
        return hashlib.blake2b(repr(spans).encode(), digest_size=16).hexdigest()

    def _in_force(self, known, m: int) -> Rulebook:
        """As `rulebook_for_month`, from the versions read once: the version in force on the 1st."""
        before = [v for v in known if v.effective_from <= date(self.year, m, 1)]
        if before:
            return as_rulebook(max(before, key=lambda v: (v.effective_from, v.id)))
        return rulebook_for_month(self.year, m)

    def window_of(self, staff_pk: int | None, unit_id: int, window: str | None, day: date) -> str | None:
        """The item's window: its own, else that of the staff member's posting that day at the same unit
        (`Staff.posting_on`: the first posting by start date that covers the day)."""
        if window is not None or staff_pk is None:
            return window
        for posting_unit, posting_window, start, end in self.postings.get(staff_pk, ()):
            if start <= day and (end is None or day <= end):
                return posting_window if posting_unit == unit_id else None
        return None

    def sum_lines(self) -> list[_Line]:
        """The tally cells of every month scored from the sums or kept (not the snapshot months)."""
        months = [m for m in self.months if m in self.rulebooks]
        out = self.summed_lines([m for m in months if m not in self.kept])
        out.extend(self._kept_lines())
        out.extend(self._derived_lines())
        return self._checked(out)

    def _kept_lines(self) -> list[_Line]:
        return [line for lines in self.kept.values() for line in lines]

    def summed_lines(self, months: list[int]) -> list[_Line]:
        """The database's sums of these months' confirmed incidents as tally cells, without the derived
        D19b (`_derived_lines`)."""
        from models import Posting
        from scoring import signed_points

        if not months:
            return []
        year = self.year
        bounds = {m: month_utc_range(year, m) for m in months}
        tag = case(
            *[(and_(Incident.occurred_at >= a, Incident.occurred_at < b), m) for m, (a, b) in bounds.items()]
        )
        # The months' time ranges, consecutive months as one (usually one range: the open months at the end).
        spans: list[list] = []
        for m in months:
            a, b = bounds[m]
            if spans and spans[-1][1] == a:
                spans[-1][1] = b
            else:
                spans.append([a, b])
        within = or_(*[and_(Incident.occurred_at >= a, Incident.occurred_at < b) for a, b in spans])
        # A window-less incident of a staff member whose posting changes within the year: its window depends
        # on its day. Every other one's is the same all year, so the database can sum them.
        jan1, dec31 = date(year, 1, 1), date(year, 12, 31)
        changing = (
            select(Posting.id)
            .where(
                Posting.staff_pk == Incident.staff_pk,
                or_(
                    and_(Posting.start_date > jan1, Posting.start_date <= dec31),
                    and_(Posting.end_date >= jan1, Posting.end_date < dec31),
                ),
            )
            .exists()
        )
        daily = and_(Incident.window.is_(None), changing)
        kind, representative = self._rule_kinds(months)
        confirmed = (Incident.status == IncidentStatus.CONFIRMED, within)
        count = func.coalesce(Incident.count, 1)
        # A cell (month, unit, staff, window, rule, exemption), then points, items and the day (singles).
        cell = (tag, Incident.unit_id, Incident.staff_pk, Incident.window, kind, Incident.exempt)
        sums = (
            select(*cell, func.sum(count), func.count(), literal(None, String).label("at"))
            .where(*confirmed, ~daily)
            .group_by(text("1, 2, 3, 4, 5, 6"))
        )
        day = cast(Incident.occurred_at, String)
        singles = select(*cell, count, literal(1), day).where(*confirmed, daily)
        # Per (month, rule, exemption): the rule, or None where no item of it can be a deduction (a bonus,
        # an exempt D06, a rule the month's rulebook lacks: the scoring refuses those in the standings).
        deducting: dict[tuple[int, str, bool], object] = {}
        stable: dict[tuple[int, int], str | None] = {}
        days: dict[str, date] = {}
        units, month_units, window_of = self.units, self.month_units, self.window_of
        posted = self.posted if self.keep else None
        out: list[_Line] = []
        for m, unit_id, staff_pk, window, rule_code, exempt, total, items, at in db.session.execute(
            union_all(sums, singles)
        ):
            code = units.get(unit_id, (None, None))[0]
            if m is None or code not in month_units[m]:
                continue  # another unit (inactive, or not in the frozen month) or a frozen month between
            key = (m, rule_code, bool(exempt))
            rule = deducting.get(key, False)
            if rule is False:
                code_of_kind = representative.get(rule_code)
                rule = next((r for r in self.rulebooks[m].rules if r.code == code_of_kind), None)
                if rule is not None and signed_points(rule, 1, exempt=key[2]) >= 0:
                    rule = None
                deducting[key] = rule
            if rule is None:
                continue
            # The scoring's points of the summed count: the same as the sum of each incident's.
            points = -signed_points(rule, int(total), exempt=key[2])
            if window is None and staff_pk is not None:
                if posted is not None:
                    posted.setdefault(m, set()).add(staff_pk)
                if at is not None:
                    day = days.get(at)
                    if day is None:
                        day = days[at] = _hall_day(at)
                    window = window_of(staff_pk, unit_id, None, day)
                else:
                    pair = (staff_pk, unit_id)
                    if pair not in stable:
                        stable[pair] = window_of(staff_pk, unit_id, None, self.first_day)
                    window = stable[pair]
            out.append((m, code, staff_pk, window, points, items))
        return out

    def _rule_kinds(self, months: list[int]):
        """The rules grouped by how the scoring treats them in every summed month (kind, points, whether an
        exemption, a deadline or a derivation applies): the database sums counts per group, not per rule
        (a busy year's staff use dozens of rules at a handful of point values), and each group's sum is
        scored with one of its rules. An SQL CASE naming each rule's group (-1: a code no rulebook of
        these months has), and group -> that rule's code."""
        codes = sorted({r.code for m in months for r in self.rulebooks[m].rules})
        groups: dict[tuple, int] = {}
        representative: dict[int, str] = {}
        whens = []
        for code in codes:
            signature = []
            for m in months:
                rule = next((r for r in self.rulebooks[m].rules if r.code == code), None)
                signature.append(
                    None
                    if rule is None
                    else (str(rule.kind), rule.points, tuple(sorted(rule.requires)), bool(rule.derived))
                )
            group = groups.setdefault(tuple(signature), len(groups))
            representative.setdefault(group, code)
            whens.append((Incident.rule_code == code, group))
        return case(*whens, else_=-1), representative

    def _derived_lines(self) -> list[_Line]:
        """The D19b of the D19a (of any year) whose overdue item lands in one of the summed months, against
        the D19a's staff member and window (its posting on the D19a's day)."""
        from scoring import IncidentIn
        from scoring.month import derived_item

        months = [m for m in self.months if m in self.rulebooks]
        codes = {c for m in months if (c := self.rulebooks[m].role_code("rectification_rule"))}
        if not codes:
            return []
        first = month_bounds(self.year, months[0])[0]
        last = month_bounds(self.year, months[-1])[1]
        rows = db.session.execute(
            select(
                Incident.id,
                Incident.unit_id,
                Incident.staff_pk,
                Incident.window,
                Incident.rule_code,
                Incident.occurred_at,
                Incident.count,
                Incident.exempt,
                Incident.deadline,
                Incident.rectified_on,
                Incident.status,
            ).where(
                Incident.rule_code.in_(sorted(codes)),
                Incident.deadline >= first - timedelta(days=1),
                Incident.deadline <= last - timedelta(days=1),
                # as `derived_item`: none for an item rectified by its deadline (most of them). The status
                # is checked below: naming it here, SQLite reads the status index instead (every incident).
                or_(Incident.rectified_on.is_(None), Incident.rectified_on > Incident.deadline),
            )
        )
        out = []
        for i, unit_id, staff_pk, window, rule_code, at, count, exempt, deadline, rectified, status in rows:
            if status != IncidentStatus.CONFIRMED:
                continue
            m = (deadline + timedelta(days=1)).month
            rulebook = self.rulebooks.get(m)
            code = self.units.get(unit_id, (None, None))[0]
            if rulebook is None or code not in self.month_units[m]:
                continue
            if rule_code != rulebook.role_code("rectification_rule"):
                continue
            rule = next((r for r in rulebook.rules if r.code == rule_code), None)
            derived = rulebook.role_rule("overdue_rule")
            if rule is None or derived is None or "deadline" not in rule.requires:
                continue
            day = to_hall(at).date()
            incident = IncidentIn(
                id=i,
                unit_code=code,
                rule_code=rule_code,
                occurred_on=day,
                count=count or 1,
                exempt=bool(exempt),
                deadline=deadline,
                rectified_on=rectified,
            )
            item = derived_item(incident, derived, self.today)
            if (
                item is None
                or (item.occurred_on.year, item.occurred_on.month) != (self.year, m)
                or item.points >= 0
            ):
                continue
            out.append((m, code, staff_pk, self.window_of(staff_pk, unit_id, window, day), -item.points, 1))
        return out

    def _checked(self, lines: list[_Line]) -> list[_Line]:
        """The lines, less those of a frozen month whose units' deductions they do not reproduce: that month
        is read from its snapshot's items (`snapshot_months`)."""
        totals: dict[int, dict[str, int]] = {}
        for m, code, _staff, _window, points, _items in lines:
            if m in self.frozen_deductions:
                per_unit = totals.setdefault(m, {})
                per_unit[code] = per_unit.get(code, 0) + points
        for m, expected in self.frozen_deductions.items():
            found = totals.get(m, {})
            if any(found.get(code, 0) != deductions for code, deductions in expected.items()):
                self.snapshot_months.append(m)
        drop = set(self.snapshot_months)
        return [line for line in lines if line[0] not in drop] if drop else lines

    def unit_order(self, m: int) -> dict[str, int]:
        """The position of each unit in the month's standings (the order the items were read in before).
        A frozen month's from its result rows, in the standings' listing order (`listing_key`), rather than
        from its snapshot (megabytes of JSON on a large hall)."""
        from scoring.ranking import listing_key

        scores = self.frozen_scores.get(m)
        if scores is not None:
            deductions = self.frozen_deductions[m]
            listed = sorted(scores, key=lambda code: listing_key(scores[code], deductions[code], code))
            return {code: n for n, code in enumerate(listed)}
        return {unit.code: n for n, unit in enumerate(standings(self.year, m).units)}


def _hall_day(at: str | datetime) -> date:
    if isinstance(at, str):
        at = datetime.fromisoformat(at.replace(" ", "T"))
        if at.tzinfo is None:
            at = at.replace(tzinfo=UTC)
    return to_hall(at).date()


def _item_lines(year: int, m: int) -> list[_Line]:
    """A month's tally cells from its standings' items (a frozen month the sums cannot reproduce)."""
    result = standings(year, m)
    wanted = [
        (unit.code, item)
        for unit in result.units
        for item in unit.items
        if item.points < 0 and item.incident_id is not None
    ]
    ids = {item.incident_id for _code, item in wanted}
    incidents = _incidents_of_items(ids, year, [m]) if ids else {}
    out = []
    for code, item in wanted:
        incident = incidents.get(item.incident_id)
        if incident is None:
            continue
        staff: Staff | None = incident.staff
        window = incident.window
        if window is None and staff is not None:
            posting = staff.posting_on(to_hall(incident.occurred_at).date())
            window = posting.window if posting and posting.unit_id == incident.unit_id else None
        out.append((m, code, staff.id if staff else None, window, -item.points, 1))
    return out


def _tables(lines: list[_Line], plan: _YearPlan) -> tuple[list[TallyRow], list[TallyRow]]:
    """The two tables from the cells. A staff member's unit is that of their first item: the earliest
    month, then the unit first in that month's standings (read only when a staff member's first month has
    items in two units)."""
    names = {code: name for code, name in plan.units.values()}
    # staff pk -> month -> (points, items, unit codes); (unit code, window) -> month -> (points, items).
    # Tuples of plain values, replaced rather than changed: the garbage collector stops tracking them, where
    # 30,000 lists and sets of a large year's cells made it walk the whole heap again and again (half of the
    # time of a year of kept cells).
    staff_cells: dict[int, dict[int, tuple]] = {}
    window_cells: dict[tuple[str, str], dict[int, tuple]] = {}
    for m, code, staff_pk, window, points, items in lines:
        if staff_pk is not None:
            months = staff_cells.get(staff_pk)
            if months is None:
                months = staff_cells[staff_pk] = {}
            cell = months.get(m)
            if cell is None:
                months[m] = (points, items, (code,))
            else:
                codes = cell[2] if code in cell[2] else (*cell[2], code)
                months[m] = (cell[0] + points, cell[1] + items, codes)
        if window:
            months = window_cells.get((code, window))
            if months is None:
                months = window_cells[(code, window)] = {}
            cell = months.get(m)
            months[m] = (points, items) if cell is None else (cell[0] + points, cell[1] + items)
    orders: dict[int, dict[str, int]] = {}
    by_staff = []
    for staff_pk, months in staff_cells.items():
        staff = plan.staff.get(staff_pk)
        if staff is None:
            continue
        staff_id, name = staff
        first = min(months)
        codes = months[first][2]
        if len(codes) > 1:
            order = orders.get(first) or orders.setdefault(first, plan.unit_order(first))
            code = min(codes, key=lambda c: (order.get(c, len(order)), c))
        else:
            (code,) = codes
        row = TallyRow((staff_id,), f"{name}({staff_id})", names.get(code, code))
        row.by_month = {m: cell[0] for m, cell in sorted(months.items())}
        row.items = sum(cell[1] for cell in months.values())
        by_staff.append(row)
    by_window = []
    for (code, window), months in window_cells.items():
        row = TallyRow((code, window), window, names.get(code, code))
        row.by_month = {m: cell[0] for m, cell in sorted(months.items())}
        row.items = sum(cell[1] for cell in months.values())
        by_window.append(row)

    def order(rows: list[TallyRow]) -> list[TallyRow]:
        return sorted(rows, key=lambda r: (-r.total, r.key))

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
