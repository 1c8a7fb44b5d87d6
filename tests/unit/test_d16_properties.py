"""Hypothesis properties of D16 (scoring/detect.py): rulebook.md "Extra punches are harmless".

Adding any punch (any person, any moment, however close to another punch) never adds a D16 proposal,
and the punches shown beside a proposal never hide one that met a window.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scoring import Leave, Outage, Punch, RosterEntry, Settings, detect_d16
from scoring.detect import shown_punches, within_a_minute

PROFILE = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
YEAR, MONTH = 2024, 3
ROSTER = [
    RosterEntry("S1", "U01", "C", None, date(2024, 1, 1), None),
    RosterEntry("S2", "U02", "C", None, date(2024, 3, 11), date(2024, 3, 22)),
    RosterEntry("W1", "U01", "W", "1", date(2024, 1, 1), None),
]
STAFF = ["S1", "S2", "W1", "GHOST"]
DAYS = [date(2024, 3, d) for d in (1, 4, 5, 9, 11, 15, 22, 29, 31)]
CALENDAR = {date(2024, 3, 9): "workday", date(2024, 3, 15): "holiday"}
SETTINGS = Settings()
SPANS = [(time(8, 25), time(8, 30)), (time(16, 55), time(17, 0))]


@st.composite
def moments(draw) -> datetime:
    """Moments anywhere in a day, but mostly around the clock-in windows' edges (to the second)."""
    day = draw(st.sampled_from(DAYS + [date(2024, 2, 29), date(2024, 4, 1)]))
    around = draw(st.sampled_from([time(8, 25), time(8, 30), time(16, 55), time(17, 0), time(12, 0)]))
    offset = draw(st.integers(min_value=-150, max_value=150))
    if draw(st.integers(0, 9)) == 0:
        offset = draw(st.integers(min_value=-12 * 3600, max_value=12 * 3600))
    return datetime.combine(day, around) + timedelta(seconds=offset)


punches = st.builds(Punch, st.sampled_from(STAFF), moments())


def keys(found) -> set[str]:
    return {p.key for p in found}


def detect(ps, outages=(), leaves=()):
    return detect_d16(ROSTER, ps, CALENDAR, YEAR, MONTH, SETTINGS, outages=outages, leaves=leaves)


@PROFILE
@given(st.lists(punches, max_size=30), punches)
def test_adding_a_punch_never_adds_a_d16_proposal(held, extra):
    before = keys(detect(held))
    after = keys(detect([*held, extra]))
    assert after <= before


@PROFILE
@given(st.lists(punches, max_size=30), st.lists(punches, max_size=10))
def test_adding_punches_with_outages_and_leave_never_adds_a_proposal(held, extra):
    outages = [Outage(datetime(2024, 3, 5, 16, 0), datetime(2024, 3, 5, 18, 0))]
    leaves = [Leave("S1", date(2024, 3, 22), date(2024, 3, 22))]
    before = keys(detect(held, outages, leaves))
    assert keys(detect([*held, *extra], outages, leaves)) <= before


@PROFILE
@given(st.lists(punches, max_size=30))
def test_order_and_exact_repeats_change_nothing(held):
    assert detect(held) == detect(list(reversed(held)) + held)


@PROFILE
@given(st.lists(moments(), min_size=1, max_size=12))
def test_what_is_shown_never_hides_a_met_window(times):
    """Every window some punch met is met by a punch that is shown; what is shown is counted once."""
    shown = shown_punches(times, SPANS)
    for start, end in SPANS:
        for day in {t.date() for t in times}:
            met = any(t.date() == day and start <= time(t.hour, t.minute) <= end for t in times)
            shown_met = any(t.date() == day and start <= time(t.hour, t.minute) <= end for t in shown)
            assert met == shown_met
    assert len(set(times)) - within_a_minute(times) <= len(shown) <= len(set(times))
