"""The unit portal: a unit user sees its own unit's numbers (the standings service's), items, months, trend
and the public rankings; never another unit's items or evidence, never the inspector's internal note."""

from __future__ import annotations

import io
import re
from datetime import date, datetime

import pytest
from flask import url_for
from PIL import Image

from models import IncidentStatus, db
from services import evidence, incidents, months
from services.standings import standings
from tests.html import parse, text_of

PORTAL_URLS = ["/portal/", "/portal/months/2024-03", "/portal/months/2024-03/detail.xlsx", "/portal/rankings"]
NOTE = "内部备注:此人态度恶劣,仅供巡查员参考"


def png_bytes() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 30, 30)).save(out, format="PNG")
    return out.getvalue()


@pytest.fixture
def hall(make):
    """Three units; U01 (the logged-in unit's) has a deduction with staff and window, a bonus, a D02c×3."""
    u1 = make.unit("U01", name="市税务局", windows="1;2;3")
    u2 = make.unit("U02", name="市社保中心")
    u3 = make.unit("U03", name="市公安局")
    li = make.staff(u1, "S001", name="李四", window="2")
    wang = make.staff(u2, "S002", name="王五", window="1")
    late = make.incident(
        u1,
        "D01",
        at=datetime(2024, 3, 5, 9, 5),
        staff=li,
        window="2",
        note=NOTE,
        public_text="09:05 到岗,迟到 5 分钟",
    )
    make.incident(u1, "D02c", at=datetime(2024, 3, 7, 9, 0), count=3, public_text="全天未到岗")
    praise = make.incident(u1, "B01", at=datetime(2024, 3, 8, 15, 0), public_text="收到办事群众锦旗一面")
    other = make.incident(
        u2,
        "D04a",
        at=datetime(2024, 3, 6, 10, 0),
        staff=wang,
        window="1",
        note="别家的内部备注",
        public_text="别家的情况说明",
    )
    make.incident(u3, "D03", at=datetime(2024, 3, 6, 11, 0))
    return {"u1": u1, "u2": u2, "u3": u3, "late": late, "praise": praise, "other": other}


def test_home_shows_the_units_live_numbers_from_standings(client, login, hall):
    login("unit", unit=hall["u1"])
    html = client.get("/portal/").get_data(as_text=True)
    mine = standings(2024, 3).unit("U01")
    assert mine.score == 100 - 2 - 15 + 3 == 86
    assert text_of(html, "unit-score") == str(mine.score)
    assert text_of(html, "unit-rank") == f"第 {mine.rank} 名 / 共 3 个单位" == "第 3 名 / 共 3 个单位"
    assert text_of(html, "unit-grade") == "良好"
    assert text_of(html, "unit-deductions") == "-17"
    assert text_of(html, "unit-bonus") == "+3"
    assert "书面通报并要求反馈" in html  # D02c more than twice: notice_feedback, in Chinese
    assert "实时 · 暂定" in html  # the month is open
    # The items, with rule, hall time, window, staff, count and points.
    assert "D01" in html and "迟到或早退" in html and "2024-03-05 09:05" in html
    assert "李四" in html and "09:05 到岗,迟到 5 分钟" in html
    assert f'/portal/items/{hall["late"].id}"' in html
    assert "-15" in html and "+3" in html and "收到办事群众锦旗一面" in html


def test_home_never_shows_other_units_items_or_the_internal_note(client, login, hall):
    login("unit", unit=hall["u1"])
    for url in (
        "/portal/",
        "/portal/months/2024-03",
        f"/portal/items/{hall['late'].id}",
        f"/portal/items/{hall['late'].id}/notice",
        "/portal/rankings",
    ):
        html = client.get(url).get_data(as_text=True)
        assert NOTE not in html and "内部备注" not in html, url
        assert "别家的情况说明" not in html and "王五" not in html and "D04a" not in html, url


def test_other_units_item_and_notice_are_404(client, login, hall):
    login("unit", unit=hall["u1"])
    other = hall["other"].id
    for url in (f"/portal/items/{other}", f"/portal/items/{other}/notice", "/portal/items/999999"):
        response = client.get(url)
        assert response.status_code == 404, url
        assert "别家的情况说明" not in response.get_data(as_text=True)


