"""Plain value types of the scoring core: the contract between `scoring/` and everything else.

Must not import Flask, SQLAlchemy, models or anything that reads a clock: only the standard library.
Points are always `int`; a month is `(year, month)` inside and `"YYYY-MM"` at the edges.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import NamedTuple


class Grade(StrEnum):
    EXCELLENT = "excellent"
    GOOD = "good"
    QUALIFIED = "qualified"
    UNQUALIFIED = "unqualified"


class FlagCode(StrEnum):
    NOTICE_FEEDBACK = "notice_feedback"
    DISCIPLINE_REPORT = "discipline_report"
    LEADERSHIP_REPORT = "leadership_report"
    QUARTER_INELIGIBLE = "quarter_ineligible"
    REPLACE_STAFF = "replace_staff"


class RuleKind(StrEnum):
    DEDUCTION = "deduction"
    BONUS = "bonus"


@dataclass(frozen=True)
class Rule:
    """One rule of a rulebook. `points` is the magnitude (positive); `kind` says its sign."""

    code: str  # exactly as rulebook.md writes it: "D02c", "B01"
    title: str  # short Chinese text
    text: str  # the measure's full Chinese text
    kind: RuleKind
    points: int  # per count; 0 for D12
    flags: tuple[str, ...] = ()  # FlagCode values raised by any item of this rule
    applies: str = "A"  # "W", "C" or "A"
    group: str = ""  # heading it is listed under (e.g. "窗口纪律")
    per_person: bool = False  # count = number of persons
    requires: tuple[str, ...] = ()  # extra fields: "deadline", "exempt", "linked"
    derived: bool = False  # D19b: computed by scoring, never typed
    patrol: bool = False  # a column of the patrol sheet (日常巡查扣分表)
    warning_rule: bool = False  # D04b, D05b: the form shows earlier warnings
    source: str = ""  # the clause of the measures it comes from, e.g. "三(一)2"
    note: str = ""  # a **Policy** remark shown to admins (e.g. D04b's chosen figure)
    claimable: bool = False  # a bonus that comes from outside (B01–B03): units claim it with evidence


@dataclass(frozen=True)
class Settings:
    """Every **Policy** of rulebook.md, so a new rulebook version can change it without code."""

    base_score: int = 100
    bonus_cap: int = 20
    excellent_above: int = 90  # score > 90 -> excellent
    good_from: int = 80  # 80 <= score <= 90 -> good
    qualified_from: int = 60  # 60 <= score < 80 -> qualified; below -> unqualified
    replace_staff_min_unqualified: int = 2  # unqualified months in a calendar year
    d02c_escalation_above: int = 2  # sum of D02c counts in a month > this -> notice_feedback
    d02c_escalation_flag: str = "notice_feedback"
    d13_week_above: int = 2  # replacements in an ISO week > this -> one occurrence
    d13_month_above: int = 3  # replacements in a month > this -> one more occurrence
    clock_in_morning: tuple[str, str] = ("08:25", "08:30")
    clock_in_evening: tuple[str, str] = ("16:55", "17:00")
    hall_hours: tuple[tuple[str, str], ...] = (("08:30", "11:30"), ("13:00", "17:00"))
    appeal_working_days: int = 3  # a unit may appeal within this many working days
    rectification_extension_allowed: bool = False  # a unit may ask for a later rectification deadline (延期)
    notice_answer_working_days: int = 5  # a unit answers a notice (书面通报) within this many working days
    unqualified_flag: str = "quarter_ineligible"  # an unqualified month disqualifies its quarter
    # Rule roles: which rule of this rulebook plays each part the code knows about ("" = none). Code outside
    # the rulebook never names a rule; it asks the rulebook (`Rulebook.role_rule`). The defaults are the
    # 2023 measures' codes; a rulebook file must spell every role out (rulebook.md: another hall's codes).
    rectification_rule: str = "D19a"  # 三(一)19: carries a rectification deadline
    overdue_rule: str = "D19b"  # derived by the scoring from a missed deadline, never typed
    escalation_rule: str = "D02c"  # 三(一)2: its monthly count escalates (d02c_escalation_*)
    turnover_rule: str = "D13"  # 三(一)13: detected from the roster's history
    clock_in_rule: str = "D16"  # 三(一)16: detected from the clock-in records
    inspection_rule: str = "D15"  # 三(一)15: recorded with the violation it adds to


# The settings that name a rule (see `Settings`), in the order the rulebook page lists them.
ROLE_SETTINGS = (
    "rectification_rule",
    "overdue_rule",
    "escalation_rule",
    "turnover_rule",
    "clock_in_rule",
    "inspection_rule",
)


@dataclass(frozen=True)
class Rulebook:
    key: str  # "anshan-2023"
    title: str
    effective_from: date
    settings: Settings
    rules: tuple[Rule, ...]

    def rule(self, code: str) -> Rule:
        for r in self.rules:
            if r.code == code:
                return r
        raise KeyError(code)

    @property
    def codes(self) -> tuple[str, ...]:
        return tuple(r.code for r in self.rules)

    def role_code(self, role: str) -> str | None:
        """The code of the rule playing `role` (a `ROLE_SETTINGS` name, e.g. "overdue_rule"), or None."""
        if role not in ROLE_SETTINGS:
            raise KeyError(role)
        return getattr(self.settings, role) or None

    def role_rule(self, role: str) -> Rule | None:
        """The rule playing `role`, or None when this rulebook has no such rule."""
        code = self.role_code(role)
        return self.rule(code) if code else None


@dataclass(frozen=True)
class UnitIn:
    code: str
    name: str
    display_order: int = 0


@dataclass(frozen=True)
class IncidentIn:
    """A confirmed incident, as the scoring sees it. `occurred_on` is the hall-time date."""

    id: int
    unit_code: str
    rule_code: str
    occurred_on: date
    count: int = 1
    exempt: bool = False
    deadline: date | None = None
    rectified_on: date | None = None


class RuleCount(NamedTuple):
    """A unit's confirmed incidents of one month under one rule, summed by the database.

    A tuple, not a dataclass: a month has thousands of them and they are made straight from database rows.
    `ids` matter only for the rules a flag names (`scoring.flags.flag_rules`): None (not read) raises the
    same flags without their "incident:<id>" reasons. `smallest` and `without_deadline` let the scoring
    refuse what `score_month` would refuse for one of the incidents.
    """

    unit_code: str
    rule_code: str
    exempt: bool  # these incidents carry the exemption (三(一)6, D06)
    count: int  # the sum of their counts
    ids: tuple[int, ...] | None = None
    smallest: int = 1  # the smallest count among them
    without_deadline: int = 0  # how many have no deadline


@dataclass(frozen=True)
class Item:
    """One scored line of a unit's month. `points` is signed: negative deduction, positive bonus."""

    rule_code: str
    occurred_on: date
    count: int
    points: int
    incident_id: int | None  # the incident; for a derived D19b, the D19a it comes from
    derived: bool = False
    exempt: bool = False


