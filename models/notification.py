"""Notifications to stationed units (the portal inbox) and bulletin read receipts.

One row per unit per event (`Notification`); each unit user's read state is a second table
(`NotificationRead`), so "unread" is per user: a notification is unread for a user until that user has a
`NotificationRead` row for it. `key` makes a notification idempotent: a second notify with the same
(unit, key) adds nothing (the daily deadline reminder relies on it).

`BulletinRead` records the first time a unit user opened a published month's bulletin in the portal
(one row per month and unit), for the admins' read-receipts view.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from models.base import UTCDateTime, db, utcnow

NOTIFICATION_KINDS = (
    "incident",
    "notice",
    "appeal_decided",
    "rectification_confirmed",
    "bulletin",
    "deadline",
    "claim_decided",
    "honor",
)


class Notification(db.Model):
    __tablename__ = "notification"
    __table_args__ = (
        # The inbox: one unit's notifications newest first, a page at a time.
        Index("ix_notification_unit_created", "unit_id", "created_at", "id"),
        UniqueConstraint("unit_id", "key", name="uq_notification_unit_key"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("unit.id"))
    kind: Mapped[str] = mapped_column(String(32))
    title: Mapped[str] = mapped_column(String(200))
    link: Mapped[str | None] = mapped_column(String(300))
    key: Mapped[str | None] = mapped_column(String(120))  # idempotency key, e.g. "deadline:incident:12"
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class NotificationRead(db.Model):
    __tablename__ = "notification_read"
    __table_args__ = (UniqueConstraint("notification_id", "user_id", name="uq_notification_read_user"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    notification_id: Mapped[int] = mapped_column(ForeignKey("notification.id"))
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id"), index=True)
    read_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class BulletinRead(db.Model):
    __tablename__ = "bulletin_read"
    __table_args__ = (UniqueConstraint("month_id", "unit_id", name="uq_bulletin_read_month_unit"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    month_id: Mapped[int] = mapped_column(ForeignKey("month.id"))
    unit_id: Mapped[int] = mapped_column(ForeignKey("unit.id"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    read_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
