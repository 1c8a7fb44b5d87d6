"""Issue 10 item 15: no typed text renders as HTML, in a page, a document (the HTML a PDF is made from), an
htmx fragment or the hall screen.

Markup is typed as a unit name, a staff name, an incident's note and public text, a unit's notice answer and
appeal reason; every page that shows them is read back: the markup is never there raw, and it is there
escaped on the pages that show that text (the positive control that each page was looked at). The source
audit is kept too: `|safe`, `Markup(` and `render_template_string` appear only where reviewed.
"""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path

import pytest
from markupsafe import escape
from sqlalchemy import select

from models import IncidentStatus, db
from models.notice import Notice
from services import appeals, kiosk, months, notices
from services import standings as standings_service

SCRIPT = "<script>alert(1)</script>"
IMG = "<img src=x onerror=alert(2)>"
UNIT_NAME = f"税务局{SCRIPT}"
STAFF_NAME = f"张{IMG}"
NOTE = f"内部{SCRIPT}备注"
PUBLIC = f"公开{IMG}说明"
ANSWER = f"已整改{SCRIPT}答复"
REASON = f"申诉{IMG}理由"
RAW = (SCRIPT, IMG, "<script>", "<img src=x")
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def fresh_caches(app):
    standings_service._cache.clear()
    kiosk.clear_caches()
    yield
    kiosk.clear_caches()


@pytest.fixture
def hall(make):
    unit = make.unit("U01", name=UNIT_NAME)
    staff = make.staff(unit, "S001", name=STAFF_NAME)
    february = make.incident(
        unit, "D04b", at=datetime(2024, 2, 6, 9, 30), staff=staff, window="1", public_text=PUBLIC, note=NOTE
    )
    months.close(2024, 2)
    months.publish(2024, 2)
    db.session.commit()
    notice = db.session.scalar(select(Notice).where(Notice.unit_id == unit.id))
    notices.answer(notice, ANSWER, [])
    march = make.incident(
        unit, "D01", at=datetime(2024, 3, 19, 9, 0), staff=staff, window="1", public_text=PUBLIC, note=NOTE
    )
    appeals.submit(march, unit, REASON, [])
    proposal = make.incident(
        unit, "D01", at=datetime(2024, 3, 18, 9, 0), staff=staff, status=IncidentStatus.PROPOSED, note=NOTE
    )
    db.session.commit()
    return {
        "unit": unit,
        "staff": staff,
        "february": february,
        "march": march,
        "notice": notice,
        "p": proposal,
    }


def escaped(text: str) -> str:
    return str(escape(text))


