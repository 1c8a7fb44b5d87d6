"""Rulebook versions: the shipped file loaded into the database, and which version scores which month."""

from __future__ import annotations

from datetime import date
from functools import lru_cache

from sqlalchemy import select

from models import RulebookVersion, db
from scoring import Rulebook, default_rulebook_path, load_rulebook, rulebook_from_dict, rulebook_to_dict
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
def _parse(version_id: int, key: str) -> Rulebook:
    row = db.session.get(RulebookVersion, version_id)
    return rulebook_from_dict(row.data)


def as_rulebook(row: RulebookVersion) -> Rulebook:
    # Versions are never edited once published (a change is a new version), so caching by id is safe.
    return _parse(row.id, row.key)


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


def publish_version(data: dict, created_by_id: int | None = None) -> RulebookVersion:
    """Publish a new version from a full rulebook dict (validated by scoring); never edits an old one."""
    rb = rulebook_from_dict(data)
    if by_key(rb.key):
        raise DomainError(f"规则版本 {rb.key} 已存在,请换一个版本号")
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
