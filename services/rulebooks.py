"""Rulebook versions: the shipped file loaded into the database, and which version scores which month.

Changing a rule never changes the past: a published version takes effect on the first day of a month
after the current one (hall time), so every item already logged keeps the points it was scored with.
`publish_version` is the only way a version is published (the admin form, and anything else); the shipped
version (`ensure_shipped`) and a first set-up (no version yet) are the only ones dated in the past.
"""

from __future__ import annotations

from datetime import date
from functools import lru_cache

from sqlalchemy import select

from models import RulebookVersion, db
from scoring import (
    Rulebook,
    default_rulebook_path,
    load_rulebook,
    rulebook_from_dict,
    rulebook_from_stored,
    rulebook_to_dict,
)
from scoring.calendar import next_month
from services import DomainError
from services.audit import record


def ensure_shipped() -> RulebookVersion:
    """Load the shipped rulebook file into the database once (a broken file is a clear RulebookError)."""
    shipped = load_rulebook(default_rulebook_path())
    row = db.session.scalar(select(RulebookVersion).where(RulebookVersion.key == shipped.key))
    if row is None:
        row = RulebookVersion(
            key=shipped.key,
            title=shipped.title,
            effective_from=shipped.effective_from,
            data=rulebook_to_dict(shipped),
        )
        db.session.add(row)
        db.session.flush()
        record("rulebook.load", f"rulebook:{shipped.key}", after={"key": shipped.key})
    return row


@lru_cache(maxsize=64)
def _parse(version_id: int, key: str, effective_from: date, created_at: object) -> Rulebook:
    row = db.session.get(RulebookVersion, version_id)
    # Stored data may predate the rule roles: `rulebook_from_stored` reads it as the 2023 codes.
    return rulebook_from_stored(row.data)


def as_rulebook(row: RulebookVersion) -> Rulebook:
    # Versions are never edited once published (a change is a new version), so caching by id is safe;
    # the key, date and creation time are in the cache key too, as ids restart when a database is emptied
    # (tests, restore) and a new row may then reuse an id.
    return _parse(row.id, row.key, row.effective_from, row.created_at)


def versions() -> list[RulebookVersion]:
    return list(db.session.scalars(select(RulebookVersion).order_by(RulebookVersion.effective_from)))


def version_in_force(day: date) -> RulebookVersion:
    row = db.session.scalar(
        select(RulebookVersion)
        .where(RulebookVersion.effective_from <= day)
        .order_by(RulebookVersion.effective_from.desc(), RulebookVersion.id.desc())
        .limit(1)
    )
    if row is None:
        row = db.session.scalar(select(RulebookVersion).order_by(RulebookVersion.effective_from).limit(1))
    if row is None:
        row = ensure_shipped()
    return row


def rulebook_for_month(year: int, month: int) -> Rulebook:
    """A month is scored with the version in force on its first day."""
    return as_rulebook(version_in_force(date(year, month, 1)))


def current_rulebook() -> Rulebook:
    from services.clock import hall_today

    return as_rulebook(version_in_force(hall_today()))


def by_key(key: str) -> RulebookVersion | None:
    return db.session.scalar(select(RulebookVersion).where(RulebookVersion.key == key))


def first_allowed_day(today: date | None = None) -> date | None:
    """The earliest effective date a new version may take: the first day of the month after the current
    one (hall time), and after every version already published; None before the first set-up (no version
    yet), when any date is allowed."""
    from services.clock import hall_today

    latest = max((row.effective_from for row in versions()), default=None)
    if latest is None:
        return None
    today = today or hall_today()
    first = date(*next_month(today.year, today.month), 1)
    if latest >= first:
        first = date(*next_month(latest.year, latest.month), 1)
    return first


def effective_day_problem(day: date, today: date | None = None) -> str | None:
    """Why a new version may not take effect on `day`, in Chinese; None when it may."""
    first = first_allowed_day(today)
    if first is None or (day.day == 1 and day >= first):
        return None
    return (
        f"生效日期 {day.isoformat()} 不可用:新版本只能从以后某个月的1日起生效,最早 {first.isoformat()}。"
        "修改细则从不改变过去,已登记的记录仍按原版本计分"
    )


def publish_version(
    data: dict, created_by_id: int | None = None, *, today: date | None = None
) -> RulebookVersion:
    """Publish a new version from a full rulebook dict (validated by scoring); never edits an old one.

    The version takes effect on the first day of a month after the current one (`effective_day_problem`),
    so it never re-scores an item already logged; only a first set-up (no version yet) may be dated earlier.
    """
    rb = rulebook_from_dict(data)
    if by_key(rb.key):
        raise DomainError(f"规则版本 {rb.key} 已存在,请换一个版本号")
    problem = effective_day_problem(rb.effective_from, today)
    if problem:
        raise DomainError(problem)
    row = RulebookVersion(
        key=rb.key,
        title=rb.title,
        effective_from=rb.effective_from,
        data=rulebook_to_dict(rb),
        created_by_id=created_by_id,
    )
    db.session.add(row)
    db.session.flush()
    record(
        "rulebook.publish",
        f"rulebook:{rb.key}",
        after={"key": rb.key, "effective_from": str(rb.effective_from)},
    )
    return row
