"""The .xlsx exports: a unit's 考核评分明细表 and a month's rankings, read back with openpyxl, carry the
standings' numbers."""

from __future__ import annotations

import io
from datetime import date, datetime
from urllib.parse import unquote

import pytest
from openpyxl import load_workbook

from models import db
from services import DomainError, exports, months
from services.standings import standings

NOTE = "内部备注:不要给单位看"


def sheet(data: bytes):
    return load_workbook(io.BytesIO(data)).active


def rows_of(ws) -> list[list]:
    return [[c for c in row] for row in ws.iter_rows(values_only=True)]


def find_row(rows: list[list], first: str) -> list:
    for row in rows:
        if row[0] == first:
            return row
    raise AssertionError(f"no row starting with {first!r}")


@pytest.fixture
def month_data(make):
    u1 = make.unit("U01", name="市税务局")
    u2 = make.unit("U02", name="市社保中心")
    li = make.staff(u1, "S001", name="李四", window="2")
    make.incident(
        u1, "D01", at=datetime(2024, 3, 5, 9, 5), staff=li, window="2", note=NOTE, public_text="迟到 5 分钟"
    )
    make.incident(u1, "D02c", at=datetime(2024, 3, 7, 9, 0), count=3)
    make.incident(u1, "B02c", at=datetime(2024, 3, 8, 9, 0))  # +10
    make.incident(u1, "B02c", at=datetime(2024, 3, 9, 9, 0))  # +10
    make.incident(u1, "B01", at=datetime(2024, 3, 10, 9, 0))  # +3: 23 raw, 20 counted
    make.incident(u2, "D03", at=datetime(2024, 3, 6, 11, 0))
    return u1, u2


def test_detail_table_has_items_subtotals_and_the_standings_numbers(app, month_data):
    with app.test_request_context():
        ws = sheet(exports.detail_table_xlsx("U01", 2024, 3))
    mine = standings(2024, 3).unit("U01")
    assert ws["A1"].value == "市税务局 2024年3月 考核评分明细表"
    assert ws["A1"].font.bold
    rows = rows_of(ws)
    header = rows[2]
    assert header == ["序号", "规则", "事项", "日期", "窗口", "人员", "次数", "分值"]
    assert all(ws.cell(row=3, column=c).font.bold for c in range(1, 9))
    # Deductions first, then bonuses; each line as scored.
    items = [r for r in rows[3:] if isinstance(r[0], int)]
    assert [(r[1], r[6], r[7]) for r in items] == [
        ("D01", 1, -2),
        ("D02c", 3, -15),
        ("B02c", 1, 10),
        ("B02c", 1, 10),
        ("B01", 1, 3),
    ]
    d01 = items[0]
    assert d01[2].startswith("迟到或早退") and "迟到 5 分钟" in d01[2]
    assert d01[3] == datetime(2024, 3, 5) and d01[4] == "2" and d01[5] == "李四"
    assert [r[0] for r in items] == [1, 2, 1, 2, 3]  # numbered within each section
    assert find_row(rows, "扣分小计")[7] == -mine.deductions == -17
    bonus = find_row(rows, "加分小计")
    assert bonus[7] == mine.bonus == 23 and "不超过 20 分" in bonus[2]
    assert find_row(rows, "基础分")[7] == 100
    assert find_row(rows, "得分")[7] == mine.score == 103
    assert find_row(rows, "等级")[7] == "优秀"
    rank = find_row(rows, "排名")
    assert rank[7] == mine.rank and rank[2] == f"第 {mine.rank} 名 / 共 2 个单位"
    assert "书面通报并要求反馈" in find_row(rows, "处理措施")[2]
    for row in rows:
        for value in row:
            assert NOTE not in str(value)
            assert not isinstance(value, float)  # points are ints


