"""The unit portal's read model: one unit's months, items and trend, and the public rankings.

Every number (score, deductions, bonus, grade, rank, flags) comes from `services.standings`; this module
only picks the unit's row and joins what a unit may read of the incidents behind its items (rule, time,
window, staff, the public text) — never the inspector's internal `note`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

from sqlalchemy import func, select

from models import Incident, IncidentStatus, Month, MonthStatus, Staff, Unit, db
from scoring import Grade, MonthResult, Rule, Rulebook, RuleKind, UnitResult, format_month
from scoring.calendar import prev_month
from services.clock import hall_today, to_hall
from services.rulebooks import as_rulebook, by_key, rulebook_for_month
from services.standings import (
    UnitLine,
    frozen_unit_lines,
    month_row,
    month_rows,
    month_status,
    standings,
)

_UNREAD = object()  # a `row` argument not given: the function reads the month's row itself

# What a unit may open: a proposal waiting for an admin, or one he dismissed, never counted against it.
VISIBLE_STATUSES = (IncidentStatus.CONFIRMED, IncidentStatus.VOIDED)


@dataclass(frozen=True)
class ItemRow:
    """One scored line of a unit's month with the details a unit may read."""

    incident_id: int | None
    rule_code: str
    title: str
    kind: str  # "deduction" or "bonus"
    occurred_on: date
    occurred_at: datetime | None  # aware UTC; None for a derived D19b (it has a day, not a time)
    window: str | None
    staff_name: str | None
    count: int
    points: int  # signed, as scored
    public_text: str
    derived: bool
    exempt: bool


@dataclass(frozen=True)
class UnitMonth:
    """A unit's month as the portal shows it. `result` is None when the unit was not scored that month."""

    year: int
    month: int
    status: str  # open, closed, published
    result: UnitResult | None
    total_units: int
    rulebook: Rulebook
    items: tuple[ItemRow, ...]

    @property
    def label(self) -> str:
        return format_month(self.year, self.month)

    @property
    def live(self) -> bool:
        return self.status == "open"

    @property
    def deduction_items(self) -> list[ItemRow]:
        return [i for i in self.items if i.kind == RuleKind.DEDUCTION]

    @property
    def bonus_items(self) -> list[ItemRow]:
        return [i for i in self.items if i.kind == RuleKind.BONUS]

    @property
    def deduction_points(self) -> int:
        """The month's deductions as signed points (standings report them as a positive sum)."""
        return -self.result.deductions if self.result else 0

    @property
    def bonus_capped(self) -> bool:
        """The raw bonus is above the rulebook's cap (the page says only the cap counts)."""
        return self.result is not None and self.result.bonus > self.rulebook.settings.bonus_cap


@dataclass(frozen=True)
class MonthSummary:
    """One row of the months list and one point of the trend."""

    year: int
    month: int
    status: str
    score: int | None
    grade: Grade | None
    rank: int | None
    total_units: int
    # False for a past month not yet published: its row says 待发布 and shows no number.
    released: bool = True

    @property
    def label(self) -> str:
        return format_month(self.year, self.month)


@dataclass(frozen=True)
class RankingRow:
    """A row of the public ranking: no items, no flags."""

    rank: int
    code: str
    name: str
    score: int
    grade: Grade


def month_rulebook(result: MonthResult) -> Rulebook:
    """The rulebook the month was scored with (a frozen month names its version)."""
    row = by_key(result.rulebook_key) if result.rulebook_key else None
    return as_rulebook(row) if row else rulebook_for_month(result.year, result.month)


def current_month() -> tuple[int, int]:
    today = hall_today()
    return today.year, today.month


def first_month() -> tuple[int, int]:
    """The first month with anything to show: the oldest Month row or confirmed incident, else this month."""
    candidates = [current_month()]
    oldest_row = db.session.execute(
        select(Month.year, Month.month).order_by(Month.year, Month.month).limit(1)
    ).first()
    if oldest_row:
        candidates.append((oldest_row.year, oldest_row.month))
    oldest_at = db.session.scalar(
        select(func.min(Incident.occurred_at)).where(Incident.status == IncidentStatus.CONFIRMED)
    )
    if oldest_at:
        # min() over the UTCDateTime column comes back naive from some drivers.
        if oldest_at.tzinfo is None:
            oldest_at = oldest_at.replace(tzinfo=UTC)
        day = to_hall(oldest_at)
        candidates.append((day.year, day.month))
    return min(candidates)


def portal_months() -> list[tuple[int, int]]:
    """Every month a unit can open, newest first: from the first month with data to the current one."""
    first = first_month()
    months = []
    ym = current_month()
    while ym >= first:
        months.append(ym)
        ym = prev_month(*ym)
    return months


def is_portal_month(year: int, month: int) -> bool:
    return first_month() <= (year, month) <= current_month()


