"""Quarters and years: aggregates of monthly results.

四.1: units graded excellent are recommended for the quarter's honours (优先推荐) unless a month of the
quarter made them `quarter_ineligible`; 四.3: repeated unqualified months raise `replace_staff`;
四.5: the yearly summary for the city government.

Must not import Flask, SQLAlchemy, models or anything that reads a clock: only the standard library.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import date
from typing import Any

from scoring.calendar import format_month
from scoring.month import score_month
from scoring.types import FlagCode, Grade, IncidentIn, MonthResult, Rulebook, UnitIn

__all__ = [
    "quarter_candidates",
    "quarter_ineligible",
    "round_half_up",
    "score_year",
    "unqualified_counts_before",
    "year_summary",
]

_INELIGIBLE = FlagCode.QUARTER_INELIGIBLE.value


def quarter_candidates(results: Sequence[MonthResult]) -> list[str]:
    """四.1: unit codes graded excellent in every given month and never quarter_ineligible.

    A unit missing from one of the months (inactive then) is not a candidate. Ordered by the sum of the
    months' scores descending, then code.
    """
    if not results:
        return []
    ineligible = quarter_ineligible(results)
    totals: dict[str, int] = {}
    for code in {u.code for u in results[0].units}:
        units = [r.unit(code) for r in results]
        if code in ineligible or any(u is None or u.grade != Grade.EXCELLENT for u in units):
            continue
        totals[code] = sum(u.score for u in units if u is not None)
    return sorted(totals, key=lambda c: (-totals[c], c))


def quarter_ineligible(results: Sequence[MonthResult]) -> dict[str, list[str]]:
    """Unit code -> why it is quarter_ineligible, as "YYYY-MM:<reason>" (months in order, reasons sorted)."""
    out: dict[str, list[str]] = {}
    for result in sorted(results, key=lambda r: (r.year, r.month)):
        for unit in result.units:
            for flag in unit.flags:
                if flag.code == _INELIGIBLE:
                    out.setdefault(unit.code, []).extend(f"{result.label}:{r}" for r in flag.reasons)
    return {code: out[code] for code in sorted(out)}


def unqualified_counts_before(results: Sequence[MonthResult], year: int, month: int) -> dict[str, int]:
    """四.3: per unit, its unqualified months of `year` strictly before `month` (a new year starts at 0)."""
    counts: dict[str, int] = {}
    seen: set[tuple[int, int]] = set()
    for result in results:
        if result.year != year or result.month >= month or (result.year, result.month) in seen:
            continue
        seen.add((result.year, result.month))
        for unit in result.units:
            if unit.grade == Grade.UNQUALIFIED:
                counts[unit.code] = counts.get(unit.code, 0) + 1
    return counts


def score_year(
    rulebook_for: Callable[[int, int], Rulebook],
    units: Sequence[UnitIn],
    incidents: Iterable[IncidentIn],
    year: int,
    through_month: int,
    today: date,
) -> list[MonthResult]:
    """Months 1..through_month of `year`, in order, each with the rulebook in force for it.

    Earlier months' unqualified counts are fed forward, so `replace_staff` is raised as 四.3 reads.
    """
    if not 1 <= through_month <= 12:
        raise ValueError(f"月份 {through_month} 无效,应为 1 至 12")
    all_incidents = list(incidents)
    results: list[MonthResult] = []
    for month in range(1, through_month + 1):
        earlier = unqualified_counts_before(results, year, month)
        results.append(
            score_month(rulebook_for(year, month), units, all_incidents, year, month, today, earlier)
        )
    return results


def round_half_up(numerator: int, denominator: int) -> int:
    """numerator / denominator rounded half up, in integers (no floats in points)."""
    if denominator <= 0:
        raise ValueError("denominator must be positive")
    return (2 * numerator + denominator) // (2 * denominator)


def year_summary(results: Sequence[MonthResult]) -> list[dict[str, Any]]:
    """四.5: per unit, its months and totals, for the yearly report.

    Each row: code, name (the latest month's), months {"YYYY-MM": {score, grade, rank}}, months_count,
    total, average (int, rounded half up), grades {grade: months}, flags (number of flags raised).
    Rows are ordered by average descending, then total descending, then code.
    """
    rows: dict[str, dict[str, Any]] = {}
    for result in sorted(results, key=lambda r: (r.year, r.month)):
        for unit in result.units:
            row = rows.setdefault(
                unit.code,
                {
                    "code": unit.code,
                    "name": unit.name,
                    "months": {},
                    "months_count": 0,
                    "total": 0,
                    "average": 0,
                    "grades": {g.value: 0 for g in Grade},
                    "flags": 0,
                },
            )
            row["name"] = unit.name
            row["months"][format_month(result.year, result.month)] = {
                "score": unit.score,
                "grade": unit.grade.value,
                "rank": unit.rank,
            }
            row["months_count"] += 1
            row["total"] += unit.score
            row["grades"][unit.grade.value] += 1
            row["flags"] += len(unit.flags)
    for row in rows.values():
        row["average"] = round_half_up(row["total"], row["months_count"])
    return sorted(rows.values(), key=lambda r: (-r["average"], -r["total"], r["code"]))
