"""Worked examples of a month's scoring (scoring/month.py) under the shipped anshan-2023 rulebook."""

from __future__ import annotations

import dataclasses
from datetime import date

import pytest

from scoring import (
    Flag,
    Grade,
    IncidentIn,
    Item,
    Settings,
    UnitIn,
    default_rulebook_path,
    grade_for,
    load_rulebook,
    score_month,
    score_year,
)

RB = load_rulebook(default_rulebook_path())
U1 = UnitIn("U01", "市税务局")
TODAY = date(2024, 12, 31)


def inc(id: int, rule: str, day: date | str = "2024-03-05", unit: str = "U01", **kw) -> IncidentIn:
    on = date.fromisoformat(day) if isinstance(day, str) else day
    return IncidentIn(id=id, unit_code=unit, rule_code=rule, occurred_on=on, **kw)


def month(incidents, units=(U1,), year=2024, m=3, today=TODAY, earlier=None, rulebook=RB):
    return score_month(rulebook, list(units), incidents, year, m, today, earlier)


def one(incidents, **kw):
    result = month(incidents, **kw)
    assert len(result.units) == 1
    return result.units[0]


def flags(unit) -> dict[str, tuple[str, ...]]:
    return {f.code: f.reasons for f in unit.flags}


# ---------------------------------------------------------------- every rule, once, with its points

RULE_POINTS = [
    ("D01", -2), ("D02a", -2), ("D02b", -3), ("D02c", -5), ("D03", -2), ("D04a", -3), ("D04b", -5),
    ("D05a", -2), ("D05b", -3), ("D05c", -2), ("D06", -2), ("D07a", -2), ("D07b", -5), ("D08", -3),
    ("D09", -5), ("D10", -5), ("D11", -5), ("D12", 0), ("D13", -5), ("D14", -5), ("D15", -10),
    ("D16", -5), ("D17", -5), ("D18", -5), ("D19a", -5),
    ("B01", 3), ("B02a", 3), ("B02b", 5), ("B02c", 10), ("B03", 2), ("B04", 3), ("B05", 2), ("B06", 2),
]  # fmt: skip


@pytest.mark.parametrize(("code", "points"), RULE_POINTS)
def test_every_rule_scores_its_points(code, points):
    # D19a's deadline is still ahead, so no D19b yet.
    unit = one([inc(7, code, deadline=date(2024, 4, 30))], today=date(2024, 3, 31))
    assert unit.items == (Item(code, date(2024, 3, 5), 1, points, 7),)
    assert unit.score == 100 + points
    assert unit.deductions == max(0, -points)
    assert unit.bonus == max(0, points)


@pytest.mark.parametrize(("code", "points"), [(c, p) for c, p in RULE_POINTS if c != "D12"])
def test_points_times_count(code, points):
    unit = one([inc(7, code, count=3, deadline=date(2024, 4, 30))], today=date(2024, 3, 31))
    assert unit.items[0].points == 3 * points
    assert unit.items[0].count == 3


def test_every_rule_of_the_rulebook_is_covered_here():
    assert {c for c, _ in RULE_POINTS} | {"D19b"} == set(RB.codes)


def test_unit_with_no_items_scores_100():
    unit = one([])
    assert (unit.score, unit.deductions, unit.bonus, unit.grade, unit.rank) == (100, 0, 0, Grade.EXCELLENT, 1)
    assert unit.items == () and unit.flags == ()


# ---------------------------------------------------------------- totals, floor, cap, grades


@pytest.mark.parametrize(
    ("incidents", "deductions", "bonus", "score"),
    [
        ([inc(1, "B02c"), inc(2, "B02c"), inc(3, "B02b")], 0, 25, 120),  # cap 20 on the month's total
        ([inc(1, "B02c"), inc(2, "B02c")], 0, 20, 120),
        ([inc(1, "B02c"), inc(2, "B02c"), inc(3, "B02b"), inc(4, "D15")], 10, 25, 110),
        ([inc(1, "D15", count=13), inc(2, "B02b")], 130, 5, 5),  # floor: max(0, 100-130) + 5
        ([inc(1, "D15", count=13)], 130, 0, 0),
        ([inc(1, "D15", count=10)], 100, 0, 0),
        ([inc(1, "D15", count=12), inc(2, "B02c", count=3)], 120, 30, 20),
        ([inc(1, "D01"), inc(2, "D03"), inc(3, "B01")], 4, 3, 99),
    ],
)
def test_floor_and_cap(incidents, deductions, bonus, score):
    unit = one(incidents)
    assert (unit.deductions, unit.bonus, unit.score) == (deductions, bonus, score)


