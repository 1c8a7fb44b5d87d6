"""The incidents list's query: one month's incidents, filtered and paginated in the database.

A page costs two queries whatever the month holds: one grouped count (the pager's total and the
confirmed totals, by rule) and one for the page's rows with everything a row shows (unit, staff, who
recorded it, how many evidence files). Points come from the scoring (`incident_items`), never from here.
"""

from __future__ import annotations

from dataclasses import astuple, dataclass, field
from datetime import date

from sqlalchemy import func, select
from sqlalchemy.orm import joinedload

from models import Evidence, Incident, IncidentStatus, db
from scoring import IncidentIn, Rulebook
from scoring.month import incident_items
from services.bounds import month_range_problem
from services.clock import month_utc_range
from services.incidents_preview import points_by_id
from services.memo import database_key, newest_change, remember
from services.paging import page_numbers

PAGE_SIZE = 50
# Ids and page numbers beyond a 64-bit integer match nothing (and would overflow the database's integers).
MAX_INT = 2**63 - 1


@dataclass(frozen=True)
class ListFilter:
    year: int
    month: int
    unit_id: int | None = None
    rule_code: str | None = None
    status: str | None = None
    recorded_by_id: int | None = None


@dataclass
class ListPage:
    rows: list[Incident]
    total: int  # incidents matching the filters
    page: int
    pages: int
    points: dict[int, int] = field(default_factory=dict)  # incident id -> its own signed points
    evidence: dict[int, int] = field(default_factory=dict)  # incident id -> number of evidence files
    # Confirmed incidents matching the filters: their number and their points' sums.
    totals: dict[str, int] = field(default_factory=lambda: {"deductions": 0, "bonus": 0, "count": 0})

    @property
    def beyond(self) -> bool:
        """The page asked for is past the last one: nothing to show on it."""
        return self.page > self.pages

    def pager(self, around: int = 3) -> list[int | None]:
        return page_numbers(self.page, self.pages, around)


def month_problem(year: int, month: int) -> str | None:
    """Why the list cannot show that month, in Chinese (a month not begun, or before the first rulebook)."""
    return month_range_problem(year, month, nothing="没有记录")


def _conditions(f: ListFilter) -> list:
    start, end = month_utc_range(f.year, f.month)
    conditions = [Incident.occurred_at >= start, Incident.occurred_at < end]
    if f.unit_id is not None:
        conditions.append(Incident.unit_id == f.unit_id)
    if f.rule_code:
        conditions.append(Incident.rule_code == f.rule_code)
    if f.status:
        conditions.append(Incident.status == f.status)
    if f.recorded_by_id is not None:
        conditions.append(Incident.recorded_by_id == f.recorded_by_id)
    return conditions


def _totals(groups: list[tuple], rulebook: Rulebook, year: int, month: int) -> dict[str, int]:
    """Confirmed deductions and bonus from (rule code, exempt, sum of counts, rows) groups.

    An item is worth the rule's points times its count, so a group scores as one incident whose count is
    the group's sum. A rule the month's rulebook lacks counts 0 points (as on the rows).
    """
    deductions = bonus = count = 0
    rules = {r.code: r for r in rulebook.rules}
    day = date(year, month, 1)
    for rule_code, exempt, counts, rows in groups:
        count += rows
        rule = rules.get(rule_code)
        if rule is None or rule.derived or not counts:
            continue
        lone = IncidentIn(
            id=0,
            unit_code="",
            rule_code=rule_code,
            occurred_on=day,
            count=int(counts),
            exempt=bool(exempt),
            deadline=day,  # required by some rules; no derived rule is passed, so it gives nothing
        )
        for item in incident_items(lone, rules, None, year, month, day):
            if item.points < 0:
                deductions += item.points
            else:
                bonus += item.points
    return {"deductions": deductions, "bonus": bonus, "count": count}


# The filters' counts per (status, rule, exemption), kept until the next audited change (every change to an
# incident is audited): a month of 17,000 incidents takes 10–20 ms to sum, for each page of the list.
_groups_cache: dict[tuple, list[tuple]] = {}


def _groups(f: ListFilter, conditions: list) -> list[tuple]:
    def count() -> list[tuple]:
        query = (
            select(
                Incident.status,
                Incident.rule_code,
                Incident.exempt,
                func.sum(func.coalesce(Incident.count, 1)),
                func.count(),
            )
            .where(*conditions)
            .group_by(Incident.status, Incident.rule_code, Incident.exempt)
        )
        return [tuple(g) for g in db.session.execute(query)]

    key = (database_key(), astuple(f), newest_change())
    return remember(_groups_cache, key, count, most=128)


def list_page(f: ListFilter, page: int, rulebook: Rulebook, per_page: int = PAGE_SIZE) -> ListPage:
    """One page (from 1) of the month's incidents matching `f`, newest first."""
    conditions = _conditions(f)
    groups = _groups(f, conditions)
    total = sum(g[4] for g in groups)
    confirmed = [g[1:] for g in groups if g[0] == IncidentStatus.CONFIRMED]
    totals = _totals(confirmed, rulebook, f.year, f.month)
    pages = max(1, -(-total // per_page))
    result = ListPage(rows=[], total=total, page=page, pages=pages, totals=totals)
    if page > pages or total == 0:
        return result
    # The page's ids first (the incident table alone, read in index order), then only those rows joined to
    # what they show: a planner never joins and sorts the whole month to keep 50 rows.
    newest_first = (Incident.occurred_at.desc(), Incident.id.desc())
    ids = (
        select(Incident.id)
        .where(*conditions)
        .order_by(*newest_first)
        .limit(per_page)
        .offset((page - 1) * per_page)
        .subquery()
    )
    evidence_count = (
        select(func.count(Evidence.id)).where(Evidence.incident_id == Incident.id).scalar_subquery()
    )
    rows = db.session.execute(
        select(Incident, evidence_count)
        .join(ids, ids.c.id == Incident.id)
        .options(
            joinedload(Incident.unit),
            joinedload(Incident.staff),
            joinedload(Incident.recorded_by),
        )
        .order_by(*newest_first)
    ).all()
    result.rows = [incident for incident, _n in rows]
    result.evidence = {incident.id: n for incident, n in rows}
    result.points = points_by_id(result.rows)
    return result
