"""Working days, months and quarters (scoring/calendar.py)."""

from __future__ import annotations

from datetime import date

import pytest

from scoring import (
    add_working_days,
    format_month,
    is_working_day,
    month_bounds,
    parse_month,
    quarter_months,
    quarter_of,
    working_days,
)

D = date.fromisoformat
# 2024: 清明 Apr 4-6 off, Sunday Apr 7 a make-up working day.
CAL = {D("2024-04-04"): "holiday", D("2024-04-05"): "holiday", D("2024-04-07"): "workday"}


@pytest.mark.parametrize(
    ("day", "working"),
    [
        ("2024-04-03", True),  # Wednesday
        ("2024-04-04", False),  # Thursday, holiday
        ("2024-04-06", False),  # Saturday
        ("2024-04-07", True),  # Sunday, make-up working day
        ("2024-04-08", True),
        ("2024-04-13", False),
    ],
)
def test_is_working_day(day, working):
    assert is_working_day(D(day), CAL) is working


def test_unknown_calendar_kind_raises():
    with pytest.raises(ValueError, match="holiday"):
        is_working_day(D("2024-04-03"), {D("2024-04-03"): "vacation"})


def test_working_days():
    assert working_days(D("2024-04-01"), D("2024-04-07"), CAL) == [
        D("2024-04-01"),
        D("2024-04-02"),
        D("2024-04-03"),
        D("2024-04-07"),
    ]
    assert working_days(D("2024-04-07"), D("2024-04-01"), CAL) == []
    assert len(working_days(D("2024-03-01"), D("2024-03-31"), {})) == 21


@pytest.mark.parametrize(
    ("start", "n", "expected"),
    [
        ("2024-04-03", 0, "2024-04-03"),
        ("2024-04-03", 1, "2024-04-07"),  # over the holiday to the make-up Sunday
        ("2024-04-03", 3, "2024-04-09"),
        ("2024-04-05", 1, "2024-04-07"),  # from a holiday
        ("2024-03-29", 1, "2024-04-01"),  # Friday -> Monday
        ("2024-04-08", -1, "2024-04-07"),
        ("2024-04-08", -2, "2024-04-03"),
    ],
)
def test_add_working_days(start, n, expected):
    assert add_working_days(D(start), n, CAL) == D(expected)


@pytest.mark.parametrize(
    ("year", "month", "first", "last"),
    [
        (2024, 2, "2024-02-01", "2024-02-29"),
        (2023, 2, "2023-02-01", "2023-02-28"),
        (2024, 12, "2024-12-01", "2024-12-31"),
        (2024, 4, "2024-04-01", "2024-04-30"),
    ],
)
def test_month_bounds(year, month, first, last):
    assert month_bounds(year, month) == (D(first), D(last))


def test_quarters():
    assert [quarter_of(m) for m in range(1, 13)] == [1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4]
    assert quarter_months(2024, 2) == ((2024, 4), (2024, 5), (2024, 6))
    assert quarter_months(2024, 4) == ((2024, 10), (2024, 11), (2024, 12))
    with pytest.raises(ValueError):
        quarter_months(2024, 5)
    with pytest.raises(ValueError):
        quarter_of(13)


@pytest.mark.parametrize(
    "text", ["2024-3", "2024-13", "2024-00", "24-03", "2024/03", "", "2024-03-01", "abcd-ef"]
)
def test_parse_month_rejects_in_chinese(text):
    with pytest.raises(ValueError, match="月份"):
        parse_month(text)


def test_parse_and_format_month():
    assert parse_month("2024-03") == (2024, 3)
    assert parse_month(" 2024-12 ") == (2024, 12)
    assert format_month(2024, 3) == "2024-03"
    assert format_month(*parse_month("0999-01")) == "0999-01"
