"""The honor roll (光荣榜) an admin chooses: per quarter the advanced collectives (先进集体) and advanced
individuals (先进个人), per year the excellent window units (年度优秀窗口单位).

A roll is a draft while it is being chosen and published when the hall may see it (the hall screen shows
only published rolls); unpublishing takes it back to a draft with a reason (audited). Entries keep the
unit and, for an individual, the staff member and the window they were honoured at.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import UTCDateTime, db, utcnow
from models.staff import Staff
from models.unit import Unit

ROLL_KINDS = ("quarter", "year")
ROLL_STATUSES = ("draft", "published")
# collective 先进集体, individual 先进个人 (quarter rolls); year_unit 年度优秀窗口单位 (year rolls)
ENTRY_KINDS = ("collective", "individual", "year_unit")


class HonorRoll(db.Model):
    __tablename__ = "honor_roll"
    __table_args__ = (UniqueConstraint("kind", "year", "quarter", name="uq_honor_roll_period"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(8))  # quarter | year
    year: Mapped[int]
    quarter: Mapped[int] = mapped_column(default=0)  # 1..4; 0 for a year's roll
    status: Mapped[str] = mapped_column(String(12), default="draft")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    published_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    unpublished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    unpublish_reason: Mapped[str | None] = mapped_column(Text)

    entries: Mapped[list[HonorEntry]] = relationship(
        back_populates="roll", order_by="HonorEntry.position", cascade="all, delete-orphan"
    )

    @property
    def label(self) -> str:
        if self.kind == "year":
            return f"{self.year}年"
        return f"{self.year}年第{'一二三四'[self.quarter - 1]}季度"

    @property
    def published(self) -> bool:
        return self.status == "published"


class HonorEntry(db.Model):
    __tablename__ = "honor_entry"

    id: Mapped[int] = mapped_column(primary_key=True)
    roll_id: Mapped[int] = mapped_column(ForeignKey("honor_roll.id"), index=True)
    kind: Mapped[str] = mapped_column(String(12))  # collective | individual | year_unit
    unit_id: Mapped[int] = mapped_column(ForeignKey("unit.id"), index=True)
    staff_pk: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    window: Mapped[str | None] = mapped_column(String(20))
    position: Mapped[int] = mapped_column(default=0)

    roll: Mapped[HonorRoll] = relationship(back_populates="entries")
    unit: Mapped[Unit] = relationship()
    staff: Mapped[Staff | None] = relationship()
