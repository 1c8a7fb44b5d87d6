"""Standings: the one service every page, export, API and CLI call for a month's results.

Open months are scored live from confirmed incidents; closed and published months come from the
snapshot stored when they were closed, so they never move.

The live ranking (scores, grades, ranks, flags) is scored from the database's sums per unit, rule and
exemption (`scoring.score_month_counts`), not from one object per incident: that is what keeps it close to
the database's own speed. Each unit's items (one per incident) are loaded by the itemized `score_month`
the first time a page asks for them (`LazyItems`), once for the whole month.
"""

from __future__ import annotations

import dataclasses
from abc import abstractmethod
from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime, timedelta
from threading import Lock

from sqlalchemy import (
    String,
    and_,
    case,
    cast,
    func,
    literal,
    null,
    select,
    text,
    true,
    type_coerce,
    union_all,
)

from models import Incident, IncidentStatus, Month, MonthStatus, MonthUnitResult, Unit, db
from scoring import (
    Flag,
    Grade,
    IncidentIn,
    Item,
    MonthResult,
    Rulebook,
    UnitIn,
    UnitResult,
    score_month,
    score_month_counts,
)
from scoring.calendar import month_bounds
from services.clock import hall_today, hall_tz, month_utc_range
from services.memo import database_key, newest_change, remember
from services.rulebooks import rulebook_for_month

_cache: dict[tuple, MonthResult] = {}
_cache_lock = Lock()


def month_row(year: int, month: int) -> Month | None:
    return db.session.scalar(select(Month).where(Month.year == year, Month.month == month))


def month_status(year: int, month: int) -> str:
    row = month_row(year, month)
    return row.status if row else MonthStatus.OPEN


def active_units() -> list[UnitIn]:
    rows = db.session.execute(
        select(Unit.code, Unit.name, Unit.display_order).where(Unit.active.is_(True)).order_by(Unit.code)
    )
    return [UnitIn(code=c, name=n, display_order=o) for c, n, o in rows]


def incidents_for_month(year: int, month: int) -> list[IncidentIn]:
    """Confirmed incidents dated in the month, plus the rectification rule's (D19a) whose overdue rule's
    item (D19b) may land in it."""
    return _merged(_dated_incidents(year, month), _overdue_incidents(year, month))


def _merged(dated: list[IncidentIn], overdue: list[IncidentIn]) -> list[IncidentIn]:
    out = {i.id: i for i in dated}
    for incident in overdue:
        out.setdefault(incident.id, incident)
    return list(out.values())


def _incident_rows():
    # occurred_at is read as the database gives it (SQLite: text) and turned into a hall date below:
    # building an aware datetime per row is most of the time of a month with thousands of incidents.
    columns = (
        Incident.id,
        Unit.code,
        Incident.rule_code,
        type_coerce(Incident.occurred_at, String),
        Incident.count,
        Incident.exempt,
        Incident.deadline,
        Incident.rectified_on,
    )
    return select(*columns).join(Unit, Unit.id == Incident.unit_id).where(Unit.active.is_(True))


def _incidents_in(rows, day_of) -> list[IncidentIn]:
    return [
        IncidentIn(
            id=i,
            unit_code=code,
            rule_code=rule,
            occurred_on=day_of(at),
            count=count or 1,
            exempt=bool(exempt),
            deadline=deadline,
            rectified_on=rectified,
        )
        for i, code, rule, at, count, exempt, deadline, rectified in rows
    ]


def _dated_incidents(year: int, month: int) -> list[IncidentIn]:
    """Confirmed incidents dated in the month (of active units)."""
    start, end = month_utc_range(year, month)
    # Two queries (this and `_overdue_incidents`) rather than one with OR, so each can use its own index
    # (status+occurred_at; rule_code): with the OR the database scans every confirmed incident of every
    # month.
    rows = db.session.execute(
        _incident_rows().where(
            Incident.status == IncidentStatus.CONFIRMED,
            Incident.occurred_at >= start,
            Incident.occurred_at < end,
        )
    )
    return _incidents_in(rows, _hall_day(start, end))


