"""Trial-user fixes in Chromium: a standings unit page opened directly has the whole layout, and the audit
log reads in Chinese. Screenshots: standings_unit_direct, audit_chinese."""

from __future__ import annotations

from datetime import datetime

from playwright.sync_api import expect

from models import db
from services import incidents, months
from tests.browser.conftest import DESK, login_as, screenshot
from tests.conftest import PASSWORD


def test_unit_page_and_audit_log(live_server, open_page, make):
    unit = make.unit("U01", name="市税务局", windows="1;2")
    make.unit("U02", name="市社保中心", windows="1")
    make.incident(unit, "D01", at=datetime(2024, 3, 5, 9, 0), public_text="迟到五分钟")
    voided = make.incident(unit, "D03", at=datetime(2024, 2, 8, 10, 0))
    incidents.void(voided, "重复登记")
    months.close(2024, 2)
    make.user("admin", username="admin", unit=None)
    db.session.commit()
    page = open_page(DESK)
    login_as(page, live_server, "admin", PASSWORD)
    page.goto(f"{live_server.url}/admin/standings/2024-03/units/{unit.id}")
    expect(page.locator("h1")).to_contain_text("考核排名 2024-03")
    expect(page.locator("#unit-items")).to_contain_text("迟到五分钟")
    screenshot(page, "standings_unit_direct")
    page.goto(f"{live_server.url}/admin/audit")
    expect(page.locator("#audit-table")).to_contain_text("作废扣加分")
    expect(page.locator("#audit-table")).to_contain_text("已确认")
    screenshot(page, "audit_chinese")
