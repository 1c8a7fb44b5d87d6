"""The yearly summary (年终汇总): every unit's twelve months, its grades and flags, and the per-staff and
per-window tallies of the year, for the bureau's leaders and the city government.

Every number comes from `services.standings` (a closed month's frozen result, an open month's live one);
nothing here scores. The queries do not grow with the number of units: the months' rows in one query,
each open month scored once (cached), the units in one, the tallies' own few.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import func, select

from models import Incident, MonthStatus, Unit, db
from scoring import FlagCode, Grade, UnitResult
from services import DomainError
from services.bounds import first_rulebook_day
from services.clock import hall_today, month_utc_range
from services.dashboard import TallyRow, tallies
from services.memo import database_key, newest_change, remember
from services.standings import month_rows, unit_results_for

GRADES = [Grade.EXCELLENT, Grade.GOOD, Grade.QUALIFIED, Grade.UNQUALIFIED]
FLAGS = [str(f) for f in FlagCode]


@dataclass
class UnitYear:
    """One unit's year: its row of each month's standings it was scored in."""

    code: str
    name: str
    months: dict[int, UnitResult] = field(default_factory=dict)

    def grade_months(self, grade: str) -> int:
        return sum(1 for r in self.months.values() if str(r.grade) == grade)

    def flag_months(self, flag: str) -> int:
        """Months in which the unit had this flag."""
        return sum(1 for r in self.months.values() if flag in r.flag_codes)

    @property
    def deductions(self) -> int:
        """The year's deduction points (each month's before its floor), as a positive sum."""
        return sum(r.deductions for r in self.months.values())

    @property
    def flag_list(self) -> list[tuple[str, int]]:
        """(flag code, months) of every flag the unit had, in the rulebook's order."""
        return [(f, n) for f in FLAGS if (n := self.flag_months(f))]


@dataclass
class YearSummary:
    year: int
    months: list[int]  # the months with results: from the first rulebook's to the current one
    status: dict[int, str]  # month -> open, closed, published
    total_units: dict[int, int]  # month -> units ranked
    units: list[UnitYear]
    by_staff: list[TallyRow]
    by_window: list[TallyRow]
    # Columns of counts per unit from the other parts of the hall's work that exist in this build
    # (notices, appeals, honours): (Chinese header, unit code -> count).
    counts: list[tuple[str, dict[str, int]]] = field(default_factory=list)
    # Pages rendered from this summary, kept as long as it is (until the next audited change): a 200-unit
    # year is 5,000 cells, 70 ms to render for each leader who opens it. Key: what the view names.
    rendered: dict[tuple, str] = field(default_factory=dict, repr=False, compare=False)

    def render_once(self, key: tuple, render):
        """`render()`, made once for this summary and `key` (two threads may both make it: same text)."""
        found = self.rendered.get(key)
        if found is None:
            found = self.rendered[key] = render()
        return found

    def extra_columns(self):
        """(header, unit -> value) of each count column, for the page and the spreadsheet."""
        return [(label, lambda unit, d=data: d.get(unit.code, 0)) for label, data in self.counts]

    @property
    def complete(self) -> bool:
        """Every month of the year is closed (the summary no longer moves)."""
        return len(self.months) == 12 and all(s != MonthStatus.OPEN for s in self.status.values())

    @property
    def open_months(self) -> list[int]:
        return [m for m in self.months if self.status[m] == MonthStatus.OPEN]


def year_months(year: int) -> list[int]:
    """The months of `year` that have results: not before the first rulebook, not after this month.
    A year with none raises DomainError (the view answers 404)."""
    today = hall_today()
    first = first_rulebook_day()
    months = [
        m
        for m in range(1, 13)
        if (year, m) <= (today.year, today.month)
        and (first is None or (year, m) >= (first.year, first.month))
    ]
    if not months:
        raise DomainError(f"{year} 年没有考核结果")
    return months


def available_years() -> list[int]:
    """The years with results, newest first: from the first rulebook's to this one."""
    today = hall_today()
    first = first_rulebook_day()
    return list(range(today.year, (first.year if first else today.year) - 1, -1))


# Summaries keyed as the live standings are (database, year, today, newest audit row): every change that
# moves them (an incident, a month closed or published, a notice, an appeal, an honour roll) is audited. A
# summary's month results keep no items (it shows none): a frozen year holds 200,000 of them.
_cache: dict[tuple, YearSummary] = {}


