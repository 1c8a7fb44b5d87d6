"""Quarter candidates, quarter eligibility and the yearly summary (scoring/quarter.py)."""

from __future__ import annotations

from datetime import date

import pytest

from scoring import (
    IncidentIn,
    UnitIn,
    default_rulebook_path,
    load_rulebook,
    quarter_candidates,
    quarter_ineligible,
    round_half_up,
    score_month,
    score_year,
    unqualified_counts_before,
    year_summary,
)

RB = load_rulebook(default_rulebook_path())
UNITS = [UnitIn("U01", "甲"), UnitIn("U02", "乙"), UnitIn("U03", "丙"), UnitIn("U04", "丁")]
TODAY = date(2024, 12, 31)


def inc(id, unit, rule, month, count=1, day=10):
    return IncidentIn(id=id, unit_code=unit, rule_code=rule, occurred_on=date(2024, month, day), count=count)


def months(incidents, through=3, units=UNITS):
    return score_year(lambda y, m: RB, units, incidents, 2024, through, TODAY)


def test_candidates_excellent_every_month_and_never_ineligible():
    results = months(
        [
            inc(1, "U01", "B02c", 1),  # 110, 100, 100 -> 310
            inc(2, "U02", "D07b", 2, count=2),  # 90 in Feb: good, not excellent
            inc(3, "U03", "D12", 3),  # excellent but D12 -> quarter_ineligible
            inc(4, "U04", "B01", 2),  # 100, 103, 100 -> 303
        ]
    )
    assert quarter_candidates(results) == ["U01", "U04"]
    assert quarter_ineligible(results) == {"U03": ["2024-03:incident:3"]}


def test_candidates_tie_on_total_ordered_by_code():
    results = months([], units=[UnitIn("U2", "乙"), UnitIn("U10", "甲")])
    assert quarter_candidates(results) == ["U10", "U2"]


def test_unit_missing_from_a_month_is_no_candidate():
    first = months([], through=1)
    later = months([], through=3, units=UNITS[:2])[1:]
    assert quarter_candidates(first + later) == ["U01", "U02"]
    assert quarter_candidates([]) == []


def test_unqualified_month_makes_the_quarter_ineligible():
    results = months([inc(1, "U02", "D15", 2, count=5)])
    assert quarter_ineligible(results) == {"U02": ["2024-02:incident:1", "2024-02:month:2024-02"]}
    assert "U02" not in quarter_candidates(results)


def test_unqualified_counts_before():
    results = months(
        [inc(1, "U01", "D15", 1, count=5), inc(2, "U01", "D15", 3, count=5), inc(3, "U02", "D15", 2, count=5)]
    )
    assert unqualified_counts_before(results, 2024, 1) == {}
    assert unqualified_counts_before(results, 2024, 3) == {"U01": 1, "U02": 1}
    assert unqualified_counts_before(results, 2024, 4) == {"U01": 2, "U02": 1}
    assert unqualified_counts_before(results, 2025, 4) == {}
    # a month given twice counts once
    assert unqualified_counts_before(results + results, 2024, 4) == {"U01": 2, "U02": 1}


def test_score_year_rejects_a_bad_month():
    with pytest.raises(ValueError):
        months([], through=13)


@pytest.mark.parametrize(
    ("num", "den", "expected"), [(5, 2, 3), (7, 2, 4), (10, 4, 3), (9, 4, 2), (299, 3, 100)]
)
def test_round_half_up(num, den, expected):
    assert round_half_up(num, den) == expected


def test_year_summary():
    results = months(
        [inc(1, "U01", "B02c", 1), inc(2, "U02", "D15", 2, count=5), inc(3, "U02", "D01", 3)],
        through=3,
    )
    rows = year_summary(results)
    assert [r["code"] for r in rows] == ["U01", "U03", "U04", "U02"]
    u01 = rows[0]
    assert u01["months"] == {
        "2024-01": {"score": 110, "grade": "excellent", "rank": 1},
        "2024-02": {"score": 100, "grade": "excellent", "rank": 1},
        "2024-03": {"score": 100, "grade": "excellent", "rank": 1},
    }
    assert (u01["total"], u01["months_count"], u01["average"]) == (310, 3, 103)
    u02 = rows[-1]
    assert (u02["total"], u02["average"]) == (248, 83)  # 100 + 50 + 98 = 248 / 3 = 82.67
    assert u02["grades"] == {"excellent": 2, "good": 0, "qualified": 0, "unqualified": 1}
    assert u02["flags"] == 2  # discipline_report and quarter_ineligible in February


def test_results_are_the_same_as_month_by_month():
    incidents = [inc(1, "U01", "D15", 1, count=5), inc(2, "U01", "D15", 2, count=5)]
    results = months(incidents, through=2)
    feb = score_month(RB, UNITS, incidents, 2024, 2, TODAY, {"U01": 1})
    assert results[1] == feb