def is_released(year: int, month: int, *, row: Month | None = _UNREAD) -> bool:  # type: ignore[assignment]
    """Whether a unit may see the month's results: the current month live, a past month once published.

    Publishing is what issues the bulletin to the units (product spec); a closed month is frozen but still
    under the hall's review, so its numbers must not reach a unit before the bulletin does. `row`: the
    month's row when the caller has read it (None: it has none).
    """
    if (year, month) == current_month():
        return True
    if row is _UNREAD:
        return month_status(year, month) == MonthStatus.PUBLISHED
    return row is not None and row.status == MonthStatus.PUBLISHED


def _item_rows(unit_result: UnitResult, rulebook: Rulebook) -> tuple[ItemRow, ...]:
    ids = {i.incident_id for i in unit_result.items if i.incident_id is not None}
    incidents: dict[int, Incident] = {}
    staff: dict[int, Staff] = {}
    if ids:
        incidents = {i.id: i for i in db.session.scalars(select(Incident).where(Incident.id.in_(ids)))}
        staff_ids = {i.staff_pk for i in incidents.values() if i.staff_pk}
        if staff_ids:
            staff = {s.id: s for s in db.session.scalars(select(Staff).where(Staff.id.in_(staff_ids)))}
    return item_rows(unit_result, rulebook, incidents, staff)


def item_rows(
    unit_result: UnitResult, rulebook: Rulebook, incidents: dict[int, Incident], staff: dict[int, Staff]
) -> tuple[ItemRow, ...]:
    """A unit's items as the portal and the spreadsheets show them, from its incidents and staff already
    read (by id); deductions first, then bonuses; each by date, then by the incident it comes from."""
    rules = {r.code: r for r in reversed(rulebook.rules)}  # as rulebook.rule(code): the first of a code
    rows = []
    for item in unit_result.items:
        rule = rules.get(item.rule_code)
        incident = incidents.get(item.incident_id) if item.incident_id is not None else None
        person = staff.get(incident.staff_pk) if incident and incident.staff_pk else None
        rows.append(
            ItemRow(
                incident_id=item.incident_id,
                rule_code=item.rule_code,
                title=rule.title if rule else item.rule_code,
                kind=str(rule.kind) if rule else (RuleKind.BONUS if item.points > 0 else RuleKind.DEDUCTION),
                occurred_on=item.occurred_on,
                occurred_at=incident.occurred_at if incident and not item.derived else None,
                window=incident.window if incident else None,
                staff_name=person.name if person else None,
                count=item.count,
                points=item.points,
                public_text=(incident.public_text or "") if incident and not item.derived else "",
                derived=item.derived,
                exempt=item.exempt,
            )
        )
    rows.sort(key=lambda r: (r.kind != RuleKind.DEDUCTION, r.occurred_on, r.incident_id or 0, r.derived))
    return tuple(rows)


def _rule(rulebook: Rulebook, code: str) -> Rule | None:
    try:
        return rulebook.rule(code)
    except KeyError:
        return None


def unit_month(
    unit: Unit,
    year: int,
    month: int,
    *,
    row: Month | None = _UNREAD,  # type: ignore[assignment]
    scored: tuple[MonthResult, Rulebook] | None = None,
) -> UnitMonth:
    """The unit's row of the month's standings, with its items' details (`row`: the month's row when the
    caller has read it, None when it has none; `scored`: the month's standings and rulebook when the caller
    shows many units, so they are read once and not once per unit)."""
    if row is _UNREAD:
        row = month_row(year, month)
    if scored is None:
        result = standings(year, month, row=row)
        scored = (result, month_rulebook(result))
    result, rulebook = scored
    unit_result = result.unit(unit.code)
    return UnitMonth(
        year=year,
        month=month,
        status=str(row.status if row else MonthStatus.OPEN),
        result=unit_result,
        total_units=len(result.units),
        rulebook=rulebook,
        items=_item_rows(unit_result, rulebook) if unit_result else (),
    )


def month_summaries(unit: Unit) -> list[MonthSummary]:
    """Every portal month of the unit, newest first: the months' rows in one query, whatever their number."""
    months = portal_months()
    rows = month_rows(months)
    current = current_month()

    def status(key: tuple[int, int]) -> str:
        row = rows.get(key)
        return str(row.status if row else MonthStatus.OPEN)

    released = [k for k in months if k == current or status(k) == MonthStatus.PUBLISHED]
    # Published months from their per-unit rows (a frozen snapshot holds every item of every unit: 60
    # months of a large hall took seconds to decode); the live month, and a month without such rows, scored.
    lines = frozen_unit_lines([rows[k] for k in released if k in rows and k != current], unit.code)
    out = []
    for key in months:
        if key not in released:
            out.append(MonthSummary(*key, status(key), None, None, None, 0, released=False))
            continue
        line = lines.get(rows[key].id) if key in rows else None
        if line is None:
            result = standings(*key)
            mine = result.unit(unit.code)
            line = (
                UnitLine(mine.score, mine.grade, mine.rank, len(result.units))
                if mine
                else UnitLine(None, None, None, len(result.units))
            )
        out.append(MonthSummary(*key, status(key), line.score, line.grade, line.rank, line.total_units))
    return out


