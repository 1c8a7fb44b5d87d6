"""The ranking from the database's sums (`score_month_counts`) is the itemized `score_month`'s, exactly.

The live standings score a month from per-(unit, rule, exempt) sums; these properties hold it to the
itemized scoring on random months: counts, exemptions, D19a deadlines and rectified dates (D19b landing in
or out of the month), D02c escalation, flag rules, the bonus cap, the floor at 0, random policies, and the
rows the scoring must refuse.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import replace
from datetime import date, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scoring import (
    IncidentIn,
    RuleCount,
    UnitIn,
    default_rulebook_path,
    flag_rules,
    load_rulebook,
    score_month,
    score_month_counts,
)

RB = load_rulebook(default_rulebook_path())
TYPED = [r.code for r in RB.rules if not r.derived]
HEAVY = ["D02c", "D15", "D11", "D13", "D19a", "D06", "D12", "D04b", "B02c"]  # flags, escalation, exempt, cap
UNIT_CODES = ["U01", "U02", "U03", "U10", "U9"]
YEAR, MONTH = 2024, 3
FIRST = date(2024, 2, 1)  # incidents over Feb..Apr: other months' rows and D19b spill-overs occur
PROFILE = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

days = st.integers(min_value=0, max_value=88).map(lambda n: FIRST + timedelta(days=n))


@st.composite
def incident(draw, with_bad_rows: bool):
    rule = draw(st.sampled_from(HEAVY) | st.sampled_from(TYPED))
    if with_bad_rows and draw(st.integers(0, 30)) == 0:
        rule = draw(st.sampled_from(["X99", "D19b"]))  # unknown, and derived typed
    deadline = draw(days) if rule == "D19a" else draw(st.none() | days)
    if with_bad_rows and rule == "D19a" and draw(st.integers(0, 20)) == 0:
        deadline = None
    low = 0 if with_bad_rows and draw(st.integers(0, 30)) == 0 else 1
    return {
        "unit_code": draw(st.sampled_from(UNIT_CODES + ["U99"])),  # U99 is inactive
        "rule_code": rule,
        "occurred_on": draw(days),
        "count": draw(st.integers(min_value=low, max_value=6)),
        "exempt": draw(st.booleans()),
        "deadline": deadline,
        "rectified_on": draw(st.none() | days),
    }


@st.composite
def months(draw, with_bad_rows: bool = False):
    codes = draw(st.lists(st.sampled_from(UNIT_CODES), min_size=1, max_size=5, unique=True))
    units = [UnitIn(c, f"单位{c}") for c in codes]
    fields = draw(st.lists(incident(with_bad_rows), max_size=60))
    incidents = [IncidentIn(id=i + 1, **f) for i, f in enumerate(fields)]
    policy = replace(
        RB.settings,
        bonus_cap=draw(st.sampled_from([20, 5, 0])),
        d02c_escalation_above=draw(st.integers(0, 6)),
        replace_staff_min_unqualified=draw(st.integers(1, 3)),
        qualified_from=draw(st.sampled_from([60, 90, 100])),
    )
    rulebook = replace(RB, settings=policy)
    earlier = draw(st.dictionaries(st.sampled_from(UNIT_CODES), st.integers(min_value=0, max_value=3)))
    return rulebook, units, incidents, draw(days), earlier


def sums(rulebook, incidents, with_ids: bool = True) -> tuple[list[RuleCount], list[IncidentIn]]:
    """What the database hands the scoring: the month's rows summed per (unit, rule, exempt), and every
    rectification-rule row with a deadline (the service reads only those whose D19b may land here)."""
    named = flag_rules(rulebook.rules, rulebook.settings)
    groups: dict[tuple, list[IncidentIn]] = defaultdict(list)
    for i in incidents:
        if (i.occurred_on.year, i.occurred_on.month) == (YEAR, MONTH):
            groups[(i.unit_code, i.rule_code, i.exempt)].append(i)
    counts = [
        RuleCount(
            unit,
            rule,
            exempt,
            sum(i.count for i in rows),
            tuple(i.id for i in rows) if with_ids and rule in named else (None if not with_ids else ()),
            min(i.count for i in rows),
            sum(1 for i in rows if i.deadline is None),
        )
        for (unit, rule, exempt), rows in groups.items()
    ]
    rectification = rulebook.role_code("rectification_rule")
    overdue = [i for i in incidents if i.rule_code == rectification and i.deadline is not None]
    return counts, overdue


def both(rulebook, units, incidents, today, earlier, *, with_ids=True, earlier_as_function=False):
    try:
        itemized = score_month(rulebook, units, incidents, YEAR, MONTH, today, earlier)
    except ValueError:
        itemized = ValueError
    counts, overdue = sums(rulebook, incidents, with_ids)
    asked: list[frozenset[str]] = []

    def earlier_of(codes):
        asked.append(codes)
        return {c: earlier.get(c, 0) for c in codes}

    try:
        summed = score_month_counts(
            rulebook,
            units,
            counts,
            overdue,
            YEAR,
            MONTH,
            today,
            earlier_of if earlier_as_function else earlier,
        )
    except ValueError:
        summed = ValueError
    return itemized, summed, asked


def ranking(result):
    return [
        (u.code, u.name, u.deductions, u.bonus, u.score, u.grade, u.rank, u.flags, u.items)
        for u in result.units
    ]


@PROFILE
@given(months())
def test_sums_score_rank_and_flag_exactly_as_the_items(month):
    itemized, summed, _ = both(*month)
    assert summed.units and all(u.items == () for u in summed.units)
    expected = [(*row[:-1], ()) for row in ranking(itemized)]  # the sums carry no items
    assert ranking(summed) == expected
    assert (summed.year, summed.month, summed.rulebook_key) == (
        itemized.year,
        itemized.month,
        itemized.rulebook_key,
    )


@PROFILE
@given(months())
def test_units_named_by_database_ids(month):
    """The service hands the rows over with the unit's id (`unit_keys` maps it to the code)."""
    rulebook, units, incidents, today, earlier = month
    itemized, summed, _ = both(*month)
    counts, overdue = sums(rulebook, incidents)
    ids = {code: n for n, code in enumerate(UNIT_CODES + ["U99"], 100)}
    keyed = [c._replace(unit_code=ids[c.unit_code]) for c in counts]
    by_id = score_month_counts(
        rulebook, units, keyed, overdue, YEAR, MONTH, today, earlier, unit_keys={n: c for c, n in ids.items()}
    )
    assert ranking(by_id) == ranking(summed)


