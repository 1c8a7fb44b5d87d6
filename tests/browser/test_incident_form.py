"""The desk form in Chromium: choose a unit (its staff appear), a rule (points and text appear), see the
preview, attach a photo (scaled down in the browser), save; then the detail page and the printed notice."""

from __future__ import annotations

import io
import re
import subprocess
from datetime import date

from PIL import Image
from playwright.sync_api import expect
from sqlalchemy import select

from models import Evidence, Incident, db
from services import evidence as evidence_service
from tests.browser.conftest import DESK, SCREENSHOTS, TABLET, login_as
from tests.conftest import PASSWORD


def shoot(page, name: str, full_page: bool = False):
    """Like conftest's screenshot, but leaving the caret alone: hiding it leaves style="" on the inputs,
    which htmx's settle then copies onto the next page's inputs, and the CSP refuses that inline style."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), caret="initial", full_page=full_page)
    return path


def big_photo() -> bytes:
    image = Image.new("RGB", (3200, 2400), (200, 60, 40))
    for x in range(0, 3200, 200):
        image.paste((30, 90, 160), (x, 0, x + 100, 2400))
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def hall(make):
    u1 = make.unit("U01", name="市税务局", windows="1;2", display_order=1)
    u2 = make.unit("U02", name="市公安局出入境", windows="3;4", display_order=2)
    make.unit("U03", name="市不动产登记中心", windows="5", display_order=3)
    make.staff(u1, "S001", name="张三", category="W", window="1", start=date(2024, 1, 1))
    make.staff(u1, "S002", name="李四", category="W", window="2", start=date(2024, 1, 1))
    make.staff(u2, "S010", name="赵六", category="W", window="3", start=date(2024, 1, 1))
    make.incident(u2, "D01")  # U02 at 98, U01 and U03 share first place at 100
    make.user("inspector", username="inspector1")
    return u1, u2


def test_log_an_incident_on_the_desk_form(live_server, open_page, make, app, tmp_path):
    u1, _u2 = hall(make)
    page = open_page(DESK)
    login_as(page, live_server, "inspector1", PASSWORD)
    page.wait_for_url(re.compile(r"/admin/$"))
    # Through the menu: a boosted navigation, so the form's script must already be there.
    page.click("nav.mainnav >> text=登记")
    page.wait_for_selector("#incident-form")

    page.select_option("#unit_id", str(u1.id))
    expect(page.locator("#staff_pk")).to_contain_text("张三")
    staff_text = page.inner_text("#staff_pk")
    assert "张三" in staff_text and "李四" in staff_text and "赵六" not in staff_text
    assert page.locator("#window option").all_inner_texts() == ["不指定窗口", "1 号窗口", "2 号窗口"]

    page.fill("#rule-filter", "手机")
    visible = page.eval_on_selector_all(
        "#rule_code option", "os => os.filter(o => !o.hidden).map(o => o.value)"
    )
    assert visible == ["D04a", "D04b"]
    page.select_option("#rule_code", "D04a")
    expect(page.locator("#rule-points")).to_have_text("-3 分")
    assert "炒股" in page.inner_text("#rule-text")
    expect(page.locator("#preview-score-after")).to_have_text("97")
    assert page.inner_text("#preview-score-before").strip() == "100"
    assert page.inner_text("#preview-rank-before").strip() == "第 1 名"
    assert page.inner_text("#preview-rank-after").strip() == "第 3 名"

    staff_value = page.eval_on_selector_all(
        "#staff_pk option", "os => os.find(o => o.textContent.includes('张三')).value"
    )
    page.select_option("#staff_pk", staff_value)
    page.select_option("#window", "1")
    page.fill("#public_text", "09:30 巡查发现在窗口玩手机")
    page.fill("#note", "第二次发现,已口头提醒")
    page.set_input_files(
        "#evidence", files=[{"name": "现场.png", "mimeType": "image/png", "buffer": big_photo()}]
    )
    expect(page.locator("#evidence-count")).to_contain_text("已选择 1 个文件")
    assert "现场.jpg" in page.inner_text("#evidence-count")  # scaled down to a JPEG in the browser
    page.wait_for_load_state("networkidle")
    shot = shoot(page, "incident_form", full_page=True)
    assert shot.exists()

    page.click("button[data-submit]")
    page.wait_for_url(re.compile(r"/admin/incidents/\d+$"))
    assert "已登记 D04a" in page.inner_text("#flash") and "附件 1 个" in page.inner_text("#flash")
    db.session.expire_all()
    incident = db.session.scalar(select(Incident).where(Incident.rule_code == "D04a"))
    assert (incident.rule_code, incident.window, incident.staff.name) == ("D04a", "1", "张三")
    row = db.session.scalar(select(Evidence))
    assert row.content_type == "image/jpeg" and row.filename == "现场.jpg"
    with Image.open(evidence_service.path_of(row)) as stored:
        assert max(stored.size) == 1600
    page.wait_for_load_state("networkidle")
    # The thumbnail is the stored photo, served to the browser (decode() waits for the lazy image).
    width = page.locator("#evidence-list img").evaluate("img => img.decode().then(() => img.naturalWidth)")
    assert width == 1600
    shoot(page, "incident_detail")

    page.click("#notice-link")
    page.wait_for_selector("#notice-number")
    assert page.inner_text("#notice-number") == f"TZ-2024-03-{incident.id:06d}"
    assert "玩手机" in page.inner_text("#notice-public-text")
    assert "第二次发现" not in page.content()
    page.wait_for_load_state("networkidle")
    shoot(page, "incident_notice")
    pdf = SCREENSHOTS / "incident_notice.pdf"
    page.emulate_media(media="print")
    page.pdf(path=str(pdf), prefer_css_page_size=True, print_background=True)
    page.emulate_media(media="screen")
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True).stdout
    assert re.search(r"Pages:\s+1\n", info) and "(A4)" in info  # one A4 page …
    width, height = map(float, re.search(r"Page size:\s+([\d.]+) x ([\d.]+)", info).groups())
    assert width < height  # … portrait
    subprocess.run(
        ["pdftoppm", "-png", "-r", "60", "-singlefile", str(pdf), str(SCREENSHOTS / "incident_notice_pdf")],
        check=True,
    )
    assert (SCREENSHOTS / "incident_notice_pdf.png").exists()
    # The notice is a document page of its own (no menu): its toolbar leads back to the record.
    assert page.get_attribute("#download-pdf", "href") == f"/admin/incidents/{incident.id}/notice.pdf"
    page.click(".doc-toolbar >> text=← 返回")
    page.wait_for_url(re.compile(r"/admin/incidents/\d+$"))

    # The list: the filter form swaps the table only.
    page.click("nav.mainnav >> text=扣加分记录")
    page.wait_for_selector("#incident-table")
    expect(page.locator("#incident-count")).to_contain_text("共 2 条")
    page.select_option("#f-rule", "D04a")
    expect(page.locator("#incident-count")).to_contain_text("共 1 条")
    assert "rule_code=D04a" in page.url
    expect(page.locator("#total-deductions")).to_have_text("-3")
    shoot(page, "incident_list")


def test_desk_form_refuses_bad_input_in_the_browser(live_server, open_page, make, app):
    u1, _u2 = hall(make)
    page = open_page(TABLET)
    login_as(page, live_server, "inspector1", PASSWORD)
    page.wait_for_url(re.compile(r"/admin/$"))  # the login's redirect has landed
    page.goto(f"{live_server.url}/admin/incidents/new")
    page.select_option("#unit_id", str(u1.id))
    page.select_option("#rule_code", "D19a")
    page.wait_for_selector("#deadline")
    page.click("button[data-submit]")
    page.wait_for_selector(".field.has-error")
    assert "D19a 必须填写整改期限" in page.inner_text("#rule-fields")
    db.session.expire_all()
    assert db.session.scalar(select(Incident).where(Incident.rule_code == "D19a")) is None
