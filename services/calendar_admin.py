"""The master data an admin keeps beside the roster: units, the working-day calendar, clock-in device
outages and approved leave (the last three are D16's inputs).

Every change writes its audit row; callers commit.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from flask_babel import gettext as _
from sqlalchemy import func, select

from models import CalendarDay, ClockOutage, Leave, Staff, Unit, db
from scoring import is_working_day, month_bounds
from services import DomainError
from services.audit import acting_user_id, record
from services.clock import to_hall

HOLIDAY = "holiday"
WORKDAY = "workday"


# ---------------------------------------------------------------- units


def unit_dict(unit: Unit) -> dict:
    return {
        "code": unit.code,
        "name": unit.name,
        "windows": unit.windows,
        "display_order": unit.display_order,
        "active": unit.active,
    }


def normalize_windows(text: str | None) -> str:
    """ "1、2、3" or "1;2;3" -> "1;2;3" (services.units keeps the rule, shared with the import)."""
    from services.units import normalize_windows as normalize

    return normalize(text)


def unit_by_code(code: str) -> Unit | None:
    return db.session.scalar(select(Unit).where(Unit.code == code.strip()))


def save_unit(
    unit: Unit | None,
    *,
    code: str,
    name: str,
    windows: str,
    display_order: int,
    active: bool,
) -> Unit:
    """Create a unit (unit=None) or change one; the code stays unique."""
    from services.units import check_unit

    code, name = (code or "").strip(), (name or "").strip()
    # The same checks as the units import (services.units), so both accept and refuse the same units.
    check_unit(unit, code=code, name=name, windows=windows, display_order=display_order)
    normalized = normalize_windows(windows)
    before = unit_dict(unit) if unit else None
    if unit is None:
        unit = Unit()
        db.session.add(unit)
    unit.code, unit.name, unit.windows = code, name, normalized
    unit.display_order, unit.active = int(display_order or 0), bool(active)
    db.session.flush()
    after = unit_dict(unit)
    if before != after:
        record(
            "unit.create" if before is None else "unit.update",
            f"unit:{unit.code}",
            before=before,
            after=after,
        )
    return unit


def list_units(active_only: bool = False) -> list[Unit]:
    query = select(Unit).order_by(Unit.display_order, Unit.code)
    if active_only:
        query = query.where(Unit.active.is_(True))
    return list(db.session.scalars(query))


# ---------------------------------------------------------------- calendar


@dataclass(frozen=True)
class DayCell:
    """One day of the calendar grid, as the page shows it."""

    day: date
    in_month: bool
    working: bool
    override: str | None  # "holiday", "workday" or None (the Mon–Fri default)
    note: str

    @property
    def weekend(self) -> bool:
        return self.day.weekday() >= 5

    @property
    def can_toggle_to(self) -> str | None:
        """What a click makes of the day: a weekday becomes a holiday, a weekend day a make-up working day."""
        if self.override:
            return None
        return WORKDAY if self.weekend else HOLIDAY


def hall_calendar(start: date | None = None, end: date | None = None) -> dict[date, str]:
    """The hall's working-day calendar as scoring.calendar reads it: the admin's overrides (holiday,
    make-up working day) by day, from start to end (both included), or all of them without bounds.

    The one place the services read the calendar from (deadlines, reminders, detections)."""
    query = select(CalendarDay.day, CalendarDay.kind)
    if start is not None:
        query = query.where(CalendarDay.day >= start)
    if end is not None:
        query = query.where(CalendarDay.day <= end)
    return {day: kind for day, kind in db.session.execute(query)}


def calendar_rows(start: date, end: date) -> dict[date, CalendarDay]:
    rows = db.session.scalars(select(CalendarDay).where(CalendarDay.day >= start, CalendarDay.day <= end))
    return {row.day: row for row in rows}


def day_cell(day: date, in_month: bool = True, row: CalendarDay | None = None) -> DayCell:
    if row is None:
        row = db.session.get(CalendarDay, day)
    kinds = {day: row.kind} if row else {}
    return DayCell(
        day=day,
        in_month=in_month,
        working=is_working_day(day, kinds),
        override=row.kind if row else None,
        note=row.note if row else "",
    )


def month_grid(year: int, month: int) -> list[list[DayCell]]:
    """The month as weeks of seven days, Monday first, padded with the neighbouring months' days."""
    first, last = month_bounds(year, month)
    start = first - timedelta(days=first.weekday())
    end = last + timedelta(days=6 - last.weekday())
    rows = calendar_rows(start, end)
    weeks: list[list[DayCell]] = []
    day = start
    while day <= end:
        weeks.append(
            [
                day_cell(
                    day + timedelta(days=i),
                    (day + timedelta(days=i)).month == month,
                    rows.get(day + timedelta(days=i)),
                )
                for i in range(7)
            ]
        )
        day += timedelta(days=7)
    return weeks


