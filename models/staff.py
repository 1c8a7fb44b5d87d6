"""Staff members and their roster history: every posting kept, so D13 can read past replacements."""

from __future__ import annotations

from datetime import date

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import db
from models.unit import Unit


class Staff(db.Model):
    """A person. `staff_id` is the hall's own id (the clock-in device uses it too)."""

    __tablename__ = "staff"

    id: Mapped[int] = mapped_column(primary_key=True)
    staff_id: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(60))
    postings: Mapped[list[Posting]] = relationship(
        back_populates="staff", order_by="Posting.start_date", cascade="all, delete-orphan"
    )

    def posting_on(self, day: date) -> Posting | None:
        for p in self.postings:
            if p.start_date <= day and (p.end_date is None or day <= p.end_date):
                return p
        return None

    @property
    def current(self) -> Posting | None:
        return self.postings[-1] if self.postings else None


class Posting(db.Model):
    """One span of a staff member at a unit (and window): a row of the roster history."""

    __tablename__ = "posting"
    __table_args__ = (UniqueConstraint("staff_pk", "start_date"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    staff_pk: Mapped[int] = mapped_column(ForeignKey("staff.id"), index=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("unit.id"), index=True)
    category: Mapped[str] = mapped_column(String(1))  # "W" window staff, "C" comprehensive back office
    window: Mapped[str | None] = mapped_column(String(20))
    start_date: Mapped[date]
    end_date: Mapped[date | None]

    staff: Mapped[Staff] = relationship(back_populates="postings")
    unit: Mapped[Unit] = relationship()