def _overdue_incidents(year: int, month: int, rulebook: Rulebook | None = None) -> list[IncidentIn]:
    """Confirmed incidents of the rectification rule (D19a) whose overdue item (D19b) may land in the
    month (of active units), whatever month they are dated in."""
    first, last = month_bounds(year, month)
    # The rulebook scoring this month says which rule carries a deadline (D19a in 2023).
    rectification = (rulebook or rulebook_for_month(year, month)).role_code("rectification_rule")
    # The status is checked in Python, or SQLite (without statistics) would pick the status index and scan
    # every confirmed incident.
    rows = [
        row[:-1]
        for row in db.session.execute(
            _incident_rows()
            .add_columns(Incident.status)
            .where(
                Incident.rule_code == (rectification or ""),  # "": this rulebook has no such rule
                Incident.deadline >= first - timedelta(days=1),
                Incident.deadline <= last - timedelta(days=1),
            )
        )
        if row[-1] == IncidentStatus.CONFIRMED
    ]
    return _incidents_in(rows, _stored_hall_day)


def _sum_columns() -> tuple:
    """A confirmed group's columns in RuleCount's order: unit id, rule, exemption, the counts' sum, ids (not
    read here), the smallest count, and how many lack a deadline (the scoring checks both)."""
    return (
        Incident.unit_id,
        Incident.rule_code,
        Incident.exempt,
        func.sum(Incident.count),
        null(),
        func.min(Incident.count),
        func.count() - func.count(Incident.deadline),
    )


def month_sums(
    year: int, month: int, rulebook: Rulebook, unit_ids: list[int] | None = None, *, frozen: bool = False
) -> tuple[dict[int, UnitIn], list, list[IncidentIn], list | None]:
    """What a live ranking reads, in two statements (each is a round trip, and on a busy server a wait):

    - the month's confirmed incidents summed per (unit, rule, exemption) by the database, in one scan of
      the (status, occurred_at) index: narrow rows, as many as the (unit, rule) pairs in use;
    - the active units, with the rectification rule's incidents (D19a) whose overdue item (D19b) may land
      in the month (the (rule_code, deadline) index): a few hundred rows.

    `unit_ids`: only these units (an earlier month's grades for a few units). No ids for the sums: the
    flags' "incident:<id>" reasons come with the items (`_MonthItems`). `frozen`: the second statement
    also reads what `_frozen_unqualified` needs (the year's earlier months and their result rows)."""
    start, end = month_utc_range(year, month)
    first, last = month_bounds(year, month)
    rectification = rulebook.role_code("rectification_rule") or ""  # "": this rulebook has no such rule
    # Rows in RuleCount's order (the unit by its id), handed to the scoring as they come: a month has
    # thousands of them, and a Python pass over them, or a join for the units' codes, costs a third more.
    sums = (
        select(*_sum_columns())
        .where(
            Incident.status == IncidentStatus.CONFIRMED,
            Incident.occurred_at >= start,
            Incident.occurred_at < end,
        )
        .group_by(Incident.unit_id, Incident.rule_code, Incident.exempt)
    )
    # The overdue rows come first: their column types (dates) are the statement's.
    overdue = select(
        Incident.unit_id,
        Incident.id,
        Incident.rule_code,
        cast(Incident.occurred_at, String),  # text on both databases, as the units' names below
        Incident.count,
        Incident.exempt,
        Incident.deadline,
        Incident.rectified_on,
        Incident.status,  # checked below, or SQLite (no statistics) would scan by the status index
    ).where(
        Incident.rule_code == rectification,
        Incident.deadline >= first - timedelta(days=1),
        Incident.deadline <= last - timedelta(days=1),
    )
    units = select(
        Unit.id, Unit.display_order, Unit.code, Unit.name, null(), null(), null(), null(), literal("unit")
    ).where(Unit.active.is_(True))
    if unit_ids is not None:
        sums = sums.where(Incident.unit_id.in_(unit_ids))
        overdue = overdue.where(Incident.unit_id.in_(unit_ids))
        units = units.where(Unit.id.in_(unit_ids))

    parts = [overdue, units]
    if frozen:
        parts += _frozen_parts(year, month)

    overdue_rows, frozen_rows = [], []
    active: dict[int, UnitIn] = {}
    # Core execution (the session's connection): the ORM's per-row loading cost a third of the sums' time.
    connection = db.session.connection()
    for row in connection.execute(union_all(*parts)):
        kind = row[-1]
        if kind == "unit":
            active[row[0]] = UnitIn(code=row[2], name=row[3], display_order=row[1])
        elif kind == IncidentStatus.CONFIRMED:
            overdue_rows.append(row)
        elif kind in ("month", "unqualified"):
            frozen_rows.append((kind, row[0], row[1], row[2]))
    code_of = {unit_id: unit.code for unit_id, unit in active.items()}.get
    late = _incidents_in(
        (
            (i, code, rule, at, count, exempt, deadline, rectified)
            for unit_id, i, rule, at, count, exempt, deadline, rectified, _status in overdue_rows
            if (code := code_of(unit_id)) is not None
        ),
        _stored_hall_day,
    )
    # The DBAPI's own tuples: every column is a plain int or text already (exemption 0/1 on SQLite), and
    # SQLAlchemy's Row per row of a month's thousands cost as much as the database's scan.
    result = connection.execute(sums)
    try:
        counts = result.cursor.fetchall()
    finally:
        result.close()
    units_by_code = dict(sorted(active.items(), key=lambda pair: pair[1].code))
    return units_by_code, counts, late, (frozen_rows if frozen else None)