def trend(summaries: list[MonthSummary], months: int = 12) -> list[MonthSummary]:
    """The last `months` of `month_summaries` (newest first), oldest first; fewer when the data is younger.

    An unpublished past month stays in as a point without values: the chart breaks its line there.
    """
    return list(reversed(summaries[:months]))


def public_rankings(year: int, month: int) -> list[RankingRow]:
    """The month's ranking as everyone may see it: rank, name, score, grade."""
    return [
        RankingRow(rank=u.rank, code=u.code, name=u.name, score=u.score, grade=u.grade)
        for u in standings(year, month).units
    ]


def incident_for_unit(unit_id: int, incident_id: int) -> Incident | None:
    """The unit's own incident, if it is one a unit may read (else None: the view answers 404)."""
    incident = db.session.get(Incident, incident_id)
    if incident is None or incident.unit_id != unit_id or incident.status not in VISIBLE_STATUSES:
        return None
    return incident


def incident_rule(incident: Incident) -> Rule | None:
    day = to_hall(incident.occurred_at)
    return _rule(rulebook_for_month(day.year, day.month), incident.rule_code)


def status_of(year: int, month: int) -> str:
    return str(month_status(year, month))


def item_of(unit: Unit, incident: Incident) -> ItemRow | None:
    """The incident's own scored line in its month (None when it does not count: voided, inactive unit)."""
    if incident.status != IncidentStatus.CONFIRMED:
        return None
    day = to_hall(incident.occurred_at)
    month = unit_month(unit, day.year, day.month)
    return next((i for i in month.items if i.incident_id == incident.id and not i.derived), None)


def derived_items_of(unit: Unit, incident: Incident) -> list[ItemRow]:
    """The derived D19b items that came from this D19a (in whichever month they landed)."""
    if incident.deadline is None:
        return []
    landed = incident.deadline.toordinal() + 1
    day = date.fromordinal(landed)
    if (day.year, day.month) > current_month():
        return []
    month = unit_month(unit, day.year, day.month)
    return [i for i in month.items if i.derived and i.incident_id == incident.id]


@dataclass(frozen=True)
class TrendCharts:
    score_svg: str
    rank_svg: str
    points: tuple[MonthSummary, ...]

    @property
    def has_live(self) -> bool:
        return bool(self.points) and self.points[-1].status == "open"


def trend_charts(points: list[MonthSummary]) -> TrendCharts:
    """The unit's score and rank over `points` (oldest first, see `trend`) as two SVG charts."""
    from flask_babel import gettext as _

    from services.charts import line_chart, nice_ticks, score_range

    settings = rulebook_for_month(*current_month()).settings
    # A full year of "12月" labels would touch on a phone: then the axis names the unit once.
    short = len(points) > 7
    labels = [str(p.month) if short else _("%(m)d月", m=p.month) for p in points]
    # The year under the first month and under each January (not both when they are neighbours).
    sublabels = [
        _("%(y)d年", y=p.year)
        if p.month == 1 or (i == 0 and not (len(points) > 1 and points[1].month == 1))
        else ""
        for i, p in enumerate(points)
    ]
    scores = [p.score for p in points]
    ranks = [p.rank for p in points]
    live_last = bool(points) and points[-1].status == "open"

    lo, hi = score_range(scores, settings.qualified_from - 10, settings.base_score)
    # The grade bounds are the lines a unit reads its score against.
    score_ticks = sorted(
        {lo, hi, settings.qualified_from, settings.good_from, settings.excellent_above, settings.base_score}
        & set(range(lo, hi + 1))
    )
    score_svg = line_chart(
        "trend-score",
        _("得分"),
        labels,
        scores,
        y_min=lo,
        y_max=hi,
        ticks=score_ticks,
        sublabels=sublabels,
        hollow_last=live_last,
        point_titles=[
            _("%(month)s:%(score)s 分", month=p.label, score=p.score)
            if p.released
            else _("%(month)s:待发布", month=p.label)
            for p in points
        ],
        description="; ".join(f"{p.label} {p.score}" for p in points if p.score is not None),
    )
    most = max([p.total_units for p in points] + [r for r in ranks if r is not None] + [2])
    rank_svg = line_chart(
        "trend-rank",
        _("名次(第1名在上)"),
        labels,
        ranks,
        y_min=1,
        y_max=most,
        ticks=sorted({1, most, *nice_ticks(1, most)} - {0}),
        sublabels=sublabels,
        invert=True,
        stroke="#1f5fbf",
        hollow_last=live_last,
        point_titles=[
            _(
                "%(month)s:第 %(rank)s 名 / 共 %(total)s 个单位",
                month=p.label,
                rank=p.rank,
                total=p.total_units,
            )
            if p.released
            else _("%(month)s:待发布", month=p.label)
            for p in points
        ],
        description="; ".join(f"{p.label} #{p.rank}" for p in points if p.rank is not None),
    )
    return TrendCharts(score_svg=score_svg, rank_svg=rank_svg, points=tuple(points))