def read(client, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    response.close()
    return response.get_data(as_text=True)


def check(html: str, url: str, shows: tuple[str, ...]) -> None:
    for raw in RAW:
        assert raw not in html, (url, raw)
    for text in shows:
        assert escaped(text) in html, (url, text)


def admin_pages(hall) -> dict[str, tuple[str, ...]]:
    m, f, n, s = hall["march"].id, hall["february"].id, hall["notice"].id, hall["staff"].id
    u = hall["unit"].id
    return {
        "/admin/": (),
        "/admin/standings": (UNIT_NAME,),
        f"/admin/standings/2024-03/units/{u}": (UNIT_NAME, PUBLIC),
        "/admin/incidents?month=2024-03": (UNIT_NAME, STAFF_NAME),
        f"/admin/incidents/{m}": (UNIT_NAME, STAFF_NAME, NOTE, PUBLIC),
        f"/admin/incidents/{hall['p'].id}": (UNIT_NAME, NOTE),
        f"/admin/incidents/{m}/notice": (UNIT_NAME, PUBLIC),
        f"/admin/incidents/{f}/correct": (),
        "/admin/detections?month=2024-03": (),
        "/admin/units": (UNIT_NAME,),
        "/admin/staff": (STAFF_NAME,),
        f"/admin/staff/{s}": (STAFF_NAME,),
        "/admin/tallies": (),
        "/admin/years/2024": (UNIT_NAME,),
        "/admin/years/2024/document": (UNIT_NAME,),
        "/admin/months": (),
        "/admin/months/2024-02/bulletin": (UNIT_NAME,),
        "/admin/months/2024-02/details": (UNIT_NAME, PUBLIC),
        "/admin/months/2024-02/receipts": (UNIT_NAME,),
        "/admin/requests": (UNIT_NAME, REASON),
        "/admin/notices": (UNIT_NAME,),
        f"/admin/notices/{n}": (UNIT_NAME, ANSWER),
        f"/admin/notices/{n}/document": (UNIT_NAME,),
        "/admin/letters": (),
        "/admin/audit": (),
        "/admin/patrol?date=2024-03-19": (UNIT_NAME,),
        "/admin/kiosk": (),
    }


def test_admin_pages_and_documents_escape_typed_text(client, login, hall):
    login("admin")
    for url, shows in admin_pages(hall).items():
        check(read(client, url), url, shows)


def test_htmx_fragments_escape_typed_text(client, login, hall):
    login("admin")
    headers = {"HX-Request": "true"}
    for url, shows in (
        ("/admin/incidents?month=2024-03", (UNIT_NAME, STAFF_NAME)),
        ("/admin/notices", (UNIT_NAME,)),
        ("/admin/audit", ()),
    ):
        response = client.get(url, headers=headers)
        assert response.status_code == 200, url
        check(response.get_data(as_text=True), url, shows)
    record = client.get(
        "/admin/patrol/record",
        query_string={"unit_id": hall["unit"].id, "window": "1", "rule_code": "D01", "date": "2024-03-19"},
        headers=headers,
    )
    check(record.get_data(as_text=True), "patrol record", ())


def test_portal_pages_and_documents_escape_typed_text(client, login, hall):
    login("unit", unit=hall["unit"])
    m, n = hall["march"].id, hall["notice"].id
    for url, shows in {
        "/portal/": (UNIT_NAME,),
        "/portal/months/2024-03": (PUBLIC,),
        "/portal/months/2024-02": (PUBLIC,),
        f"/portal/items/{m}": (PUBLIC, STAFF_NAME),
        f"/portal/items/{m}/notice": (UNIT_NAME, PUBLIC),
        "/portal/requests": (REASON,),
        "/portal/notices": (),
        f"/portal/notices/{n}": (ANSWER,),
        "/portal/inbox": (),
        "/portal/rankings": (UNIT_NAME,),
        "/portal/months/2024-02/bulletin": (UNIT_NAME,),
        "/portal/months/2024-02/details": (UNIT_NAME, PUBLIC),
    }.items():
        html = read(client, url)
        check(html, url, shows)
        assert NOTE not in html and escaped(NOTE) not in html, url  # the internal note is not the unit's


def test_the_hall_screen_escapes_typed_text(client, hall):
    html = read(client, "/kiosk/")
    check(html, "/kiosk/", (UNIT_NAME,))
    version = client.get("/kiosk/live").headers["X-Kiosk-Version"]
    fragment = client.get(f"/kiosk/live?v=old-{version}")
    check(fragment.get_data(as_text=True), "/kiosk/live", (UNIT_NAME,))


def test_the_json_api_carries_text_not_markup_to_render(client, hall):
    data = client.get("/api/standings?month=2024-03").get_json()
    assert UNIT_NAME in [u["name"] for u in data["units"]]  # data, as typed: the client must escape it


REVIEWED = {
    # file: what may appear there, and why it is safe
    "admin/patrol.py": "Markup(",  # our own rendered template (record panel), escaped when rendered
    "services/charts.py": "Markup(",  # the SVG chart: every label and title passes through escape()
    "kiosk/views.py": "Markup(",  # the screen's own fragment (its template), escaped when rendered
    "ui.py": "Markup(",  # the templates' _(): a translation (our catalog) with its variables escaped
    "admin/exports.py": "Markup(",  # our own template (the year's units table), escaped when rendered
}


def test_no_unreviewed_raw_html():
    found = []
    for path in ROOT.rglob("*"):
        rel = path.relative_to(ROOT).as_posix()
        if rel.startswith((".venv/", "tests/", "bench/", ".git/")) or path.suffix not in (".py", ".html"):
            continue
        text = path.read_text(encoding="utf-8")
        for pattern in ("|safe", "Markup(", "render_template_string", "autoescape false", "|unescape"):
            for _match in re.finditer(re.escape(pattern), text):
                if REVIEWED.get(rel) != pattern:
                    found.append(f"{rel}: {pattern}")
    assert found == []
