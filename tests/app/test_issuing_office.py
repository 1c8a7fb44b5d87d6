"""One issuing office (发文机关) everywhere something is issued: the 公文设置 setting, through
services.documents.issuing_office. The violation notice's preview on the unit's item page once signed as
"<HALL_NAME>管理中心" while the printed notice and the documents signed with the setting."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from models import db
from services import documents, months
from tests.app.test_appeals import sign_in
from tests.html import parse


@pytest.fixture
def hall(app, make):
    unit = make.unit("U01", name="市税务局")
    staff = make.staff(unit, "S001", name="李四", start=date(2024, 1, 1))
    d01 = make.incident(unit, "D01", at=datetime(2024, 2, 6, 9, 30), staff=staff, public_text="迟到")
    d14 = make.incident(unit, "D14", at=datetime(2024, 2, 8, 10, 0), public_text="被点名批评")
    user = make.user("unit", username="unit-o", unit=unit)
    return {"unit": unit, "d01": d01, "d14": d14, "user": user}


def signatures(client, hall) -> dict[str, list[str]]:
    """Every place that names the issuing office, by page."""
    item = parse(client["unit"].get(f"/portal/items/{hall['d01'].id}").text)
    notice = parse(client["unit"].get(f"/portal/items/{hall['d01'].id}/notice").text)
    admin_notice = parse(client["admin"].get(f"/admin/incidents/{hall['d01'].id}/notice").text)
    bulletin = parse(client["admin"].get("/admin/months/2024-02/bulletin").text)
    letter = parse(client["admin"].get("/admin/letters/2024-02/discipline_report").text)
    return {
        "item preview": [item.text_of("notice-issuer"), item.text_of("notice-sign-office")],
        "unit's notice": [notice.text_of(".red-office"), notice.text_of(".sign-office")],
        "admin's notice": [admin_notice.text_of(".red-office"), admin_notice.text_of(".sign-office")],
        "bulletin": [bulletin.text_of(".red-office"), bulletin.text_of(".sign-office")],
        "letter": [letter.text_of(".red-office"), letter.text_of(".sign-office")],
    }


def test_every_document_and_the_notice_preview_sign_with_the_one_office(app, make, hall):
    months.close(2024, 2)
    months.publish(2024, 2)
    db.session.commit()
    clients = {
        "unit": sign_in(app, hall["user"]),
        "admin": sign_in(app, make.user("admin", username="admin-o")),
    }

    assert documents.issuing_office() == documents.DEFAULTS["office"] == "市政务服务中心"
    found = signatures(clients, hall)
    assert {name for names in found.values() for name in names} == {"市政务服务中心"}, found
    preview = clients["unit"].get(f"/portal/items/{hall['d01'].id}").text
    assert "管理中心" not in parse(preview).text_of(f"notice-{hall['d01'].id}")

    # The admin renames the office: every page follows, none keeps the old name or the hall's.
    documents.save_settings("鞍山市政务服务中心", "鞍政服")
    db.session.commit()
    assert documents.issuing_office() == "鞍山市政务服务中心"
    found = signatures(clients, hall)
    assert {name for names in found.values() for name in names} == {"鞍山市政务服务中心"}, found
