"""Values kept in a process until the database changes: the one way the services cache what they compute.

A key names the database and what the value depends on; for what any audited change may move, the newest
audit row (`newest_change`). `remember` builds a missing value once, even when many threads ask for it at
the same moment (a change reaches a hundred hall screens at once), and bounds each cache.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from threading import Lock
from typing import TypeVar

from sqlalchemy import func, select
from sqlalchemy.orm import aliased

from models import AuditLog, db

T = TypeVar("T")

_lock = Lock()
_building: dict[tuple, Lock] = {}


def database_key() -> str:
    return db.engine.url.render_as_string()


# How far below the newest audit id a late commit is still seen (see newest_change): a writer that commits
# after 100 other audit rows were committed meanwhile is the only one missed.
_LATE_COMMIT_WINDOW = 100


def _newest_statements():
    """newest_change's two statements, built once (building them cost more than running them)."""
    newest = select(AuditLog.id, AuditLog.at).order_by(AuditLog.id.desc()).limit(1)
    later = aliased(AuditLog)
    window = (
        select(func.count())
        .select_from(later)
        .where(later.id > AuditLog.id - _LATE_COMMIT_WINDOW)
        .correlate(AuditLog)
        .scalar_subquery()
    )
    return newest, newest.add_columns(window)


_NEWEST, _NEWEST_AND_LATE = _newest_statements()


def newest_change() -> tuple:
    """The newest audit row's id and time (ids alone repeat after a restore of an older backup), by the
    primary key: MAX(at) would read the whole log (seconds at 2,000,000 rows on SQLite).

    On PostgreSQL also how many rows the last 100 ids hold: an id is taken at the INSERT, so a writer may
    commit after another that took a higher id; its row, below the newest, changes that count and not the
    newest. SQLite's writers are serial (the write lock is held to the commit), so ids come in commit order
    there, and the count is left out."""
    statement = _NEWEST_AND_LATE if db.engine.dialect.name == "postgresql" else _NEWEST
    row = db.session.execute(statement).first()
    return tuple(row) if row else (None, None)


def remember(cache: dict, key: tuple, make: Callable[[], T], *, most: int = 64, keep=None) -> T:
    """`cache[key]`, made by `make()` once; the cache is emptied when it holds more than `most` values.
    `keep(value)` false: the value is returned but not kept (a page that answered a redirect)."""
    with _lock:
        if key in cache:
            return cache[key]
        building = _building.setdefault((id(cache), key), Lock())
    with building:
        with _lock:
            if key in cache:
                return cache[key]
        try:
            value = make()
        except BaseException:
            with _lock:
                _building.pop((id(cache), key), None)
            raise
        with _lock:
            if keep is None or keep(value):
                if len(cache) > most:
                    cache.clear()
                cache[key] = value
            _building.pop((id(cache), key), None)
    return value


_per_object: dict[tuple, tuple[weakref.ref, object]] = {}


def kept_for(owner: object, key: tuple, make: Callable[[], T], *, most: int = 256) -> T:
    """`make()`, made once for the object `owner` and `key`: what is derived from a value the services
    already keep until its data change (a month's results), such as its rendered table or its JSON, lives
    as long as that value does. The owner is held weakly (a live month's results replaced by the next
    change are not kept alive by their table), and by identity: an id reused by a newer object is no hit."""
    k = (id(owner), *key)
    found = _per_object.get(k)
    if found is not None and found[0]() is owner:
        return found[1]  # type: ignore[return-value]
    value = make()
    with _lock:
        if len(_per_object) > most:
            _per_object.clear()
        _per_object[k] = (weakref.ref(owner), value)
    return value
