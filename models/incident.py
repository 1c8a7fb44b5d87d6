"""Incidents (deductions and bonuses), their evidence and history. Never deleted: voided with a reason."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import JSON, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import UTCDateTime, db, utcnow
from models.staff import Staff
from models.unit import Unit
from models.user import User


class IncidentStatus(StrEnum):
    PROPOSED = "proposed"
    CONFIRMED = "confirmed"
    VOIDED = "voided"
    DISMISSED = "dismissed"  # a proposal an admin turned down; kept so detection never proposes it again


class Incident(db.Model):
    __tablename__ = "incident"
    __table_args__ = (
        # The standings' sums of a month's confirmed rows per (unit, rule, exemption), read from the index
        # alone (covering): the table itself is not touched (migration b9e3a7d5c1f8).
        Index(
            "ix_incident_status_occurred",
            *("status", "occurred_at", "unit_id", "rule_code", "exempt", "count", "deadline"),
        ),
        # The incidents list: a month (or one unit's month) newest first, a page at a time; its totals per
        # (status, rule, exemption) from the index alone.
        Index("ix_incident_occurred_id", "occurred_at", "id", "status", "rule_code", "exempt", "count"),
        Index("ix_incident_unit_occurred", "unit_id", "occurred_at"),
        # A unit's items awaiting rectification (its requests page).
        Index("ix_incident_unit_deadline", "unit_id", "deadline"),
        # The live standings: a month's D19a whose overdue D19b lands in it, by deadline.
        Index("ix_incident_rule_deadline", "rule_code", "deadline"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("unit.id"), index=True)
    staff_pk: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    window: Mapped[str | None] = mapped_column(String(20))
    rule_code: Mapped[str] = mapped_column(String(16), index=True)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    count: Mapped[int] = mapped_column(default=1)
    note: Mapped[str] = mapped_column(Text, default="")  # the inspector's internal note
    public_text: Mapped[str] = mapped_column(Text, default="")  # printed on the notice, shown to the unit
    deadline: Mapped[date | None]
    rectified_on: Mapped[date | None]
    exempt: Mapped[bool] = mapped_column(default=False)
    # D15 -> its violation; indexed: an incident's page lists the records linked to it
    linked_id: Mapped[int | None] = mapped_column(ForeignKey("incident.id"), index=True)
    status: Mapped[str] = mapped_column(String(12), default=IncidentStatus.CONFIRMED)
    void_reason: Mapped[str | None] = mapped_column(Text)
    voided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    voided_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    source: Mapped[str] = mapped_column(String(12), default="desk")  # desk, patrol, import, detect
    detection_key: Mapped[str | None] = mapped_column(String(80), unique=True)
    detection_reason: Mapped[str | None] = mapped_column(Text)
    # A tablet's own id for a tap, so a tap re-sent after a dropped connection is stored once.
    client_key: Mapped[str | None] = mapped_column(String(64), unique=True)
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    unit: Mapped[Unit] = relationship()
    staff: Mapped[Staff | None] = relationship()
    recorded_by: Mapped[User | None] = relationship(foreign_keys=[recorded_by_id])
    voided_by: Mapped[User | None] = relationship(foreign_keys=[voided_by_id])
    linked: Mapped[Incident | None] = relationship(remote_side=[id])
    evidence: Mapped[list[Evidence]] = relationship(back_populates="incident", order_by="Evidence.id")
    history: Mapped[list[IncidentHistory]] = relationship(
        back_populates="incident", order_by="IncidentHistory.id"
    )

    @property
    def counts(self) -> bool:
        return self.status == IncidentStatus.CONFIRMED


class Evidence(db.Model):
    """A photo or file attached to an incident, stored outside static/ under the instance folder."""

    __tablename__ = "evidence"

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incident.id"), index=True)
    filename: Mapped[str] = mapped_column(String(200))
    stored_name: Mapped[str] = mapped_column(String(80), unique=True)
    content_type: Mapped[str] = mapped_column(String(40))
    size: Mapped[int]
    uploaded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    uploaded_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))

    incident: Mapped[Incident] = relationship(back_populates="evidence")


class IncidentHistory(db.Model):
    """Every change of an incident: what it was after the change, who made it and why."""

    __tablename__ = "incident_history"

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incident.id"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    action: Mapped[str] = mapped_column(String(20))  # created, corrected, confirmed, voided, dismissed
    reason: Mapped[str] = mapped_column(Text, default="")
    snapshot: Mapped[dict] = mapped_column(JSON)

    incident: Mapped[Incident] = relationship(back_populates="history")
    by: Mapped[User | None] = relationship()


class Warning(db.Model):
    """A reminder or warning (提醒/警告) with no points; D04b and D05b rely on earlier ones."""

    __tablename__ = "warning"

    id: Mapped[int] = mapped_column(primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("unit.id"), index=True)
    staff_pk: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    window: Mapped[str | None] = mapped_column(String(20))
    rule_code: Mapped[str | None] = mapped_column(String(16))
    given_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    text: Mapped[str] = mapped_column(Text, default="")
    given_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))

    unit: Mapped[Unit] = relationship()
    staff: Mapped[Staff | None] = relationship()