@pytest.mark.parametrize(
    ("score", "grade"),
    [
        (0, Grade.UNQUALIFIED),
        (59, Grade.UNQUALIFIED),
        (60, Grade.QUALIFIED),
        (79, Grade.QUALIFIED),
        (80, Grade.GOOD),
        (90, Grade.GOOD),
        (91, Grade.EXCELLENT),
        (120, Grade.EXCELLENT),
    ],
)
def test_grade_bounds(score, grade):
    assert grade_for(score, RB.settings) is grade


@pytest.mark.parametrize(
    ("incidents", "score", "grade"),
    [
        ([inc(1, "D15", count=4), inc(2, "D01")], 58, Grade.UNQUALIFIED),
        ([inc(1, "D15", count=4), inc(2, "D04a"), inc(3, "B01")], 60, Grade.QUALIFIED),
        ([inc(1, "D15", count=2), inc(2, "D04a")], 77, Grade.QUALIFIED),
        ([inc(1, "D15", count=2)], 80, Grade.GOOD),
        ([inc(1, "D15")], 90, Grade.GOOD),
        ([inc(1, "D15"), inc(2, "B06")], 92, Grade.EXCELLENT),
        ([inc(1, "D15"), inc(2, "B04")], 93, Grade.EXCELLENT),
        ([inc(1, "D19a", deadline=date(2024, 5, 1))], 95, Grade.EXCELLENT),
    ],
)
def test_grades_through_scoring(incidents, score, grade):
    unit = one(incidents)
    assert (unit.score, unit.grade) == (score, grade)


def test_grade_bounds_are_settings():
    strict = Settings(excellent_above=95, good_from=85, qualified_from=70)
    assert grade_for(95, strict) is Grade.GOOD
    assert grade_for(84, strict) is Grade.QUALIFIED
    assert grade_for(69, strict) is Grade.UNQUALIFIED


# ---------------------------------------------------------------- ranking


def test_ties_share_a_rank_and_the_next_skips():
    units = [UnitIn("U01", "甲"), UnitIn("U02", "乙"), UnitIn("U03", "丙"), UnitIn("U04", "丁")]
    result = month(
        [
            inc(1, "D15", unit="U01"),  # 90, deductions 10
            inc(2, "D15", unit="U02"),
            inc(3, "D01", unit="U02"),
            inc(4, "B06", unit="U02"),  # 90, deductions 12
            inc(5, "D02c", unit="U03"),  # 95
            inc(6, "D15", count=2, unit="U04"),  # 80
        ],
        units=units,
    )
    assert [(u.code, u.score, u.rank) for u in result.units] == [
        ("U03", 95, 1),
        ("U01", 90, 2),
        ("U02", 90, 2),
        ("U04", 80, 4),
    ]


def test_listing_order_score_then_deductions_then_plain_code():
    units = [UnitIn(c, c) for c in ("U9", "U10", "A2", "U11")]
    result = month(
        [
            inc(1, "D15", unit="U9"),  # 90, deductions 10
            inc(2, "D15", unit="U10"),  # 90, deductions 10
            inc(3, "D15", unit="A2"),
            inc(4, "D02c", unit="A2"),
            inc(5, "B02b", unit="A2"),  # 90, deductions 15
        ],
        units=units,
    )
    assert [u.code for u in result.units] == ["U11", "U10", "U9", "A2"]  # "U10" < "U9" as strings
    assert [u.rank for u in result.units] == [1, 2, 2, 2]


def test_units_keep_their_names_and_month_labels():
    result = month([], units=[UnitIn("U02", "公安局"), U1])
    assert result.label == "2024-03"
    assert result.rulebook_key == "anshan-2023"
    assert result.unit("U02").name == "公安局"
    assert result.unit("X") is None


# ---------------------------------------------------------------- which incidents count


def test_incidents_of_other_months_and_inactive_units_are_ignored():
    result = month(
        [
            inc(1, "D01"),
            inc(2, "D01", "2024-02-29"),
            inc(3, "D01", "2024-04-01"),
            inc(4, "D01", "2023-03-05"),
            inc(5, "D15", unit="U99"),  # inactive (not in units)
            inc(6, "NOPE", unit="U99"),
        ]
    )
    assert [u.code for u in result.units] == ["U01"]
    assert [i.incident_id for i in result.units[0].items] == [1]
    assert result.units[0].score == 98


def test_unknown_rule_code_raises():
    with pytest.raises(ValueError, match="X99"):
        month([inc(1, "X99")])


def test_unknown_rule_in_another_month_is_ignored():
    assert one([inc(1, "X99", "2024-01-10")]).score == 100


