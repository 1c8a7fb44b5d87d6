"""Official documents (issue 9, item 7): GB/T 9704 layout (red header with the issuing office, 文号 with a
per-year sequence, title, addressee, date in Chinese numerals), the same template as a page and as a PDF
(WeasyPrint, CJK font), units by name, settings for the office and the prefix, and permissions."""

from __future__ import annotations

import os
import shutil
import subprocess
from datetime import date, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select

from models import AuditLog, DocumentCounter, IssuedDocument, Setting, db
from services import documents
from tests.html import parse, text_of

PDFTOTEXT = shutil.which("pdftotext")
PDFFONTS = shutil.which("pdffonts")


def pdf_text(data: bytes) -> str:
    """The PDF's text (poppler's pdftotext), whitespace removed so CJK lines broken anywhere still match."""
    assert data.startswith(b"%PDF-"), data[:20]
    assert PDFTOTEXT, "pdftotext is missing: `make test` installs poppler-utils"
    out = subprocess.run([PDFTOTEXT, "-layout", "-", "-"], input=data, capture_output=True, check=True)
    return "".join(out.stdout.decode("utf-8").split())


def pdf_fonts(data: bytes) -> str:
    out = subprocess.run([PDFFONTS, "-"], input=data, capture_output=True, check=True)
    return out.stdout.decode("utf-8")


def get_pdf(client, url: str) -> tuple[bytes, str]:
    response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    assert response.mimetype == "application/pdf", url
    assert response.headers["Content-Disposition"].startswith("attachment;")
    if os.environ.get("SAVE_PDF_DIR"):  # to look at them: SAVE_PDF_DIR=/tmp/pdfs pytest …; pdftoppm -png
        name = url.strip("/").replace("/", "_").replace("?", "_").replace("&", "_")
        (Path(os.environ["SAVE_PDF_DIR"]) / f"{name}.pdf").write_bytes(response.data)
    return response.data, pdf_text(response.data)


@pytest.fixture
def hall(make):
    u1 = make.unit("U01", name="市税务局", windows="1;2")
    u2 = make.unit("U02", name="市社保中心", windows="1")
    li = make.staff(u1, "S001", name="李四", window="1")
    late = make.incident(
        u1,
        "D01",
        at=datetime(2024, 2, 5, 9, 5),
        staff=li,
        window="1",
        note="内部备注勿印",
        public_text="09:05 到岗,迟到 5 分钟",
    )
    make.incident(u1, "D02c", at=datetime(2024, 2, 7, 9, 0), count=3, public_text="全天未到岗")
    other = make.incident(u2, "D04a", at=datetime(2024, 2, 6, 10, 0), window="1", public_text="别家的情况")
    today = make.incident(u1, "D01", at=datetime(2024, 3, 20, 9, 3), window="2", public_text="今日迟到")
    return {"u1": u1, "u2": u2, "late": late, "other": other, "today": today}


# ---------------------------------------------------------------- the service


@pytest.mark.parametrize(
    "day, text",
    [
        (date(2026, 11, 30), "二〇二六年十一月三十日"),
        (date(2026, 1, 1), "二〇二六年一月一日"),
        (date(2024, 10, 21), "二〇二四年十月二十一日"),
        (date(2010, 12, 10), "二〇一〇年十二月十日"),
        (date(2009, 2, 19), "二〇〇九年二月十九日"),
    ],
)
def test_chinese_date(day, text):
    assert documents.chinese_date(day) == text


def test_document_numbers_are_a_sequence_per_year_with_the_prefix_in_force(app):
    assert documents.next_document_number(2026) == "市政务服务中心〔2026〕1号"
    assert documents.next_document_number(2026) == "市政务服务中心〔2026〕2号"
    assert documents.next_document_number(2027) == "市政务服务中心〔2027〕1号"
    documents.save_settings("鞍山市政务服务中心", "鞍政服")
    assert documents.next_document_number(2026) == "鞍政服〔2026〕3号"
    db.session.commit()
    assert {r.year: r.last for r in db.session.scalars(select(DocumentCounter))} == {2026: 3, 2027: 1}


def test_an_issued_document_keeps_its_number(app):
    first = documents.issue_document("letter:discipline:1", "letter", date(2024, 3, 20))
    again = documents.issue_document("letter:discipline:1", "letter", date(2024, 4, 2))
    second = documents.issue_document("letter:leadership:2", "letter", date(2024, 3, 21))
    db.session.commit()
    assert first.id == again.id and first.number == "市政务服务中心〔2024〕1号"
    assert again.issued_on == date(2024, 3, 20) and second.number == "市政务服务中心〔2024〕2号"
    assert db.session.scalar(select(func.count()).select_from(IssuedDocument)) == 2