def _frozen_parts(year: int, month: int) -> list:
    """The year's months before `month` (month, number of result rows, status), and each unit's unqualified
    months among the frozen ones with rows (count, unit code): in the columns of `month_sums`' second
    statement."""
    nothing = [null()] * 5
    months = (
        select(Month.month, func.count(MonthUnitResult.id), Month.status, *nothing, literal("month"))
        .select_from(Month)
        .outerjoin(MonthUnitResult, MonthUnitResult.month_id == Month.id)
        .where(Month.year == year, Month.month < month)
        .group_by(Month.month, Month.status)
    )
    unqualified = (
        select(func.count(), null(), MonthUnitResult.unit_code, *nothing, literal("unqualified"))
        .select_from(MonthUnitResult)
        .join(Month, Month.id == MonthUnitResult.month_id)
        .where(
            Month.year == year,
            Month.month < month,
            Month.status != MonthStatus.OPEN,
            MonthUnitResult.grade == Grade.UNQUALIFIED.value,
        )
        .group_by(MonthUnitResult.unit_code)
    )
    return [months, unqualified]


class _MonthItems:
    """A live month's items and the flags' reasons, scored once by the itemized `score_month` when a page
    first reads any of them."""

    def __init__(
        self,
        year: int,
        month: int,
        today: date,
        rulebook: Rulebook,
        units: list[UnitIn],
        overdue: list[IncidentIn],
        earlier: dict[str, int],
    ) -> None:
        self.year, self.month, self.today = year, month, today
        self.rulebook, self.units, self.overdue, self.earlier = rulebook, units, overdue, earlier
        self._result: dict[str, UnitResult] | None = None
        self._lock = Lock()

    def unit(self, code: str) -> UnitResult | None:
        with self._lock:
            if self._result is None:
                incidents = _merged(_dated_incidents(self.year, self.month), self.overdue)
                result = score_month(
                    self.rulebook, self.units, incidents, self.year, self.month, self.today, self.earlier
                )
                self._result = {u.code: u for u in result.units}
            return self._result.get(code)

    def items(self, code: str) -> tuple[Item, ...]:
        unit = self.unit(code)
        return unit.items if unit else ()

    def reasons(self, code: str, flag: str) -> tuple[str, ...]:
        unit = self.unit(code)
        return next((f.reasons for f in unit.flags if f.code == flag), ()) if unit else ()


class _Lazy(Sequence):
    """A read-only sequence (like the tuple it stands for) that loads on first use."""

    __slots__ = ()

    @abstractmethod
    def _all(self) -> tuple:
        """Everything the sequence holds, loaded on the first call (each subclass says how)."""

    def __getitem__(self, index):  # type: ignore[override]
        return self._all()[index]

    def __len__(self) -> int:
        return len(self._all())

    def __iter__(self) -> Iterator:
        return iter(self._all())

    def __contains__(self, value: object) -> bool:
        return value in self._all()

    def __eq__(self, other: object) -> bool:
        if isinstance(other, _Lazy):
            other = other._all()
        return self._all() == other

    def __hash__(self) -> int:
        return hash(self._all())

    def __add__(self, other):
        return self._all() + tuple(other)

    def __radd__(self, other):
        return tuple(other) + self._all()

    def __repr__(self) -> str:
        return repr(self._all())


class LazyItems(_Lazy):
    """A unit's items (`UnitResult.items`) of a live month."""

    __slots__ = ("_code", "_month")

    def __init__(self, month: _MonthItems, code: str) -> None:
        self._month, self._code = month, code

    def _all(self) -> tuple[Item, ...]:
        return self._month.items(self._code)


class LazyReasons(_Lazy):
    """A flag's reasons (`Flag.reasons`) of a live month: the "incident:<id>" ones need the items."""

    __slots__ = ("_code", "_flag", "_month")

    def __init__(self, month: _MonthItems, code: str, flag: str) -> None:
        self._month, self._code, self._flag = month, code, flag

    def _all(self) -> tuple[str, ...]:
        return self._month.reasons(self._code, self._flag)