def test_other_units_evidence_is_404_own_is_served(app, client, login, hall):
    own = evidence.store(hall["late"], [evidence.Upload("own.png", "image/png", png_bytes())])[0]
    theirs = evidence.store(hall["other"], [evidence.Upload("theirs.png", "image/png", png_bytes())])[0]
    db.session.commit()
    login("unit", unit=hall["u1"])
    html = client.get(f"/portal/items/{hall['late'].id}").get_data(as_text=True)
    assert "own.png" in html
    with app.test_request_context():
        own_src = url_for("admin.evidence_file", evidence_id=own.id)
        theirs_src = url_for("admin.evidence_file", evidence_id=theirs.id)
    assert f'src="{own_src}"' in html
    response = client.get(own_src)
    assert response.status_code == 200 and response.data == png_bytes()
    assert client.get(theirs_src).status_code == 404


def test_proposed_and_dismissed_incidents_are_not_shown(client, login, make, hall):
    kw = {"at": datetime(2024, 3, 9, 9, 0), "status": IncidentStatus.PROPOSED}
    proposed = make.incident(hall["u1"], "D07b", public_text="待确认的检测", **kw)
    dismissed = make.incident(hall["u1"], "D07a", public_text="已驳回的检测", **kw)
    incidents.dismiss(dismissed, "误报")
    db.session.commit()
    login("unit", unit=hall["u1"])
    home = client.get("/portal/").get_data(as_text=True)
    assert "待确认的检测" not in home and "已驳回的检测" not in home
    assert text_of(home, "unit-score") == "86"
    assert client.get(f"/portal/items/{proposed.id}").status_code == 404
    assert client.get(f"/portal/items/{dismissed.id}").status_code == 404


def test_voided_item_shows_the_reason_and_does_not_count(client, login, hall):
    incidents.void(hall["late"], "经核实为系统误录")
    db.session.commit()
    login("unit", unit=hall["u1"])
    home = client.get("/portal/").get_data(as_text=True)
    assert f"/portal/items/{hall['late'].id}" not in home
    assert text_of(home, "unit-score") == str(standings(2024, 3).unit("U01").score) == "88"
    detail = client.get(f"/portal/items/{hall['late'].id}").get_data(as_text=True)
    assert "已作废" in detail and "经核实为系统误录" in detail and "不计分" in detail


def test_item_detail_shows_rule_text_time_window_staff_and_notice(client, login, hall):
    login("unit", unit=hall["u1"])
    response = client.get(f"/portal/items/{hall['late'].id}")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert text_of(html, "item-time") == "2024-03-05 09:05"  # hall time, stored as 01:05 UTC
    assert text_of(html, "item-window") == "2"
    assert text_of(html, "item-staff") == "李四"
    assert text_of(html, "item-text") == "09:05 到岗,迟到 5 分钟"
    assert "以任何借口提前离开窗口的" in html  # the rule's full text
    assert "违规违纪通知单" in html and f"/portal/items/{hall['late'].id}/notice" in html
    notice = client.get(f"/portal/items/{hall['late'].id}/notice")
    assert notice.status_code == 200 and "data-doc-print" in notice.get_data(as_text=True)


def test_bonus_item_has_a_bonus_notice_not_a_violation_notice(client, login, hall):
    login("unit", unit=hall["u1"])
    html = client.get(f"/portal/items/{hall['praise'].id}").get_data(as_text=True)
    assert "锦旗" in html and "考核加分通知单" in html and "违规违纪通知单" not in html
    notice = client.get(f"/portal/items/{hall['praise'].id}/notice")
    assert notice.status_code == 200 and "考核加分通知单" in notice.get_data(as_text=True)


def test_overdue_d19a_shows_its_derived_d19b(client, login, make):
    unit = make.unit("U01")
    d19a = make.incident(unit, "D19a", at=datetime(2024, 2, 10, 9, 0), deadline=date(2024, 2, 29))
    login("unit", unit=unit)
    home = client.get("/portal/").get_data(as_text=True)
    assert "D19b" in home and "逾期未整改" in home and "2024-03-01" in home
    detail = client.get(f"/portal/items/{d19a.id}").get_data(as_text=True)
    assert "整改期限" in detail and "2024-02-29" in detail and "2024-03-01" in detail


