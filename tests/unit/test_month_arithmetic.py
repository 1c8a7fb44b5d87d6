"""Month arithmetic has one home, scoring.calendar: its helpers, and no hand-written copies elsewhere."""

from __future__ import annotations

import re
from datetime import date, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scoring.calendar import add_months, month_bounds, next_month, prev_month

ROOT = Path(__file__).resolve().parents[2]
# The shapes the copies took: date(year + (month == 12), month % 12 + 1, 1); (year - 1, 12) if month == 1
# else (year, month - 1); index = year * 12 + (month - 1) + by; index // 12, index % 12 + 1.
HAND_WRITTEN = [
    re.compile(r"%\s*12\s*\+\s*1"),
    re.compile(r"\+\s*\(\s*\w+\s*==\s*12\s*\)"),
    re.compile(r"\(\s*\w+\s*-\s*1\s*,\s*12\s*\)\s*if"),
    re.compile(r"\*\s*12\s*\+\s*\(\s*\w+\s*-\s*1\s*\)"),
    re.compile(r"if\s+\w+\s*==\s*12\s+else\s*\(\s*\w+\s*,\s*\w+\s*\+\s*1\s*\)"),
]
months = st.tuples(st.integers(min_value=1900, max_value=2200), st.integers(min_value=1, max_value=12))


@pytest.mark.parametrize(
    "ym, after, before",
    [
        ((2024, 1), (2024, 2), (2023, 12)),
        ((2024, 12), (2025, 1), (2024, 11)),
        ((2023, 6), (2023, 7), (2023, 5)),
    ],
)
def test_next_and_prev_month(ym, after, before):
    assert next_month(*ym) == after
    assert prev_month(*ym) == before


def test_add_months_across_years():
    assert add_months(2024, 3, 0) == (2024, 3)
    assert add_months(2024, 3, -3) == (2023, 12)
    assert add_months(2024, 3, -15) == (2022, 12)
    assert add_months(2024, 11, 14) == (2026, 1)


@given(months, st.integers(min_value=-300, max_value=300))
def test_add_months_agrees_with_stepping_one_month_at_a_time(ym, n):
    stepped = ym
    for _ in range(abs(n)):
        stepped = next_month(*stepped) if n > 0 else prev_month(*stepped)
    assert add_months(*ym, n) == stepped
    assert add_months(*add_months(*ym, n), -n) == ym


@given(months)
def test_month_bounds_are_the_first_and_last_day(ym):
    first, last = month_bounds(*ym)
    assert (first.year, first.month, first.day) == (*ym, 1)
    assert (last.year, last.month) == ym and (last + timedelta(days=1)).day == 1
    assert last + timedelta(days=1) == date(*next_month(*ym), 1)


def test_no_hand_written_month_arithmetic_outside_scoring_calendar():
    sources = [
        p
        for p in ROOT.rglob("*.py")
        if not {".venv", "tests", "migrations", "node_modules"} & set(p.relative_to(ROOT).parts)
        and p != ROOT / "scoring" / "calendar.py"
    ]
    assert len(sources) > 20
    found = [
        f"{p.relative_to(ROOT)}:{n}: {line.strip()}"
        for p in sources
        for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), start=1)
        if any(pattern.search(line) for pattern in HAND_WRITTEN)
    ]
    assert not found, (
        "use scoring.calendar (next_month, prev_month, add_months, month_bounds):\n" + "\n".join(found)
    )
