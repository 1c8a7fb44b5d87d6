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


# ---------------------------------------------------------------- issue 9, item 8: every spreadsheet


FORMULA = "=1+1"


@pytest.fixture
def typed(make):
    """Texts users typed that a spreadsheet would run: a unit, a staff member, notes, window."""
    u1 = make.unit("U01", name="@税务/局[一]:*?")
    u2 = make.unit("U02", name="市社保中心")
    person = make.staff(u1, "S001", name="-张三", window="2")
    make.incident(
        u1, "D01", at=datetime(2024, 3, 5, 9, 5), staff=person, window="2", note=FORMULA, public_text=FORMULA
    )
    make.incident(u1, "D19a", at=datetime(2024, 3, 6, 9, 0), deadline=date(2024, 3, 15), note="+SUM(A1)")
    make.incident(u2, "D03", at=datetime(2024, 3, 6, 11, 0), public_text="@cmd")
    make.incident(u2, "B01", at=datetime(2024, 2, 6, 11, 0))
    return u1, u2


def book(data: bytes):
    return load_workbook(io.BytesIO(data))


def no_formulas(wb) -> list:
    """Every cell of every sheet: none is a formula; returns the cells whose text starts like one."""
    risky = []
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                assert cell.data_type != "f", (ws.title, cell.coordinate, cell.value)
                if isinstance(cell.value, str) and cell.value[:1] in "=+-@":
                    assert cell.data_type == "s"
                    risky.append(cell.value)
    return risky


def cell_of(ws, value):
    for row in ws.iter_rows():
        for cell in row:
            if cell.value == value:
                return cell
    raise AssertionError(f"no cell {value!r} in {ws.title}")


def test_the_helper_keeps_a_typed_formula_as_text_and_writes_numbers_and_dates(app):
    from services import xlsx

    wb, ws = xlsx.new_workbook()
    xlsx.put(ws, 1, 1, FORMULA)
    xlsx.put(ws, 1, 2, 7)
    xlsx.put(ws, 1, 3, date(2024, 3, 5))
    xlsx.put(ws, 1, 4, "坏\x07字符")
    back = book(xlsx.to_bytes(wb)).active
    assert back["A1"].data_type == "s" and back["A1"].value == FORMULA
    assert back["B1"].data_type == "n" and back["B1"].value == 7
    assert back["C1"].value == datetime(2024, 3, 5) and back["C1"].number_format == "yyyy-mm-dd"
    assert back["D1"].value == "坏字符"


def test_csv_cells_that_would_run_get_an_apostrophe():
    from services.xlsx import csv_cell

    assert [csv_cell(v) for v in ["=1+1", "+1", "-2", "@SUM(A1)", "税务局", 5, None, "a=b"]] == [
        "'=1+1",
        "'+1",
        "'-2",
        "'@SUM(A1)",
        "税务局",
        "5",
        "",
        "a=b",
    ]


def test_sheet_names_are_made_safe_and_unique():
    from services.xlsx import sheet_title

    taken: set[str] = set()
    assert sheet_title("@税务/局[一]:*?", taken) == "@税务_局_一____"
    long = "市" * 40
    first, second = sheet_title(long, taken), sheet_title(long, taken)
    assert len(first) == 31 and len(second) == 31 and first != second and second.endswith("(2)")
    assert sheet_title("'", taken) == "Sheet"


def test_rankings_keep_a_typed_unit_name_as_text(app, typed):
    with app.test_request_context():
        wb = book(exports.rankings_xlsx(2024, 3))
    ws = wb.active
    assert ws.freeze_panes == "A4"
    name = cell_of(ws, "@税务/局[一]:*?")
    assert name.data_type == "s"
    score = ws.cell(row=name.row, column=6)
    assert score.data_type == "n" and isinstance(score.value, int)
    assert "@税务/局[一]:*?" in no_formulas(wb)