@pytest.mark.parametrize("role", ["admin", "inspector", "leader"])
def test_staff_roles_get_403_on_portal_pages(client, login, hall, role):
    login(role)
    for url in [*PORTAL_URLS, f"/portal/items/{hall['late'].id}", f"/portal/items/{hall['late'].id}/notice"]:
        response = client.get(url)
        assert response.status_code == 403, url
        assert "无权访问" in response.get_data(as_text=True)


def test_anonymous_is_sent_to_login(client, hall):
    response = client.get("/portal/")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_unit_account_without_a_unit_gets_403(client, make):
    user = make.user("unit", username="orphan")
    client.post("/login", data={"username": "orphan", "password": "test-password-1"})
    assert user.unit_id is None
    assert client.get("/portal/").status_code == 403


def test_months_list_and_month_detail(client, login, make, hall):
    make.incident(hall["u1"], "D05a", at=datetime(2024, 1, 15, 9, 0))
    make.incident(hall["u1"], "D07b", at=datetime(2024, 2, 15, 9, 0), public_text="与办事群众争吵")
    months.close(2024, 2)
    months.publish(2024, 2)
    db.session.commit()
    login("unit", unit=hall["u1"])
    html = client.get("/portal/").get_data(as_text=True)
    rows = re.findall(r'data-month="(\d{4}-\d{2})"', html)
    assert rows == ["2024-03", "2024-02", "2024-01"]
    for label in rows[:2]:  # March live, February published
        y, m = map(int, label.split("-"))
        mine = standings(y, m).unit("U01")
        row = html[html.index(f'data-month="{label}"') :]
        row = row[: row.index("</tr>")]
        assert f">{mine.score}<" in row and f"第 {mine.rank} 名" in row, label
    assert "已发布" in html  # February's status
    feb = client.get("/portal/months/2024-02").get_data(as_text=True)
    feb_page = parse(feb)
    assert text_of(feb_page, "unit-score") == "95"
    assert "与办事群众争吵" in text_of(feb_page, "deduction-items")
    assert feb_page.text_of(".portal-month-head .badge") == "已发布"
    assert not feb_page.has(".live-mark")
    assert "D01" not in feb  # March's item is not February's
    # January is past and never published: listed as 待发布, without its numbers.
    jan_row = html[html.index('data-month="2024-01"') :]
    jan_row = jan_row[: jan_row.index("</tr>")]
    assert "待发布" in jan_row and ">98<" not in jan_row and "第 " not in jan_row
    jan = client.get("/portal/months/2024-01").get_data(as_text=True)
    assert "该月考核结果尚未发布" in jan and 'id="unit-score"' not in jan


@pytest.mark.parametrize("month", ["2024-04", "2023-12", "2024-13", "abc", "2024-3"])
def test_month_outside_the_portal_range_or_malformed_is_404(client, login, hall, month):
    login("unit", unit=hall["u1"])
    assert client.get(f"/portal/months/{month}").status_code == 404
    assert client.get(f"/portal/months/{month}/detail.xlsx").status_code == 404


def test_trend_chart_is_server_rendered_svg(client, login, make, hall):
    make.incident(hall["u1"], "D05a", at=datetime(2023, 11, 15, 9, 0))
    for y, m in [(2023, 11), (2023, 12), (2024, 1), (2024, 2)]:
        months.close(y, m)
        months.publish(y, m)
    db.session.commit()
    login("unit", unit=hall["u1"])
    html = client.get("/portal/").get_data(as_text=True)
    for chart_id in ("trend-score", "trend-rank"):
        start = html.index(f'id="{chart_id}"')
        svg = html[start : html.index("</svg>", start)]
        assert svg.count('class="point"') == 5  # 2023-11 .. 2024-03
        assert "<polyline" in svg and "style=" not in svg and "<script" not in svg
    assert "11月" in html and "3月" in html and "2023" in html
    assert "名次(第1名在上)" in html
    # The values drawn are the standings' numbers.
    score_svg = html[html.index('id="trend-score"') :]
    assert "2024-03:86 分" in score_svg and "2023-11:98 分" in score_svg