def summary(year: int) -> YearSummary:
    months = year_months(year)
    key = (database_key(), year, hall_today(), newest_change())
    return remember(_cache, key, lambda: _summary(year, months), most=16)


def _summary(year: int, months: list[int]) -> YearSummary:
    keys = [(year, m) for m in months]
    rows = month_rows(keys)
    results = unit_results_for(keys, rows)  # no items: the summary shows none
    status = {m: str(rows[(year, m)].status if (year, m) in rows else MonthStatus.OPEN) for m in months}
    by_code: dict[str, UnitYear] = {}
    for m in months:
        for u in results[(year, m)]:
            entry = by_code.setdefault(u.code, UnitYear(u.code, u.name))
            entry.name = u.name  # the latest month's name
            entry.months[m] = u
    # Units in the hall's listing order (display order, then code); a deleted unit goes last, by code.
    order = {
        code: (o, code) for code, o in db.session.execute(select(Unit.code, Unit.display_order)).tuples()
    }
    units = sorted(by_code.values(), key=lambda u: order.get(u.code, (10**9, u.code)))
    by_staff, by_window = tallies(year)
    return YearSummary(
        year=year,
        months=months,
        status=status,
        total_units={m: len(results[(year, m)]) for m in months},
        units=units,
        by_staff=by_staff,
        by_window=by_window,
        counts=_counts(year),
    )


def _model(module: str, name: str):
    """A model of another part of the work (notices, appeals, honours), or None in a build without it."""
    import importlib

    try:
        return getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError):
        return None


def _counts(year: int) -> list[tuple[str, dict[str, int]]]:
    """Honours, notices and appeals of the year per unit, when this build has them: one grouped query each.
    Honours are published rolls only (the quarter candidates the scoring computes are not honours)."""
    out: list[tuple[str, dict[str, int]]] = []
    roll, entry = _model("models.honor", "HonorRoll"), _model("models.honor", "HonorEntry")
    if roll is not None and entry is not None:
        rows = db.session.execute(
            select(Unit.code, entry.kind, func.count(entry.id))
            .join(roll, roll.id == entry.roll_id)
            .join(Unit, Unit.id == entry.unit_id)
            .where(roll.year == year, roll.status == "published")
            .group_by(Unit.code, entry.kind)
        ).all()
        honours: dict[str, dict[str, int]] = {"collective": {}, "individual": {}, "year_unit": {}}
        for code, kind, n in rows:
            honours.setdefault(kind, {})[code] = n
        if rows:  # a column only when a roll has been published
            out.append(("先进集体(季)", honours["collective"]))
            out.append(("先进个人(人次)", honours["individual"]))
            out.append(("年度优秀窗口单位", honours["year_unit"]))
    notice = _model("models.notice", "Notice")
    if notice is not None:
        rows = db.session.execute(
            select(Unit.code, func.count(notice.id), func.count(notice.answered_at))
            .join(Unit, Unit.id == notice.unit_id)
            .where(notice.year == year, notice.withdrawn_at.is_(None))
            .group_by(Unit.code)
        ).all()
        out.append(("书面通报(件)", {code: n for code, n, _a in rows}))
        out.append(("已反馈", {code: a for code, _n, a in rows}))
    appeal = _model("models.appeal", "Appeal")
    if appeal is not None:
        start, _end = month_utc_range(year, 1)
        _start, end = month_utc_range(year, 12)
        rows = db.session.execute(
            select(Unit.code, appeal.status, func.count(appeal.id))
            .join(Incident, Incident.id == appeal.incident_id)
            .join(Unit, Unit.id == appeal.unit_id)
            .where(Incident.occurred_at >= start, Incident.occurred_at < end)
            .group_by(Unit.code, appeal.status)
        ).all()
        total: dict[str, int] = {}
        voided: dict[str, int] = {}
        for code, status, n in rows:
            total[code] = total.get(code, 0) + n
            if status == "voided":
                voided[code] = voided.get(code, 0) + n
        out.append(("申诉(次)", total))
        out.append(("申诉成立", voided))
    return out


def document_key(year: int) -> str:
    """The key the yearly summary's 文号 is issued under (services.documents.issue_document)."""
    return f"year_summary:{year}"