def _score_counts(
    year: int,
    month: int,
    today: date,
    earlier_unqualified,
    units: dict[int, UnitIn] | None = None,
    *,
    grades_only: bool = False,
) -> MonthResult:
    """The live ranking from the database's sums, each unit's items loaded when first read.

    `earlier_unqualified`: a mapping, None, a function (codes of the units unqualified this month,
    rulebook, units) -> their earlier unqualified months, or `_EARLIER`: that function, with the frozen
    months read in the same statement as the units. `grades_only`: for an earlier month's grades (no flag
    reasons, no items; `units` may be a few)."""
    rulebook = rulebook_for_month(year, month)
    units, counts, overdue, frozen = month_sums(
        year, month, rulebook, None if units is None else list(units), frozen=earlier_unqualified is _EARLIER
    )
    by_id = {unit_id: unit.code for unit_id, unit in units.items()}
    listed = list(units.values())
    if earlier_unqualified is _EARLIER:
        earlier_unqualified = _earlier_unqualified_of(year, month, today, frozen)
    earlier = earlier_unqualified
    asked: dict[str, int] = {}
    if callable(earlier_unqualified):

        def earlier(codes: frozenset[str]) -> dict[str, int]:
            asked.update(earlier_unqualified(codes, rulebook, units))
            return asked

    try:
        result = score_month_counts(
            rulebook, listed, counts, overdue, year, month, today, earlier, unit_keys=by_id
        )
    except ValueError:
        # A row the sums cannot score as they stand (a count of 0, read as 1; or a bad row): the itemized
        # scoring gives the result or the error naming the incident.
        return _score_live(year, month, today, _exact(year, month, today, earlier_unqualified))
    if grades_only:
        return result
    used = asked if callable(earlier_unqualified) else (earlier_unqualified or {})
    details = _MonthItems(year, month, today, rulebook, listed, overdue, used)
    # Built directly (by keyword: the fields' order may change): `dataclasses.replace` per unit was a
    # quarter of a live ranking's time.
    return MonthResult(
        year=result.year,
        month=result.month,
        rulebook_key=result.rulebook_key,
        units=tuple(
            UnitResult(
                code=u.code,
                name=u.name,
                items=LazyItems(details, u.code),
                deductions=u.deductions,
                bonus=u.bonus,
                score=u.score,
                grade=u.grade,
                rank=u.rank,
                flags=tuple(Flag(f.code, LazyReasons(details, u.code, f.code)) for f in u.flags)
                if u.flags
                else (),
            )
            for u in result.units
        ),
    )


_EARLIER = object()


def _exact(year: int, month: int, today: date, earlier_unqualified) -> dict[str, int] | None:
    if callable(earlier_unqualified) or earlier_unqualified is _EARLIER:
        return _earlier_unqualified(year, month, today)
    return earlier_unqualified


def _stored_hall_day(stored: str | datetime) -> date:
    """A stored UTC timestamp (SQLite text or a naive datetime) -> its hall date."""
    at = datetime.fromisoformat(stored) if isinstance(stored, str) else stored
    return (at if at.tzinfo else at.replace(tzinfo=UTC)).astimezone(hall_tz()).date()


def _hall_day(start: datetime, end: datetime):
    """Stored UTC timestamps in [start, end) -> hall dates, with one fixed offset when the month has no
    daylight-saving change (always, for China), else per row."""
    tz = hall_tz()
    offset = start.astimezone(tz).utcoffset()
    if offset != (end - timedelta(microseconds=1)).astimezone(tz).utcoffset():
        return _stored_hall_day
    minutes = int(offset.total_seconds()) // 60
    cache: dict[tuple[str, int], date] = {}

    def day(stored: str | datetime) -> date:
        if isinstance(stored, str) and len(stored) >= 16 and stored[13] == ":":
            shift = (int(stored[11:13]) * 60 + int(stored[14:16]) + minutes) // 1440
            key = (stored[:10], shift)
            hit = cache.get(key)
            if hit is None:
                hit = cache[key] = date.fromisoformat(stored[:10]) + timedelta(days=shift)
            return hit
        if isinstance(stored, str):
            return _stored_hall_day(stored)
        return (stored.replace(tzinfo=None) + offset).date()

    return day


def _score_live(
    year: int, month: int, today: date, earlier_unqualified: dict[str, int] | None
) -> MonthResult:
    return score_month(
        rulebook_for_month(year, month),
        active_units(),
        incidents_for_month(year, month),
        year,
        month,
        today,
        earlier_unqualified,
    )


