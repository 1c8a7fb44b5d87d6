"""The dashboard, the standings page (same numbers as standings_json, each unit's items by htmx) and the
per-staff / per-window tallies."""

from __future__ import annotations

import re
from datetime import date, datetime

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
    assert "tally-window" not in html  # one table at a time; the other is a link
    html = client.get("/admin/tallies?year=2024&by=window").get_data(as_text=True)
    windows = {(r[1], r[0]): r for r in cells(html, "tally-window")}
    # The D02c has no window of its own: it counts against the staff member's window that day.
    assert windows[("市税务局", "1")][14] == "19"
    assert windows[("市社保中心", "1")][14] == "3"
    assert "B01" not in html  # bonuses are not tallied


def test_tallies_are_paged_most_points_first(client, login, make):
    """50 rows a page; a page past the last shows the last; the htmx pager swaps the table alone."""
    from datetime import datetime

    unit = make.unit("P01", name="分页单位")
    for n in range(53):
        person = make.staff(unit, f"P{n:03d}", name=f"人员{n:03d}")
        for _ in range(1 + n % 3):
            make.incident(unit, "D01", at=datetime(2024, 3, 4, 9, 0), staff=person)
    login("admin")
    first = cells(client.get("/admin/tallies?year=2024").get_data(as_text=True), "tally-staff")
    totals = [int(r[14]) for r in first]
    assert len(first) == 50 and totals == sorted(totals, reverse=True) and totals[0] == 6
    last = client.get("/admin/tallies?year=2024&page=9").get_data(as_text=True)
    rows = cells(last, "tally-staff")
    assert len(rows) == 3 and "第 51–53 条,共 53 条" in last
    assert {r[0] for r in rows}.isdisjoint({r[0] for r in first})
    fragment = client.get("/admin/tallies?year=2024&page=2", headers={"HX-Request": "true"})
    text = fragment.get_data(as_text=True)
    assert text.lstrip().startswith('<section class="card" id="tallies">') and "<html" not in text


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


@pytest.fixture
def busy_year(make):
    """A year with what the tallies must attribute exactly: posting changes within the year (a new window,
    a move to another unit, a first posting mid-year), incidents either side of a hall-time midnight and
    month end, exempt and counted D06, bonuses, voided and proposed incidents, an overdue D19a, incidents
    without staff or without a window, an inactive unit, and a closed (frozen) January."""
    from models import Posting
    from services import incidents

    u1 = make.unit("U01", name="甲局", windows="1;2;3")
    u2 = make.unit("U02", name="乙中心", windows="1;2")
    gone = make.unit("U09", name="停用单位", windows="1")
    a = make.staff(u1, "A01", name="甲一", window="1", end=date(2024, 2, 14))
    a.postings.append(Posting(unit=u1, category="W", window="2", start_date=date(2024, 2, 15)))
    b = make.staff(u2, "B01", name="乙一", window="1", end=date(2024, 2, 29))
    b.postings.append(Posting(unit=u1, category="W", window="3", start_date=date(2024, 3, 1)))
    c = make.staff(u2, "C01", name="丙一", window="2", start=date(2024, 3, 10))
    g = make.staff(gone, "G01", name="停一", window="1")
    db.session.commit()
    # January (closed below): A at window 1, a window-less D02c, an exempt D06, a bonus.
    make.incident(u1, "D01", at=datetime(2024, 1, 8, 9, 0), staff=a, window="1")
    make.incident(u1, "D02c", at=datetime(2024, 1, 9, 9, 0), count=2, staff=a)
    make.incident(u1, "D06", at=datetime(2024, 1, 10, 9, 0), staff=a, exempt=True)
    make.incident(u1, "B01", at=datetime(2024, 1, 11, 9, 0), staff=a)
    make.incident(u2, "D03", at=datetime(2024, 1, 12, 9, 0), staff=b)
    make.incident(u2, "D01", at=datetime(2024, 1, 31, 23, 30), staff=b)  # hall time: still January
    # February: A changes window on the 15th (hall time either side of midnight).
    make.incident(u2, "D01", at=datetime(2024, 2, 1, 0, 30), staff=b)  # hall Feb 1 (UTC Jan 31)
    make.incident(u1, "D02c", at=datetime(2024, 2, 14, 23, 30), count=3, staff=a)  # window 1
    make.incident(u1, "D02c", at=datetime(2024, 2, 15, 0, 30), staff=a)  # window 2
    make.incident(u1, "D06", at=datetime(2024, 2, 16, 9, 0), staff=a)  # not exempt: counts
    make.incident(u1, "D06", at=datetime(2024, 2, 17, 9, 0), staff=a, exempt=True)  # 0 points
    make.incident(u1, "D01", at=datetime(2024, 2, 18, 9, 0), staff=a, window="3")  # its own window wins
    make.incident(u1, "D03", at=datetime(2024, 2, 19, 9, 0), window="2")  # no staff: window table only
    make.incident(u1, "D03", at=datetime(2024, 2, 20, 9, 0))  # neither: left out of both
    make.incident(u2, "D19a", at=datetime(2024, 2, 2, 9, 0), staff=b, count=2, deadline=date(2024, 2, 10))
    make.incident(
        u2,
        "D19a",
        at=datetime(2024, 2, 3, 9, 0),
        staff=b,
        deadline=date(2024, 2, 12),
        rectified_on=date(2024, 2, 12),
    )  # rectified in time: no D19b
    voided = make.incident(u1, "D04a", at=datetime(2024, 2, 21, 9, 0), staff=a)
    incidents.void(voided, "录入错误")
    db.session.commit()
    make.incident(u1, "D04a", at=datetime(2024, 2, 22, 9, 0), staff=a, status=IncidentStatus.PROPOSED)
    # March (live): B moved to U01 window 3; C's first posting is on the 10th.
    make.incident(u2, "D01", at=datetime(2024, 3, 2, 9, 0), staff=b)  # posted elsewhere: no window
    make.incident(u1, "D01", at=datetime(2024, 3, 3, 9, 0), staff=b)  # window 3
    make.incident(u2, "D02c", at=datetime(2024, 3, 5, 9, 0), staff=c)  # before C's posting: no window
    make.incident(u2, "D02c", at=datetime(2024, 3, 11, 9, 0), count=2, staff=c)  # window 2
    make.incident(u2, "D19a", at=datetime(2024, 3, 4, 9, 0), staff=c, deadline=date(2024, 3, 8))
    make.incident(u2, "B01", at=datetime(2024, 3, 6, 9, 0), staff=c, window="1")
    make.incident(gone, "D01", at=datetime(2024, 3, 7, 9, 0), staff=g, window="1")
    gone.active = False
    db.session.commit()
    months.close(2024, 1)
    db.session.commit()