@pytest.mark.parametrize(
    "bad",
    [
        inc(1, "D19b"),  # derived, never typed
        inc(1, "D01", count=0),
        inc(1, "D19a"),  # D19a needs a deadline
    ],
)
def test_invalid_incidents_raise(bad):
    with pytest.raises(ValueError):
        month([bad])


def test_duplicate_unit_codes_raise():
    with pytest.raises(ValueError):
        month([], units=[U1, U1])


def test_items_sorted_by_day_then_incident():
    unit = one([inc(9, "D01", "2024-03-20"), inc(3, "D03", "2024-03-20"), inc(5, "B01", "2024-03-02")])
    assert [i.incident_id for i in unit.items] == [5, 3, 9]


# ---------------------------------------------------------------- D06, D12, D15


def test_d06_exemption_is_an_item_worth_zero():
    unit = one([inc(1, "D06", exempt=True), inc(2, "D06")])
    assert unit.items == (
        Item("D06", date(2024, 3, 5), 1, 0, 1, exempt=True),
        Item("D06", date(2024, 3, 5), 1, -2, 2),
    )
    assert unit.score == 98


def test_exemption_only_applies_to_rules_that_have_it():
    unit = one([inc(1, "D01", exempt=True)])
    assert unit.items[0].points == -2 and unit.items[0].exempt is False


def test_d12_zero_points_still_flags():
    unit = one([inc(4, "D12")])
    assert unit.items[0].points == 0
    assert (unit.score, unit.deductions) == (100, 0)
    assert unit.flags == (
        Flag("notice_feedback", ("incident:4",)),
        Flag("quarter_ineligible", ("incident:4",)),
    )


def test_d15_is_ten_per_count_on_top_of_its_violation():
    unit = one([inc(1, "D07b"), inc(2, "D15", count=2)])
    assert unit.deductions == 25
    assert flags(unit) == {"discipline_report": ("incident:2",), "quarter_ineligible": ("incident:2",)}


@pytest.mark.parametrize("code", ["D04b", "D11", "D12", "D13", "D14", "D15"])
def test_flagging_rules_raise_their_flags_whatever_the_count(code):
    unit = one([inc(1, code, count=1)])
    assert set(unit.flag_codes) == set(RB.rule(code).flags)


def test_flag_reasons_merge_sorted_and_unique():
    unit = one([inc(12, "D11", "2024-03-09"), inc(3, "D12", "2024-03-01"), inc(5, "D11", "2024-03-02")])
    assert unit.flags == (
        Flag("notice_feedback", ("incident:12", "incident:3", "incident:5")),
        Flag("quarter_ineligible", ("incident:12", "incident:3", "incident:5")),
    )


# ---------------------------------------------------------------- D02c escalation 三(一)2


@pytest.mark.parametrize(
    ("counts", "escalated"),
    [
        ([1], False),
        ([1, 1], False),
        ([2], False),
        ([1, 1, 1], True),
        ([3], True),
        ([2, 1], True),
    ],
)
def test_d02c_escalation(counts, escalated):
    incidents = [inc(i + 1, "D02c", count=c) for i, c in enumerate(counts)]
    unit = one(incidents)
    assert unit.deductions == 5 * sum(counts)
    expected = tuple(f"incident:{i + 1}" for i in range(len(counts)))
    assert flags(unit).get("notice_feedback") == (expected if escalated else None)


def test_d02c_escalation_counts_the_month_only():
    unit = one([inc(1, "D02c", "2024-02-28"), inc(2, "D02c"), inc(3, "D02c")])
    assert "notice_feedback" not in unit.flag_codes


def test_d02c_escalation_threshold_is_a_setting():
    rb = dataclasses.replace(RB, settings=dataclasses.replace(RB.settings, d02c_escalation_above=1))
    unit = one([inc(1, "D02c"), inc(2, "D02c")], rulebook=rb)
    assert flags(unit) == {"notice_feedback": ("incident:1", "incident:2")}


# ---------------------------------------------------------------- D19a / D19b 三(一)19

D19A_ON = "2024-03-05"
DEADLINE = date(2024, 3, 20)


@pytest.mark.parametrize(
    ("today", "rectified_on", "d19b"),
    [
        (date(2024, 3, 20), None, False),  # deadline not passed (today == deadline)
        (date(2024, 3, 21), None, True),  # passed
        (date(2024, 3, 25), None, True),
        (date(2024, 3, 25), date(2024, 3, 20), False),  # rectified on the deadline: in time
        (date(2024, 3, 25), date(2024, 3, 10), False),
        (date(2024, 3, 25), date(2024, 3, 21), True),  # rectified after the deadline
        (date(2024, 3, 21), date(2024, 3, 22), True),  # rectification recorded for a later day
    ],
)
def test_d19b(today, rectified_on, d19b):
    unit = one([inc(8, "D19a", D19A_ON, deadline=DEADLINE, rectified_on=rectified_on)], today=today)
    expected = [Item("D19a", date(2024, 3, 5), 1, -5, 8)]
    if d19b:
        expected.append(Item("D19b", date(2024, 3, 21), 1, -5, 8, derived=True))
    assert list(unit.items) == expected
    assert unit.score == (90 if d19b else 95)
    assert flags(unit) == ({"leadership_report": ("incident:8",)} if d19b else {})