def test_rankings_are_public_without_others_items_or_flags(client, login, make, hall):
    make.incident(hall["u2"], "D02c", at=datetime(2024, 3, 11, 9, 0), count=3)  # U02 gets notice_feedback
    login("unit", unit=hall["u2"])
    page = parse(client.get("/portal/rankings").get_data(as_text=True))
    result = standings(2024, 3)
    rows = page.all("#rankings-table tbody tr")
    assert [r.get("data-code") for r in rows] == [u.code for u in result.units]
    grades = {"excellent": "优秀", "good": "良好", "qualified": "合格", "unqualified": "不合格"}
    for row, u in zip(rows, result.units, strict=True):
        name = u.name + (" 本单位" if u.code == "U02" else "")
        assert [td.text for td in row.all("td")] == [str(u.rank), name, str(u.score), grades[str(u.grade)]]
    # Public: ranks and scores only, never a unit's flags (U02's 书面通报) or items.
    shown = page.text_of("rankings")
    assert "书面通报" not in shown and "D01" not in shown and "迟到" not in shown
    assert page.text_of("#rankings-table tr.mine td[data-label=单位] .badge") == "本单位"


def test_rankings_month_picker_validates_and_serves_the_htmx_block(client, login, make, hall):
    make.incident(hall["u1"], "D05a", at=datetime(2024, 2, 15, 9, 0))
    months.close(2024, 2)
    months.publish(2024, 2)
    db.session.commit()
    login("unit", unit=hall["u1"])
    feb = client.get("/portal/rankings?month=2024-02").get_data(as_text=True)
    assert "2024年2月 派驻单位考核排名" in feb
    bad = client.get("/portal/rankings?month=2031-01")
    assert bad.status_code == 422 and "没有该月份的排名" in bad.get_data(as_text=True)
    assert client.get("/portal/rankings?month=<script>").status_code == 422
    block = client.get("/portal/rankings?month=2024-02", headers={"HX-Request": "true"})
    block = block.get_data(as_text=True)
    assert block.lstrip().startswith('<section class="card" id="rankings"') and "<html" not in block


def test_line_chart_breaks_at_missing_months_escapes_text_and_inverts_ranks():
    from services.charts import line_chart, nice_ticks

    svg = line_chart("c", "<名次>", ["1", "2", "3", "4"], [1, None, 5, 3], y_min=1, y_max=5, invert=True)
    assert "&lt;名次&gt;" in svg and "<名次>" not in svg
    assert svg.count('class="point"') == 3
    assert svg.count("<polyline") == 1  # 1 | gap | 5-3: only the last two points are joined
    ys = {v: float(y) for y, v in re.findall(r'y="([\d.]+)"[^>]*class="value">(\d)<', svg)}
    assert ys["1"] < ys["3"] < ys["5"]  # first place on top
    assert "style=" not in svg
    assert nice_ticks(1, 30) == [10, 20, 30] and nice_ticks(50, 120) == [60, 80, 100, 120]


def _row(html: str, label: str) -> str:
    row = html[html.index(f'data-month="{label}"') :]
    return row[: row.index("</tr>")]


@pytest.fixture
def february(make, hall):
    """U01 has a February deduction (D07b: 95 points) and the month is closed, not yet published."""
    feb_item = make.incident(hall["u1"], "D07b", at=datetime(2024, 2, 15, 9, 0), public_text="与办事群众争吵")
    months.close(2024, 2)
    db.session.commit()
    return feb_item


def test_closed_unpublished_month_is_hidden_until_published(client, login, hall, february):
    login("unit", unit=hall["u1"])
    assert standings(2024, 2).unit("U01").score == 95  # the frozen number exists, the unit may not see it
    home = client.get("/portal/").get_data(as_text=True)
    row = _row(home, "2024-02")
    assert "待发布" in row and ">95<" not in row and "第 " not in row
    assert "/portal/months/2024-02" not in row and "detail.xlsx" not in row and "已关账" not in row
    # The current month is still shown live.
    assert "实时 · 暂定" in _row(home, "2024-03") and ">86<" in _row(home, "2024-03")
    page = client.get("/portal/months/2024-02")
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and "该月考核结果尚未发布" in text
    assert 'id="unit-score"' not in text and "与办事群众争吵" not in text and ">95<" not in text
    assert client.get("/portal/months/2024-02/detail.xlsx").status_code == 404

    months.publish(2024, 2)
    db.session.commit()
    home = client.get("/portal/").get_data(as_text=True)
    row = _row(home, "2024-02")
    assert ">95<" in row and "已发布" in row and "待发布" not in row and "/portal/months/2024-02" in row
    page = client.get("/portal/months/2024-02").get_data(as_text=True)
    month_page = parse(page)
    assert text_of(month_page, "unit-score") == "95"
    assert "与办事群众争吵" in text_of(month_page, "deduction-items") and not month_page.has("#month-pending")
    xlsx = client.get("/portal/months/2024-02/detail.xlsx")
    assert xlsx.status_code == 200 and xlsx.data[:2] == b"PK"


