"""Hypothesis properties of the month's scoring (scoring/month.py, scoring/ranking.py)."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import date, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scoring import (
    IncidentIn,
    RuleKind,
    UnitIn,
    default_rulebook_path,
    listing_key,
    load_rulebook,
    score_month,
)

RB = load_rulebook(default_rulebook_path())
TYPED = [r.code for r in RB.rules if not r.derived]
DEDUCTIONS = [r.code for r in RB.rules if not r.derived and r.kind == RuleKind.DEDUCTION and r.points > 0]
BONUSES = [r.code for r in RB.rules if r.kind == RuleKind.BONUS]
UNIT_CODES = ["U01", "U02", "U03", "U10", "U9"]
YEAR, MONTH = 2024, 3
FIRST = date(2024, 2, 1)  # incidents range over Feb..Apr, so other months and D19b spill-overs occur

PROFILE = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])

days = st.integers(min_value=0, max_value=88).map(lambda n: FIRST + timedelta(days=n))


@st.composite
def incident_fields(draw, rules=TYPED, units=UNIT_CODES):
    rule = draw(st.sampled_from(rules))
    deadline = draw(days) if rule == "D19a" else draw(st.none() | days)
    return {
        "unit_code": draw(st.sampled_from(units + ["U99"])),  # U99 is inactive
        "rule_code": rule,
        "occurred_on": draw(days),
        "count": draw(st.integers(min_value=1, max_value=4)),
        "exempt": draw(st.booleans()),
        "deadline": deadline,
        "rectified_on": draw(st.none() | days),
    }


def numbered(fields: list[dict], start: int = 1) -> list[IncidentIn]:
    return [IncidentIn(id=start + i, **f) for i, f in enumerate(fields)]


@st.composite
def scenarios(draw):
    codes = draw(st.lists(st.sampled_from(UNIT_CODES), min_size=1, max_size=5, unique=True))
    units = [UnitIn(c, f"单位{c}") for c in codes]
    incidents = numbered(draw(st.lists(incident_fields(), max_size=40)))
    today = draw(days)
    earlier = draw(st.dictionaries(st.sampled_from(UNIT_CODES), st.integers(min_value=0, max_value=3)))
    return units, incidents, today, earlier


def run(units, incidents, today, earlier):
    return score_month(RB, units, incidents, YEAR, MONTH, today, earlier)


@PROFILE
@given(scenarios())
def test_score_is_in_range_and_totals_are_consistent(scenario):
    units, incidents, today, earlier = scenario
    result = run(*scenario)
    assert {u.code for u in result.units} == {u.code for u in units}
    base, cap = RB.settings.base_score, RB.settings.bonus_cap
    for unit in result.units:
        assert 0 <= unit.score <= base + cap == 120  # style.md §8: a score is always in 0..120
        assert unit.deductions >= 0 and unit.bonus >= 0
        assert unit.score == max(0, base - unit.deductions) + min(cap, unit.bonus)
        assert all(i.occurred_on.year == YEAR and i.occurred_on.month == MONTH for i in unit.items)
        assert unit.items == tuple(
            sorted(unit.items, key=lambda i: (i.occurred_on, i.incident_id, i.derived))
        )
        assert list(unit.flag_codes) == [f.code for f in unit.flags]
        for flag in unit.flags:
            assert list(flag.reasons) == sorted(set(flag.reasons))


@PROFILE
@given(scenarios(), incident_fields(rules=BONUSES))
def test_a_bonus_never_lowers_a_score(scenario, extra):
    units, incidents, today, earlier = scenario
    extra = {**extra, "unit_code": units[0].code, "occurred_on": date(YEAR, MONTH, 15)}
    before = run(*scenario).unit(units[0].code)
    after = run(units, incidents + numbered([extra], 1000), today, earlier).unit(units[0].code)
    assert after.score >= before.score
    assert after.deductions == before.deductions


@PROFILE
@given(scenarios(), incident_fields(rules=DEDUCTIONS))
def test_a_deduction_never_raises_a_score(scenario, extra):
    units, incidents, today, earlier = scenario
    extra = {**extra, "unit_code": units[0].code, "occurred_on": date(YEAR, MONTH, 15)}
    before = run(*scenario).unit(units[0].code)
    after = run(units, incidents + numbered([extra], 1000), today, earlier).unit(units[0].code)
    assert after.score <= before.score
    assert after.deductions >= before.deductions


def renamed(result, ids: dict[int, int]):
    """The result with every incident id (items and "incident:<id>" flag reasons) renamed through `ids`."""

    def reason(r: str) -> str:
        kind, _, value = r.partition(":")
        return f"incident:{ids[int(value)]}" if kind == "incident" else r

    units = tuple(
        replace(
            u,
            items=tuple(
                replace(i, incident_id=ids[i.incident_id] if i.incident_id is not None else None)
                for i in u.items
            ),
            # Reasons are kept sorted as text, so a renamed id may move ("incident:10" -> "incident:9").
            flags=tuple(replace(f, reasons=tuple(sorted(reason(r) for r in f.reasons))) for f in u.flags),
        )
        for u in result.units
    )
    return replace(result, units=units)


@PROFILE
@given(scenarios(), incident_fields(), st.data())
def test_voiding_an_incident_gives_the_result_of_a_run_that_never_saw_it(scenario, extra, data):
    """The history as the database holds it: the voided incident took its id among the others (so the ids
    of everything logged after it differ from a history without it). Leaving it out must give exactly the
    result of a run that never saw it, up to those ids."""
    units, incidents, today, earlier = scenario
    fields = [{k: getattr(i, k) for k in extra} for i in incidents]
    at = data.draw(st.integers(min_value=0, max_value=len(fields)), label="position")
    if data.draw(st.booleans(), label="void an incident of the scenario instead") and fields:
        extra = fields.pop(min(at, len(fields) - 1))
        at = min(at, len(fields))
    never = numbered(fields)  # ids 1..n
    logged = numbered(fields[:at] + [extra] + fields[at:])  # ids 1..n+1; the voided one is at+1
    voided_id = at + 1
    kept = [i for i in logged if i.id != voided_id]
    ids = {i.id: i.id - (i.id > voided_id) for i in kept}

    seen = run(units, logged, today, earlier)
    after = run(units, kept, today, earlier)
    assert renamed(after, ids) == run(units, never, today, earlier)
    # The incident mattered whenever it gave this month an item: then voiding it changed the result.
    if any(i.incident_id == voided_id for u in seen.units for i in u.items):
        assert seen != after


@PROFILE
@given(scenarios(), st.randoms(use_true_random=False))
def test_input_order_never_changes_results(scenario, rnd: random.Random):
    units, incidents, today, earlier = scenario
    shuffled_units, shuffled_incidents = units[:], incidents[:]
    rnd.shuffle(shuffled_units)
    rnd.shuffle(shuffled_incidents)
    assert run(shuffled_units, shuffled_incidents, today, earlier) == run(*scenario)


@PROFILE
@given(scenarios())
def test_ranks_are_competition_ranks_in_listing_order(scenario):
    result = run(*scenario)
    listed = list(result.units)
    assert listed == sorted(listed, key=lambda u: listing_key(u.score, u.deductions, u.code))
    for unit in listed:
        assert unit.rank == 1 + sum(1 for other in listed if other.score > unit.score)
    for a, b in zip(listed, listed[1:], strict=False):
        assert (a.rank == b.rank) == (a.score == b.score)
        assert b.rank == a.rank or b.rank == listed.index(b) + 1