def _tally_lines(rows):
    return [(r.key, r.label, r.unit_name, dict(sorted(r.by_month.items())), r.items) for r in rows]


def test_tallies_pinned_on_a_busy_year(app, busy_year):
    """Today's results of `tallies`, pinned before it was moved to the database's sums."""
    from services.dashboard import tallies

    by_staff, by_window = tallies(2024)
    assert _tally_lines(by_staff) == PINNED_STAFF
    assert _tally_lines(by_window) == PINNED_WINDOW
    assert tallies(2023) == ([], [])


# Measured with the ORM implementation (one object per incident with its staff and postings).
PINNED_STAFF = [
    (("A01",), "甲一(A01)", "甲局", {1: 12, 2: 24}, 6),
    (("B01",), "乙一(B01)", "乙中心", {1: 4, 2: 27, 3: 4}, 8),
    (("C01",), "丙一(C01)", "乙中心", {3: 25}, 4),
]
PINNED_WINDOW = [
    (("U02", "1"), "1", "乙中心", {1: 4, 2: 27}, 6),
    (("U01", "1"), "1", "甲局", {1: 12, 2: 15}, 3),
    (("U02", "2"), "2", "乙中心", {3: 10}, 1),
    (("U01", "2"), "2", "甲局", {2: 9}, 3),
    (("U01", "3"), "3", "甲局", {2: 2, 3: 2}, 2),
]


def test_tallies_of_a_frozen_month_changed_behind_its_back_come_from_its_snapshot(app, busy_year):
    """January's incidents changed after closing (a bad restore, a hand edit): the sums no longer give its
    frozen deductions, so its cells come from the snapshot's items, as the standings show them."""
    from sqlalchemy import update

    from models import Incident
    from services.dashboard import _tally_cache, tallies

    db.session.execute(update(Incident).where(Incident.rule_code == "D02c").values(count=9))
    db.session.commit()
    _tally_cache.clear()
    by_staff, _by_window = tallies(2024)
    a01 = next(r for r in by_staff if r.key == ("A01",))
    assert a01.by_month[1] == 12  # frozen: D01 (2) + D02c ×2 (10), as closed
    assert a01.by_month[2] > 24  # February is live: its D02c now count 9 each


def test_tallies_of_a_frozen_month_without_result_rows(app, busy_year):
    """A closed month without its per-unit result rows (restored from an older backup) is read from its
    snapshot's items: the same tables."""
    from sqlalchemy import delete

    from models import MonthUnitResult
    from services.dashboard import _tally_cache, tallies

    db.session.execute(delete(MonthUnitResult))
    db.session.commit()
    _tally_cache.clear()
    by_staff, by_window = tallies(2024)
    assert _tally_lines(by_staff) == PINNED_STAFF
    assert _tally_lines(by_window) == PINNED_WINDOW