@dataclass(frozen=True)
class Flag:
    """A flag of a unit's month. `reasons` are "incident:<id>" or "month:YYYY-MM" strings."""

    code: str
    reasons: tuple[str, ...]


@dataclass(frozen=True)
class UnitResult:
    code: str
    name: str
    items: tuple[Item, ...]
    deductions: int  # positive sum before the floor
    bonus: int  # raw sum before the cap
    score: int  # max(0, base - deductions) + min(cap, bonus)
    grade: Grade
    rank: int  # competition rank ("1224") on score
    flags: tuple[Flag, ...]  # sorted by code

    @property
    def flag_codes(self) -> list[str]:
        return sorted(f.code for f in self.flags)


@dataclass(frozen=True)
class MonthResult:
    year: int
    month: int
    rulebook_key: str
    units: tuple[UnitResult, ...]  # listing order

    @property
    def label(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"

    def unit(self, code: str) -> UnitResult | None:
        for u in self.units:
            if u.code == code:
                return u
        return None


@dataclass(frozen=True)
class RosterEntry:
    """One staffing record: a staff member holding a post (window) of a unit for a span of days."""

    staff_id: str
    unit_code: str
    category: str  # "W" or "C"
    window: str | None
    start_date: date
    end_date: date | None = None  # None: still there


@dataclass(frozen=True)
class Punch:
    staff_id: str
    punched_at: datetime  # naive, hall time


@dataclass(frozen=True)
class Outage:
    """A clock-in device outage (hall time, naive): no D16 is proposed inside it."""

    start: datetime
    end: datetime


@dataclass(frozen=True)
class Leave:
    """Approved leave of a staff member covering whole days (inclusive)."""

    staff_id: str
    start_date: date
    end_date: date


@dataclass(frozen=True)
class Proposal:
    """A detection's proposed incident. `key` is stable across runs, so a rerun proposes nothing twice."""

    key: str  # e.g. "D13:U01:2024-W10" or "D16:S0012:2024-03-05:am"
    unit_code: str
    rule_code: str
    occurred_at: datetime  # naive, hall time
    staff_id: str | None
    reason: str  # Chinese: why it was proposed
    evidence: tuple[str, ...] = field(default=())  # e.g. the replacements or the punch windows
