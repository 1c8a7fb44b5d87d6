"""The month's score of every active unit: the one place a score is computed.

三(一): 100 points, deductions stop at 0 ("扣完为止"); 三(二): bonus at most 20 a month; 四.2: grades and
ranking. The policies (base, cap, grade bounds, thresholds, flags) come from `Rulebook.settings`.

Must not import Flask, SQLAlchemy, models or anything that reads a clock: only the standard library.
"today" is a parameter.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from datetime import date, timedelta

from scoring.calendar import format_month
from scoring.flags import flag_rules, flags_from_groups
from scoring.ranking import rank_units
from scoring.types import (
    Grade,
    IncidentIn,
    Item,
    MonthResult,
    Rule,
    Rulebook,
    RuleCount,
    RuleKind,
    Settings,
    UnitIn,
    UnitResult,
)

__all__ = [
    "derived_item",
    "grade_for",
    "incident_items",
    "month_score",
    "score_month",
    "score_month_counts",
    "score_unit",
    "signed_points",
]


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


def month_score(deductions: int, bonus: int, settings: Settings) -> int:
    """三(一) 扣完为止 / 三(二) 不超过20分: the floor and the cap apply to the month's totals."""
    return max(0, settings.base_score - deductions) + min(settings.bonus_cap, bonus)


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
    groups = ((i.rule_code, i.count, (i.incident_id,)) for i in ordered)
    return _unit_result(unit, ordered, deductions, bonus, groups, rules, settings, label, earlier_unqualified)


def _unit_result(
    unit: UnitIn,
    items: tuple[Item, ...],
    deductions: int,
    bonus: int,
    groups: Iterable[tuple[str, int, Iterable[int | None]]],
    rules: Mapping[str, Rule],
    settings: Settings,
    label: str,
    earlier_unqualified: int,
) -> UnitResult:
    score = month_score(deductions, bonus, settings)
    grade = grade_for(score, settings)
    flags = flags_from_groups(groups, rules, settings, label, grade is Grade.UNQUALIFIED, earlier_unqualified)
    return UnitResult(
        code=unit.code,
        name=unit.name,
        items=items,
        deductions=deductions,
        bonus=bonus,
        score=score,
        grade=grade,
        rank=0,
        flags=flags,
    )


def score_month_counts(
    rulebook: Rulebook,
    units: Sequence[UnitIn],
    counts: Iterable[RuleCount],
    overdue: Iterable[IncidentIn],
    year: int,
    month: int,
    today: date,
    earlier_unqualified: Mapping[str, int] | Callable[[frozenset[str]], Mapping[str, int]] | None = None,
    *,
    unit_keys: Mapping[Hashable, str] | None = None,
) -> MonthResult:
    """`score_month` from the database's sums instead of one item per incident: the same scores, grades,
    ranks and flags, with every unit's `items` left empty (the caller loads them with `score_month` when a
    page lists them).

    `counts` are the month's confirmed incidents summed per (unit, rule, exempt) (`RuleCount`s, or plain
    tuples in its order), with or without the ids of the rules a flag names (`flag_rules`; without them a
    flag comes without its "incident:<id>" reasons, for the caller to fill in from the items). `overdue` are
    the rectification rule's incidents (D19a, any month) whose derived item (D19b) may land in this month:
    only their derived items are read here, their own items are in `counts`. Raises ValueError where
    `score_month` would (without naming the incident: the caller reruns `score_month` for the message).

    `unit_keys`: the counts name their unit by another key (the database's id), mapped to its code here
    (a key not in it, or a code not in `units`, is an inactive unit's).

    `earlier_unqualified` is as in `score_month`, or a function given the codes of the units unqualified
    this month that returns their earlier unqualified months: only those can raise `replace_staff`, so the
    caller reads earlier months for them alone.
    """
    rules = {r.code: r for r in rulebook.rules}
    settings = rulebook.settings
    derived = rulebook.role_rule("overdue_rule")
    named = flag_rules(rulebook.rules, settings)
    label = format_month(year, month)

    # Per unit: [deductions, bonus, groups of the rules a flag names].
    totals: dict[str, list] = {}
    for unit in units:
        if unit.code in totals:
            raise ValueError(f"单位代码 {unit.code} 重复")
        totals[unit.code] = [0, 0, []]
    by_key = totals if unit_keys is None else {k: totals[c] for k, c in unit_keys.items() if c in totals}
    # Signed points of one count, per rule: [not exempt, exempt] (checked once per rule, not per row).
    per_count: dict[str, list[int]] = {}
    for unit_key, rule_code, exempt, count, ids, smallest, without_deadline in counts:
        total = by_key.get(unit_key)
        if total is None:  # "Exact readings": inactive units' incidents are ignored
            continue
        points = per_count.get(rule_code)
        if points is None:
            rule = rules.get(rule_code)
            if rule is None:
                raise ValueError(f"规则代码 {rule_code} 不在规则手册中")
            if rule.derived:
                raise ValueError(f"规则 {rule_code} 由评分推导,不能直接录入")
            points = per_count[rule_code] = [signed_points(rule, 1), signed_points(rule, 1, exempt=True)]
        if not smallest >= 1:
            raise ValueError("事件的次数/人数 count 必须是不小于 1 的整数")
        if without_deadline and "deadline" in rules[rule_code].requires:
            raise ValueError(f"规则 {rule_code} 必须填写整改期限 deadline")
        # points × count per incident, summed: the same as the sum of the items.
        signed = points[1 if exempt else 0] * count
        if signed < 0:
            total[0] -= signed
        elif signed > 0:
            total[1] += signed
        if rule_code in named:
            total[2].append((rule_code, count, ids))
    if derived is not None:
        for incident in overdue:
            total = totals.get(incident.unit_code)
            rule = rules.get(incident.rule_code)
            if total is None or rule is None or "deadline" not in rule.requires or incident.deadline is None:
                continue
            item = derived_item(incident, derived, today)
            if item is None or (item.occurred_on.year, item.occurred_on.month) != (year, month):
                continue
            if item.points < 0:
                total[0] -= item.points
            elif item.points > 0:
                total[1] += item.points
            total[2].append((item.rule_code, item.count, (item.incident_id,)))

    if callable(earlier_unqualified):
        unqualified = frozenset(
            code
            for code, (deductions, bonus, _groups) in totals.items()
            if grade_for(month_score(deductions, bonus, settings), settings) is Grade.UNQUALIFIED
        )
        earlier = earlier_unqualified(unqualified) if unqualified else {}
    else:
        earlier = earlier_unqualified or {}
    results = [
        _unit_result(
            unit,
            (),
            totals[unit.code][0],
            totals[unit.code][1],
            totals[unit.code][2],
            rules,
            settings,
            label,
            earlier.get(unit.code, 0),
        )
        for unit in units
    ]
    return MonthResult(year=year, month=month, rulebook_key=rulebook.key, units=rank_units(results))


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