def test_bad_settings_are_refused_in_chinese_and_write_nothing(app):
    for office, prefix, message in [
        ("", "鞍政服", "请填写发文机关名称"),
        ("市政务服务中心", "  ", "请填写发文字号的机关代字"),
        ("市政务服务中心", "鞍政服〔2024〕", "机关代字不含年份括号"),
        ("长" * 41, "鞍政服", "发文机关名称不能超过 40 个字"),
    ]:
        with pytest.raises(documents.DomainError, match=message):
            documents.save_settings(office, prefix)
    db.session.rollback()
    assert db.session.get(Setting, documents.SETTING_KEY) is None
    assert documents.get_settings() == documents.DEFAULTS


# ---------------------------------------------------------------- the bulletin


def test_bulletin_page_is_an_official_document_and_gets_its_number_at_publish(client, login, hall):
    login("admin")
    html = client.get("/admin/months/2024-02/bulletin").get_data(as_text=True)
    page = parse(html)
    assert text_of(html, "doc-title") == "2024年2月派驻单位考核通报"
    assert page.one(".red-office").text == "市政务服务中心"
    assert text_of(html, "doc-addressee") == "各派驻单位:"
    assert not page.all("#doc-number") and "实时数据,尚未关账,仅供参考" in html  # a draft has no 文号
    assert "css/documents.css" in html and page.one("#download-pdf").attrs["href"] == (
        "/admin/months/2024-02/bulletin.pdf"
    )
    table = text_of(html, "bulletin-table")
    assert "市税务局" in table and "市社保中心" in table and "U01" not in table  # by name, never the code

    client.post("/admin/months/2024-02/close")
    assert "已关账,尚未发布" in client.get("/admin/months/2024-02/bulletin").get_data(as_text=True)
    client.post("/admin/months/2024-02/publish")
    issued = db.session.scalar(select(IssuedDocument).where(IssuedDocument.key == "bulletin:2024-02"))
    assert issued is not None and issued.number == "市政务服务中心〔2024〕1号"  # given in the publish
    html = client.get("/admin/months/2024-02/bulletin").get_data(as_text=True)
    assert text_of(html, "doc-number") == "市政务服务中心〔2024〕1号"
    assert (
        text_of(html, "doc-date") == "二〇二四年三月二十日"
    )  # the day it was published, in Chinese numerals

    # Reopened and published again: the bulletin keeps its number; the PDF says the same.
    client.post("/admin/months/2024-02/reopen", data={"reason": "更正"})
    client.post("/admin/months/2024-02/close")
    client.post("/admin/months/2024-02/publish")
    data, text = get_pdf(client, "/admin/months/2024-02/bulletin.pdf")
    assert "2024年2月派驻单位考核通报" in text and "市政务服务中心〔2024〕1号" in text and "申诉" not in text
    assert (
        "市税务局" in text and "市社保中心" in text and "U01" not in text and "二〇二四年三月二十日" in text
    )
    assert "NotoSerifCJK" in pdf_fonts(data).replace("-", "")  # the CJK font is embedded
    assert db.session.scalar(select(func.count()).select_from(IssuedDocument)) == 1


def test_bulletin_pdf_of_a_month_out_of_range_is_404(client, login, hall):
    login("leader")
    assert client.get("/admin/months/2031-01/bulletin.pdf").status_code == 404
    assert client.get("/admin/months/99/bulletin.pdf").status_code == 404


def test_portal_bulletin_only_once_published(client, login, hall):
    from services import months

    login("unit", unit=hall["u2"])
    assert client.get("/portal/months/2024-02/bulletin").status_code == 404
    assert client.get("/portal/months/2024-02/bulletin.pdf").status_code == 404
    months.close(2024, 2)
    months.publish(2024, 2)
    db.session.commit()
    html = client.get("/portal/months/2024-02/bulletin").get_data(as_text=True)
    assert text_of(html, "doc-number") == "市政务服务中心〔2024〕1号" and "市税务局" in html
    _data, text = get_pdf(client, "/portal/months/2024-02/bulletin.pdf")
    assert "2024年2月派驻单位考核通报" in text and "市社保中心" in text


# ---------------------------------------------------------------- the violation notice


