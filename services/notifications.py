"""Notifications to stationed units: the portal inbox.

`notify_unit` is the one way to notify a unit; call it from your service in the same transaction as the
change it announces (it adds and flushes, never commits). Kinds: see models.notification.NOTIFICATION_KINDS.
"""

from __future__ import annotations

from sqlalchemy import select

from models import db
from models.notification import NOTIFICATION_KINDS, Notification


def notify_unit(
    unit_id: int, kind: str, title: str, link: str | None = None, *, key: str | None = None
) -> None:
    """Add a notification for a unit's users. With `key`, a second call for the same unit and key adds
    nothing (idempotent reminders)."""
    if kind not in NOTIFICATION_KINDS:
        raise ValueError(f"unknown notification kind: {kind}")
    if key is not None:
        exists = db.session.scalar(
            select(Notification.id).where(Notification.unit_id == unit_id, Notification.key == key).limit(1)
        )
        if exists is not None:
            return
    db.session.add(Notification(unit_id=unit_id, kind=kind, title=title[:200], link=link, key=key))
    db.session.flush()