def toggle_day(day: date, note: str = "") -> DayCell:
    """A weekday becomes a holiday, a weekend day a make-up working day; a marked day goes back to normal."""
    note = (note or "").strip()
    if len(note) > 100:
        raise DomainError(_("备注不能超过 100 个字符"))
    row = db.session.get(CalendarDay, day)
    if row is not None:
        before = {"day": day.isoformat(), "kind": row.kind, "note": row.note}
        db.session.delete(row)
        db.session.flush()
        record("calendar.clear", f"calendar:{day.isoformat()}", before=before, after=None)
        return day_cell(day, row=None)
    kind = WORKDAY if day.weekday() >= 5 else HOLIDAY
    row = CalendarDay(day=day, kind=kind, note=note)
    db.session.add(row)
    db.session.flush()
    record(
        "calendar.set",
        f"calendar:{day.isoformat()}",
        after={"day": day.isoformat(), "kind": kind, "note": note},
    )
    return day_cell(day, row=row)


# ---------------------------------------------------------------- outages and leave


def outage_dict(outage: ClockOutage) -> dict:
    return {
        "start_at": to_hall(outage.start_at).strftime("%Y-%m-%d %H:%M"),
        "end_at": to_hall(outage.end_at).strftime("%Y-%m-%d %H:%M"),
        "note": outage.note,
    }


def add_outage(start_at: datetime, end_at: datetime, note: str = "") -> ClockOutage:
    """A clock-in device outage (aware UTC bounds): no D16 is proposed inside it."""
    if start_at.tzinfo is None or end_at.tzinfo is None:
        raise ValueError("outage bounds must be aware")
    if end_at <= start_at:
        raise DomainError(_("故障结束时间必须晚于开始时间"))
    if end_at - start_at > timedelta(days=31):
        raise DomainError(_("一次故障最长登记 31 天,请分段登记"))
    outage = ClockOutage(
        start_at=start_at, end_at=end_at, note=(note or "").strip()[:200], created_by_id=acting_user_id()
    )
    db.session.add(outage)
    db.session.flush()
    record("outage.create", f"outage:{outage.id}", after=outage_dict(outage))
    return outage


def recent_outages(limit: int = 20) -> list[ClockOutage]:
    return list(db.session.scalars(select(ClockOutage).order_by(ClockOutage.start_at.desc()).limit(limit)))


def leave_dict(leave: Leave, staff: Staff) -> dict:
    return {
        "staff": staff.staff_id,
        "start_date": leave.start_date.isoformat(),
        "end_date": leave.end_date.isoformat(),
        "note": leave.note,
    }


def add_leave(staff: Staff, start_date: date, end_date: date, note: str = "") -> Leave:
    """Approved leave of a staff member, whole days inclusive; it may not overlap another of theirs."""
    if end_date < start_date:
        raise DomainError(_("请假结束日期不能早于开始日期"))
    if (end_date - start_date).days > 366:
        raise DomainError(_("一次请假最长登记一年"))
    clash = db.session.scalar(
        select(func.count(Leave.id)).where(
            Leave.staff_pk == staff.id, Leave.start_date <= end_date, Leave.end_date >= start_date
        )
    )
    if clash:
        raise DomainError(_("该时间段与已登记的请假重叠"))
    leave = Leave(
        staff_pk=staff.id,
        start_date=start_date,
        end_date=end_date,
        note=(note or "").strip()[:200],
        created_by_id=acting_user_id(),
    )
    db.session.add(leave)
    db.session.flush()
    record("leave.create", f"staff:{staff.staff_id}", after=leave_dict(leave, staff))
    return leave


def leaves_of(staff: Staff) -> list[Leave]:
    return list(
        db.session.scalars(select(Leave).where(Leave.staff_pk == staff.id).order_by(Leave.start_date))
    )
