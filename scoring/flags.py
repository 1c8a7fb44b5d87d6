"""Flags (escalations) of a unit's month, with the incidents or results that raised them.

rulebook.md "Exact readings / Flags": a flag is raised in, and listed in, the month that raised it only.
Reasons are "incident:<id>" or "month:YYYY-MM"; reasons are merged per flag code, flags sorted by code,
reasons sorted and unique.

Must not import Flask, SQLAlchemy, models or anything that reads a clock: only the standard library.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from scoring.types import Flag, FlagCode, Item, Rule, Settings

__all__ = ["flag_rules", "flags_from_groups", "month_flags"]


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
    return flags_from_groups(
        ((i.rule_code, i.count, (i.incident_id,)) for i in items),
        rules,
        settings,
        label,
        unqualified,
        earlier_unqualified,
    )


def flags_from_groups(
    groups: Iterable[tuple[str, int, Iterable[int | None] | None]],
    rules: Mapping[str, Rule],
    settings: Settings,
    label: str,
    unqualified: bool,
    earlier_unqualified: int,
) -> tuple[Flag, ...]:
    """`month_flags` from groups of items (rule code, summed count, the items' incident ids): one item is a
    group of one, and the database's per-rule sums are groups too, so both paths raise the same flags.

    Only the ids of rules that carry flags or escalate are read (`flag_rules` says which). Ids given as
    None (not read) raise the same flags without their "incident:<id>" reasons, for the caller to fill in.
    """
    reasons: dict[str, set[str]] = {}

    def add(code: str, incident_ids: Iterable[int | None] | None) -> None:
        found = reasons.setdefault(code, set())
        if incident_ids is not None:
            found.update(f"incident:{i}" for i in incident_ids)

    escalation = settings.escalation_rule
    absences = 0
    absence_groups: list[Iterable[int | None] | None] = []
    for rule_code, count, ids in groups:
        codes = rules[rule_code].flags
        if ids is not None and not isinstance(ids, tuple):
            ids = tuple(ids)
        for code in codes:
            add(code, ids)
        # 三(一)2: the rulebook's escalation rule (旷工, D02c in 2023) escalates by its monthly total.
        if escalation and rule_code == escalation:
            absences += count
            absence_groups.append(ids)
    if absence_groups and absences > settings.d02c_escalation_above:
        for ids in absence_groups:
            add(settings.d02c_escalation_flag, ids)

    if unqualified:
        add(settings.unqualified_flag, ())
        reasons[settings.unqualified_flag].add(f"month:{label}")
        if earlier_unqualified + 1 >= settings.replace_staff_min_unqualified:
            add(FlagCode.REPLACE_STAFF.value, ())
            reasons[FlagCode.REPLACE_STAFF.value].add(f"month:{label}")

    return tuple(Flag(code=code, reasons=tuple(sorted(reasons[code]))) for code in sorted(reasons))


def flag_rules(rules: Iterable[Rule], settings: Settings) -> frozenset[str]:
    """Codes of the rules whose incidents a flag names: rules carrying flags, and the escalation rule."""
    return frozenset(r.code for r in rules if r.flags or r.code == settings.escalation_rule)
