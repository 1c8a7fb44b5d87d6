"""Writing the audit log. Every change goes through `record` in the transaction that makes it."""

from __future__ import annotations

from typing import Any

from flask_login import current_user

from models import AuditLog, db


def acting_user_id() -> int | None:
    try:
        return current_user.id if current_user and current_user.is_authenticated else None
    except (AttributeError, RuntimeError):
        return None


def record(
    action: str, target: str = "", before: Any = None, after: Any = None, user_id: int | None = None
) -> None:
    db.session.add(
        AuditLog(
            action=action,
            target=target,
            before=before,
            after=after,
            user_id=user_id if user_id is not None else acting_user_id(),
        )
    )