def test_open_past_month_is_hidden_too(client, login, make, hall):
    make.incident(hall["u1"], "D07b", at=datetime(2024, 2, 15, 9, 0))  # February never closed
    login("unit", unit=hall["u1"])
    assert "待发布" in _row(client.get("/portal/").get_data(as_text=True), "2024-02")
    assert "该月考核结果尚未发布" in client.get("/portal/months/2024-02").get_data(as_text=True)
    assert client.get("/portal/months/2024-02/detail.xlsx").status_code == 404
    ranks = client.get("/portal/rankings?month=2024-02").get_data(as_text=True)
    assert "该月考核结果尚未发布" in ranks and 'id="rankings-table"' not in ranks


def test_trend_leaves_a_gap_for_an_unpublished_month(client, login, hall, february):
    months.close(2024, 1)
    months.publish(2024, 1)
    db.session.commit()
    login("unit", unit=hall["u1"])
    html = client.get("/portal/").get_data(as_text=True)
    score_svg = html[html.index('id="trend-score"') :]
    score_svg = score_svg[: score_svg.index("</svg>")]
    assert "2月" in score_svg and "2024-02:95" not in score_svg and "2024-02 95" not in score_svg
    assert ">95<" not in score_svg
    assert score_svg.count('class="point"') == 2  # January (published) and March (live)
    assert "2024-01:100 分" in score_svg and "2024-03:86 分" in score_svg

    months.publish(2024, 2)
    db.session.commit()
    html = client.get("/portal/").get_data(as_text=True)
    score_svg = html[html.index('id="trend-score"') :]
    assert "2024-02:95 分" in score_svg


def test_rankings_of_an_unpublished_month_say_so(client, login, hall, february):
    login("unit", unit=hall["u1"])
    html = client.get("/portal/rankings?month=2024-02").get_data(as_text=True)
    assert "该月考核结果尚未发布" in html and "待发布" in html
    assert 'id="rankings-table"' not in html and "data-code=" not in html
    block = client.get("/portal/rankings?month=2024-02", headers={"HX-Request": "true"}).get_data(
        as_text=True
    )
    assert "该月考核结果尚未发布" in block and "data-code=" not in block
    # The current month stays live and marked.
    live = client.get("/portal/rankings?month=2024-03").get_data(as_text=True)
    assert "实时 · 暂定" in live and 'data-code="U01"' in live

    months.publish(2024, 2)
    db.session.commit()
    html = client.get("/portal/rankings?month=2024-02").get_data(as_text=True)
    assert "尚未发布" not in html and "已发布" in html
    assert re.findall(r'data-code="([^"]+)"', html) == [u.code for u in standings(2024, 2).units]


def test_items_of_an_unpublished_month_stay_readable(client, login, hall, february):
    login("unit", unit=hall["u1"])
    detail = client.get(f"/portal/items/{february.id}")
    assert detail.status_code == 200 and "与办事群众争吵" in detail.get_data(as_text=True)
    notice = client.get(f"/portal/items/{february.id}/notice")
    assert notice.status_code == 200 and "与办事群众争吵" in notice.get_data(as_text=True)


def test_months_list_reads_published_months_from_their_unit_rows_or_else_the_snapshot(client, login, hall):
    """The months list reads a published month's line from `month_unit_result`; a month restored from an
    older backup (no such rows) from its snapshot: the same numbers either way."""
    from sqlalchemy import delete

    from models import MonthUnitResult

    months.close(2024, 2)
    months.publish(2024, 2)
    db.session.commit()
    login("unit", unit=hall["u1"])
    mine = standings(2024, 2).unit("U01")

    def february_row() -> str:
        html = client.get("/portal/").get_data(as_text=True)
        row = html[html.index('data-month="2024-02"') :]
        return row[: row.index("</tr>")]

    from_rows = february_row()
    assert f">{mine.score}<" in from_rows and f"第 {mine.rank} 名" in from_rows
    db.session.execute(delete(MonthUnitResult))
    db.session.commit()
    assert february_row() == from_rows
