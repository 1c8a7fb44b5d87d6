"""The D13 (staff turnover) incident names people, not staff ids, wherever the unit and the documents read it:
the letter to the discipline group, the violation notice and the portal's item page. The ids stay in the
detection's evidence, which only admins read."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import select

from models import Incident, Staff, db
from services import detections, months, roster
from tests.conftest import PASSWORD
from tests.html import parse


def turnover_week(make):
    """U01 replaces the holders of its three windows on 12, 13 and 14 February 2024 (one D13 occurrence)."""
    unit = make.unit("U01", name="市不动产登记中心", windows="1;2;3")
    for n, name in ((1, "王一"), (2, "王二"), (3, "王三")):
        make.staff(unit, f"S00{n}", name=name, window=str(n), start=date(2024, 1, 2))
    for n, day, name in (
        (1, date(2024, 2, 12), "李新一"),
        (2, date(2024, 2, 13), "李新二"),
        (3, date(2024, 2, 14), "李新三"),
    ):
        old = db.session.scalar(select(Staff).where(Staff.staff_id == f"S00{n}"))
        roster.end_staff(old, day - timedelta(days=1))
        roster.add_staff(f"N00{n}", name, unit, "W", str(n), day)
    db.session.commit()
    result = detections.run(2024, 2, confirm=True)
    db.session.commit()
    assert result["confirmed"] == 1
    return unit, db.session.scalar(select(Incident).where(Incident.rule_code == "D13"))


IDS = ("S001", "S002", "S003", "N001", "N002", "N003")


def test_the_d13_letter_names_the_people_replaced(app, client, login, make):
    unit, incident = turnover_week(make)
    assert "2024-02-14 窗口 3:王三 → 李新三" in incident.public_text
    # The detection's evidence (admins only) keeps the ids, to find the roster rows.
    assert "2024-02-14 窗口 3:S003 → N003" in incident.detection_reason

    months.close(2024, 2)
    db.session.commit()
    login("admin")
    letter = parse(client.get("/admin/letters/2024-02/discipline_report").text)
    body = letter.text_of("doc-body")
    assert "市不动产登记中心" in body
    assert "2024-02-12 窗口 1:王一 → 李新一" in body and "2024-02-14 窗口 3:王三 → 李新三" in body
    assert not [i for i in IDS if i in body]

    notice = parse(client.get(f"/admin/incidents/{incident.id}/notice").text)
    text = notice.text_of("notice-public-text")
    assert "2024-02-13 窗口 2:王二 → 李新二" in text and not [i for i in IDS if i in text]


def test_the_unit_reads_names_on_its_item_page(app, client, make):
    unit, incident = turnover_week(make)
    make.user("unit", username="unit-d13", unit=unit)
    assert client.post("/login", data={"username": "unit-d13", "password": PASSWORD}).status_code == 302
    page = parse(client.get(f"/portal/items/{incident.id}").text)
    text = page.text_of("item-text")
    assert "2024-02-12 窗口 1:王一 → 李新一" in text and not [i for i in IDS if i in text]
