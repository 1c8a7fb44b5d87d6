"""Detections from plain rows (scoring/detect.py): D13 staff turnover and D16 clock-in."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from scoring import (
    Leave,
    Outage,
    Punch,
    RosterEntry,
    Settings,
    detect_d13,
    detect_d16,
    replacements,
    unknown_staff,
    working_days,
)

D = date.fromisoformat


def entry(staff, start, end=None, window="1", unit="U01", category="W") -> RosterEntry:
    return RosterEntry(staff, unit, category, window, D(start), D(end) if end else None)


def handovers(*days: str, unit: str = "U01") -> list[RosterEntry]:
    """One replacement per day, each on its own window: old holder's last day = newcomer's first day."""
    roster: list[RosterEntry] = []
    for n, day in enumerate(days, start=1):
        window = str(n)
        roster.append(entry(f"{unit}-old{n}", "2023-01-01", day, window, unit))
        roster.append(entry(f"{unit}-new{n}", day, None, window, unit))
    return roster


# ---------------------------------------------------------------- replacements


def test_replacement_is_dated_on_the_newcomers_start():
    roster = [entry("A", "2023-01-01", "2024-03-04"), entry("B", "2024-03-05")]
    assert replacements(roster) == [(D("2024-03-05"), "U01", "1", "A", "B")]


def test_handover_on_the_last_day_is_a_replacement():
    roster = [entry("A", "2023-01-01", "2024-03-04"), entry("B", "2024-03-04")]
    assert replacements(roster) == [(D("2024-03-04"), "U01", "1", "A", "B")]


@pytest.mark.parametrize(
    "roster",
    [
        pytest.param([entry("A", "2024-03-04")], id="first-staffing"),
        pytest.param([entry("A", "2023-01-01", "2024-03-04")], id="unfilled-departure"),
        pytest.param([entry("A", "2023-01-01"), entry("B", "2024-03-04")], id="second-joiner"),
        pytest.param(
            [entry("A", "2023-01-01", "2024-03-10"), entry("B", "2024-03-04")],
            id="joiner-before-holder-leaves",
        ),
        pytest.param(
            [entry("A", "2023-01-01", "2024-03-04", window="1"), entry("B", "2024-03-05", window="2")],
            id="different-window",
        ),
        pytest.param(
            [entry("A", "2023-01-01", "2024-03-04", unit="U01"), entry("B", "2024-03-05", unit="U02")],
            id="different-unit",
        ),
        pytest.param(
            [
                entry("A", "2023-01-01", "2024-03-04", window=None, category="C"),
                entry("B", "2024-03-05", window=None, category="C"),
            ],
            id="c-staff-without-window",
        ),
        pytest.param(
            [entry("A", "2023-01-01", "2024-03-04"), entry("A", "2024-03-10")], id="same-person-returns"
        ),
    ],
)
def test_not_replacements(roster):
    assert replacements(roster) == []


def test_c_staff_with_a_window_hold_a_post():
    roster = [
        entry("A", "2023-01-01", "2024-03-04", window="9", category="C"),
        entry("B", "2024-03-05", window="9", category="C"),
    ]
    assert len(replacements(roster)) == 1


def test_each_departure_is_filled_once():
    roster = [
        entry("A", "2023-01-01", "2024-03-04"),
        entry("B", "2024-03-05"),
        entry("C", "2024-03-06"),  # joins while B holds: not a replacement
        entry("D", "2023-01-01", "2024-03-08"),
        entry("E", "2024-03-11"),
    ]
    assert replacements(roster) == [
        (D("2024-03-05"), "U01", "1", "A", "B"),
        (D("2024-03-11"), "U01", "1", "D", "E"),
    ]


def test_chain_of_holders():
    roster = [
        entry("A", "2023-01-01", "2024-03-04"),
        entry("B", "2024-03-05", "2024-03-06"),
        entry("C", "2024-03-07"),
    ]
    assert [(r[3], r[4]) for r in replacements(roster)] == [("A", "B"), ("B", "C")]


# ---------------------------------------------------------------- D13 occurrences


def test_week_with_three_replacements():
    roster = handovers("2024-03-04", "2024-03-05", "2024-03-06")  # ISO 2024-W10
    proposals = detect_d13(roster, 2024, 3)
    assert len(proposals) == 1
    p = proposals[0]
    assert p.key == "D13:U01:2024-W10"
    assert (p.unit_code, p.rule_code, p.staff_id) == ("U01", "D13", None)
    assert p.occurred_at == datetime(2024, 3, 6, 9, 0)
    assert "更换窗口人员 3 名" in p.reason and "U01-old1" in p.reason
    assert len(p.evidence) == 3


def test_week_with_two_replacements_is_fine():
    assert detect_d13(handovers("2024-03-04", "2024-03-05"), 2024, 3) == []


def test_week_dated_on_its_third_replacement_even_with_more():
    roster = handovers("2024-03-04", "2024-03-05", "2024-03-06", "2024-03-07")
    [p] = detect_d13(roster, 2024, 3)
    assert p.occurred_at.date() == D("2024-03-06")
    assert len(p.evidence) == 4


def test_week_spanning_two_months_counts_in_the_month_of_its_third():
    roster = handovers("2024-04-29", "2024-04-30", "2024-05-02")  # ISO 2024-W18: Apr 29 - May 5
    assert detect_d13(roster, 2024, 4) == []
    [p] = detect_d13(roster, 2024, 5)
    assert p.key == "D13:U01:2024-W18"
    assert p.occurred_at == datetime(2024, 5, 2, 9, 0)


def test_counted_week_with_a_day_in_the_month_blocks_the_month_occurrence():
    # April has 4 replacements, but the counted W18 (dated in May) has days in April.
    roster = handovers("2024-04-02", "2024-04-10", "2024-04-29", "2024-04-30", "2024-05-02")
    assert detect_d13(roster, 2024, 4) == []
    assert [p.key for p in detect_d13(roster, 2024, 5)] == ["D13:U01:2024-W18"]


def test_month_with_four_replacements_across_weeks():
    roster = handovers("2024-03-04", "2024-03-12", "2024-03-19", "2024-03-26")
    [p] = detect_d13(roster, 2024, 3)
    assert p.key == "D13:U01:2024-03"
    assert p.occurred_at == datetime(2024, 3, 26, 9, 0)
    assert "2024年3月更换窗口人员 4 名" in p.reason
    assert detect_d13(roster, 2024, 4) == [] and detect_d13(roster, 2024, 2) == []


def test_month_with_three_replacements_is_fine():
    assert detect_d13(handovers("2024-03-04", "2024-03-12", "2024-03-19"), 2024, 3) == []


def test_week_inside_the_month_blocks_the_month_occurrence():
    roster = handovers("2024-03-04", "2024-03-05", "2024-03-06", "2024-03-20")
    assert [p.key for p in detect_d13(roster, 2024, 3)] == ["D13:U01:2024-W10"]


def test_two_counted_weeks_are_two_occurrences():
    roster = handovers("2024-03-04", "2024-03-05", "2024-03-06", "2024-03-18", "2024-03-19", "2024-03-20")
    assert [p.key for p in detect_d13(roster, 2024, 3)] == ["D13:U01:2024-W10", "D13:U01:2024-W12"]


def test_units_are_counted_apart():
    roster = handovers("2024-03-04", "2024-03-05", unit="U01") + handovers("2024-03-06", unit="U02")
    assert detect_d13(roster, 2024, 3) == []
    roster += handovers("2024-03-04", "2024-03-05", "2024-03-06", unit="U03")
    assert [p.unit_code for p in detect_d13(roster, 2024, 3)] == ["U03"]


def test_iso_week_of_the_new_year():
    roster = handovers("2024-12-30", "2024-12-31", "2025-01-02")  # ISO 2025-W01
    assert [p.key for p in detect_d13(roster, 2025, 1)] == ["D13:U01:2025-W01"]
    assert detect_d13(roster, 2024, 12) == []


def test_d13_thresholds_are_settings():
    roster = handovers("2024-03-04", "2024-03-05")
    assert [p.key for p in detect_d13(roster, 2024, 3, Settings(d13_week_above=1))] == ["D13:U01:2024-W10"]


def test_d13_rerun_is_identical():
    roster = handovers("2024-03-04", "2024-03-12", "2024-03-19", "2024-03-26")
    assert detect_d13(roster, 2024, 3) == detect_d13(list(reversed(roster)), 2024, 3)


# ---------------------------------------------------------------- D16 clock-in

C1 = entry("S1", "2024-01-01", window=None, category="C")
MARCH_DAYS = working_days(D("2024-03-01"), D("2024-03-31"), {})


def full_punches(days, staff="S1", am="08:27:10", pm="16:58:00") -> list[Punch]:
    out = []
    for d in days:
        out.append(Punch(staff, datetime.fromisoformat(f"{d.isoformat()} {am}")))
        out.append(Punch(staff, datetime.fromisoformat(f"{d.isoformat()} {pm}")))
    return out


def punches_except(day: str, **kw) -> list[Punch]:
    return [p for p in full_punches(MARCH_DAYS, **kw) if p.punched_at.date() != D(day)]


def keys(proposals) -> list[str]:
    return [p.key for p in proposals]


def test_full_month_of_punches_proposes_nothing():
    assert len(MARCH_DAYS) == 21
    assert detect_d16([C1], full_punches(MARCH_DAYS), {}, 2024, 3) == []


def test_day_with_no_punch_gives_two():
    proposals = detect_d16([C1], punches_except("2024-03-05"), {}, 2024, 3)
    assert keys(proposals) == ["D16:S1:2024-03-05:am", "D16:S1:2024-03-05:pm"]
    am, pm = proposals
    assert am.occurred_at == datetime(2024, 3, 5, 8, 30)
    assert pm.occurred_at == datetime(2024, 3, 5, 17, 0)
    assert am.reason == "2024-03-05 上午 08:25–08:30 无打卡记录"
    assert pm.reason == "2024-03-05 下午 16:55–17:00 无打卡记录"
    assert (am.unit_code, am.rule_code, am.staff_id) == ("U01", "D16", "S1")
    assert am.evidence == ("2024-03-05 当日无打卡记录",)


@pytest.mark.parametrize(
    ("am", "pm", "missing"),
    [
        ("08:30:59", "17:00:59", []),  # to the minute: seconds dropped
        ("08:25:00", "16:55:00", []),
        ("08:31:00", "16:58:00", ["am"]),
        ("08:24:59", "16:58:00", ["am"]),
        ("08:27:00", "16:54:59", ["pm"]),
        ("08:27:00", "17:01:00", ["pm"]),
        ("08:40:00", "16:50:00", ["am", "pm"]),
    ],
)
def test_bounds_to_the_minute(am, pm, missing):
    day = "2024-03-05"
    punches = punches_except(day) + full_punches([D(day)], am=am, pm=pm)
    assert keys(detect_d16([C1], punches, {}, 2024, 3)) == [f"D16:S1:{day}:{half}" for half in missing]


def test_late_punch_is_named_in_the_evidence():
    punches = punches_except("2024-03-05") + full_punches([D("2024-03-05")], am="08:41:00")
    [p] = detect_d16([C1], punches, {}, 2024, 3)
    assert p.evidence == ("2024-03-05 当日打卡:08:41、16:58",)


def test_duplicate_and_extra_punches_are_harmless():
    extra = full_punches(MARCH_DAYS) + full_punches(MARCH_DAYS) + [Punch("S1", datetime(2024, 3, 5, 12, 0))]
    assert detect_d16([C1], extra, {}, 2024, 3) == []


def test_holidays_are_not_working_days():
    calendar = {D("2024-03-05"): "holiday"}
    assert detect_d16([C1], punches_except("2024-03-05"), calendar, 2024, 3) == []


def test_make_up_saturday_is_a_working_day():
    calendar = {D("2024-03-09"): "workday"}
    proposals = detect_d16([C1], full_punches(MARCH_DAYS), calendar, 2024, 3)
    assert keys(proposals) == ["D16:S1:2024-03-09:am", "D16:S1:2024-03-09:pm"]


def test_weekends_need_no_punch():
    assert D("2024-03-10").weekday() == 6
    assert detect_d16([C1], full_punches(MARCH_DAYS), {}, 2024, 3) == []


def test_leave_covers_whole_days():
    leave = Leave("S1", D("2024-03-05"), D("2024-03-06"))
    punches = [
        p for p in full_punches(MARCH_DAYS) if p.punched_at.date() not in (D("2024-03-05"), D("2024-03-06"))
    ]
    assert detect_d16([C1], punches, {}, 2024, 3, leaves=[leave]) == []
    other = Leave("S2", D("2024-03-05"), D("2024-03-06"))
    assert len(detect_d16([C1], punches, {}, 2024, 3, leaves=[other])) == 4


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        ("08:00", "08:40", ["pm"]),
        ("08:29", "08:30", ["pm"]),
        ("08:30", "08:35", ["pm"]),  # the window runs to 08:30:59
        ("08:31", "09:00", ["am", "pm"]),
        ("07:00", "08:25", ["am", "pm"]),  # ended as the window opened
        ("00:00", "23:59", []),
        ("16:59", "17:10", ["am"]),
    ],
)
def test_outage_overlapping_a_window(start, end, expected):
    day = "2024-03-05"
    outage = Outage(datetime.fromisoformat(f"{day} {start}"), datetime.fromisoformat(f"{day} {end}"))
    proposals = detect_d16([C1], punches_except(day), {}, 2024, 3, outages=[outage])
    assert keys(proposals) == [f"D16:S1:{day}:{half}" for half in expected]


def test_staff_who_started_mid_month():
    newcomer = entry("S2", "2024-03-15", window=None, category="C")
    proposals = detect_d16([C1, newcomer], full_punches(MARCH_DAYS), {}, 2024, 3)
    days = sorted({p.occurred_at.date() for p in proposals})
    assert days == [d for d in MARCH_DAYS if d >= D("2024-03-15")]
    assert {p.staff_id for p in proposals} == {"S2"}
    assert len(proposals) == 2 * len(days)


def test_staff_who_left_mid_month():
    leaver = entry("S1", "2024-01-01", "2024-03-05", window=None, category="C")
    proposals = detect_d16([leaver], [], {}, 2024, 3)
    assert sorted({p.occurred_at.date() for p in proposals}) == [
        D("2024-03-01"),
        D("2024-03-04"),
        D("2024-03-05"),
    ]


def test_staff_moving_units_is_proposed_for_the_unit_of_the_day():
    roster = [
        entry("S1", "2024-01-01", "2024-03-10", window=None, category="C", unit="U01"),
        entry("S1", "2024-03-11", window=None, category="C", unit="U02"),
    ]
    proposals = detect_d16(roster, [], {}, 2024, 3)
    units = {p.occurred_at.date(): p.unit_code for p in proposals}
    assert units[D("2024-03-08")] == "U01" and units[D("2024-03-11")] == "U02"


def test_window_staff_need_no_fingerprint():
    w = entry("W1", "2024-01-01", category="W")
    assert detect_d16([w], [], {}, 2024, 3) == []


def test_days_after_through_are_skipped():
    proposals = detect_d16([C1], [], {}, 2024, 3, through=D("2024-03-05"))
    assert sorted({p.occurred_at.date() for p in proposals}) == [
        D("2024-03-01"),
        D("2024-03-04"),
        D("2024-03-05"),
    ]


def test_through_as_a_moment_skips_windows_still_open():
    through = datetime(2024, 3, 5, 10, 0)
    proposals = detect_d16([C1], punches_except("2024-03-05"), {}, 2024, 3, through=through)
    assert keys(proposals) == ["D16:S1:2024-03-05:am"]


def test_clock_in_windows_are_settings():
    settings = Settings(clock_in_morning=("08:20", "08:25"))
    proposals = detect_d16([C1], full_punches(MARCH_DAYS, am="08:27:00"), {}, 2024, 3, settings)
    assert len(proposals) == 21
    assert proposals[0].reason == "2024-03-01 上午 08:20–08:25 无打卡记录"


def test_rerun_keys_are_stable():
    punches = punches_except("2024-03-05") + punches_except("2024-03-12")
    first = detect_d16([C1], punches, {}, 2024, 3)
    again = detect_d16([C1], list(reversed(punches)), {}, 2024, 3)
    assert first == again
    assert len(set(keys(first))) == len(first)


def test_unknown_staff_are_listed():
    punches = [
        Punch("S1", datetime(2024, 3, 5, 8, 26)),
        Punch("ZZ", datetime(2024, 3, 5, 8, 26)),
        Punch("AB", datetime(2024, 3, 5, 8, 27)),
        Punch("ZZ", datetime(2024, 3, 5, 16, 56)),
    ]
    assert unknown_staff(punches, [C1]) == ["AB", "ZZ"]


def test_month_boundaries():
    proposals = detect_d16([C1], [], {}, 2024, 2)
    days = {p.occurred_at.date() for p in proposals}
    assert min(days) == D("2024-02-01") and max(days) == D("2024-02-29")
    assert all(d.month == 2 for d in days)


def test_punches_seconds_apart_across_a_window_edge_meet_it_and_are_both_shown():
    """Issue 8.1: 08:24:40 then 08:25:00 meets 08:25–08:30; the evidence shows both."""
    day = D("2024-03-05")
    punches = punches_except("2024-03-05") + [
        Punch("S1", datetime(2024, 3, 5, 8, 24, 40)),
        Punch("S1", datetime(2024, 3, 5, 8, 25, 0)),
        Punch("S1", datetime(2024, 3, 5, 8, 25, 30)),
    ]
    [p] = detect_d16([C1], punches, {}, 2024, 3)
    assert p.key == f"D16:S1:{day.isoformat()}:pm"
    # 08:25:30 is shown once with 08:25:00 (less than a minute apart, same window); 08:24:40 is not hidden.
    assert p.evidence == ("2024-03-05 当日打卡:08:24、08:25",)


def test_shown_punches_and_within_a_minute():
    from scoring.detect import shown_punches, within_a_minute

    at = lambda s: datetime.fromisoformat(f"2024-03-05 {s}")  # noqa: E731
    spans = [(datetime(1, 1, 1, 8, 25).time(), datetime(1, 1, 1, 8, 30).time())]
    times = [at("08:27:00"), at("08:27:30"), at("08:27:30"), at("08:30:50"), at("08:31:10"), at("12:00:00")]
    assert shown_punches(times, spans) == [at("08:27:00"), at("08:30:50"), at("08:31:10"), at("12:00:00")]
    assert within_a_minute(times) == 2  # 08:27:30 and 08:31:10; the exact repeat is one punch
