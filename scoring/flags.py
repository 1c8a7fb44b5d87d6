"""Flags (escalations) of a unit's month, with the incidents or results that raised them.

rulebook.md "Exact readings / Flags": a flag is raised in, and listed in, the month that raised it only.
Reasons are "incident:<id>" or "month:YYYY-MM"; reasons are merged per flag code, flags sorted by code,
reasons sorted and unique.

Must not import Flask, SQLAlchemy, models or anything that reads a clock: only the standard library.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from scoring.types import Flag, FlagCode, Item, Rule, Settings

__all__ = ["month_flags"]


def month_flags(
    items: Sequence[Item],
    rules: Mapping[str, Rule],
    settings: Settings,
    label: str,
    unqualified: bool,
    earlier_unqualified: int,
) -> tuple[Flag, ...]:
    """Every flag of one unit's month.

    - each item raises its rule's flags, whatever its count or points (D04b, D11–D15, D19b; D12 is 0 points);
    - 三(一)2: the month's counts of `settings.escalation_rule` (D02c) summing to more than
      `d02c_escalation_above` raise the escalation flag;
    - 四.3: an unqualified month raises `unqualified_flag` (quarter_ineligible), and `replace_staff` when it
      is at least the `replace_staff_min_unqualified`-th unqualified month of the calendar year.
    """
    reasons: dict[str, set[str]] = {}

    def add(code: str, reason: str) -> None:
        reasons.setdefault(code, set()).add(reason)

    for item in items:
        for code in rules[item.rule_code].flags:
            add(code, _incident_reason(item))

    # 三(一)2: the rulebook's escalation rule (旷工, D02c in 2023) escalates by its monthly total.
    absences = [i for i in items if settings.escalation_rule and i.rule_code == settings.escalation_rule]
    if absences and sum(i.count for i in absences) > settings.d02c_escalation_above:
        for item in absences:
            add(settings.d02c_escalation_flag, _incident_reason(item))

    if unqualified:
        add(settings.unqualified_flag, f"month:{label}")
        if earlier_unqualified + 1 >= settings.replace_staff_min_unqualified:
            add(FlagCode.REPLACE_STAFF.value, f"month:{label}")

    return tuple(Flag(code=code, reasons=tuple(sorted(reasons[code]))) for code in sorted(reasons))


def _incident_reason(item: Item) -> str:
    return f"incident:{item.incident_id}"