def _earlier_unqualified(
    year: int, month: int, today: date, units: dict[int, UnitIn] | None = None
) -> dict[str, int]:
    """Unqualified months of the same year before this one, per unit (replace_staff reads it): frozen months
    from their result rows (or snapshots), open ones scored live."""
    counts, open_months = _frozen_unqualified(year, month)
    every = units is None
    units = _active_units() if units is None else units
    for result in _grades_of(year, open_months, today, units, only_these=not every):
        _add_unqualified(counts, result)
    return counts


def _earlier_unqualified_of(year: int, month: int, today: date, frozen_rows: list | None = None):
    """`_earlier_unqualified` as `score_month_counts` asks for it: for the units unqualified this month only,
    and only as far as `replace_staff` looks (at least min − 1 earlier months, or not). The frozen months are
    read at once (a query or two, whatever the data); the open ones are scored live, for those units alone:
    the first one (most halls settle there), then, for those still short of the count, all the others in
    one scan. `frozen_rows`: what `_frozen_parts` read (else read here)."""
    counts, open_months = _frozen_unqualified(year, month, frozen_rows)

    def of(codes: frozenset[str], rulebook: Rulebook, units: dict[int, UnitIn]) -> dict[str, int]:
        enough = rulebook.settings.replace_staff_min_unqualified - 1
        for first in (True, False):
            wanted = {i: u for i, u in units.items() if u.code in codes and counts.get(u.code, 0) < enough}
            months = open_months[:1] if first else open_months[1:]
            if not wanted or not months:
                break
            for result in _grades_of(year, months, today, wanted, only_these=len(wanted) * 2 < len(units)):
                _add_unqualified(counts, result)
        return counts

    return of


def _active_units() -> dict[int, UnitIn]:
    rows = db.session.execute(
        select(Unit.id, Unit.code, Unit.name, Unit.display_order)
        .where(Unit.active.is_(True))
        .order_by(Unit.code)
    )
    return {i: UnitIn(code=c, name=n, display_order=o) for i, c, n, o in rows}


def _grades_of(
    year: int, months: list[int], today: date, units: dict[int, UnitIn], *, only_these: bool = True
) -> list[MonthResult]:
    """Several open months' grades for `units`, in three statements whatever their number: the rulebooks,
    the sums of every month in one scan of the (status, occurred_at) index (each row tagged with its month
    by the month's UTC bounds), and the D19a whose D19b may land in any of them. Flags, items and ranks are
    of no use here. `only_these`: the statements name the units (worth it for a few of them; for most of
    the hall, the rows of the others are dropped here instead)."""
    if len(months) <= 1 or not units:
        return [_score_counts(year, m, today, None, units, grades_only=True) for m in months]
    from services.rulebooks import as_rulebook, versions

    known = versions()
    rulebooks: dict[int, Rulebook] = {}
    for m in months:  # as `rulebook_for_month`: the version in force on the month's first day
        before = [v for v in known if v.effective_from <= date(year, m, 1)]
        if before:
            rulebooks[m] = as_rulebook(max(before, key=lambda v: (v.effective_from, v.id)))
        elif known:  # before the first version: the first, as `version_in_force` does
            rulebooks[m] = as_rulebook(known[0])
        else:
            rulebooks[m] = rulebook_for_month(year, m)
    bounds = {m: month_utc_range(year, m) for m in months}
    tag = case(
        *[(and_(Incident.occurred_at >= a, Incident.occurred_at < b), m) for m, (a, b) in bounds.items()]
    )
    ids = list(units)
    sums = (
        select(tag, *_sum_columns())
        .where(
            Incident.status == IncidentStatus.CONFIRMED,
            Incident.occurred_at >= bounds[months[0]][0],
            Incident.occurred_at < bounds[months[-1]][1],
            Incident.unit_id.in_(ids) if only_these else true(),
        )
        .group_by(text("1, 2, 3, 4"))  # by position: the tag's bound values would not match a repeated one
    )
    per_month: dict[int | None, list] = {m: [] for m in months}
    for row in db.session.execute(sums):
        per_month.setdefault(row[0], []).append(row[1:])  # None: a frozen month between them
    first, _ = month_bounds(year, months[0])
    _, last = month_bounds(year, months[-1])
    codes = {code for rb in rulebooks.values() if (code := rb.role_code("rectification_rule"))}
    overdue = _incidents_in(
        [
            row[:-1]
            for row in db.session.execute(
                _incident_rows()
                .add_columns(Incident.status)
                .where(
                    Incident.rule_code.in_(sorted(codes)),
                    Incident.deadline >= first - timedelta(days=1),
                    Incident.deadline <= last - timedelta(days=1),
                )
            )
            if row[-1] == IncidentStatus.CONFIRMED
        ],
        _stored_hall_day,
    )
    listed = list(units.values())
    by_id = {unit_id: unit.code for unit_id, unit in units.items()}
    results = []
    for m in months:
        try:
            results.append(
                score_month_counts(
                    rulebooks[m], listed, per_month[m], overdue, year, m, today, None, unit_keys=by_id
                )
            )
        except ValueError:  # as `_score_counts`: the itemized scoring reads it, or names the incident
            results.append(_score_counts(year, m, today, None, units, grades_only=True))
    return results


