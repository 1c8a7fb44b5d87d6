"""The inbox in Chromium (issue 9 item 10): a unit user on a phone (390×844) sees the unread count in the
header, opens the inbox, follows the published bulletin's notification to the month (its read receipt),
marks the rest read; a leader on a desk PC sees the unit as read on the bulletin's receipts. No CSP error
on the way. Screenshots: inbox_phone, inbox_receipts."""

from __future__ import annotations

from datetime import datetime

from models import db
from services import months
from tests.browser.conftest import DESK, login_as, screenshot
from tests.conftest import PASSWORD

PHONE_TALL = {"width": 390, "height": 844}


def test_a_unit_reads_its_inbox_and_the_leader_sees_the_receipt(live_server, open_page, make):
    unit = make.unit("U01", name="市税务局")
    make.unit("U02", name="市社保中心")
    make.incident(unit, "D01", at=datetime(2024, 2, 6, 9, 30), public_text="迟到五分钟")
    months.close(2024, 2)
    months.publish(2024, 2)
    db.session.commit()
    make.incident(unit, "D04a", at=datetime(2024, 3, 19, 9, 30))
    make.user("unit", username="tax", unit=unit)
    make.user("leader", username="chief")

    page = open_page(PHONE_TALL)
    login_as(page, live_server, "tax", PASSWORD)
    page.wait_for_selector("#inbox-unread")
    assert page.inner_text("#inbox-unread") == "3"
    page.click("#inbox-nav")
    page.wait_for_url("**/portal/inbox")
    rows = page.locator("#inbox-list li")
    assert rows.count() == 3
    assert "新增扣分记录:D04a" in rows.nth(0).inner_text()  # newest first
    assert "未读" in rows.nth(0).inner_text()
    screenshot(page, "inbox_phone")

    page.click("#inbox-list li[data-kind=bulletin] a")
    page.wait_for_url("**/portal/months/2024-02")
    assert page.inner_text("#inbox-unread") == "2"
    page.goto(f"{live_server.url}/portal/inbox")
    page.click(".inbox-read-all button")
    page.wait_for_selector("text=已将 2 条消息标为已读")
    assert page.locator("#inbox-unread").count() == 0
    assert page.locator("#inbox-list li.read").count() == 3

    desk = open_page(DESK)
    login_as(desk, live_server, "chief", PASSWORD)
    desk.goto(f"{live_server.url}/admin/months/2024-02/receipts")
    assert "已读 1 个,未读 1 个" in desk.inner_text("#receipts-summary")
    assert desk.inner_text("#receipts-unread") == "市社保中心"
    assert "tax" in desk.inner_text("#receipts-table tr[data-unit=U01]")
    screenshot(desk, "inbox_receipts")
