"""Working days, months and quarters.

The hall's calendar is a mapping `date -> "holiday" | "workday"` kept by the admin: working days are
Monday to Friday, minus holidays, plus make-up working days (调休) (rulebook.md, **Policy**).

Must not import Flask, SQLAlchemy, models or anything that reads a clock: only the standard library.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from datetime import date, timedelta

__all__ = [
    "HOLIDAY",
    "WORKDAY",
    "add_months",
    "add_working_days",
    "days_in",
    "format_month",
    "is_working_day",
    "month_bounds",
    "month_of",
    "next_month",
    "parse_month",
    "prev_month",
    "quarter_months",
    "quarter_of",
    "working_days",
]

HOLIDAY = "holiday"
WORKDAY = "workday"
_KINDS = (HOLIDAY, WORKDAY)
_MONTH_RE = re.compile(r"^(\d{4})-(\d{2})$")


def is_working_day(d: date, calendar: Mapping[date, str]) -> bool:
    """Mon–Fri unless the calendar says "holiday"; Sat/Sun only when it says "workday"."""
    kind = calendar.get(d)
    if kind is None:
        return d.weekday() < 5
    if kind not in _KINDS:
        raise ValueError(f"日历中 {d.isoformat()} 的类型 {kind!r} 无效,应为 holiday 或 workday")
    return kind == WORKDAY


def days_in(start: date, end: date) -> Iterator[date]:
    """Every day from start to end, both included (nothing when end < start)."""
    d = start
    while d <= end:
        yield d
        d += timedelta(days=1)


def working_days(start: date, end: date, calendar: Mapping[date, str]) -> list[date]:
    """The working days from start to end, both included."""
    return [d for d in days_in(start, end) if is_working_day(d, calendar)]


def add_working_days(d: date, n: int, calendar: Mapping[date, str]) -> date:
    """The n-th working day after d (n = 0: d itself; negative n: the n-th working day before d)."""
    step = timedelta(days=1 if n >= 0 else -1)
    remaining = abs(n)
    current = d
    while remaining:
        current += step
        if is_working_day(current, calendar):
            remaining -= 1
    return current


def month_bounds(year: int, month: int) -> tuple[date, date]:
    """The first and last day of a month."""
    first = date(year, month, 1)
    ny, nm = next_month(year, month)
    return first, date(ny, nm, 1) - timedelta(days=1)


def month_of(d: date) -> tuple[int, int]:
    """The (year, month) a date belongs to."""
    return d.year, d.month


def next_month(year: int, month: int) -> tuple[int, int]:
    """The (year, month) after this one: (2024, 12) -> (2025, 1)."""
    return add_months(year, month, 1)


def prev_month(year: int, month: int) -> tuple[int, int]:
    """The (year, month) before this one: (2024, 1) -> (2023, 12)."""
    return add_months(year, month, -1)


def add_months(year: int, month: int, n: int) -> tuple[int, int]:
    """The (year, month) n months after this one (n < 0: before it). The one home of month arithmetic."""
    index = year * 12 + (month - 1) + n
    return index // 12, index % 12 + 1


def quarter_of(month: int) -> int:
    """1..4 for a month 1..12."""
    if not 1 <= month <= 12:
        raise ValueError(f"月份 {month} 无效,应为 1 至 12")
    return (month - 1) // 3 + 1


def quarter_months(year: int, q: int) -> tuple[tuple[int, int], ...]:
    """The three (year, month) pairs of quarter q (1..4)."""
    if not 1 <= q <= 4:
        raise ValueError(f"季度 {q} 无效,应为 1 至 4")
    return tuple((year, m) for m in range(3 * q - 2, 3 * q + 1))


def parse_month(s: str) -> tuple[int, int]:
    """ "YYYY-MM" -> (year, month); anything else raises ValueError with a Chinese message."""
    match = _MONTH_RE.match(s.strip()) if isinstance(s, str) else None
    if match is None:
        raise ValueError(f"月份格式应为 YYYY-MM(如 2024-03),而不是 {s!r}")
    year, month = int(match.group(1)), int(match.group(2))
    if not 1 <= month <= 12 or year < 1:
        raise ValueError(f"月份 {s!r} 无效:月份应为 01 至 12")
    return year, month


def format_month(year: int, month: int) -> str:
    """(2024, 3) -> "2024-03"."""
    return f"{year:04d}-{month:02d}"