def test_notice_is_an_official_document_page_and_pdf(client, login, hall):
    login("inspector")
    late = hall["late"]
    html = client.get(f"/admin/incidents/{late.id}/notice").get_data(as_text=True)
    assert text_of(html, "doc-title") == "违规违纪通知单"
    assert text_of(html, "notice-number") == f"TZ-2024-02-{late.id:06d}"
    assert text_of(html, "doc-addressee") == "市税务局:" and text_of(html, "notice-unit") == "市税务局"
    assert "内部备注勿印" not in html and "css/print.css" not in html
    _data, text = get_pdf(client, f"/admin/incidents/{late.id}/notice.pdf")
    assert (
        "违规违纪通知单" in text and "市税务局" in text and "李四" in text and "09:05到岗,迟到5分钟" in text
    )
    assert f"TZ-2024-02-{late.id:06d}" in text and "单位签收" in text and "内部备注勿印" not in text
    assert client.get("/admin/incidents/999999/notice.pdf").status_code == 404


def test_portal_notice_pdf_is_the_units_own_only(client, login, hall):
    login("unit", unit=hall["u1"])
    html = client.get(f"/portal/items/{hall['late'].id}/notice").get_data(as_text=True)
    assert parse(html).one("#download-pdf").attrs["href"] == f"/portal/items/{hall['late'].id}/notice.pdf"
    _data, text = get_pdf(client, f"/portal/items/{hall['late'].id}/notice.pdf")
    assert "违规违纪通知单" in text and "市税务局" in text
    assert client.get(f"/portal/items/{hall['other'].id}/notice.pdf").status_code == 404
    assert client.get(f"/portal/items/{hall['other'].id}/notice").status_code == 404


def test_a_boosted_link_to_a_document_loads_the_page_whole(client, login, hall):
    login("admin")
    response = client.get(
        f"/admin/incidents/{hall['late'].id}/notice", headers={"HX-Request": "true", "HX-Boosted": "true"}
    )
    assert (
        response.status_code == 200
        and response.headers["HX-Redirect"] == f"/admin/incidents/{hall['late'].id}/notice"
    )


# ---------------------------------------------------------------- the detail table


def test_detail_table_per_unit_and_all_units(client, login, hall):
    login("leader")
    html = client.get(f"/admin/months/2024-02/details/{hall['u1'].id}").get_data(as_text=True)
    assert text_of(html, "doc-title") == "市税务局 2024年2月考核评分明细表"
    assert "09:05 到岗,迟到 5 分钟" in html and "内部备注勿印" not in html
    _data, text = get_pdf(client, f"/admin/months/2024-02/details/{hall['u1'].id}.pdf")
    assert "市税务局2024年2月考核评分明细表" in text and "扣分小计" in text and "U01" not in text
    _data, text = get_pdf(client, "/admin/months/2024-02/details.pdf")
    assert "2024年2月各派驻单位考核评分明细表" in text and "市税务局" in text and "市社保中心" in text
    assert "别家的情况" in text
    assert client.get("/admin/months/2024-02/details/999999.pdf").status_code == 404
    assert client.get("/admin/months/2031-01/details.pdf").status_code == 404


def test_portal_detail_table_is_the_units_own(client, login, hall):
    login("unit", unit=hall["u1"])
    html = client.get("/portal/months/2024-03/details").get_data(as_text=True)  # the live month
    assert text_of(html, "doc-title") == "市税务局 2024年3月考核评分明细表" and "今日迟到" in html
    assert "市社保中心" not in html
    _data, text = get_pdf(client, "/portal/months/2024-03/details.pdf")
    assert "市税务局2024年3月考核评分明细表" in text and "别家的情况" not in text
    assert client.get("/portal/months/2024-02/details.pdf").status_code == 404  # not published yet


# ---------------------------------------------------------------- the patrol sheet


def test_patrol_sheet_blank_and_filled_from_a_days_records(client, login, hall):
    login("inspector")
    html = client.get("/admin/patrol/blank").get_data(as_text=True)
    assert text_of(html, "doc-title") == "日常巡查扣分表" and "巡查人" in html and 'class="mark"' not in html
    _data, text = get_pdf(client, "/admin/patrol/blank.pdf")
    assert "日常巡查扣分表" in text and "市税务局" in text and "市社保中心" in text
    html = client.get("/admin/patrol/blank", query_string={"date": "2024-03-20", "filled": "1"}).get_data(
        as_text=True
    )
    page = parse(html)
    assert text_of(html, "patrol-day") == "日期:二〇二四年三月二十日"
    assert page.one(f'td.mark[data-cell="{hall["u1"].id}|2|D01"]').text == "1"
    assert len(page.all("td.mark")) == 1
    data, text = get_pdf(client, "/admin/patrol/blank.pdf?date=2024-03-20&filled=1")
    assert "日常巡查扣分表(2024-03-20)" in text and "二〇二四年三月二十日" in text
    bad = client.get("/admin/patrol/blank", query_string={"date": "yesterday", "filled": "1"})
    assert bad.status_code == 200 and "日期格式应为 YYYY-MM-DD" in bad.get_data(as_text=True)


