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
