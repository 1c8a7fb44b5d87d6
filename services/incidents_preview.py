"""What an incident is worth, as the scoring counts it: the desk form's before/after preview and the points
shown beside stored incidents (lists, detail, notices).

Nothing here computes a score itself: every number comes from `scoring.score_month`, fed the same inputs
the standings use, so the preview agrees with the standings the incident will produce.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import date, datetime

from flask_babel import gettext as _

from models import Incident, Unit
from scoring import IncidentIn, Rule, UnitIn, score_month, signed_points
from services.clock import hall_today, to_hall
from services.months import is_open
from services.rulebooks import rulebook_for_month
from services.standings import _earlier_unqualified, active_units, incidents_for_month

# The draft incident has no id yet; a negative one cannot collide with a stored incident.
DRAFT_ID = -1


def preview(
    unit: Unit,
    rule_code: str,
    occurred_at: datetime,
    count: int = 1,
    exempt: bool = False,
    deadline: date | None = None,
) -> dict:
    """The unit's month before and after a draft incident: dict(before=UnitResult, after=UnitResult, …).

    Also gives `units` (how many units are ranked), `rule`, `points` (the draft's own signed points in its
    month), `month` ("YYYY-MM") and `open` (False when the month is closed: the draft cannot be saved).
    `before`/`after` are None for an inactive unit, which is not scored.
    """
    day = to_hall(occurred_at).date()
    year, month = day.year, day.month
    rulebook = rulebook_for_month(year, month)
    rule = rulebook.rule(rule_code)
    today = hall_today()
    units = active_units()
    current = incidents_for_month(year, month)
    earlier = _earlier_unqualified(year, month, today)
    draft = IncidentIn(
        id=DRAFT_ID,
        unit_code=unit.code,
        rule_code=rule_code,
        occurred_on=day,
        count=count,
        exempt=bool(exempt) and "exempt" in rule.requires,
        deadline=deadline if "deadline" in rule.requires else None,
    )
    before = score_month(rulebook, units, current, year, month, today, earlier)
    after = score_month(rulebook, units, [*current, draft], year, month, today, earlier)
    after_unit = after.unit(unit.code)
    points = (
        sum(i.points for i in after_unit.items if i.incident_id == DRAFT_ID and not i.derived)
        if after_unit
        else _points_alone(rule_code, draft, year, month)
    )
    return {
        "before": before.unit(unit.code),
        "after": after_unit,
        "units": len(after.units),
        "rule": rule,
        "points": points,
        "month": after.label,
        "open": is_open(year, month),
    }


def draft_preview(offered, count, exempt: bool = False, deadline: date | None = None) -> dict:
    """The desk form's preview block for what is typed so far (`offered`: services.incidents.Choices):
    `preview(...)`, or {"hint": Chinese text} saying what is missing."""
    rule, unit = offered.rule, offered.unit
    if unit is None or rule is None:
        return {"hint": _("选择单位、规则和发生时间后,这里显示登记后本单位的得分、等级和排名。")}
    if offered.occurred_at is None:
        return {
            "hint": offered.day_problem
            or _("选择单位、规则和发生时间后,这里显示登记后本单位的得分、等级和排名。")
        }
    if not isinstance(count, int) or isinstance(count, bool) or count < 1:
        return {"hint": _("次数须为不小于 1 的整数。")}
    if "deadline" in rule.requires and not deadline:
        return {"hint": _("%(code)s 填写整改期限后显示预览。", code=rule.code)}
    try:
        return preview(unit, rule.code, offered.occurred_at, count, bool(exempt), deadline)
    except ValueError as error:
        return {"hint": str(error)}


def _points_alone(rule_code: str, incident: IncidentIn, year: int, month: int) -> int:
    result = score_month(
        rulebook_for_month(year, month),
        [UnitIn(code=incident.unit_code, name="")],
        [incident],
        year,
        month,
        hall_today(),
    )
    return sum(i.points for i in result.units[0].items if not i.derived)


def points_by_id(incidents: Iterable[Incident]) -> dict[int, int]:
    """Each incident's own signed points (the item it gives in its month; 0 if exempt), whatever its status.

    `scoring.signed_points` of the incident's rule in its month's rulebook (one rulebook per month); an
    incident whose rule that rulebook lacks is left out rather than breaking the page.
    """
    by_month: dict[tuple[int, int], list[Incident]] = defaultdict(list)
    for incident in incidents:
        day = to_hall(incident.occurred_at).date()
        by_month[(day.year, day.month)].append(incident)
    points: dict[int, int] = {}
    for (year, month), rows in by_month.items():
        rules = {r.code: r for r in rulebook_for_month(year, month).rules}
        for incident in rows:
            rule = rules.get(incident.rule_code)
            if rule is not None and not rule.derived:
                points[incident.id] = signed_points(rule, incident.count or 1, exempt=bool(incident.exempt))
    return points


def incident_points(incident: Incident) -> int | None:
    return points_by_id([incident]).get(incident.id)


def rule_of(incident: Incident) -> Rule | None:
    """The incident's rule in the rulebook of its month (None if that version lacks it)."""
    day = to_hall(incident.occurred_at)
    try:
        return rulebook_for_month(day.year, day.month).rule(incident.rule_code)
    except KeyError:
        return None
