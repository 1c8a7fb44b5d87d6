"""Listing order and competition ranks of a month's units.

rulebook.md "Exact readings / Ranking and points" (**Policy** for 四.2 "按得分情况进行排名"): listing order
is score descending, then deductions ascending, then unit code in plain string order; the rank is the
standard competition rank ("1224") on score alone.

Must not import Flask, SQLAlchemy, models or anything that reads a clock: only the standard library.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence

from scoring.types import UnitResult

__all__ = ["competition_ranks", "listing_key", "rank_units"]


def listing_key(score: int, deductions: int, code: str) -> tuple[int, int, str]:
    """Sort key of the listing order: score desc, deductions asc, code."""
    return (-score, deductions, code)


def competition_ranks(scores: Sequence[int]) -> list[int]:
    """Competition ranks of scores given in descending order: [95, 90, 90, 80] -> [1, 2, 2, 4]."""
    ranks: list[int] = []
    for i, score in enumerate(scores):
        if i and score > scores[i - 1]:
            raise ValueError("competition_ranks 需要按分数从高到低排列的分数")
        ranks.append(ranks[-1] if i and score == scores[i - 1] else i + 1)
    return ranks


def rank_units(units: Iterable[UnitResult]) -> tuple[UnitResult, ...]:
    """The units in listing order, each with its competition rank set."""
    ordered = sorted(units, key=lambda u: listing_key(u.score, u.deductions, u.code))
    ranks = competition_ranks([u.score for u in ordered])
    return tuple(dataclasses.replace(u, rank=r) for u, r in zip(ordered, ranks, strict=True))
