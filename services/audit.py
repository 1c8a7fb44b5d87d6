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
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any

from sqlalchemy import func, select

from models import AuditLog, db
from services.clock import from_hall

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


# ------------------------------------------------------------------ the log's listing (admin/audit.py)

# The count shown above the list stops here ("1000+ 条"): counting 2,000,000 rows for a pager cost seconds.
COUNT_CAP = 1000


@dataclass
class AuditListing:
    """A page of the log, newest first, reached by keyset ("更早" / "更新"), never by OFFSET."""

    rows: list[AuditLog] = field(default_factory=list)
    total: int = 0  # rows matching the filters, counted up to COUNT_CAP + 1
    older: int | None = None  # ?before= of the next older page (None: this is the oldest)
    newer: int | None = None  # ?after= of the next newer page (None: this is the newest)
    cap: int = COUNT_CAP

    @property
    def capped(self) -> bool:
        return self.total > self.cap


def _conditions(filters) -> list:
    """The filters of services.dashboard.AuditFilter as SQL conditions (dates are hall-time days)."""
    conditions = []
    if filters.action:
        conditions.append(AuditLog.action == filters.action)
    if filters.user_id:
        conditions.append(AuditLog.user_id == filters.user_id)
    if filters.target:
        conditions.append(AuditLog.target.contains(filters.target.strip(), autoescape=True))
    if filters.date_from:
        conditions.append(AuditLog.at >= from_hall(datetime.combine(filters.date_from, time.min)))
    if filters.date_to:
        end = date.fromordinal(min(filters.date_to.toordinal() + 1, date.max.toordinal()))
        if end > filters.date_to:
            conditions.append(AuditLog.at < from_hall(datetime.combine(end, time.min)))
    return conditions


def audit_listing(
    filters, *, before: int | None = None, after: int | None = None, per_page: int = 50
) -> AuditListing:
    """The `per_page` rows matching `filters` older than id `before` (or, with `after`, the newer ones
    just above it; neither: the newest), newest first. Three queries whatever the log holds: the page
    (one row more tells there is another page that way), one probe the other way, a count capped at
    COUNT_CAP + 1."""
    conditions = _conditions(filters)
    query = select(AuditLog).where(*conditions)
    if after is not None and before is None:
        rows = list(
            db.session.scalars(query.where(AuditLog.id > after).order_by(AuditLog.id).limit(per_page + 1))
        )
        more_newer = len(rows) > per_page
        rows = list(reversed(rows[:per_page]))
        more_older = rows != [] and _exists(conditions, AuditLog.id < rows[-1].id)
    else:
        if before is not None:
            query = query.where(AuditLog.id < before)
        rows = list(db.session.scalars(query.order_by(AuditLog.id.desc()).limit(per_page + 1)))
        more_older = len(rows) > per_page
        rows = rows[:per_page]
        more_newer = before is not None and rows != [] and _exists(conditions, AuditLog.id > rows[0].id)
    listing = AuditListing(rows=rows, cap=COUNT_CAP)
    listing.older = rows[-1].id if more_older else None
    listing.newer = rows[0].id if more_newer else None
    if before is None and after is None and not more_older:
        listing.total = len(rows)  # the whole match is on this page
    else:
        capped = select(AuditLog.id).where(*conditions).limit(COUNT_CAP + 1).subquery()
        listing.total = db.session.scalar(select(func.count()).select_from(capped)) or 0
    return listing


def _exists(conditions: list, beyond) -> bool:
    return db.session.scalar(select(AuditLog.id).where(*conditions, beyond).limit(1)) is not None
