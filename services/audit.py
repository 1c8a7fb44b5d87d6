"""Writing the audit log. Every change goes through `record` in the transaction that makes it.

Who acts is a context variable, not the logged-in user of Flask-Login, so the services work the same in a
request, on the command line and in a background job:

- a request sets it to the logged-in user (app.py, `before_request`) and clears it when it ends;
- the command line leaves it empty (the audit log shows 系统);
- the job runner (services.jobs) sets it to the user who started the job;
- the demo loader sets it to the demo users in turn.

A service may also be handed the user explicitly (`record(..., user_id=…)`).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar, Token
from typing import Any

from models import AuditLog, db

_acting_user: ContextVar[int | None] = ContextVar("hallscore_acting_user", default=None)


def acting_user_id() -> int | None:
    """The id of the user on whose behalf the services run now; None for the system (CLI, startup)."""
    return _acting_user.get()


def set_acting_user(user_id: int | None) -> Token:
    """Act as `user_id` from now on; hand the token back to `reset_acting_user` when done."""
    return _acting_user.set(user_id)


def reset_acting_user(token: Token) -> None:
    try:
        _acting_user.reset(token)
    except ValueError:  # the token was made in another context: at least stop acting as anyone
        _acting_user.set(None)


@contextmanager
def acting_as(user_id: int | None) -> Iterator[None]:
    """`with acting_as(user.id): …` runs the services as that user (None: as the system)."""
    token = set_acting_user(user_id)
    try:
        yield
    finally:
        reset_acting_user(token)


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
