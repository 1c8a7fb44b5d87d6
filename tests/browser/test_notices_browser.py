"""Notices in Chromium (issue 9 item 1): a unit user on a phone (390×844) opens its notice from the portal
menu, acknowledges it, answers with a photo (htmx-boosted multipart form), and an admin on a desk PC finds it
answered. No CSP error on the way. Screenshots: notice_phone, notice_answered_phone, notice_admin_list."""

from __future__ import annotations

import io
from datetime import datetime

from PIL import Image

from models import db
from services import months
from tests.browser.conftest import DESK, login_as, screenshot
from tests.conftest import PASSWORD

PHONE_TALL = {"width": 390, "height": 844}


def test_a_unit_reads_and_answers_a_notice_and_the_admin_sees_it(live_server, open_page, make, tmp_path):
    unit = make.unit("U01", name="市税务局")
    make.unit("U02", name="市社保中心")
    staff = make.staff(unit, "S001", name="李四", window="1")
    make.incident(
        unit, "D04b", at=datetime(2024, 2, 6, 9, 30), staff=staff, window="1", public_text="屡劝不改玩手机"
    )
    months.close(2024, 2)
    months.publish(2024, 2)
    db.session.commit()
    make.user("unit", username="tax", unit=unit)
    make.user("admin", username="boss")
    photo = tmp_path / "整改照片.png"
    out = io.BytesIO()
    Image.new("RGB", (40, 30), (20, 120, 60)).save(out, format="PNG")
    photo.write_bytes(out.getvalue())

    page = open_page(PHONE_TALL)
    login_as(page, live_server, "tax", PASSWORD)
    page.click("nav.portal-tabs >> text=书面通报")
    page.wait_for_url("**/portal/notices")
    assert "未读" in page.inner_text("tr.notice-row .notice-state")
    page.click("tr.notice-row a")
    page.wait_for_selector("#notice-reasons")
    assert "屡劝不改玩手机" in page.inner_text("#notice-reasons")
    screenshot(page, "notice_phone")

    page.click("#notice-read")
    page.wait_for_selector("#notice-state >> text=已读,待反馈")
    page.fill("textarea[name=text]", "已对李四批评教育,整改照片附后")
    page.set_input_files("input[name=files]", str(photo))
    page.click("#answer-form button[type=submit]")
    page.wait_for_selector("#answer-text")
    assert page.inner_text("#answer-text") == "已对李四批评教育,整改照片附后"
    assert "已反馈" in page.inner_text("#notice-state")
    assert "整改照片.png" in page.inner_text("#notice-answer")
    screenshot(page, "notice_answered_phone")

    desk = open_page(DESK)
    login_as(desk, live_server, "boss", PASSWORD)
    desk.goto(f"{live_server.url}/admin/notices")
    row = desk.inner_text("tr[data-notice]")
    assert "市税务局" in row and "已反馈" in row
    assert desk.inner_text("[data-state='answered'] .count") == "1"
    screenshot(desk, "notice_admin_list")
