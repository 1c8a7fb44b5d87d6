"""Detections: proposed D13 (staff turnover) and D16 (missed clock-in) incidents from plain rows.

The system proposes, an admin confirms: a `Proposal` counts only once confirmed. Keys are stable, so a
rerun over the same data proposes the same keys and the caller can skip those it already holds.
See rulebook.md "Exact readings / D13" and "/ D16".

Must not import Flask, SQLAlchemy, models or anything that reads a clock: only the standard library.
The caller passes `through` (the hall's today) so that days still to come are never flagged.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime, time, timedelta

from scoring.calendar import days_in, format_month, is_working_day, month_bounds
from scoring.types import Leave, Outage, Proposal, Punch, RosterEntry, Settings

__all__ = [
    "Replacement",
    "detect_d13",
    "detect_d16",
    "replacements",
    "shown_punches",
    "unknown_staff",
    "within_a_minute",
]

# (date, unit, window, left staff, new staff)
Replacement = tuple[date, str, str, str, str]

# The rules proposed are the rulebook's roles: `settings.turnover_rule` (D13) and `clock_in_rule` (D16).
_PROPOSED_AT = time(9, 0)  # D13 occurrences are proposed at 09:00 of their day


# ---------------------------------------------------------------- D13


def replacements(roster: Sequence[RosterEntry]) -> list[Replacement]:
    """Every replacement in the roster's history, ordered by (date, unit, window, new staff).

    A replacement is one staff member leaving a post (a unit's window; last day = end date) and another
    taking the same post with a start date on or after that last day; it is dated on the newcomer's start
    date. A post's first staffing, a departure nobody fills, or a second person joining while the holder
    stays are not replacements; C staff without a window hold no post. Each departure is filled at most once
    and each newcomer fills at most one departure (the earliest unfilled one).
    """
    posts: dict[tuple[str, str], list[RosterEntry]] = {}
    for entry in roster:
        if entry.window:
            posts.setdefault((entry.unit_code, entry.window), []).append(entry)
    found: list[Replacement] = []
    for (unit, window), entries in posts.items():
        newcomers = sorted(entries, key=lambda e: (e.start_date, e.staff_id))
        departures = sorted((e.end_date, e.start_date, e.staff_id) for e in entries if e.end_date is not None)
        filled = [False] * len(departures)
        for new in newcomers:
            for i, (last_day, _start, left) in enumerate(departures):
                if last_day > new.start_date:
                    break  # ordered by last day: no later departure can be filled by `new`
                if filled[i] or left == new.staff_id:
                    continue
                filled[i] = True
                found.append((new.start_date, unit, window, left, new.staff_id))
                break
    return sorted(found, key=lambda r: (r[0], r[1], r[2], r[4], r[3]))


def detect_d13(
    roster: Sequence[RosterEntry],
    year: int,
    month: int,
    settings: Settings | None = None,
    names: Mapping[str, str] | None = None,
) -> list[Proposal]:
    """三(一)13 每周更换人员超过两名或每月更换人员超过3名: the D13 occurrences dated in (year, month).

    An ISO week with more than `d13_week_above` replacements is one occurrence, dated on the replacement
    that crosses the threshold (the third); a calendar month with more than `d13_month_above` is one more,
    dated on its fourth, unless a counted week has a day in that month.

    `names` (staff id -> name): the reason, which becomes the text the unit reads and the documents print,
    names the people who left and came (official documents name people, not ids); the evidence keeps the
    ids. Without it (or for an id it lacks) the reason shows the id.
    """
    settings = settings or Settings()
    by_unit: dict[str, list[Replacement]] = {}
    for rep in replacements(roster):
        by_unit.setdefault(rep[1], []).append(rep)
    proposals: list[Proposal] = []
    for unit, reps in sorted(by_unit.items()):
        proposals.extend(_unit_d13(unit, reps, year, month, settings, names or {}))
    return sorted(proposals, key=lambda p: (p.occurred_at, p.key))


def _unit_d13(
    unit: str, reps: list[Replacement], year: int, month: int, settings: Settings, names: Mapping[str, str]
) -> list[Proposal]:
    weeks: dict[tuple[int, int], list[Replacement]] = {}
    for rep in reps:
        iso = rep[0].isocalendar()
        weeks.setdefault((iso.year, iso.week), []).append(rep)
    counted_weeks = [wk for wk, in_week in weeks.items() if len(in_week) > settings.d13_week_above]

    out: list[Proposal] = []
    for iso_year, week in counted_weeks:
        in_week = weeks[(iso_year, week)]
        day = in_week[settings.d13_week_above][0]
        if (day.year, day.month) == (year, month):
            label = f"{iso_year}-W{week:02d}"
            reason = (
                f"{iso_year}年第{week}周({_week_span(iso_year, week)})更换窗口人员 {len(in_week)} 名,"
                f"超过 {settings.d13_week_above} 名:{_list(in_week, names)}"
            )
            out.append(_d13_proposal(settings.turnover_rule, unit, label, day, reason, in_week))

    first, last = month_bounds(year, month)
    in_month = [r for r in reps if first <= r[0] <= last]
    week_touches_month = any(
        _week_monday(y, w) <= last and first <= _week_monday(y, w) + timedelta(days=6)
        for y, w in counted_weeks
    )
    if len(in_month) > settings.d13_month_above and not week_touches_month:
        day = in_month[settings.d13_month_above][0]
        label = format_month(year, month)
        reason = (
            f"{year}年{month}月更换窗口人员 {len(in_month)} 名,超过 {settings.d13_month_above} 名:"
            f"{_list(in_month, names)}"
        )
        out.append(_d13_proposal(settings.turnover_rule, unit, label, day, reason, in_month))
    return out


def _d13_proposal(
    code: str, unit: str, label: str, day: date, reason: str, reps: list[Replacement]
) -> Proposal:
    return Proposal(
        key=f"{code}:{unit}:{label}",
        unit_code=unit,
        rule_code=code,
        occurred_at=datetime.combine(day, _PROPOSED_AT),
        staff_id=None,
        reason=reason,
        evidence=tuple(_describe(r) for r in reps),
    )


def _describe(rep: Replacement, names: Mapping[str, str] | None = None) -> str:
    day, _unit, window, left, new = rep
    names = names or {}
    return f"{day.isoformat()} 窗口 {window}:{names.get(left) or left} → {names.get(new) or new}"


def _list(reps: list[Replacement], names: Mapping[str, str]) -> str:
    return ";".join(_describe(r, names) for r in reps)


def _week_monday(iso_year: int, week: int) -> date:
    return date.fromisocalendar(iso_year, week, 1)


def _week_span(iso_year: int, week: int) -> str:
    monday = _week_monday(iso_year, week)
    return f"{monday.isoformat()}–{(monday + timedelta(days=6)).isoformat()}"


# ---------------------------------------------------------------- D16


def detect_d16(
    roster: Sequence[RosterEntry],
    punches: Iterable[Punch],
    calendar: Mapping[date, str],
    year: int,
    month: int,
    settings: Settings | None = None,
    outages: Iterable[Outage] = (),
    leaves: Iterable[Leave] = (),
    through: date | None = None,
) -> list[Proposal]:
    """三(一)16 指纹打卡: one D16 per missing punch of a C staff member on a working day of (year, month).

    Every C staff member on the roster that day needs a punch in each clock-in window (bounds inclusive,
    compared to the minute: 08:30:59 is in time, 08:31:00 is not); duplicates are harmless. No proposal
    for a day after `through`, a day covered by approved leave, or a window overlapping a device outage.
    When `through` is a datetime, windows that have not ended by then are skipped too.
    """
    settings = settings or Settings()
    windows = (
        ("am", "上午", _hhmm(settings.clock_in_morning[0]), _hhmm(settings.clock_in_morning[1])),
        ("pm", "下午", _hhmm(settings.clock_in_evening[0]), _hhmm(settings.clock_in_evening[1])),
    )
    # Every punch is seen: whether a window was met never depends on which of two close punches is kept.
    minutes: dict[tuple[str, date], set[time]] = {}
    moments: dict[tuple[str, date], list[datetime]] = {}
    for punch in punches:
        at = punch.punched_at
        minutes.setdefault((punch.staff_id, at.date()), set()).add(time(at.hour, at.minute))
        moments.setdefault((punch.staff_id, at.date()), []).append(at)
    spans = [(start, end) for _suffix, _half, start, end in windows]
    outage_list = list(outages)
    leave_list = list(leaves)
    c_staff = [e for e in roster if e.category == "C"]

    first, last = month_bounds(year, month)
    proposals: list[Proposal] = []
    for day in days_in(first, last):
        if through is not None and day > _as_date(through):
            break
        if not is_working_day(day, calendar):
            continue
        for staff_id, unit in _on_roster(c_staff, day):
            if any(lv.staff_id == staff_id and lv.start_date <= day <= lv.end_date for lv in leave_list):
                continue
            punched = minutes.get((staff_id, day), set())
            for suffix, half, start, end in windows:
                win_start = datetime.combine(day, start)
                win_end = datetime.combine(day, end) + timedelta(minutes=1)  # to the minute: 08:30:59 is in
                if isinstance(through, datetime) and win_end > through:
                    continue
                if any(start <= t <= end for t in punched):
                    continue
                if any(o.start < win_end and o.end > win_start for o in outage_list):
                    continue
                proposals.append(
                    Proposal(
                        key=f"{settings.clock_in_rule}:{staff_id}:{day.isoformat()}:{suffix}",
                        unit_code=unit,
                        rule_code=settings.clock_in_rule,
                        occurred_at=datetime.combine(day, end),
                        staff_id=staff_id,
                        reason=f"{day.isoformat()} {half} {start:%H:%M}–{end:%H:%M} 无打卡记录",
                        evidence=(_punch_evidence(day, moments.get((staff_id, day), []), spans),),
                    )
                )
    return sorted(proposals, key=lambda p: (p.occurred_at, p.key))


def _on_roster(c_staff: list[RosterEntry], day: date) -> list[tuple[str, str]]:
    """(staff, unit) of the C staff on the roster that day; the latest-started entry wins an overlap."""
    current: dict[str, RosterEntry] = {}
    for entry in c_staff:
        if entry.start_date <= day and (entry.end_date is None or day <= entry.end_date):
            held = current.get(entry.staff_id)
            if held is None or (entry.start_date, entry.unit_code) > (held.start_date, held.unit_code):
                current[entry.staff_id] = entry
    return sorted((staff, e.unit_code) for staff, e in current.items())


def _punch_evidence(day: date, punched: list[datetime], spans: Sequence[tuple[time, time]]) -> str:
    if not punched:
        return f"{day.isoformat()} 当日无打卡记录"
    shown = shown_punches(punched, spans)
    return f"{day.isoformat()} 当日打卡:" + "、".join(f"{t:%H:%M}" for t in shown)


_MINUTE = timedelta(minutes=1)


def _window_of(at: datetime, spans: Sequence[tuple[time, time]]) -> int | None:
    minute = time(at.hour, at.minute)
    return next((i for i, (start, end) in enumerate(spans) if start <= minute <= end), None)


def shown_punches(punches: Iterable[datetime], spans: Sequence[tuple[time, time]] = ()) -> list[datetime]:
    """One person's punches as they are shown: a punch less than a minute after the last one shown is
    shown once with it, unless it is in a clock-in window (`spans`, to the minute) the shown one is not,
    so what is shown never hides that a window was met (08:24:40 then 08:25:00 shows both).
    Only for showing: detection reads every punch."""
    shown: list[datetime] = []
    for at in sorted(set(punches)):
        if shown and at - shown[-1] < _MINUTE and _window_of(at, spans) == _window_of(shown[-1], spans):
            continue
        shown.append(at)
    return shown


def within_a_minute(punches: Iterable[datetime]) -> int:
    """How many of one person's punches come less than a minute after their previous punch (they are
    counted once with it). Exact repeats count as one punch."""
    ordered = sorted(set(punches))
    return sum(1 for a, b in zip(ordered, ordered[1:], strict=False) if b - a < _MINUTE)


def _hhmm(s: str) -> time:
    hour, minute = s.split(":")
    return time(int(hour), int(minute))


def _as_date(d: date) -> date:
    return d.date() if isinstance(d, datetime) else d


def unknown_staff(punches: Iterable[Punch], roster: Sequence[RosterEntry]) -> list[str]:
    """Staff ids of punches that no roster entry knows, sorted and unique: listed, never dropped silently."""
    known = {e.staff_id for e in roster}
    return sorted({p.staff_id for p in punches} - known)
