"""Notices that need an answer (书面通报并要求反馈) and their answers' attachments.

A `Notice` is opened when a month is published, one per unit, month and flag (`notice_feedback`,
`replace_staff`); it lists the incidents or results that raised the flag (the frozen standings' reasons).
Its state is read from its columns (services.notices.state_of, and the same in SQL for the lists):
answered (an answer, late or not) > overdue (the deadline passed unanswered) > read > unread. A notice whose
flag is gone when its month is published again (after a reopen) is withdrawn, never deleted.

The letters to the discipline group (纪检监察组) and the leadership group (领导小组) need no table: they are
read from a closed month's frozen standings (services.notices.letters_for_month).
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import UTCDateTime, db, utcnow
from models.unit import Unit
from models.user import User

NOTICE_FLAGS = ("notice_feedback", "replace_staff")
LETTER_FLAGS = ("discipline_report", "leadership_report")
NOTICE_STATES = ("unread", "read", "answered", "overdue")


class Notice(db.Model):
    __tablename__ = "notice"
    __table_args__ = (
        UniqueConstraint("unit_id", "year", "month", "flag", name="uq_notice_unit_month_flag"),
        # The admins' list: a month's notices, newest month first.
        Index("ix_notice_year_month", "year", "month"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("unit.id"), index=True)
    year: Mapped[int]
    month: Mapped[int]
    flag: Mapped[str] = mapped_column(String(24))
    reasons: Mapped[list] = mapped_column(JSON, default=list)  # "incident:<id>" / "month:YYYY-MM"
    opened_on: Mapped[date]  # hall day the notice was opened (its month published)
    deadline: Mapped[date]  # last hall day to answer in time
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    read_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    answer_text: Mapped[str | None] = mapped_column(Text)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    answered_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    answered_late: Mapped[bool] = mapped_column(default=False)
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    unit: Mapped[Unit] = relationship()
    read_by: Mapped[User | None] = relationship(foreign_keys=[read_by_id])
    answered_by: Mapped[User | None] = relationship(foreign_keys=[answered_by_id])
    attachments: Mapped[list[NoticeAttachment]] = relationship(
        back_populates="notice", order_by="NoticeAttachment.id"
    )

    @property
    def label(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"


class NoticeAttachment(db.Model):
    """A file the unit attached to its answer, stored like evidence (outside static/, random name)."""

    __tablename__ = "notice_attachment"

    id: Mapped[int] = mapped_column(primary_key=True)
    notice_id: Mapped[int] = mapped_column(ForeignKey("notice.id"), index=True)
    filename: Mapped[str] = mapped_column(String(200))
    stored_name: Mapped[str] = mapped_column(String(80), unique=True)
    content_type: Mapped[str] = mapped_column(String(40))
    size: Mapped[int]
    uploaded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    uploaded_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))

    notice: Mapped[Notice] = relationship(back_populates="attachments")
