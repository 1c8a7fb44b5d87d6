"""Notifications: the units' portal inbox (issue 9 item 10)."""

from __future__ import annotations

from sqlalchemy import func, select

from models import Notification, db
from services.notifications import notify_unit


def test_notify_unit_adds_a_row_and_a_key_makes_it_idempotent(app, make):
    unit = make.unit()
    notify_unit(unit.id, "notice", "整改通知书", "/portal/x")
    notify_unit(unit.id, "deadline", "整改期限将至", key="deadline:incident:1")
    notify_unit(unit.id, "deadline", "整改期限将至", key="deadline:incident:1")
    db.session.commit()
    rows = db.session.scalars(select(Notification).order_by(Notification.id)).all()
    assert [(r.kind, r.title, r.link) for r in rows] == [
        ("notice", "整改通知书", "/portal/x"),
        ("deadline", "整改期限将至", None),
    ]
    assert db.session.scalar(select(func.count(Notification.id))) == 2