# ---------------------------------------------------------------- settings and permissions


def test_settings_page_changes_the_red_header_and_the_prefix(client, login, hall):
    login("admin")
    html = client.get("/admin/documents/settings").get_data(as_text=True)
    assert "市政务服务中心〔2024〕11号" in html
    response = client.post("/admin/documents/settings", data={"office": " ", "prefix": "鞍政服"})
    assert response.status_code == 422 and "请填写发文机关名称" in response.get_data(as_text=True)
    assert db.session.get(Setting, documents.SETTING_KEY) is None
    response = client.post(
        "/admin/documents/settings", data={"office": "鞍山市政务服务中心", "prefix": "鞍政服"}
    )
    assert response.status_code == 302
    assert db.session.scalar(select(AuditLog).where(AuditLog.action == "documents.settings")) is not None
    client.post("/admin/months/2024-02/close")
    client.post("/admin/months/2024-02/publish")
    html = client.get("/admin/months/2024-02/bulletin").get_data(as_text=True)
    assert parse(html).one(".red-office").text == "鞍山市政务服务中心"
    assert text_of(html, "doc-number") == "鞍政服〔2024〕1号"


@pytest.mark.parametrize("role", ["inspector", "leader", "unit"])
def test_only_admins_change_the_settings(client, login, hall, role):
    login(role, unit=hall["u1"] if role == "unit" else None)
    assert client.get("/admin/documents/settings").status_code == 403
    assert client.post("/admin/documents/settings", data={"office": "x", "prefix": "y"}).status_code == 403
    assert db.session.get(Setting, documents.SETTING_KEY) is None


def test_units_read_no_admin_document(client, login, hall):
    login("unit", unit=hall["u1"])
    for url in (
        "/admin/months/2024-02/bulletin.pdf",
        f"/admin/incidents/{hall['late'].id}/notice.pdf",
        f"/admin/months/2024-02/details/{hall['u1'].id}.pdf",
        "/admin/months/2024-02/details.pdf",
        "/admin/patrol/blank.pdf",
    ):
        assert client.get(url).status_code == 403, url


def test_demo_bulletins_are_numbered_on_their_publication_days(app, make):
    from models import Month
    from services import months
    from services.clock import from_hall

    unit = make.unit("U01", name="市税务局")
    make.incident(unit, "D01", at=datetime(2023, 12, 5, 9, 0))
    published = {(2023, 12): datetime(2024, 1, 5, 10, 0), (2024, 1): datetime(2024, 2, 6, 10, 0)}
    for (y, m), at in [((2024, 1), published[(2024, 1)]), ((2023, 12), published[(2023, 12)])]:
        months.close(y, m)
        row = months.publish(y, m)
        row.published_at = from_hall(at)
    letter = documents.issue_document("letter:leadership:1", "letter", date(2024, 1, 20))
    assert documents.load_demo() == {"documents": 3}
    db.session.commit()
    numbers = {r.key: (r.number, r.issued_on) for r in db.session.scalars(select(IssuedDocument))}
    assert numbers == {
        "bulletin:2023-12": ("市政务服务中心〔2024〕1号", date(2024, 1, 5)),
        "letter:leadership:1": ("市政务服务中心〔2024〕2号", date(2024, 1, 20)),
        "bulletin:2024-01": ("市政务服务中心〔2024〕3号", date(2024, 2, 6)),
    }
    assert letter.number == "市政务服务中心〔2024〕2号" and db.session.get(DocumentCounter, 2024).last == 3
    assert documents.next_document_number(2024) == "市政务服务中心〔2024〕4号"
    assert db.session.scalar(select(Month).where(Month.month == 12)).status == "published"


