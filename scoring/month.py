"""The month's score of every active unit: the one place a score is computed.

三(一): 100 points, deductions stop at 0 ("扣完为止"); 三(二): bonus at most 20 a month; 四.2: grades and
ranking. The policies (base, cap, grade bounds, thresholds, flags) come from `Rulebook.settings`.

Must not import Flask, SQLAlchemy, models or anything that reads a clock: only the standard library.
"today" is a parameter.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date, timedelta

from scoring.calendar import format_month
from scoring.flags import month_flags
from scoring.ranking import rank_units
from scoring.types import (
    Grade,
    IncidentIn,
    Item,
    MonthResult,
    Rule,
    Rulebook,
    RuleKind,
    Settings,
    UnitIn,
    UnitResult,
)

__all__ = ["derived_item", "grade_for", "incident_items", "score_month", "score_unit", "signed_points"]


def signed_points(rule: Rule, count: int = 1, *, exempt: bool = False) -> int:
    """The signed points of `count` of `rule`: negative for a deduction, positive for a bonus.

    The one place the sign rule lives: every screen, export and preview asks this. `exempt` (三(一)6, D06's
    device or network failure) makes the item worth 0, but only for a rule that allows the exemption.
    """
    if exempt and "exempt" in rule.requires:
        return 0
    magnitude = rule.points * count
    return magnitude if rule.kind == RuleKind.BONUS else -magnitude


def grade_for(score: int, settings: Settings) -> Grade:
    """四.2: 优秀 above 90, 良好 80..90, 合格 60..79, 不合格 below 60 (**Policy** for the shared bounds)."""
    if score > settings.excellent_above:
        return Grade.EXCELLENT
    if score >= settings.good_from:
        return Grade.GOOD
    if score >= settings.qualified_from:
        return Grade.QUALIFIED
    return Grade.UNQUALIFIED


def score_month(
    rulebook: Rulebook,
    units: Sequence[UnitIn],
    incidents: Iterable[IncidentIn],
    year: int,
    month: int,
    today: date,
    earlier_unqualified: Mapping[str, int] | None = None,
) -> MonthResult:
    """Score, grade, rank and flags of every unit in `units` (the active ones) for (year, month).

    `incidents` are confirmed incidents and may include other months' (the caller passes earlier D19a whose
    D19b may land in this month): only items dated in the month count. Incidents of units not in `units`
    are ignored. An unknown rule code, a typed derived rule (D19b), a count below 1 or a D19a without a
    deadline, in an incident that counts in this month, raise ValueError. `earlier_unqualified` maps a unit
    code to its unqualified months earlier in the same calendar year (for `replace_staff`).
    """
    rules = {r.code: r for r in rulebook.rules}
    derived = rulebook.role_rule("overdue_rule")  # D19b in 2023
    earlier = earlier_unqualified or {}
    label = format_month(year, month)

    by_unit: dict[str, list[Item]] = {}
    for unit in units:
        if unit.code in by_unit:
            raise ValueError(f"单位代码 {unit.code} 重复")
        by_unit[unit.code] = []
    for incident in incidents:
        bucket = by_unit.get(incident.unit_code)
        if bucket is not None:  # "Exact readings": inactive units' incidents are ignored
            bucket.extend(incident_items(incident, rules, derived, year, month, today))

    results = [
        score_unit(unit, by_unit[unit.code], rules, rulebook.settings, label, earlier.get(unit.code, 0))
        for unit in units
    ]
    return MonthResult(year=year, month=month, rulebook_key=rulebook.key, units=rank_units(results))


def score_unit(
    unit: UnitIn,
    items: Sequence[Item],
    rules: Mapping[str, Rule],
    settings: Settings,
    label: str,
    earlier_unqualified: int = 0,
) -> UnitResult:
    """One unit's month from its items; the rank is left at 0 for `rank_units` to set."""
    ordered = tuple(sorted(items, key=_item_key))
    deductions = -sum(i.points for i in ordered if i.points < 0)
    bonus = sum(i.points for i in ordered if i.points > 0)
    # 三(一) 扣完为止 / 三(二) 不超过20分: floor and cap apply to the month's totals.
    score = max(0, settings.base_score - deductions) + min(settings.bonus_cap, bonus)
    grade = grade_for(score, settings)
    flags = month_flags(ordered, rules, settings, label, grade is Grade.UNQUALIFIED, earlier_unqualified)
    return UnitResult(
        code=unit.code,
        name=unit.name,
        items=ordered,
        deductions=deductions,
        bonus=bonus,
        score=score,
        grade=grade,
        rank=0,
        flags=flags,
    )


def incident_items(
    incident: IncidentIn,
    rules: Mapping[str, Rule],
    derived: Rule | None,
    year: int,
    month: int,
    today: date,
) -> list[Item]:
    """The items an incident gives in (year, month): its own item, and/or a derived D19b."""
    in_month = (incident.occurred_on.year, incident.occurred_on.month) == (year, month)
    rule = rules.get(incident.rule_code)
    if rule is None:
        if in_month:
            raise ValueError(f"事件 {incident.id} 的规则代码 {incident.rule_code} 不在规则手册中")
        return []  # another month's incident under a rule this version dropped cannot land here
    items: list[Item] = []
    if in_month:
        _check_incident(incident, rule)
        items.append(_own_item(incident, rule))
    if "deadline" in rule.requires and derived is not None and incident.deadline is not None:
        item = derived_item(incident, derived, today)
        if item is not None and (item.occurred_on.year, item.occurred_on.month) == (year, month):
            items.append(item)
    return items


def derived_item(incident: IncidentIn, derived: Rule, today: date) -> Item | None:
    """三(一)19 限期内未完成整改的,加扣5分: the D19b of a D19a, or None while not (yet) due.

    Due when today is later than the deadline and `rectified_on` is empty or later than the deadline
    (rectified on the deadline day is in time); dated the day after the deadline, with the D19a's count.
    """
    deadline = incident.deadline
    if deadline is None or not today > deadline:
        return None
    if incident.rectified_on is not None and incident.rectified_on <= deadline:
        return None
    return Item(
        rule_code=derived.code,
        occurred_on=deadline + timedelta(days=1),
        count=incident.count,
        points=signed_points(derived, incident.count),
        incident_id=incident.id,
        derived=True,
    )


def _check_incident(incident: IncidentIn, rule: Rule) -> None:
    if rule.derived:
        raise ValueError(f"事件 {incident.id}:规则 {rule.code} 由评分推导,不能直接录入")
    if isinstance(incident.count, bool) or not isinstance(incident.count, int) or incident.count < 1:
        raise ValueError(f"事件 {incident.id} 的次数/人数 count 必须是不小于 1 的整数")
    if "deadline" in rule.requires and incident.deadline is None:
        raise ValueError(f"事件 {incident.id}:规则 {rule.code} 必须填写整改期限 deadline")


def _own_item(incident: IncidentIn, rule: Rule) -> Item:
    # 三(一)6: 评价器故障或网络故障 -> the item stays on the list, worth 0 points.
    exempt = incident.exempt and "exempt" in rule.requires
    return Item(
        rule_code=rule.code,
        occurred_on=incident.occurred_on,
        count=incident.count,
        points=signed_points(rule, incident.count, exempt=exempt),
        incident_id=incident.id,
        exempt=exempt,
    )


def _item_key(item: Item) -> tuple[date, int, bool, str]:
    return (
        item.occurred_on,
        item.incident_id if item.incident_id is not None else -1,
        item.derived,
        item.rule_code,
    )
