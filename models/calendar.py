"""The working-day calendar, clock-in punches and clock-in device outages (D16's inputs)."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from models.base import UTCDateTime, db


class CalendarDay(db.Model):
    """A day that differs from Mon–Fri: a public holiday, or a make-up working day (调休)."""

    __tablename__ = "calendar_day"

    day: Mapped[date] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(10))  # "holiday" or "workday"
    note: Mapped[str] = mapped_column(String(100), default="")


class ClockPunch(db.Model):
    """One fingerprint punch, to the second, as the device exported it. Every punch is kept (D16 reads each
    one: 08:24:40 then 08:25:00 meets the 08:25 window); only the very same punch is never stored twice."""

    __tablename__ = "clock_punch"
    __table_args__ = (UniqueConstraint("staff_id", "punched_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    staff_id: Mapped[str] = mapped_column(String(32), index=True)  # as the device knows it
    punched_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class ClockOutage(db.Model):
    __tablename__ = "clock_outage"

    id: Mapped[int] = mapped_column(primary_key=True)
    start_at: Mapped[datetime] = mapped_column(UTCDateTime)
    end_at: Mapped[datetime] = mapped_column(UTCDateTime)
    note: Mapped[str] = mapped_column(String(200), default="")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))


class Leave(db.Model):
    """Approved leave of a staff member (whole days, inclusive): no D16 is proposed inside it."""

    __tablename__ = "leave"

    id: Mapped[int] = mapped_column(primary_key=True)
    staff_pk: Mapped[int] = mapped_column(ForeignKey("staff.id"), index=True)
    start_date: Mapped[date]
    end_date: Mapped[date]
    note: Mapped[str] = mapped_column(String(200), default="")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
