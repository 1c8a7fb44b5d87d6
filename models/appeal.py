"""What a unit asks of the hall after an item is logged: appeals (申诉), rectification reports and extension
requests (整改报告、延期申请) and bonus claims (加分申请), each decided once by an admin, and their files.

Nothing here is deleted: a request keeps its decision, who made it, when and why.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import UTCDateTime, db, utcnow
from models.incident import Incident
from models.unit import Unit
from models.user import User


class RequestStatus(StrEnum):
    OPEN = "open"  # waiting for an admin
    UPHELD = "upheld"  # appeal: the incident stands
    VOIDED = "voided"  # appeal: the incident was voided
    CONFIRMED = "confirmed"  # rectification report: the date confirmed / extension granted
    APPROVED = "approved"  # bonus claim: a bonus incident was logged
    REJECTED = "rejected"  # report, extension or claim turned down


class _Decided:
    """Columns every request has: who asked and when, and the one decision."""

    status: Mapped[str] = mapped_column(String(12), default=RequestStatus.OPEN, index=True)
    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    submitted_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    decision_reason: Mapped[str] = mapped_column(Text, default="")

    @property
    def is_open(self) -> bool:
        return self.status == RequestStatus.OPEN


class Appeal(_Decided, db.Model):
    """A unit's appeal of a confirmed deduction; upheld (it stands) or voided (the incident is voided)."""

    __tablename__ = "appeal"

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incident.id"), index=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("unit.id"), index=True)
    reason: Mapped[str] = mapped_column(Text)

    incident: Mapped[Incident] = relationship()
    unit: Mapped[Unit] = relationship()
    submitted_by: Mapped[User | None] = relationship(foreign_keys="Appeal.submitted_by_id")
    decided_by: Mapped[User | None] = relationship(foreign_keys="Appeal.decided_by_id")
    files: Mapped[list[RequestFile]] = relationship(
        primaryjoin="RequestFile.appeal_id == Appeal.id", order_by="RequestFile.id", viewonly=True
    )


class RectificationReport(_Decided, db.Model):
    """A unit's report that an item with a rectification deadline is rectified (kind "report", with the
    date), or its request for a later deadline (kind "extension", when the rulebook allows it)."""

    __tablename__ = "rectification_report"

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incident.id"), index=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("unit.id"), index=True)
    kind: Mapped[str] = mapped_column(String(12), default="report")  # report, extension
    rectified_on: Mapped[date | None]  # report: the day the unit says it rectified
    requested_deadline: Mapped[date | None]  # extension: the deadline asked for
    description: Mapped[str] = mapped_column(Text, default="")
    confirmed_on: Mapped[date | None]  # report: the date the admin confirmed (what D19b reads)

    incident: Mapped[Incident] = relationship()
    unit: Mapped[Unit] = relationship()
    submitted_by: Mapped[User | None] = relationship(foreign_keys="RectificationReport.submitted_by_id")
    decided_by: Mapped[User | None] = relationship(foreign_keys="RectificationReport.decided_by_id")
    files: Mapped[list[RequestFile]] = relationship(
        primaryjoin="RequestFile.report_id == RectificationReport.id",
        order_by="RequestFile.id",
        viewonly=True,
    )


class BonusClaim(_Decided, db.Model):
    """A unit's claim for a bonus that comes from outside (a pennant, a letter, a media report)."""

    __tablename__ = "bonus_claim"

    id: Mapped[int] = mapped_column(primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("unit.id"), index=True)
    rule_code: Mapped[str] = mapped_column(String(16))
    occurred_on: Mapped[date]
    description: Mapped[str] = mapped_column(Text)
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("incident.id"))  # the approved bonus

    unit: Mapped[Unit] = relationship()
    incident: Mapped[Incident | None] = relationship()
    submitted_by: Mapped[User | None] = relationship(foreign_keys="BonusClaim.submitted_by_id")
    decided_by: Mapped[User | None] = relationship(foreign_keys="BonusClaim.decided_by_id")
    files: Mapped[list[RequestFile]] = relationship(
        primaryjoin="RequestFile.claim_id == BonusClaim.id", order_by="RequestFile.id", viewonly=True
    )


class RequestFile(db.Model):
    """A file attached to an appeal, a rectification report or a bonus claim (exactly one of the three),
    checked and stored as incident evidence is (services.evidence)."""

    __tablename__ = "request_file"

    id: Mapped[int] = mapped_column(primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("unit.id"), index=True)  # whose it is (who may see it)
    appeal_id: Mapped[int | None] = mapped_column(ForeignKey("appeal.id"), index=True)
    report_id: Mapped[int | None] = mapped_column(ForeignKey("rectification_report.id"), index=True)
    claim_id: Mapped[int | None] = mapped_column(ForeignKey("bonus_claim.id"), index=True)
    filename: Mapped[str] = mapped_column(String(200))
    stored_name: Mapped[str] = mapped_column(String(80), unique=True)
    content_type: Mapped[str] = mapped_column(String(40))
    size: Mapped[int]
    uploaded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    uploaded_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