def test_d19b_carries_the_count():
    unit = one([inc(8, "D19a", D19A_ON, count=2, deadline=DEADLINE)])
    assert [(i.rule_code, i.count, i.points) for i in unit.items] == [("D19a", 2, -10), ("D19b", 2, -10)]


def test_d19b_lands_in_the_next_month():
    d19a = inc(8, "D19a", "2024-03-10", deadline=date(2024, 3, 31))
    march = one([d19a], today=date(2024, 4, 5))
    assert [i.rule_code for i in march.items] == ["D19a"]
    assert march.flags == ()
    april = one([d19a], m=4, today=date(2024, 4, 5))
    assert april.items == (Item("D19b", date(2024, 4, 1), 1, -5, 8, derived=True),)
    assert (april.score, april.flags) == (95, (Flag("leadership_report", ("incident:8",)),))
    assert one([d19a], m=4, today=date(2024, 3, 31)).items == ()  # not yet due


def test_d19b_across_the_new_year():
    d19a = inc(8, "D19a", "2024-12-10", deadline=date(2024, 12, 31))
    january = one([d19a], year=2025, m=1, today=date(2025, 1, 2))
    assert [(i.rule_code, i.occurred_on) for i in january.items] == [("D19b", date(2025, 1, 1))]


# ---------------------------------------------------------------- unqualified months 四.3

FAIL = [inc(1, "D15", count=5)]  # 50: unqualified


def test_unqualified_month_is_quarter_ineligible():
    unit = one(FAIL)
    assert unit.grade is Grade.UNQUALIFIED
    assert flags(unit) == {
        "discipline_report": ("incident:1",),
        "quarter_ineligible": ("incident:1", "month:2024-03"),
    }


@pytest.mark.parametrize(
    ("earlier", "replace"),
    [(None, False), ({}, False), ({"U01": 1}, True), ({"U01": 3}, True), ({"U02": 1}, False)],
)
def test_replace_staff_from_the_second_unqualified_month(earlier, replace):
    unit = one(FAIL, earlier=earlier)
    assert flags(unit).get("replace_staff") == (("month:2024-03",) if replace else None)


def test_replace_staff_needs_this_month_unqualified():
    assert "replace_staff" not in one([inc(1, "D01")], earlier={"U01": 5}).flag_codes


def _year_incidents(fail_months: list[tuple[int, int]]) -> list[IncidentIn]:
    return [inc(100 * y + m, "D15", date(y, m, 10), count=5) for y, m in fail_months]


def test_score_year_feeds_earlier_unqualified_forward():
    results = score_year(
        lambda y, m: RB, [U1], _year_incidents([(2024, 1), (2024, 3), (2024, 5)]), 2024, 5, TODAY
    )
    assert [r.label for r in results] == ["2024-01", "2024-02", "2024-03", "2024-04", "2024-05"]
    codes = [r.units[0].flag_codes for r in results]
    assert "replace_staff" not in codes[0]  # the first one is never flagged afterwards
    assert "quarter_ineligible" in codes[0]
    assert codes[1] == [] and codes[3] == []
    assert "replace_staff" in codes[2] and "replace_staff" in codes[4]


def test_new_year_starts_from_zero():
    incidents = _year_incidents([(2023, 11), (2023, 12), (2024, 2)])
    last_year = score_year(lambda y, m: RB, [U1], incidents, 2023, 12, TODAY)
    assert "replace_staff" in last_year[11].units[0].flag_codes
    this_year = score_year(lambda y, m: RB, [U1], incidents, 2024, 2, TODAY)
    assert this_year[1].units[0].grade is Grade.UNQUALIFIED
    assert "replace_staff" not in this_year[1].units[0].flag_codes


def test_score_year_uses_each_months_rulebook():
    lenient = dataclasses.replace(
        RB, key="lenient", settings=dataclasses.replace(RB.settings, base_score=110)
    )
    results = score_year(lambda y, m: RB if m < 3 else lenient, [U1], [], 2024, 4, TODAY)
    assert [(r.rulebook_key, r.units[0].score) for r in results] == [
        ("anshan-2023", 100),
        ("anshan-2023", 100),
        ("lenient", 110),
        ("lenient", 110),
    ]