def test_detail_table_print_setup_and_widths(app, month_data):
    with app.test_request_context():
        ws = sheet(exports.detail_table_xlsx("U01", 2024, 3))
    assert int(ws.page_setup.paperSize) == 9  # A4
    assert ws.sheet_properties.pageSetUpPr.fitToPage and ws.page_setup.fitToWidth == 1
    assert ws.column_dimensions["C"].width >= 40 and ws.column_dimensions["A"].width >= 6
    assert ws.print_title_rows == "$3:$3"


def test_detail_table_of_a_unit_without_items_and_of_a_closed_month(app, make, month_data):
    make.incident(month_data[0], "D05a", at=datetime(2024, 2, 5, 9, 0))
    months.close(2024, 2)
    db.session.commit()
    with app.test_request_context():
        ws = sheet(exports.detail_table_xlsx("U02", 2024, 2))
        feb = rows_of(sheet(exports.detail_table_xlsx("U01", 2024, 2)))
    rows = rows_of(ws)
    assert find_row(rows, "得分")[7] == 100 and find_row(rows, "扣分小计")[7] == 0
    assert "已关账" in rows[1][0]
    assert find_row(feb, "得分")[7] == 98 and find_row(feb, "排名")[2] == "第 2 名 / 共 2 个单位"


def test_detail_table_unknown_unit_is_a_domain_error(app, month_data):
    with app.test_request_context(), pytest.raises(DomainError):
        exports.detail_table_xlsx("NOPE", 2024, 3)


def test_rankings_xlsx_lists_every_unit_in_listing_order(app, month_data):
    with app.test_request_context():
        ws = sheet(exports.rankings_xlsx(2024, 3))
    rows = rows_of(ws)
    assert rows[0][0] == "2024年3月 派驻单位考核排名"
    assert rows[2] == ["名次", "单位代码", "单位", "扣分", "加分", "得分", "等级", "处理措施"]
    result = standings(2024, 3)
    labels = {"excellent": "优秀", "good": "良好"}
    assert [tuple(r[:7]) for r in rows[3:]] == [
        (u.rank, u.code, u.name, u.deductions, u.bonus, u.score, labels[u.grade]) for u in result.units
    ]
    assert rows[3][7] == "书面通报并要求反馈" and rows[4][7] is None
    assert int(ws.page_setup.paperSize) == 9  # A4


def test_portal_download_sends_the_units_own_table_with_a_utf8_filename(client, login, month_data):
    login("unit", unit=month_data[0])
    response = client.get("/portal/months/2024-03/detail.xlsx")
    assert response.status_code == 200
    assert response.mimetype == exports.XLSX_MIMETYPE
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith('attachment; filename="detail-U01-2024-03.xlsx"; ')
    encoded = disposition.split("filename*=UTF-8''", 1)[1]
    assert unquote(encoded) == "市税务局 2024年3月考核评分明细表.xlsx"
    ws = sheet(response.data)
    assert ws["A1"].value.startswith("市税务局")
    assert find_row(rows_of(ws), "得分")[7] == standings(2024, 3).unit("U01").score
    # The other unit's user gets its own table from the same URL, never U01's.
    client.post("/logout")
    login("unit", unit=month_data[1], username="u02")
    other = sheet(client.get("/portal/months/2024-03/detail.xlsx").data)
    assert other["A1"].value.startswith("市社保中心")
    assert all("李四" not in str(v) for r in rows_of(other) for v in r)


@pytest.mark.parametrize("role", ["admin", "leader"])
def test_portal_download_is_for_unit_users_only(client, login, month_data, role):
    login(role)
    assert client.get("/portal/months/2024-03/detail.xlsx").status_code == 403


def test_overdue_d19b_is_listed_as_derived(app, make):
    unit = make.unit("U01")
    make.incident(unit, "D19a", at=datetime(2024, 2, 10, 9, 0), deadline=date(2024, 2, 29))
    with app.test_request_context():
        rows = rows_of(sheet(exports.detail_table_xlsx("U01", 2024, 3)))
    d19b = next(r for r in rows if r[1] == "D19b")
    assert "逾期未整改" in d19b[2] and d19b[3] == datetime(2024, 3, 1) and d19b[7] == -5