def test_every_units_detail_table_of_a_month_one_sheet_each(app, typed):
    with app.test_request_context():
        wb = book(exports.details_xlsx(2024, [3]))
    assert wb.sheetnames == ["@税务_局_一____", "市社保中心"]
    ws = wb["@税务_局_一____"]
    rows = rows_of(ws)
    assert rows[0][0] == "@税务/局[一]:*? 2024年3月 考核评分明细表"
    assert rows[2] == ["序号", "规则", "事项", "日期", "窗口", "人员", "次数", "分值"]
    assert ws.freeze_panes == "A4"
    d01 = next(r for r in rows if r[1] == "D01")
    assert d01[3] == datetime(2024, 3, 5) and d01[5] == "-张三" and d01[7] == -2
    assert ws.cell(row=rows.index(d01) + 1, column=4).number_format == "yyyy-mm-dd"
    # Each unit's sheet says what its own portal table says.
    with app.test_request_context():
        own = rows_of(sheet(exports.detail_table_xlsx("U02", 2024, 3)))
    assert rows_of(wb["市社保中心"]) == own
    assert "-张三" in no_formulas(wb)
    assert d01[2].endswith("\n" + FORMULA)  # the public text under the rule's title
    for r in rows:
        assert "+SUM(A1)" not in [str(v) for v in r]  # the internal note never reaches a detail table


def test_a_years_detail_tables_stack_the_months_with_a_month_column(app, typed):
    with app.test_request_context():
        wb = book(exports.details_xlsx(2024, [1, 2, 3]))
    ws = wb["市社保中心"]
    rows = rows_of(ws)
    assert rows[0][0] == "市社保中心 2024年 考核评分明细表"
    assert rows[2][:3] == ["月份", "序号", "规则"]
    scores = [(r[0], r[8]) for r in rows if r[1] == "得分"]
    expected = [(f"{m}月", standings(2024, m).unit("U02").score) for m in (1, 2, 3)]
    assert scores == expected
    b01 = next(r for r in rows if r[2] == "B01")
    assert b01[0] == "2月" and b01[4] == datetime(2024, 2, 6)


def test_incidents_sheet_has_the_lists_rows_and_typed_notes_as_text(app, client, login, typed):
    login("admin")
    response = client.get("/admin/incidents/export.xlsx", query_string={"month": "2024-03"})
    assert response.status_code == 200 and response.mimetype == exports.XLSX_MIMETYPE
    assert unquote(response.headers["Content-Disposition"].split("''", 1)[1]) == "2024年3月扣加分记录.xlsx"
    wb = book(response.data)
    ws = wb.active
    rows = rows_of(ws)
    assert rows[2][:10] == ["编号", "时间", "单位", "规则", "事项", "窗口", "人员", "次数", "分值", "状态"]
    assert rows[2][10:] == ["整改期限", "整改日期", "通知单内容", "内部备注", "证据", "登记人"]
    assert ws.freeze_panes == "A4"
    body = rows[3:]
    assert [r[3] for r in body] == ["D03", "D19a", "D01"]  # newest first, as the list
    d01 = body[2]
    assert (
        d01[1] == datetime(2024, 3, 5, 9, 5) and ws.cell(row=6, column=2).number_format == "yyyy-mm-dd hh:mm"
    )
    assert d01[8] == -2 and ws.cell(row=6, column=9).data_type == "n"
    assert d01[12] == FORMULA and d01[13] == FORMULA
    assert ws.cell(row=6, column=13).data_type == "s" and ws.cell(row=6, column=14).data_type == "s"
    assert body[1][10] == datetime(2024, 3, 15) and ws.cell(row=5, column=11).number_format == "yyyy-mm-dd"
    assert set(no_formulas(wb)) >= {FORMULA, "+SUM(A1)", "@cmd", "-张三", "@税务/局[一]:*?"}


def test_incidents_sheet_follows_the_lists_filters(app, client, login, typed):
    login("leader")
    u2 = typed[1]
    response = client.get("/admin/incidents/export.xlsx", query_string={"month": "2024-03", "unit_id": u2.id})
    rows = rows_of(book(response.data).active)
    assert [r[3] for r in rows[3:]] == ["D03"]
    assert "共 1 条" in rows[1][0] and "市社保中心" in rows[1][0]
    # The list page's button carries the same filters.
    page = client.get("/admin/incidents", query_string={"month": "2024-03", "unit_id": u2.id}).text
    from tests.html import parse

    link = parse(page).one("a#incidents-export").get("href")
    assert (
        link.startswith("/admin/incidents/export.xlsx?")
        and f"unit_id={u2.id}" in link
        and "month=2024-03" in link
    )
    # Filters the list refuses have nothing to download (and never a 500).
    for bad in ({"month": "2024-13"}, {"month": "2099-01"}, {"month": "2024-03", "unit_id": "999"}):
        assert client.get("/admin/incidents/export.xlsx", query_string=bad).status_code == 404