def _add_unqualified(counts: dict[str, int], result: MonthResult) -> None:
    for unit in result.units:
        if unit.grade == Grade.UNQUALIFIED:
            counts[unit.code] = counts.get(unit.code, 0) + 1


def _frozen_unqualified(year: int, month: int, rows: list | None = None) -> tuple[dict[str, int], list[int]]:
    """Unqualified months per unit among the frozen months of the year before `month`, and the earlier
    months that must be scored live (open, or frozen without a readable snapshot). `rows`: those of
    `_frozen_parts`, when read with the units already."""
    counts: dict[str, int] = {}
    if month <= 1:
        return counts, []
    if rows is None:
        rows = [(r[-1], r[0], r[1], r[2]) for r in db.session.execute(union_all(*_frozen_parts(year, month)))]
    frozen, kept = set(), []
    for kind, number, n, text_ in rows:
        if kind == "unqualified":
            counts[text_] = number
        elif text_ != MonthStatus.OPEN:
            frozen.add(number)
            if n:
                kept.append(number)
    grades = _snapshot_grades(year, sorted(frozen.difference(kept)))
    live = []
    for m in range(1, month):
        if m in kept:
            continue
        pairs = grades.get(m)
        if pairs is None:
            snapshot = _frozen(year, m) if m in frozen else None
            if snapshot is None:
                live.append(m)
                continue
            pairs = [(unit.code, str(unit.grade)) for unit in snapshot.units]
        for code, grade in pairs:
            if grade == Grade.UNQUALIFIED:
                counts[code] = counts.get(code, 0) + 1
    return counts, live


# The grades of frozen months, keyed by the month row's version: a frozen month changes only when it is
# reopened and closed again, and reading big snapshots is the slowest part of a live ranking.
_grades_cache: dict[tuple, list[tuple[str, str]]] = {}

# Per dialect: the version of each month row, and (unit code, grade) read by the database's own JSON
# functions, which is far cheaper than decoding whole snapshots (every item of every unit) in Python.
# SQLite has no row version, so the snapshot text itself is fingerprinted (hashing is cheaper than parsing);
# PostgreSQL's `xmin` (the transaction that last wrote the row) changes at every close or reopen.
_GRADE_SQL = {
    "sqlite": (
        "SELECT month, snapshot FROM month WHERE year = :year AND month IN ({})",
        "SELECT month.month, json_extract(u.value, '$.code'), json_extract(u.value, '$.grade') "
        "FROM month, json_each(month.snapshot, '$.units') AS u "
        "WHERE month.year = :year AND month.month IN ({})",
    ),
    "postgresql": (
        "SELECT month, CAST(xmin AS text) FROM month WHERE year = :year AND month IN ({})",
        "SELECT m.month, u.code, u.grade FROM month AS m, "
        "json_to_recordset(CAST(m.snapshot AS json) -> 'units') AS u(code text, grade text) "
        "WHERE m.year = :year AND m.month IN ({})",
    ),
}


def _snapshot_grades(year: int, frozen_months: list[int]) -> dict[int, list[tuple[str, str]]]:
    """(unit code, grade) of each frozen month's snapshot. Months it cannot read this way are left out;
    the caller falls back to the full snapshot."""
    sql = _GRADE_SQL.get(db.engine.dialect.name)
    if not frozen_months or sql is None:
        return {}
    url = db.engine.url.render_as_string()
    keys = {}
    for m, version in _month_query(sql[0], year, frozen_months):
        if version is not None:  # a 64-bit hash of the text: equal only for the same snapshot
            keys[m] = (url, year, m, len(version), hash(version))
    with _cache_lock:
        grades = {m: _grades_cache[key] for m, key in keys.items() if key in _grades_cache}
    missing = [m for m in frozen_months if m not in grades]
    if missing:
        fresh: dict[int, list[tuple[str, str]]] = {}
        for m, code, grade in _month_query(sql[1], year, missing):
            fresh.setdefault(m, []).append((code, grade))
        with _cache_lock:
            if len(_grades_cache) > 512:
                _grades_cache.clear()
            for m, pairs in fresh.items():
                if m in keys:
                    _grades_cache[keys[m]] = pairs
        grades.update(fresh)
    return grades


