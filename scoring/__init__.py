"""The pure scoring core of hallscore: rulebooks, monthly scores, ranks, flags, quarters, detections.

Must not import Flask, SQLAlchemy, models or anything that reads a clock: only the standard library and
`scoring` itself (tests/unit/test_purity.py checks it). Inputs are plain values; `today` is a parameter.
"""

from __future__ import annotations

from scoring.calendar import (
    add_working_days,
    format_month,
    is_working_day,
    month_bounds,
    month_of,
    next_month,
    parse_month,
    quarter_months,
    quarter_of,
    working_days,
)
from scoring.detect import Replacement, detect_d13, detect_d16, replacements, unknown_staff
from scoring.flags import month_flags
from scoring.month import grade_for, score_month, signed_points
from scoring.quarter import (
    quarter_candidates,
    quarter_ineligible,
    round_half_up,
    score_year,
    unqualified_counts_before,
    year_summary,
)
from scoring.ranking import competition_ranks, listing_key, rank_units
from scoring.rulebook import (
    ROLE_NAMES,
    RulebookError,
    default_rulebook_path,
    load_rulebook,
    parse_rulebook_toml,
    rulebook_from_dict,
    rulebook_from_stored,
    rulebook_to_dict,
)
from scoring.types import (
    ROLE_SETTINGS,
    Flag,
    FlagCode,
    Grade,
    IncidentIn,
    Item,
    Leave,
    MonthResult,
    Outage,
    Proposal,
    Punch,
    RosterEntry,
    Rule,
    Rulebook,
    RuleKind,
    Settings,
    UnitIn,
    UnitResult,
)

__all__ = [
    "ROLE_NAMES",
    "ROLE_SETTINGS",
    "Flag",
    "FlagCode",
    "Grade",
    "IncidentIn",
    "Item",
    "Leave",
    "MonthResult",
    "Outage",
    "Proposal",
    "Punch",
    "Replacement",
    "RosterEntry",
    "Rule",
    "RuleKind",
    "Rulebook",
    "RulebookError",
    "Settings",
    "UnitIn",
    "UnitResult",
    "add_working_days",
    "competition_ranks",
    "default_rulebook_path",
    "detect_d13",
    "detect_d16",
    "format_month",
    "grade_for",
    "is_working_day",
    "listing_key",
    "load_rulebook",
    "month_bounds",
    "month_flags",
    "month_of",
    "next_month",
    "parse_month",
    "parse_rulebook_toml",
    "quarter_candidates",
    "quarter_ineligible",
    "quarter_months",
    "quarter_of",
    "rank_units",
    "replacements",
    "round_half_up",
    "rulebook_from_dict",
    "rulebook_from_stored",
    "rulebook_to_dict",
    "score_month",
    "score_year",
    "signed_points",
    "unknown_staff",
    "unqualified_counts_before",
    "working_days",
    "year_summary",
]