def test_tallies_sheet_has_the_pages_rows(app, client, login, typed):
    from services.dashboard import tallies

    login("admin")
    response = client.get("/admin/tallies/2024.xlsx")
    assert response.status_code == 200
    wb = book(response.data)
    assert wb.sheetnames == ["按人员", "按窗口"]
    staff = wb["按人员"]
    rows = rows_of(staff)
    assert rows[2] == ["人员", "单位", *[f"{m}月" for m in range(1, 13)], "合计扣分", "条数"]
    by_staff, by_window = tallies(2024)
    assert [(r[0], r[1], r[14], r[15]) for r in rows[3:]] == [
        (t.label, t.unit_name, t.total, t.items) for t in by_staff
    ]
    assert staff.cell(row=4, column=5).data_type == "n"  # March's points: a number
    assert staff.freeze_panes == "A4"
    assert [r[0] for r in rows_of(wb["按窗口"])[3:]] == [t.label for t in by_window]
    no_formulas(wb)


EXPORTS = [
    "/admin/standings/2024-03/rankings.xlsx",
    "/admin/standings/2024-03/details.xlsx",
    "/admin/years/2024/details.xlsx",
    "/admin/incidents/export.xlsx?month=2024-03",
    "/admin/tallies/2024.xlsx",
    "/admin/years/2024/summary.xlsx",
]


@pytest.mark.parametrize("url", EXPORTS)
def test_admins_and_leaders_download_inspectors_and_units_do_not(client, login, make, typed, url):
    login("admin")
    wb = book(client.get(url).data)
    assert no_formulas(wb)  # the typed texts are there, each as a text
    for ws in wb.worksheets:
        assert ws.freeze_panes is not None and ws.column_dimensions["A"].width >= 6
    client.post("/logout")
    login("leader")
    response = client.get(url)
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    client.post("/logout")
    login("inspector")
    assert client.get(url).status_code == 403
    client.post("/logout")
    login("unit", unit=typed[0])
    response = client.get(url)
    assert response.status_code == 403 and not response.data.startswith(b"PK")


def test_download_buttons_only_for_who_may_download(client, login, typed):
    from tests.html import parse

    login("admin")
    standings_page = parse(client.get("/admin/standings?month=2024-03").text)
    assert standings_page.one("a#details-export").get("href") == "/admin/standings/2024-03/details.xlsx"
    assert parse(client.get("/admin/tallies?year=2024").text).one("a#tallies-export").get("href") == (
        "/admin/tallies/2024.xlsx"
    )
    client.post("/logout")
    login("inspector")
    for url, button in (
        ("/admin/standings?month=2024-03", "a#rankings-export"),
        ("/admin/tallies?year=2024", "a#tallies-export"),
        ("/admin/incidents?month=2024-03", "a#incidents-export"),
    ):
        assert parse(client.get(url).text).all(button) == [], url


def test_csv_template_goes_through_the_csv_helper(app):
    from services.imports import template_csv

    for kind in ("units", "staff", "incidents", "clock", "calendar"):
        text = template_csv(kind).decode("utf-8-sig")
        for line in text.splitlines():
            for value in line.split(","):
                assert not value.startswith(("=", "+", "-", "@")), (kind, value)


def test_the_portal_download_writes_through_the_helper(client, login, typed):
    """The unit's own table (portal) goes through services.xlsx too: a typed staff name stays text."""
    login("unit", unit=typed[0])
    response = client.get("/portal/months/2024-03/detail.xlsx")
    assert response.status_code == 200
    wb = book(response.data)
    person = cell_of(wb.active, "-张三")
    assert person.data_type == "s"
    day = wb.active.cell(row=person.row, column=4)
    assert day.value == datetime(2024, 3, 5) and day.number_format == "yyyy-mm-dd"
    assert "-张三" in no_formulas(wb)


def test_the_years_tables_and_the_portal_list_a_units_items_alike(app, month_data):
    """One function (services.portal.item_rows) turns a unit's items into rows for both."""
    from services import portal
    from services.standings import month_rows, standings_for

    u1, _u2 = month_data
    keys = [(2024, 3)]
    rows = month_rows(keys)
    views = exports._unit_months(standings_for(keys, rows), {(2024, 3): "open"})
    bulk = views[(2024, 3)]["U01"].items
    assert bulk == portal.unit_month(u1, 2024, 3).items
    assert exports.item_rows is portal.item_rows
    first = bulk[0]
    assert (first.rule_code, first.staff_name, first.window, first.public_text) == (
        "D01",
        "李四",
        "2",
        "迟到 5 分钟",
    )
    assert [r.kind for r in bulk] == sorted((r.kind for r in bulk), key=lambda k: k != "deduction")