def test_pages_lead_to_the_documents(client, login, hall):
    from services import months

    login("leader")
    html = client.get("/admin/standings?month=2024-02").get_data(as_text=True)
    assert parse(html).one("#details-document").attrs["href"] == "/admin/months/2024-02/details"
    client.post("/logout")
    login("unit", unit=hall["u1"])
    page = parse(client.get("/portal/months/2024-03").get_data(as_text=True))
    assert page.one("#details-document").attrs["href"] == "/portal/months/2024-03/details"
    assert not page.all("#bulletin-link")  # the live month has no bulletin yet
    months.close(2024, 2)
    months.publish(2024, 2)
    db.session.commit()
    page = parse(client.get("/portal/months/2024-02").get_data(as_text=True))
    assert page.one("#bulletin-link").attrs["href"] == "/portal/months/2024-02/bulletin"


def test_a_boosted_link_to_a_pdf_downloads_it_instead_of_swapping_it_in(client, login, hall):
    login("admin")
    url = f"/admin/incidents/{hall['late'].id}/notice.pdf"
    response = client.get(url, headers={"HX-Request": "true", "HX-Boosted": "true"})
    assert response.status_code == 200 and response.headers["HX-Redirect"] == url and not response.data


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "http://169.254.169.254/latest/meta-data/",
        "http://hallscore.invalid/static/../app.py",
        "http://hallscore.invalid/static/%2e%2e/app.py",
        "http://hallscore.invalid/static/css/nothing.css",
    ],
)
def test_a_pdf_fetches_only_the_apps_own_static_files(app, url):
    fetch = documents._StaticFetcher(app.static_folder, app.static_url_path)
    with pytest.raises(ValueError):
        fetch(url)
    css = fetch("http://hallscore.invalid/static/css/documents.css")
    assert css["mime_type"] == "text/css" and b"@page" in css["string"]


def test_bulletin_states_the_grade_bands_of_its_rulebook(client, login, hall):
    """The bands are read from the month's rulebook settings, not written into the template."""
    login("admin")
    body = text_of(client.get("/admin/months/2024-02/bulletin").text, "doc-body")
    assert "基础分100分,加分不超过20分" in body
    assert "得分高于90分为优秀,80分至90分为良好,60分至不足80分为合格,低于60分为不合格" in body


def test_every_units_details_are_paged_on_screen_and_whole_in_the_pdf(client, login, make):
    """Ten units a screen, with a pager and the range in the toolbar; the PDF holds every unit."""
    from services import months

    units = [make.unit(f"P{n:02d}", name=f"分页单位{n:02d}") for n in range(12)]
    for unit in units:
        make.incident(unit, "D01", at=datetime(2024, 2, 5, 9, 5))
    months.close(2024, 2)
    db.session.commit()
    login("admin")
    first = parse(client.get("/admin/months/2024-02/details").get_data(as_text=True))
    names = [n.text for n in first.all(".details-unit")]
    assert len(names) == 10 and "本页为第 1–10 个单位,共 12 个" in first.one("#details-range").text
    assert [a.attrs["href"] for a in first.all(".doc-pager a")] == ["/admin/months/2024-02/details?page=2"]
    second = parse(client.get("/admin/months/2024-02/details?page=2").get_data(as_text=True))
    rest = [n.text for n in second.all(".details-unit")]
    assert len(rest) == 2 and set(rest).isdisjoint(names)
    beyond = parse(client.get("/admin/months/2024-02/details?page=99").get_data(as_text=True))
    assert [n.text for n in beyond.all(".details-unit")] == rest  # past the last page: the last
    _data, text = get_pdf(client, "/admin/months/2024-02/details.pdf")
    assert all(f"分页单位{n:02d}" in text for n in range(12))
    single = parse(client.get(f"/admin/months/2024-02/details/{units[0].id}").get_data(as_text=True))
    assert single.all("#details-range") == [] and single.all(".doc-pager") == []


def test_a_kept_document_follows_the_next_change_and_keeps_its_role_check(client, login, make):
    """A document page is answered from the text kept since the last audited change: a new incident shows
    at once; a unit user is refused before any kept text is looked at; a PDF is made afresh."""
    unit = make.unit("K01", name="保留测试单位")
    make.incident(unit, "D01", at=datetime(2024, 3, 5, 9, 0))
    login("admin")

    def score() -> str:
        page = parse(client.get("/admin/months/2024-03/bulletin").get_data(as_text=True))
        row = next(r for r in page.all("tr") if "保留测试单位" in r.text)
        return row.text

    first = score()
    assert score() == first  # kept
    make.incident(unit, "D03", at=datetime(2024, 3, 6, 9, 0))
    assert score() != first
    _data, text = get_pdf(client, "/admin/months/2024-03/bulletin.pdf")
    assert "保留测试单位" in text
    login("unit")  # the same client, now a unit user's session
    assert client.get("/admin/months/2024-03/bulletin").status_code == 403
