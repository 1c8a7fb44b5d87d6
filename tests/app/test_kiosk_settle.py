"""KIOSK_SETTLE_SECONDS: under a busy desk the hall screen's version moves once per window, not per change.

With the setting, the version is the newest audit row written before the last boundary of that many
seconds (wall clock, so every worker agrees); a change newer than the boundary waits for the next one.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import event, update

from models import AuditLog, db, utcnow
from services import kiosk


@pytest.fixture(autouse=True)
def settle(app):
    kiosk.clear_caches()
    app.config["KIOSK_SETTLE_SECONDS"] = 3600
    yield
    app.config["KIOSK_SETTLE_SECONDS"] = 0
    kiosk.clear_caches()


def version(client) -> str:
    response = client.get("/kiosk/live")
    response.close()
    return response.headers["X-Kiosk-Version"]


def test_a_change_waits_for_the_next_boundary_then_shows(client, make):
    unit = make.unit("U01", name="市税务局")
    make.incident(unit, "D08")
    db.session.execute(update(AuditLog).values(at=utcnow() - timedelta(hours=2)))  # settled long ago
    db.session.commit()
    settled = version(client)

    make.incident(unit, "D03")  # written just now: after the last boundary of an hour
    db.session.commit()
    assert version(client) == settled
    statements = []
    listen = lambda *args: statements.append(args[2])  # noqa: E731
    event.listen(db.engine, "before_cursor_execute", listen)
    try:
        poll = client.get("/kiosk/live", headers={"If-None-Match": f'"{settled}"'})
    finally:
        event.remove(db.engine, "before_cursor_execute", listen)
    assert poll.status_code == 304
    assert not [s for s in statements if "audit_log" in s]  # asked once per window and process

    db.session.execute(update(AuditLog).values(at=utcnow() - timedelta(hours=2)))  # the boundary passed
    db.session.commit()
    kiosk.clear_caches()  # as the next window does: its boundary is a new key
    moved = version(client)
    assert moved != settled
    assert moved.split(".")[0] == str(db.session.scalar(db.select(db.func.max(AuditLog.id))))


def test_without_the_setting_each_change_moves_the_version(app, client, make):
    app.config["KIOSK_SETTLE_SECONDS"] = 0
    unit = make.unit("U01", name="市税务局")
    make.incident(unit, "D08")
    db.session.commit()
    before = version(client)
    make.incident(unit, "D03")
    db.session.commit()
    assert version(client) != before
