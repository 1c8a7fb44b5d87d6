"""The admin intranet in Chromium at desk size: the dashboard; detections run in the background for a
month with missing clock-ins, one confirmed by htmx; a month closed and published; the standings with a
unit's items unfolded; the calendar; an import preview with a bad row; the rulebook page. Screenshots go to
tests/screenshots/ (dashboard, detections_queue, months, standings, calendar, import_preview, rulebook)."""

from __future__ import annotations

import re
from datetime import date, datetime

import pytest
from playwright.sync_api import expect

from models import CalendarDay, ClockPunch, Incident, IncidentStatus, Month, MonthStatus, db
from services.clock import from_hall
from services.standings import standings_json
from tests.browser.conftest import DESK, login_as, screenshot
from tests.conftest import PASSWORD

STAFF_CSV = (
    "staff_id,name,unit_code,category,window,start_date,end_date\n"
    "S101,孙八,U01,W,2,2024-03-01,\n"
    "S102,周九,U09,W,1,2024-03-01,\n"
    "S103,吴十,U02,X,1,2024-03-32,\n"
)


@pytest.fixture
def hall(make):
    names = ["市税务局", "市社保中心", "市公安局出入境", "市不动产登记中心", "市市场监管局"]
    units = [make.unit(f"U0{i}", name=name, windows="1;2;3") for i, name in enumerate(names, start=1)]
    zhang = make.staff(units[0], "S001", name="张三", window="1")
    make.staff(units[1], "C001", name="赵六", category="C", window=None, start=date(2024, 3, 18))
    make.staff(units[2], "C002", name="钱七", category="C", window=None, start=date(2024, 3, 18))
    for staff_id in ("C001", "C002"):
        for at in (datetime(2024, 3, 18, 8, 27), datetime(2024, 3, 18, 16, 58), datetime(2024, 3, 19, 8, 29)):
            db.session.add(ClockPunch(staff_id=staff_id, punched_at=from_hall(at)))
    db.session.add(CalendarDay(day=date(2024, 4, 4), kind="holiday", note="清明节"))
    db.session.commit()
    make.incident(
        units[0],
        "D01",
        at=datetime(2024, 3, 5, 8, 41),
        staff=zhang,
        window="1",
        public_text="08:41 才到窗口,迟到 11 分钟",
    )
    make.incident(units[0], "D02c", at=datetime(2024, 3, 6, 9, 0), staff=zhang, window="1", count=3)
    make.incident(units[3], "D07a", at=datetime(2024, 3, 7, 10, 0))
    make.incident(units[4], "B01", at=datetime(2024, 3, 8, 15, 0), public_text="收到锦旗一面")
    make.incident(units[1], "D03", at=datetime(2024, 2, 8, 10, 0))
    make.incident(units[2], "D04a", at=datetime(2024, 2, 9, 10, 0))
    make.user("admin", username="admin", unit=None)
    return units


def test_admin_flow(live_server, open_page, hall):
    page = open_page(DESK)
    page.on("dialog", lambda dialog: dialog.accept())
    login_as(page, live_server, "admin", PASSWORD)
    page.wait_for_url("**/admin/")

    # Dashboard: the live ranking, in the same order as the JSON, and what waits.
    expected = [u["name"] for u in standings_json(2024, 3)["units"]]
    rows = page.locator("#standings-table tbody tr")
    assert [rows.nth(i).locator("td").nth(1).inner_text().split()[0] for i in range(rows.count())] == expected
    assert "2024-02 尚未关账" in page.locator("#waiting").inner_text()
    screenshot(page, "dashboard")

    # Detections: run for March in the background; the page polls the job until it is done.
    page.goto(f"{live_server.url}/admin/detections?month=2024-03")
    page.click("#run-detect")
    page.wait_for_selector("#job-result", timeout=20_000)
    assert "新增 4 条待确认" in page.locator("#job-result").inner_text()
    assert page.locator("#detection-table tbody tr").count() == 4
    assert page.locator("#pending-count").inner_text() == "4"
    screenshot(page, "detections_queue")
    first = page.locator("#detection-table tbody tr").first
    row_id = first.get_attribute("id")
    first.get_by_role("button", name="确认").click()
    # (No wait_for_function: it evaluates a string, which the Content-Security-Policy rightly refuses.)
    expect(page.locator(f"#{row_id}")).to_have_class(re.compile("det-confirmed"))
    expect(page.locator("#pending-count")).to_have_text("3")
    assert "已确认" in page.locator(f"#{row_id}").inner_text()
    confirmed = db.session.get(Incident, int(row_id.split("-")[1]))
    db.session.refresh(confirmed)
    assert confirmed.status == IncidentStatus.CONFIRMED

    # Months: close February, then publish it (each asks for confirmation, accepted above).
    page.goto(f"{live_server.url}/admin/months")
    page.locator("#month-2024-02").get_by_role("button", name="关账").click()
    page.wait_for_selector("text=2024-02 已关账,成绩已冻结")
    page.locator("#month-2024-02").get_by_role("button", name="发布").click()
    page.wait_for_selector("text=2024-02 的月度考核通报已发布")
    assert "已发布" in page.locator("#month-2024-02").inner_text()
    db.session.expire_all()
    assert db.session.query(Month).filter_by(year=2024, month=2).one().status == MonthStatus.PUBLISHED
    screenshot(page, "months")

    # Standings: March, live, with the tax office's items unfolded.
    page.goto(f"{live_server.url}/admin/standings?month=2024-03")
    tax = page.locator("#standings-table tbody tr[data-unit=U01]")
    tax.get_by_role("button").click()
    page.wait_for_selector(".items-row:not([hidden]) >> text=迟到或早退")
    assert "迟到 11 分钟" in page.locator(".items-row:not([hidden])").inner_text()
    screenshot(page, "standings")

    # Calendar: April with Qingming marked; make Saturday 6 April a make-up working day.
    page.goto(f"{live_server.url}/admin/calendar?year=2024&month=4")
    cell = page.locator("#day-2024-04-06")
    cell.locator("input[name=note]").fill("清明调休")
    cell.get_by_role("button", name="设为调休上班").click()
    page.wait_for_selector("#day-2024-04-06.mark-workday")
    assert db.session.get(CalendarDay, date(2024, 4, 6)).kind == "workday"
    screenshot(page, "calendar")

    # Import: a staff file with bad rows is previewed with every problem, and nothing is written.
    page.goto(f"{live_server.url}/admin/import")
    page.select_option("select[name=kind]", "staff")
    page.set_input_files(
        "input[name=file]",
        files=[{"name": "名册.csv", "mimeType": "text/csv", "buffer": STAFF_CSV.encode("utf-8")}],
    )
    page.get_by_role("button", name="上传并预览").click()
    page.wait_for_selector("#bad-rows")
    bad = page.locator("#bad-rows").inner_text()
    assert "U09" in bad and "2024-03-32" in bad
    assert page.locator("#confirm-import").count() == 0
    screenshot(page, "import_preview")

    # The rulebook, readable by everyone on staff.
    page.goto(f"{live_server.url}/admin/rulebooks/anshan-2023")
    assert "修改细则从不改变过去" in page.inner_text("main")
    screenshot(page, "rulebook")
