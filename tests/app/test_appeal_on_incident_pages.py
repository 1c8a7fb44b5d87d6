"""An incident's appeal stays readable on the incident's own pages (the admin incident page and the unit's
portal item page) before and after the decision: the reason, the evidence photos and the decision."""

from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import select

from models import Appeal, Role, db
from tests.app.test_appeals import PNG, post_appeal, sign_in
from tests.html import parse


@pytest.fixture
def hall(app, make):
    mine = make.unit("U01", name="市税务局")
    staff = make.staff(mine, "S001", name="李四")
    d01 = make.incident(mine, "D01", at=datetime(2024, 3, 19, 9, 0), staff=staff, public_text="迟到十分钟")
    return {
        "d01": d01,
        "unit": sign_in(app, make.user(Role.UNIT, username="unit-a", unit=mine)),
        "admin": sign_in(app, make.user(Role.ADMIN, username="admin-a")),
    }


def appeal_block(client, url: str):
    page = parse(client.get(url).text)
    return page, page.by_id("appeal-detail")


def photo_links(block) -> list[str]:
    return [a.get("href") for a in block.all("a")]


@pytest.mark.parametrize("outcome, badge", [("void", "申诉成立 · 已作废"), ("uphold", "申诉未获支持 · 维持")])
def test_the_appeal_its_photos_and_the_decision_stay_on_the_incident_pages(app, hall, outcome, badge):
    incident = hall["d01"]
    files = ((PNG, "请假单.png"), (PNG, "培训通知.png"))
    assert post_appeal(hall["unit"], incident.id, reason="当日经批准外出培训", files=files).status_code == 302
    appeal = db.session.scalar(select(Appeal))
    urls = sorted(f"/admin/requests/files/{f.id}" for f in appeal.files)
    assert len(urls) == 2
    pages = {"admin": f"/admin/incidents/{incident.id}", "unit": f"/portal/items/{incident.id}"}

    for who, url in pages.items():  # while it waits
        page, block = appeal_block(hall[who], url)
        assert "申诉理由:当日经批准外出培训" in block.text
        assert sorted(photo_links(block)) == urls, who
        assert [img.get("alt") for img in block.all("img")] == ["请假单.png", "培训通知.png"]
        assert "申诉材料(2)" in block.text

    decided = hall["admin"].post(
        f"/admin/requests/appeals/{appeal.id}/decide", data={"decision": outcome, "reason": "经核实作出决定"}
    )
    assert decided.status_code == 302
    db.session.expire_all()

    for who, url in pages.items():  # after the decision: nothing of it is lost
        page, block = appeal_block(hall[who], url)
        assert set(page.texts(".appeal-state")) == {badge}, who
        assert "申诉理由:当日经批准外出培训" in block.text
        assert "处理意见:经核实作出决定" in block.text
        assert sorted(photo_links(block)) == urls, who
    # The photos are the unit's own to open, and the admin's.
    for who in ("unit", "admin"):
        assert hall[who].get(urls[0]).data == PNG


def test_an_appeal_without_photos_says_so(app, hall):
    incident = hall["d01"]
    assert post_appeal(hall["unit"], incident.id, files=()).status_code == 302
    _page, block = appeal_block(hall["unit"], f"/portal/items/{incident.id}")
    assert "申诉材料:无" in block.text and not block.all("img")
