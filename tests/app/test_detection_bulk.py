"""A detection run writes its proposals in bulk (issue 10, item 4): the rows are the ones services.incidents
writes one at a time (create, then confirm): the incident, its history, its audit rows and, once
confirmed, the unit's message."""

from __future__ import annotations

from sqlalchemy import select

from models import AuditLog, Incident, IncidentHistory, IncidentStatus, db
from models.notification import Notification
from services import detections
from services import incidents as incident_service
from services.rulebooks import rulebook_for_month
from tests.app.test_detections import clocked  # noqa: F401  (a fixture)


def _rows(incident: Incident) -> tuple[list, list]:
    history = db.session.scalars(
        select(IncidentHistory).where(IncidentHistory.incident_id == incident.id).order_by(IncidentHistory.id)
    ).all()
    audit = db.session.scalars(
        select(AuditLog).where(AuditLog.target == f"incident:{incident.id}").order_by(AuditLog.id)
    ).all()
    return history, audit


def test_proposals_are_written_as_the_incident_service_writes_them(clocked, make):  # noqa: F811
    admin = make.user("admin")
    from services.audit import reset_acting_user, set_acting_user

    token = set_acting_user(admin.id)
    try:
        result = detections.run(2024, 3)
    finally:
        reset_acting_user(token)
    db.session.commit()
    made = db.session.scalars(select(Incident).where(Incident.source == "detect").order_by(Incident.id)).all()
    assert result["proposed"] == len(made) == 6
    for incident in made:
        assert (incident.status, incident.recorded_by_id, incident.count) == (
            IncidentStatus.PROPOSED,
            admin.id,
            1,
        )
        assert incident.note == incident.public_text and incident.detection_reason.startswith(incident.note)
        assert incident.staff.staff_id == "S002" and incident.window is None
        history, audit = _rows(incident)
        shot = incident_service.snapshot(incident)
        assert [(h.action, h.by_id, h.reason, h.snapshot) for h in history] == [
            ("proposed", admin.id, "", shot)
        ]
        assert [(a.action, a.user_id, a.before, a.after) for a in audit] == [
            ("incident.proposed", admin.id, None, shot)
        ]
    assert not db.session.scalars(select(Notification)).all()  # a proposal tells the unit nothing
    run_row = db.session.scalars(select(AuditLog).order_by(AuditLog.id.desc())).first()
    assert run_row.action == "detect.run" and run_row.after["proposed"] == 6  # last, after the proposals


def test_confirmed_in_the_same_run_as_confirm_writes_them(clocked):  # noqa: F811
    result = detections.run(2024, 3, confirm=True)
    db.session.commit()
    made = db.session.scalars(select(Incident).where(Incident.source == "detect").order_by(Incident.id)).all()
    assert result["confirmed"] == len(made) == 6
    rule = next(r for r in rulebook_for_month(2024, 3).rules if r.code == "D16")
    for incident in made:
        assert incident.status == IncidentStatus.CONFIRMED
        history, audit = _rows(incident)
        shot = incident_service.snapshot(incident)
        proposed = {**shot, "status": "proposed"}
        assert [(h.action, h.snapshot) for h in history] == [("proposed", proposed), ("confirmed", shot)]
        assert [(a.action, a.before, a.after) for a in audit] == [
            ("incident.proposed", None, proposed),
            ("incident.confirmed", proposed, shot),
        ]
        message = db.session.scalar(
            select(Notification).where(Notification.link == f"/portal/items/{incident.id}")
        )
        day = shot["occurred_at"][:10]
        assert message.unit_id == clocked.id and message.kind == "incident"
        assert message.title == f"新增扣分记录:D16 {rule.title}(3月{int(day[8:])}日)"
    # Every proposal's history and audit rows come before any confirmation's, as one at a time wrote them.
    actions = db.session.scalars(
        select(AuditLog.action).where(AuditLog.action.like("incident.%")).order_by(AuditLog.id)
    ).all()
    assert actions == ["incident.proposed"] * 6 + ["incident.confirmed"] * 6
