"""The unit portal in Chromium: a unit user on a phone (375×667) sees its items and its trend chart, opens an
item, and gets the 404 page for another unit's item; the same portal on a desk PC. Screenshots go to
tests/screenshots/ (portal_phone, portal_trend, portal_item_phone, portal_desk)."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from models import db
from services import months
from services.standings import standings
from tests.browser.conftest import DESK, PHONE, SCREENSHOTS, login_as, screenshot
from tests.conftest import PASSWORD


@pytest.fixture
def portal_data(make):
    """Five units and half a year of items, so the ranking and the trend have something to show."""
    units = [
        make.unit(f"U0{i}", name=name)
        for i, name in enumerate(
            ["市税务局", "市社保中心", "市公安局出入境", "市不动产登记中心", "市市场监管局"], start=1
        )
    ]
    mine = units[0]
    li = make.staff(mine, "S001", name="李四", window="1")
    zhao = make.staff(mine, "S002", name="赵敏", window="2", start=date(2023, 6, 1))
    patterns = [
        ["D01", "B01"],
        ["D02a", "D03"],
        ["D07b"],
        ["B03"],
        ["D04a", "D01", "D05a"],
        ["D01"],
        ["D03", "D03", "B06"],
        [],
        ["D02b", "D01"],
        ["B01", "B03"],
        ["D07a"],
    ]
    history = {}  # month -> rule codes of the unit's items: 2023-04 .. 2024-02, then March is live
    for n, codes in enumerate(patterns):
        history[(2023 + (3 + n) // 12, (3 + n) % 12 + 1)] = codes
    for (y, m), codes in history.items():
        for day, code in enumerate(codes, start=20):  # the first rulebook took effect on 2023-04-19
            make.incident(mine, code, at=datetime(y, m, day, 9, 30))
        for i, other in enumerate(units[1:], start=1):
            if (m + i) % 3 == 0:
                make.incident(other, "D03", at=datetime(y, m, 25, 10, 0), count=i)
        months.close(y, m)
        if (y, m) != (2024, 2):
            months.publish(y, m)
    db.session.commit()
    late = make.incident(
        mine,
        "D01",
        at=datetime(2024, 3, 4, 8, 41),
        staff=li,
        window="1",
        note="内部备注:第二次",
        public_text="08:41 才到窗口,迟到 11 分钟",
    )
    make.incident(
        mine,
        "D02c",
        at=datetime(2024, 3, 6, 9, 0),
        staff=zhao,
        window="2",
        count=3,
        public_text="全天未到岗且未请假",
    )
    make.incident(mine, "B01", at=datetime(2024, 3, 12, 16, 0), public_text="收到办事群众赠送的锦旗一面")
    other_item = make.incident(units[1], "D04a", at=datetime(2024, 3, 8, 10, 0), public_text="别家的记录")
    user = make.user("unit", username="shuiwu", unit=mine)
    return {"mine": mine, "late": late, "other_item": other_item, "user": user}


def no_horizontal_scroll(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")


def test_portal_on_a_phone(live_server, open_page, portal_data):
    page = open_page(PHONE)
    login_as(page, live_server, "shuiwu", PASSWORD)
    page.wait_for_url("**/portal/")  # the login lands a unit user on its portal
    expected = standings(2024, 3).unit("U01")
    assert page.locator("#unit-score").inner_text().strip() == str(expected.score)
    assert page.locator("#unit-rank").inner_text().strip() == f"第 {expected.rank} 名 / 共 5 个单位"
    assert page.locator(".live-mark").is_visible()
    table = page.locator("#deductions-table")
    assert table.is_visible()
    assert "08:41 才到窗口" in table.inner_text() and "李四" in table.inner_text()
    assert "内部备注" not in page.content()
    assert no_horizontal_scroll(page)
    screenshot(page, "portal_phone")
    page.screenshot(path=str(SCREENSHOTS / "portal_phone_full.png"), full_page=True)

    chart = page.locator("#trend-score")
    chart.scroll_into_view_if_needed()
    assert chart.is_visible() and page.locator("#trend-rank").is_visible()
    # 2023-04 .. 2024-03 but February: closed, not published, so a gap in the line.
    assert page.locator("#trend-score circle.point").count() == 11
    box = chart.bounding_box()
    assert box and box["width"] > 300 and box["height"] > 150
    page.locator("#trend").screenshot(path=str(SCREENSHOTS / "portal_trend.png"))

    # Open the item: a tap on its rule.
    page.locator(f'a[href="/portal/items/{portal_data["late"].id}"]').click()
    page.wait_for_url(f"**/portal/items/{portal_data['late'].id}")
    assert page.locator("#item-time").inner_text().strip() == "2024-03-04 08:41"
    assert page.locator("#item-staff").inner_text().strip() == "李四"
    assert "以任何借口提前离开窗口的" in page.locator("#item-rule").inner_text()
    assert page.locator("#item-notice a.btn").is_visible()
    assert no_horizontal_scroll(page)
    screenshot(page, "portal_item_phone")

    # Its printable notice: the public text, never the internal note.
    page.locator("#item-notice a.btn").click()
    page.wait_for_url(f"**/portal/items/{portal_data['late'].id}/notice")
    assert "迟到 11 分钟" in page.locator("#notice-public-text").inner_text()
    assert "内部备注" not in page.content()
    screenshot(page, "portal_notice_phone")

    # Typing another unit's item URL: the 404 page, and none of its content.
    response = page.goto(f"{live_server.url}/portal/items/{portal_data['other_item'].id}")
    assert response.status == 404
    assert "未找到" in page.locator("h1").inner_text()
    assert "别家的记录" not in page.content()


def test_portal_on_a_desk_pc(live_server, open_page, portal_data):
    page = open_page(DESK)
    login_as(page, live_server, "shuiwu", PASSWORD)
    page.wait_for_url("**/portal/")
    assert page.locator("#trend-score").is_visible() and page.locator("#trend-rank").is_visible()
    months_rows = page.locator("tr.month-row")
    assert months_rows.count() == 12
    assert no_horizontal_scroll(page)
    screenshot(page, "portal_desk")
    page.locator("#trend").screenshot(path=str(SCREENSHOTS / "portal_desk_trend.png"))
    # The months list opens a past month; the public rankings show every unit, no one else's items.
    # February is closed but not published: 待发布, no link; January opens.
    feb_row = page.locator('tr.month-row[data-month="2024-02"]')
    assert "待发布" in feb_row.inner_text() and feb_row.locator("a").count() == 0
    page.locator('tr.month-row[data-month="2024-01"] a.item-link').click()
    page.wait_for_url("**/portal/months/2024-01")
    assert page.locator("#unit-score").inner_text().strip() == str(standings(2024, 1).unit("U01").score)
    page.goto(f"{live_server.url}/portal/months/2024-02")
    assert "该月考核结果尚未发布" in page.locator("#month-pending").inner_text()
    screenshot(page, "portal_month_pending_desk")
    page.goto(f"{live_server.url}/portal/months/2024-01")
    page.locator(".portal-tabs a", has_text="排名公告").click()
    page.wait_for_url("**/portal/rankings")
    assert page.locator("#rankings-table tbody tr").count() == 5
    assert page.locator("#rankings-table tr.mine").count() == 1
    assert "别家的记录" not in page.content()
    page.select_option("select[name=month]", "2024-01")
    page.wait_for_url("**/portal/rankings?month=2024-01")
    assert "2024年1月" in page.locator("#rankings h2").inner_text()
    screenshot(page, "portal_rankings_desk")
