"""An imported D15 with no unique violation waits unlinked; its page marks it 待关联 and leads to the fix."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from models import Incident, db
from services.imports import import_file
from tests.html import parse

HEADER = "occurred_at,unit_code,rule_code,staff_id,count,note,deadline,rectified_on,exempt"


def _pending_d15(make) -> Incident:
    make.unit("U01", name="市税务局", windows="1;2")
    import_file("incidents", "i.csv", f"{HEADER}\n2024-03-05 10:20,U01,D15,,1,,,,\n".encode())
    db.session.commit()
    return db.session.scalar(select(Incident).where(Incident.rule_code == "D15"))


def test_the_incident_page_marks_an_unlinked_d15_and_links_to_the_correction(client, login, make):
    d15 = _pending_d15(make)
    login("admin")
    page = parse(client.get(f"/admin/incidents/{d15.id}").get_data(as_text=True))
    pending = page.by_id("incident-pending-link")
    assert "待关联" in pending.text
    assert pending.one("a").get("href") == f"/admin/incidents/{d15.id}/correct"


def test_a_linked_d15_is_not_marked_pending(client, login, make):
    d15 = _pending_d15(make)
    violation = make.incident(d15.unit, "D03", at=datetime(2024, 3, 5, 10, 20))
    d15.linked_id = violation.id
    db.session.commit()
    login("admin")
    page = parse(client.get(f"/admin/incidents/{d15.id}").get_data(as_text=True))
    assert not page.has("#incident-pending-link")


def test_an_inspector_sees_the_mark_without_the_admin_link(client, login, make):
    d15 = _pending_d15(make)
    login("inspector")
    page = parse(client.get(f"/admin/incidents/{d15.id}").get_data(as_text=True))
    pending = page.by_id("incident-pending-link")
    assert "待关联" in pending.text and not pending.has("a")