@PROFILE
@given(months())
def test_without_ids_the_same_flags_are_raised(month):
    """The live standings read no ids: the same flag codes, their "month:" reasons, the rest filled in later
    from the items (services/standings.py, LazyReasons)."""
    itemized, summed, _ = both(*month, with_ids=False)
    for mine, theirs in zip(summed.units, itemized.units, strict=True):
        assert (mine.code, mine.score, mine.grade, mine.rank) == (
            theirs.code,
            theirs.score,
            theirs.grade,
            theirs.rank,
        )
        assert [f.code for f in mine.flags] == [f.code for f in theirs.flags]
        for f, g in zip(mine.flags, theirs.flags, strict=True):
            # The month's and the D19b's reasons (read anyway, with the D19a), and no other.
            assert set(f.reasons) <= set(g.reasons)
            assert {r for r in g.reasons if r.startswith("month:")} <= set(f.reasons)


@PROFILE
@given(months())
def test_earlier_months_asked_for_the_unqualified_units_only(month):
    rulebook, units, incidents, today, earlier = month
    itemized, summed, asked = both(*month, earlier_as_function=True)
    assert ranking(summed) == [(*row[:-1], ()) for row in ranking(itemized)]
    unqualified = frozenset(u.code for u in itemized.units if u.grade == "unqualified")
    assert asked == ([unqualified] if unqualified else [])


@PROFILE
@given(months(with_bad_rows=True))
def test_the_sums_refuse_what_the_items_refuse(month):
    """Unknown or derived rule codes, counts below 1, a D19a without deadline: refused by both, or by
    neither (the service then reruns the itemized scoring for the message naming the incident)."""
    itemized, summed, _ = both(*month)
    assert (itemized is ValueError) == (summed is ValueError)
    if itemized is not ValueError:
        assert ranking(summed) == [(*row[:-1], ()) for row in ranking(itemized)]


def test_floor_cap_and_escalation_by_hand():
    """One unit: 25 D02c (5 points, escalates) and B02c ×3 (10 each): deductions 125 -> 0, bonus 30 -> 20."""
    units = [UnitIn("U01", "一")]
    incidents = [
        IncidentIn(1, "U01", "D02c", date(2024, 3, 4), count=20),
        IncidentIn(2, "U01", "D02c", date(2024, 3, 5), count=5),
    ]
    incidents += [IncidentIn(3, "U01", "B02c", date(2024, 3, 6), count=3)]
    itemized, summed, _ = both(RB, units, incidents, date(2024, 3, 20), {})
    unit = summed.unit("U01")
    assert (unit.deductions, unit.bonus, unit.score, unit.grade) == (125, 30, 20, "unqualified")
    assert ranking(summed) == [(*row[:-1], ()) for row in ranking(itemized)]
    assert dict((f.code, f.reasons) for f in unit.flags)["notice_feedback"] == ("incident:1", "incident:2")


@pytest.mark.parametrize(
    ("rectified", "today", "lands"),
    [
        (None, date(2024, 3, 20), True),
        (date(2024, 2, 29), date(2024, 3, 20), False),
        (None, date(2024, 2, 29), False),
    ],
)
def test_d19b_of_a_february_d19a_lands_in_march(rectified, today, lands):
    units = [UnitIn("U01", "一")]
    d19a = IncidentIn(7, "U01", "D19a", date(2024, 2, 10), deadline=date(2024, 2, 29), rectified_on=rectified)
    itemized, summed, _ = both(RB, units, [d19a], today, {})
    unit = summed.unit("U01")
    assert unit.deductions == (5 if lands else 0)
    assert ("leadership_report" in unit.flag_codes) is lands
    assert ranking(summed) == [(*row[:-1], ()) for row in ranking(itemized)]
