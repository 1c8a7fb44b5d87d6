"""The dashboard, the standings page (same numbers as standings_json, each unit's items by htmx) and the
per-staff / per-window tallies."""

from __future__ import annotations

import re
from datetime import datetime

import pytest

from models import IncidentStatus, db
from services import months
from services.standings import standings_json
from tests.html import rows

HX = {"HX-Request": "true"}


def cells(html: str, table_id: str) -> list[list[str]]:
    """The text of every body row's cells of a table."""
    return rows(html, f"table#{table_id}")


@pytest.fixture
def hall(make):
    u1 = make.unit("U01", name="市税务局", windows="1;2")
    u2 = make.unit("U02", name="市社保中心", windows="1")
    make.unit("U03", name="市公安局")
    zhang = make.staff(u1, "S001", name="张三", window="1")
    li = make.staff(u2, "S002", name="李四", window="1")
    make.incident(u1, "D01", at=datetime(2024, 3, 5, 9, 5), staff=zhang, window="1", public_text="迟到五分钟")
    make.incident(u1, "D02c", at=datetime(2024, 3, 6, 9, 0), count=3, staff=zhang)
    make.incident(u2, "D04a", at=datetime(2024, 3, 7, 10, 0), staff=li, window="1")
    make.incident(u2, "B01", at=datetime(2024, 3, 8, 10, 0))
    make.incident(u1, "D03", at=datetime(2024, 2, 8, 10, 0), staff=zhang, window="1")
    make.incident(u1, "D07b", at=datetime(2024, 3, 9, 10, 0), status=IncidentStatus.PROPOSED)
    return {"u1": u1, "u2": u2, "zhang": zhang, "li": li}


def test_dashboard_shows_live_standings_and_what_waits(client, login, hall):
    login("admin")
    html = client.get("/admin/").get_data(as_text=True)
    data = standings_json(2024, 3)
    rows = cells(html, "standings-table")
    assert [r[1].split()[0] for r in rows] == [u["name"] for u in data["units"]]
    for row, unit in zip(rows, data["units"], strict=True):
        assert row[0] == str(unit["rank"]) and row[2] == str(unit["score"])
    assert rows[-1][:3] == ["3", "市税务局 U01", "83"] and "书面通报并要求反馈" in rows[-1][6]
    assert "实时" in html and "进行中(实时)" in html
    # One proposed detection waits, February (last month, with records) should be closed.
    assert re.search(r'stat-inline">1</span> 条检测结果待确认', html)
    assert "2024-02 尚未关账" in html
    assert "/admin/detections?month=2024-03" in html


def test_dashboard_by_role(client, login, hall):
    login("inspector")
    html = client.get("/admin/").get_data(as_text=True)
    assert "待办" not in html and "条检测结果待确认" not in html
    assert "巡查表" in html and "登记扣加分" in html and "/admin/users" not in html
    assert "市税务局" in html


def test_leader_sees_months_to_close_not_detections(client, login, hall):
    login("leader")
    html = client.get("/admin/").get_data(as_text=True)
    assert "2024-02 尚未关账" in html and "检测结果待确认" not in html


def test_closed_months_are_not_asked_to_close(client, login, hall):
    months.close(2024, 2)
    db.session.commit()
    login("admin")
    html = client.get("/admin/").get_data(as_text=True)
    assert "2024-02 尚未关账" not in html and "没有待关账的月份" in html


def test_standings_page_matches_the_json(client, login, hall):
    login("leader")
    html = client.get("/admin/standings?month=2024-03").get_data(as_text=True)
    data = standings_json(2024, 3)
    rows = cells(html, "standings-table")
    rows = [r for r in rows if r]  # the hidden item rows have no cells
    assert len(rows) == len(data["units"]) == 3
    for row, unit in zip(rows, data["units"], strict=True):
        deductions = str(-unit["deductions"])
        bonus = f"+{unit['bonus']}" if unit["bonus"] else "0"
        name = f"{unit['name']} {unit['code']}"
        assert row[:5] == [str(unit["rank"]), name, str(unit["score"]), deductions, bonus]
    assert "细则版本 anshan-2023" in html
    assert '<option value="2024-03" selected>2024-03</option>' in html


