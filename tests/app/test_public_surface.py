"""Issue 10 item 16: what is public stays what should be public.

A unit sees nothing of a proposed incident (a detection's candidate an admin has not confirmed): not on its
portal pages, its inbox, its documents and downloads, the API or the hall screen. Nor does anyone outside the
hall's staff see a closed month's results before they are published (portal, documents, API, hall screen);
after publishing, the same places show them (the positive control that the checks look at the right text).
"""

from __future__ import annotations

import io
from datetime import datetime

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from models import IncidentStatus, Notification, db
from services import kiosk, months
from services import standings as standings_service

PROPOSAL_TEXT = "候选记录公开说明甲乙丙"
FEBRUARY_TEXT = "二月已关账记录说明丁戊"


@pytest.fixture(autouse=True)
def fresh_caches(app):
    standings_service._cache.clear()
    kiosk.clear_caches()
    yield
    kiosk.clear_caches()


@pytest.fixture
def hall(make):
    unit = make.unit("U01", name="市税务局")
    make.unit("U02", name="市人社局")
    february = make.incident(unit, "D08", at=datetime(2024, 2, 5, 9, 0), public_text=FEBRUARY_TEXT)  # -3
    months.close(2024, 2)
    db.session.commit()
    proposal = make.incident(
        unit,
        "D08",
        at=datetime(2024, 3, 18, 9, 0),
        status=IncidentStatus.PROPOSED,
        public_text=PROPOSAL_TEXT,
        note="内部备注候选",
    )
    return {"unit": unit, "february": february, "proposal": proposal}


def _text(response) -> str:
    response.close()
    return response.get_data(as_text=True)


def _xlsx_text(data: bytes) -> str:
    book = load_workbook(io.BytesIO(data), read_only=True)
    return "\n".join(
        str(cell) for sheet in book.worksheets for row in sheet.iter_rows(values_only=True) for cell in row
    )


def test_a_unit_sees_nothing_of_a_proposed_incident(client, login, hall):
    login("unit", unit=hall["unit"])
    proposal = hall["proposal"].id
    pages = ("/portal/", "/portal/months/2024-03", "/portal/inbox", "/portal/requests", "/portal/rankings")
    for url in pages:
        response = client.get(url)
        html = _text(response)
        assert response.status_code == 200, url
        assert PROPOSAL_TEXT not in html and "内部备注候选" not in html, url
        assert f"/portal/items/{proposal}" not in html, url
    for url in (
        f"/portal/items/{proposal}",
        f"/portal/items/{proposal}/notice",
        f"/portal/items/{proposal}/notice.pdf",
        f"/portal/items/{proposal}/appeal",
        f"/portal/items/{proposal}/rectified",
    ):
        assert client.get(url).status_code == 404, url
    details = client.get("/portal/months/2024-03/details")
    assert details.status_code == 200 and PROPOSAL_TEXT not in _text(details)
    table = client.get("/portal/months/2024-03/detail.xlsx")
    assert table.status_code == 200 and PROPOSAL_TEXT not in _xlsx_text(table.data)
    # The live score does not count it (100, not 97), in the API and on the hall screen alike.
    api = client.get("/api/standings?month=2024-03").get_json()
    assert {u["code"]: u["score"] for u in api["units"]}["U01"] == 100
    assert PROPOSAL_TEXT not in str(api)
    screen = _text(client.get("/kiosk/"))
    # The score cells, not the whole page: the screen's version tag is a number that may hold "97".
    assert PROPOSAL_TEXT not in screen and 'k-score">97<' not in screen and 'k-score">100<' in screen
    # Nor is the unit notified of it (a notification comes when an admin confirms it).
    links = db.session.scalars(select(Notification.link).where(Notification.unit_id == hall["unit"].id)).all()
    assert f"/portal/items/{proposal}" not in links


def test_once_confirmed_the_same_places_show_it(client, login, hall):
    hall["proposal"].status = IncidentStatus.CONFIRMED
    db.session.commit()
    standings_service._cache.clear()
    login("unit", unit=hall["unit"])
    assert PROPOSAL_TEXT in _text(client.get(f"/portal/items/{hall['proposal'].id}"))
    api = client.get("/api/standings?month=2024-03").get_json()
    assert {u["code"]: u["score"] for u in api["units"]}["U01"] == 97


@pytest.mark.parametrize("who", ["anonymous", "unit"])
def test_a_closed_month_is_not_shown_before_it_is_published(client, login, hall, who):
    if who == "unit":
        login("unit", unit=hall["unit"])
        page = client.get("/portal/months/2024-02")
        html = _text(page)
        assert page.status_code == 200 and FEBRUARY_TEXT not in html and ">97<" not in html
        for url in (
            "/portal/months/2024-02/bulletin",
            "/portal/months/2024-02/bulletin.pdf",
            "/portal/months/2024-02/details",
            "/portal/months/2024-02/details.pdf",
            "/portal/months/2024-02/detail.xlsx",
        ):
            assert client.get(url).status_code == 404, url
        for url in ("/portal/", "/portal/rankings", "/portal/inbox"):
            html = _text(client.get(url))
            assert FEBRUARY_TEXT not in html and "2024年2月考核通报" not in html, url
    api = client.get("/api/standings?month=2024-02")
    assert api.status_code == 403 and "尚未发布" in api.get_json()["error"]
    screen = _text(client.get("/kiosk/"))
    assert "2024年2月" not in screen and FEBRUARY_TEXT not in screen


def test_after_publishing_the_month_is_shown(client, login, hall):
    months.publish(2024, 2)
    db.session.commit()
    kiosk.clear_caches()
    api = client.get("/api/standings?month=2024-02").get_json()
    assert {u["code"]: u["score"] for u in api["units"]}["U01"] == 97
    assert "2024年2月" in _text(client.get("/kiosk/"))
    login("unit", unit=hall["unit"])
    assert client.get("/portal/months/2024-02/bulletin").status_code == 200
    assert FEBRUARY_TEXT in _text(client.get("/portal/months/2024-02"))


@pytest.mark.parametrize("month", ["2024-03", "2024-01"])
def test_the_live_month_and_an_open_earlier_month_answer_without_login(client, hall, month):
    response = client.get(f"/api/standings?month={month}")
    assert response.status_code == 200 and response.get_json()["status"] == "open"