def _month_query(sql: str, year: int, months: list[int]):
    params = {"year": year, **{f"m{i}": m for i, m in enumerate(months)}}
    return db.session.execute(text(sql.format(", ".join(f":m{i}" for i in range(len(months))))), params)


def _frozen(year: int, month: int) -> MonthResult | None:
    row = month_row(year, month)
    return frozen_result(row) if is_frozen(row) else None


def is_frozen(row: Month | None) -> bool:
    """The month is closed and holds its frozen standings (read by `snapshot_key`, without decoding them;
    a row restored from a backup older than the key is read)."""
    return row is not None and row.status != MonthStatus.OPEN and bool(row.snapshot_key or row.snapshot)


# A frozen month's decoded results, per process, under its snapshot's version: decoding every item of every
# unit took about 100 ms a request on a large hall.
_frozen_cache: dict[tuple, MonthResult] = {}


def frozen_result(row: Month) -> MonthResult:
    """The results frozen in a closed or published month's row, decoded once per snapshot version."""
    if not row.snapshot_key:  # a row written before versions (restored from an older backup)
        return result_from_dict(row.snapshot)
    key = (database_key(), row.id, row.snapshot_key)
    return remember(_frozen_cache, key, lambda: result_from_dict(row.snapshot), most=128)


def live_standings(year: int, month: int) -> MonthResult:
    """Score the month from the database now, whatever its status (used to freeze it at closing)."""
    today = hall_today()
    return _score_counts(year, month, today, _EARLIER)


_UNREAD = object()


def standings(year: int, month: int, *, row: Month | None = _UNREAD) -> MonthResult:  # type: ignore[assignment]
    """The month's results: frozen if closed or published, else live (cached until the next change).

    `row`: the month's row (or None: it has none) when the caller has read it already, saving a query.
    """
    if row is _UNREAD:
        row = month_row(year, month)
    if is_frozen(row):
        return frozen_result(row)
    key = (database_key(), year, month, hall_today(), newest_change())
    return remember(_cache, key, lambda: live_standings(year, month))


def month_rows(months: list[tuple[int, int]]) -> dict[tuple[int, int], Month]:
    """The Month rows of these (year, month) keys, in one query (a month without a row is left out). Their
    frozen standings stay unread (deferred) until `frozen_result` misses its cache."""
    if not months:
        return {}
    years = sorted({y for y, _m in months})
    wanted = set(months)
    query = select(Month).where(Month.year.between(years[0], years[-1]))
    rows = db.session.scalars(query)
    return {(r.year, r.month): r for r in rows if (r.year, r.month) in wanted}


@dataclasses.dataclass(frozen=True)
class UnitLine:
    """One unit's score, grade and rank in a frozen month, and how many units were ranked."""

    score: int | None
    grade: Grade | None
    rank: int | None
    total_units: int


def frozen_unit_lines(rows: list[Month], unit_code: str) -> dict[int, UnitLine]:
    """By month id: the unit's line of each of these frozen months, from their `month_unit_result` rows in
    one query (no snapshot read). A month without such rows (restored from an older backup) is left out:
    the caller reads its `standings`."""
    ids = [r.id for r in rows]
    if not ids:
        return {}
    mine = MonthUnitResult.unit_code == unit_code
    lines = db.session.execute(
        select(
            MonthUnitResult.month_id,
            func.count(),
            func.max(case((mine, MonthUnitResult.score))),
            func.max(case((mine, MonthUnitResult.grade))),
            func.max(case((mine, MonthUnitResult.rank))),
        )
        .where(MonthUnitResult.month_id.in_(ids))
        .group_by(MonthUnitResult.month_id)
    )
    return {
        month_id: UnitLine(score, Grade(grade) if grade else None, rank, total)
        for month_id, total, score, grade, rank in lines
    }


def standings_for(
    months: list[tuple[int, int]], rows: dict[tuple[int, int], Month] | None = None
) -> dict[tuple[int, int], MonthResult]:
    """`standings` of several months: the frozen ones from their rows read in one query (or the `rows`
    of `month_rows` the caller already has), the open ones live (cached like `standings`)."""
    rows = month_rows(months) if rows is None else rows
    out: dict[tuple[int, int], MonthResult] = {}
    for key in months:
        out[key] = standings(*key, row=rows.get(key))
    return out


