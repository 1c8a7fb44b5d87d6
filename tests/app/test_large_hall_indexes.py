"""Indexes a large hall needs (bench/pages.py on bench/seed_large.py's 1,000,000 incidents found them).

The schema here is built by the migrations, so this checks the migration as well as the model.
"""

from __future__ import annotations

from sqlalchemy import inspect, select, text

from models import Incident, db


def test_the_records_linked_to_an_incident_are_found_by_index(app, make):
    indexes = inspect(db.engine).get_indexes("incident")
    assert any(ix["column_names"] == ["linked_id"] for ix in indexes), indexes
    if db.engine.dialect.name == "sqlite":
        query = select(Incident.id).where(Incident.linked_id == 1).order_by(Incident.id)
        sql = str(query.compile(db.engine, compile_kwargs={"literal_binds": True}))
        plan = " ".join(str(row) for row in db.session.execute(text(f"EXPLAIN QUERY PLAN {sql}")))
        assert "ix_incident_linked_id" in plan, plan


def test_an_incident_page_still_lists_its_linked_record(login, client, make):
    login("admin")
    unit = make.unit("U01", name="市税务局")
    violation = make.incident(unit, "D02a")
    linked = make.incident(unit, "D15", linked=violation)
    html = client.get(f"/admin/incidents/{violation.id}").get_data(as_text=True)
    assert f'href="/admin/incidents/{linked.id}"' in html


def test_the_audit_filters_list_each_action_and_user_once_in_order(app, make):
    from models import AuditLog
    from services import dashboard

    quiet = make.user("admin", username="quiet")  # never in the log
    busy = make.user("admin", username="busy")
    other = make.user("leader", username="another")
    db.session.query(AuditLog).delete()
    for action, user in [
        ("unit.create", busy),
        ("month.close", other),
        ("unit.create", busy),
        ("incident.created", None),
        ("month.close", busy),
    ]:
        db.session.add(AuditLog(action=action, user_id=user.id if user else None))
    db.session.commit()
    assert dashboard.audit_actions() == ["incident.created", "month.close", "unit.create"]
    assert [u.username for u in dashboard.audit_users()] == ["another", "busy"]
    assert quiet not in dashboard.audit_users()
    indexes = inspect(db.engine).get_indexes("audit_log")
    assert any(ix["column_names"] == ["user_id"] for ix in indexes), indexes


def test_the_audit_filters_of_an_empty_log_are_empty(app):
    from models import AuditLog
    from services import dashboard

    db.session.query(AuditLog).delete()
    db.session.commit()
    assert dashboard.audit_actions() == []
    assert dashboard.audit_users() == []
