"""Appeals, rectification reports and bonus claims in Chromium, with CSRF on: a unit user on a phone appeals
an item with a photo and claims a bonus; an admin at a desk voids the incident and approves the claim on
the 待处理 page; the unit reads both decisions. Screenshots: requests_portal_phone, requests_admin_desk."""

from __future__ import annotations

import io
from datetime import datetime

import pytest
from PIL import Image
from sqlalchemy import select

from models import Appeal, BonusClaim, Incident, Role, db
from tests.browser.conftest import DESK, login_as, screenshot
from tests.conftest import PASSWORD

PHONE = {"width": 390, "height": 844}


@pytest.fixture
def photo(tmp_path):
    path = tmp_path / "请假单.png"
    out = io.BytesIO()
    Image.new("RGB", (40, 30), (200, 30, 30)).save(out, format="PNG")
    path.write_bytes(out.getvalue())
    return path


def test_a_unit_appeals_and_claims_an_admin_decides(live_server, open_page, make, photo):
    unit = make.unit("U01", name="市税务局")
    incident = make.incident(unit, "D01", at=datetime(2024, 3, 19, 9, 0), public_text="迟到十分钟")
    make.user(Role.UNIT, username="unit-a", unit=unit)
    make.user(Role.ADMIN, username="admin-a")

    phone = open_page(PHONE)
    login_as(phone, live_server, "unit-a", PASSWORD)
    phone.goto(f"{live_server.url}/portal/items/{incident.id}")
    assert "2024-03-25" in phone.text_content("#notice-appeal")
    phone.click("#appeal-button")
    phone.wait_for_url(lambda url: url.endswith("/appeal"))
    phone.fill("textarea[name=reason]", "当日经批准外出培训")
    phone.set_input_files("input[name=evidence]", str(photo))
    phone.click("#appeal-form button[type=submit]")
    phone.wait_for_url(lambda url: "/portal/requests" in url)
    assert "申诉中" in phone.text_content("#appeal-list")

    phone.goto(f"{live_server.url}/portal/claims/new")
    phone.select_option("select[name=rule_code]", "B01")
    phone.fill("input[name=occurred_on]", "2024-03-18")
    phone.fill("textarea[name=description]", "办事群众赠送锦旗一面")
    phone.set_input_files("input[name=evidence]", str(photo))
    phone.click("#claim-form button[type=submit]")
    phone.wait_for_url(lambda url: "/portal/requests" in url)
    assert "待处理" in phone.text_content("#claim-list")
    screenshot(phone, "requests_portal_phone")

    desk = open_page(DESK)
    login_as(desk, live_server, "admin-a", PASSWORD)
    desk.goto(f"{live_server.url}/admin/requests")
    appeal = db.session.scalar(select(Appeal))
    claim = db.session.scalar(select(BonusClaim))
    assert desk.locator(f"#appeal-{appeal.id} .request-files img").count() == 1
    screenshot(desk, "requests_admin_desk")
    form = desk.locator(f"#decide-appeal-{appeal.id}")
    form.locator("input[value=void]").check()
    form.locator("textarea[name=reason]").fill("请假手续齐全")
    form.locator("button[type=submit]").click()
    desk.wait_for_selector("#pending-appeals :text('没有待处理的申诉')")
    claim_form = desk.locator(f"#decide-claim-{claim.id}")
    claim_form.locator("button[type=submit]").click()  # 通过 is the first choice
    desk.wait_for_selector("#pending-claims :text('没有待处理的加分申请')")

    db.session.expire_all()
    assert db.session.get(Incident, incident.id).status == "voided"
    assert db.session.get(BonusClaim, claim.id).status == "approved"
    phone.goto(f"{live_server.url}/portal/requests")
    assert "请假手续齐全" in phone.text_content(f"#appeal-{appeal.id}")
    assert "已通过" in phone.text_content(f"#claim-{claim.id}")