def unit_results_for(
    months: list[tuple[int, int]], rows: dict[tuple[int, int], Month]
) -> dict[tuple[int, int], tuple[UnitResult, ...]]:
    """The units' results of several months without their items, in listing order: a frozen month's from
    its `month_unit_result` rows (one query for all; no snapshot decoded: a year of a 200-unit hall's is
    2 s), the others (open, or frozen without such rows) from `standings`. A frozen unit is named as the
    unit is named now, or as its snapshot named it when the unit is gone."""
    frozen = {key: row for key, row in rows.items() if key in set(months) and is_frozen(row)}
    by_month: dict[int, list[MonthUnitResult]] = {}
    if frozen:
        ids = [row.id for row in frozen.values()]
        for line in db.session.scalars(
            select(MonthUnitResult).where(MonthUnitResult.month_id.in_(ids)).order_by(MonthUnitResult.id)
        ):
            by_month.setdefault(line.month_id, []).append(line)
    names = dict(db.session.execute(select(Unit.code, Unit.name)).tuples().all()) if by_month else {}
    out: dict[tuple[int, int], tuple[UnitResult, ...]] = {}
    for key in months:
        row = frozen.get(key)
        lines = by_month.get(row.id) if row is not None else None
        if not lines or any(line.unit_code not in names for line in lines):
            out[key] = tuple(
                dataclasses.replace(u, items=()) for u in standings(*key, row=rows.get(key)).units
            )
            continue
        out[key] = tuple(
            UnitResult(
                code=line.unit_code,
                name=names[line.unit_code],
                items=(),
                deductions=line.deductions,
                bonus=line.bonus,
                score=line.score,
                grade=Grade(line.grade),
                rank=line.rank,
                flags=tuple(Flag(code, ()) for code in sorted(line.flags.split())),
            )
            for line in lines
        )
    return out


def standings_json(year: int, month: int) -> dict:
    """The stable JSON of `GET /api/standings` and `standings --json`."""
    row = month_row(year, month)
    return results_json(standings(year, month, row=row), row.status if row else MonthStatus.OPEN)


def results_json(result: MonthResult, status: str) -> dict:
    """`standings_json` of results already read, with their month's status."""
    return {
        "month": result.label,
        "rulebook": result.rulebook_key,
        "status": str(status),
        "units": [
            {
                "code": u.code,
                "name": u.name,
                "rank": u.rank,
                "score": u.score,
                "deductions": u.deductions,
                "bonus": u.bonus,
                "grade": str(u.grade),
                "flags": u.flag_codes,
            }
            for u in result.units
        ],
    }


def result_to_dict(result: MonthResult) -> dict:
    return {
        "year": result.year,
        "month": result.month,
        "rulebook_key": result.rulebook_key,
        "units": [
            {
                "code": u.code,
                "name": u.name,
                "deductions": u.deductions,
                "bonus": u.bonus,
                "score": u.score,
                "grade": str(u.grade),
                "rank": u.rank,
                "flags": [{"code": f.code, "reasons": list(f.reasons)} for f in u.flags],
                "items": [
                    {
                        "rule_code": i.rule_code,
                        "occurred_on": i.occurred_on.isoformat(),
                        "count": i.count,
                        "points": i.points,
                        "incident_id": i.incident_id,
                        "derived": i.derived,
                        "exempt": i.exempt,
                    }
                    for i in u.items
                ],
            }
            for u in result.units
        ],
    }


def result_from_dict(data: dict) -> MonthResult:
    return MonthResult(
        year=data["year"],
        month=data["month"],
        rulebook_key=data["rulebook_key"],
        units=tuple(
            UnitResult(
                code=u["code"],
                name=u["name"],
                deductions=u["deductions"],
                bonus=u["bonus"],
                score=u["score"],
                grade=Grade(u["grade"]),
                rank=u["rank"],
                flags=tuple(Flag(code=f["code"], reasons=tuple(f["reasons"])) for f in u["flags"]),
                items=tuple(
                    Item(
                        rule_code=i["rule_code"],
                        occurred_on=date.fromisoformat(i["occurred_on"]),
                        count=i["count"],
                        points=i["points"],
                        incident_id=i["incident_id"],
                        derived=i["derived"],
                        exempt=i["exempt"],
                    )
                    for i in u["items"]
                ),
            )
            for u in data["units"]
        ),
    )