def test_standings_items_expand_and_collapse(client, login, hall):
    login("admin")
    url = f"/admin/standings/2024-03/units/{hall['u1'].id}"
    html = client.get(url, headers=HX).get_data(as_text=True)
    assert html.lstrip().startswith(f'<tr id="items-{hall["u1"].id}"')
    assert "D01" in html and "迟到或早退" in html and "张三" in html and "迟到五分钟" in html
    assert "D02c" in html and "-15" in html and "D07b" not in html  # proposed does not count
    folded = client.get(url + "?collapse=1", headers=HX).get_data(as_text=True)
    assert "hidden" in folded and "D01" not in folded


def test_closed_month_items_come_from_the_snapshot(client, login, hall):
    months.close(2024, 2)
    db.session.commit()
    login("admin")
    html = client.get("/admin/standings?month=2024-02").get_data(as_text=True)
    assert "已关账" in html and "尚未关账" not in html
    items = client.get(f"/admin/standings/2024-02/units/{hall['u1'].id}", headers=HX).get_data(as_text=True)
    assert "D03" in items and "-2" in items


BAD_MONTHS = ["2024-13", "abc", "2024-3", "<script>"]


def test_bad_month_shows_this_month_with_a_message(client, login, hall):
    login("admin")
    for month in BAD_MONTHS:
        response = client.get("/admin/standings", query_string={"month": month})
        html = response.get_data(as_text=True)
        assert response.status_code == 200, month
        assert "月份格式应为 YYYY-MM" in html and "考核排名 2024-03" in html and "<script>" not in html, month


def test_items_of_a_bad_month_or_unit_are_404(client, login, hall):
    login("admin")
    assert client.get(f"/admin/standings/2024-99/units/{hall['u1'].id}").status_code == 404
    assert client.get("/admin/standings/2024-03/units/999999").status_code == 404


def test_tallies_by_staff_and_window(client, login, hall):
    login("admin")
    html = client.get("/admin/tallies?year=2024").get_data(as_text=True)
    staff = {r[0]: r for r in cells(html, "tally-staff")}
    zhang = staff["张三(S001)"]
    # Feb: D03 (2); Mar: D01 (2) + D02c ×3 (15). Columns: name, unit, Jan..Dec, total, items.
    assert zhang[1] == "市税务局" and zhang[3] == "2" and zhang[4] == "17"
    assert zhang[14] == "19" and zhang[15] == "3"
    assert staff["李四(S002)"][4] == "3" and staff["李四(S002)"][14] == "3"
    windows = {(r[1], r[0]): r for r in cells(html, "tally-window")}
    # The D02c has no window of its own: it counts against the staff member's window that day.
    assert windows[("市税务局", "1")][14] == "19"
    assert windows[("市社保中心", "1")][14] == "3"
    assert "B01" not in html  # bonuses are not tallied


def test_tallies_of_an_empty_year_and_a_bad_year(client, login, hall):
    login("leader")
    html = client.get("/admin/tallies?year=2023").get_data(as_text=True)
    assert "该年度没有已确认的扣分记录" in html
    html = client.get("/admin/tallies?year=20x4").get_data(as_text=True)
    assert "年份应为" in html and "人员与窗口扣分统计 2024" in html


def test_tallies_of_a_closed_month_keep_its_frozen_points(client, login, hall):
    months.close(2024, 2)
    db.session.commit()
    login("admin")
    html = client.get("/admin/tallies?year=2024").get_data(as_text=True)
    assert {r[0]: r for r in cells(html, "tally-staff")}["张三(S001)"][3] == "2"
