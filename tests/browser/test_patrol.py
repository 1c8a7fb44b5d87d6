"""The patrol sheet on a tablet in Chromium, landscape and portrait: tap a cell (count 1, "已记录 · 撤销"),
tap again (undone); touch targets of at least 44 px; sticky head row and window column; only the table
scrolls sideways; the jump-to-unit select; a tapped cell opens its record (staff, photo, remark); a tap made
while offline shows its count in the cell and is sent when the network returns, with the time it was
tapped; a queued tap the server refuses is listed back under "未能保存" until dismissed.

The tablet's clock is set to the test's hall day (HALL_NOW 2024-03-20 10:00, Asia/Shanghai): the tablet's
own date and time are what a tap carries. Screenshots also go to /tmp/patrol_shots/."""

from __future__ import annotations

import re
import shutil
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from models import Incident, IncidentStatus, db
from services import months
from services.clock import from_hall
from tests import images
from tests.browser.conftest import SCREENSHOTS, TABLET, TABLET_PORTRAIT, login_as
from tests.conftest import PASSWORD

HALL = ZoneInfo("Asia/Shanghai")
SHOTS = Path("/tmp/patrol_shots")
PNG_1PX = images.png(1, 1)  # a real PNG: uploads are decoded

NAMES = [
    "市税务局",
    "市人力资源和社会保障局",
    "市公安局出入境管理支队",
    "市不动产登记中心",
    "市市场监督管理局",
    "市住房公积金管理中心",
    "市医疗保障局",
    "市交通运输局",
    "市卫生健康委员会",
    "市民政局",
]


def shoot(page, name: str):
    """A screenshot that leaves the caret alone (hiding it leaves style="" that the CSP then refuses)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), caret="initial")
    SHOTS.mkdir(parents=True, exist_ok=True)
    shutil.copy(path, SHOTS / path.name)
    return path


def tablet_clock(page, hh: int, mm: int, ss: int = 0) -> None:
    """The tablet's clock: 2024-03-20 hh:mm:ss hall time (timers keep running)."""
    at = datetime(2024, 3, 20, hh, mm, ss, tzinfo=HALL)
    page.clock.set_fixed_time(at.timestamp())  # seconds since the epoch


def open_tablet(open_page, live_server, viewport=TABLET):
    page = open_page(viewport, has_touch=True, timezone_id="Asia/Shanghai")
    tablet_clock(page, 9, 58)
    login_as(page, live_server, "patrol1", PASSWORD)
    page.wait_for_url(re.compile(r"/admin/$"))
    return page


def hall(make):
    units = [
        make.unit(f"U{i:02d}", name=name, windows=f"{2 * i - 1};{2 * i}", display_order=i)
        for i, name in enumerate(NAMES, start=1)
    ]
    make.user("inspector", username="patrol1")
    return units


def cell(page, unit, window, rule):
    return page.locator(f'td[data-cell="{unit.id}|{window}|{rule}"]')


def incidents() -> list[Incident]:
    db.session.expire_all()
    return list(db.session.scalars(select(Incident).order_by(Incident.id)))


@pytest.mark.parametrize(
    "viewport, name", [(TABLET, "patrol_sheet"), (TABLET_PORTRAIT, "patrol_sheet_portrait")]
)
def test_tap_and_undo_on_a_tablet(live_server, open_page, make, app, viewport, name):
    units = hall(make)
    page = open_tablet(open_page, live_server, viewport)
    page.click("nav.mainnav >> text=巡查表")  # a boosted navigation: patrol.js must already be loaded
    page.wait_for_selector("#patrol-sheet")

    # Every cell is a touch target of at least 44 × 44 px.
    sizes = page.eval_on_selector_all(
        "#patrol-sheet button.tap",
        "bs => bs.map(b => [b.getBoundingClientRect().width, b.getBoundingClientRect().height])",
    )
    assert len(sizes) == 20 * 13 and min(w for w, _h in sizes) >= 44 and min(h for _w, h in sizes) >= 44
    # The page itself never scrolls sideways; the table does, inside its frame.
    assert page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth")
    assert page.evaluate(
        "() => { const w = document.querySelector('#patrol-sheet');"
        " return w.scrollWidth > w.clientWidth && w.scrollHeight > w.clientHeight; }"
    )

    target = cell(page, units[0], "2", "D04a")
    target.locator("button.tap").tap()
    expect(target).to_contain_text("已记录 · 撤销")
    expect(target.locator(".undo .n")).to_have_text("1")
    [logged] = incidents()
    assert (logged.unit_id, logged.window, logged.rule_code, logged.source) == (
        units[0].id,
        "2",
        "D04a",
        "patrol",
    )
    assert logged.status == IncidentStatus.CONFIRMED
    shoot(page, name)

    target.locator("button.undo").tap()
    expect(target).to_contain_text("已撤销")
    expect(target.locator("button.tap .n")).to_have_text("")
    [undone] = incidents()
    assert undone.status == IncidentStatus.VOIDED and undone.void_reason == "巡查撤销"

    # Sticky: scroll the frame right and down; the head row and the window column stay in view.
    frame = page.locator("#patrol-sheet")
    head_before = page.locator("thead th.rule-col").first.bounding_box()["y"]
    page.evaluate(
        "() => { const w = document.querySelector('#patrol-sheet'); w.scrollTop = 400; w.scrollLeft = 400; }"
    )
    page.wait_for_timeout(100)
    box = frame.bounding_box()
    assert abs(page.locator("thead th.corner").bounding_box()["y"] - head_before) < 1
    first_visible_row_head = page.locator("tbody th.row-head").nth(8).bounding_box()
    assert abs(first_visible_row_head["x"] - box["x"]) < 3
    shoot(page, f"{name}_scrolled")


def test_an_offline_tap_shows_its_count_and_is_sent_with_its_time_back_online(
    live_server, open_page, make, app
):
    units = hall(make)
    page = open_tablet(open_page, live_server)
    page.goto(f"{live_server.url}/admin/patrol")
    page.wait_for_selector("#patrol-sheet")
    target = cell(page, units[1], "3", "D01")

    page.context.set_offline(True)
    tablet_clock(page, 9, 41, 7)
    target.locator("button.tap").tap()
    expect(page.locator("#patrol-unsent")).to_be_visible()
    expect(page.locator("#patrol-unsent")).to_contain_text("1 条未发送")
    expect(target).to_have_class(re.compile(r"\bpending\b"))
    expect(target.locator(".unsent")).to_have_text("1 条未发送")  # a count in the cell, not an outline
    tablet_clock(page, 9, 44, 0)
    target.locator("button.tap").tap()
    expect(target.locator(".unsent")).to_have_text("2 条未发送")
    assert incidents() == []
    queued = page.evaluate("() => JSON.parse(localStorage.getItem('hallscore.patrol.queue'))")
    assert [(q["params"]["rule_code"], q["params"]["date"], q["params"]["time"]) for q in queued] == [
        ("D01", "2024-03-20", "09:41:07"),
        ("D01", "2024-03-20", "09:44:00"),
    ]
    shoot(page, "patrol_offline")

    tablet_clock(page, 9, 59, 30)  # sent twenty minutes later: each keeps the time it was tapped
    page.context.set_offline(False)
    expect(page.locator("#patrol-unsent")).to_be_hidden(timeout=20_000)
    expect(target.locator(".n").first).to_have_text("2")
    expect(target.locator(".unsent")).to_have_count(0)
    logged = incidents()
    assert [(i.unit_id, i.window, i.rule_code) for i in logged] == [(units[1].id, "3", "D01")] * 2
    assert [i.occurred_at for i in logged] == [
        from_hall(datetime(2024, 3, 20, 9, 41, 7)),
        from_hall(datetime(2024, 3, 20, 9, 44, 0)),
    ]
    assert [i.client_key for i in logged] == [q["params"]["client_key"] for q in queued]
    # A second send of the same tap (the answer was lost) stores nothing new.
    status = page.evaluate(
        """async (tap) => {
        const body = new FormData();
        Object.entries(tap.params).forEach(([k, v]) => body.append(k, v));
        const token = JSON.parse(document.getElementById('page').getAttribute('hx-headers'))['X-CSRFToken'];
        const headers = {'X-CSRFToken': token, 'HX-Request': 'true'};
        const r = await fetch(tap.url, {method: 'POST', body, headers});
        return r.status;
    }""",
        queued[0],
    )
    assert status == 200 and len(incidents()) == 2


def test_a_queued_tap_of_a_closed_month_is_listed_back_until_dismissed(live_server, open_page, make, app):
    units = hall(make)
    months.close(2024, 2)
    db.session.commit()
    page = open_tablet(open_page, live_server)
    page.goto(f"{live_server.url}/admin/patrol")
    page.wait_for_selector("#patrol-sheet")
    # A tap queued on 29 February that reaches the server only after February was closed.
    page.evaluate(
        """(unit) => localStorage.setItem('hallscore.patrol.queue', JSON.stringify([{
            url: '/admin/patrol/tap', cell: unit + '|1|D03', label: '市税务局 1 D03 串岗',
            params: {unit_id: unit, window: '1', rule_code: 'D03', date: '2024-02-29', time: '16:50:00',
                     client_key: '0f7c2a8e-1b7d-4c1e-9a55-000000000001'}}]))""",
        units[0].id,
    )
    page.reload()
    failed = page.locator("#patrol-failed")
    expect(failed).to_be_visible(timeout=20_000)
    expect(failed).to_contain_text("未能保存")
    expect(failed).to_contain_text("市税务局 1 D03 串岗")
    expect(failed).to_contain_text("2024-02-29 16:50:00")
    expect(failed).to_contain_text("2024年2月已关账")
    expect(page.locator("#patrol-unsent")).to_be_hidden()
    assert incidents() == []
    shoot(page, "patrol_failed")
    # It stays across a reload until the inspector dismisses it.
    page.reload()
    expect(failed).to_be_visible()
    failed.locator("[data-patrol-dismiss]").tap()
    expect(failed).to_be_hidden()
    assert page.evaluate("() => JSON.parse(localStorage.getItem('hallscore.patrol.failed'))") == []


def test_sticky_header_and_unit_column_and_the_jump_to_unit(live_server, open_page, make, app):
    units = hall(make)
    page = open_tablet(open_page, live_server)
    page.goto(f"{live_server.url}/admin/patrol")
    page.wait_for_selector("#patrol-sheet")
    frame = page.locator("#patrol-sheet")
    box = frame.bounding_box()
    corner = page.locator("thead th.corner")
    last_rule = page.locator("thead th.rule-col").last
    expect(last_rule).to_contain_text("D07b")

    # Scrolled all the way right: the last rule column shows whole, right of the sticky unit column.
    page.evaluate(
        "() => { const w = document.querySelector('#patrol-sheet'); w.scrollLeft = w.scrollWidth; }"
    )
    page.wait_for_timeout(100)
    head = page.locator("tbody th.row-head").first.bounding_box()
    last = last_rule.bounding_box()
    assert abs(head["x"] - box["x"]) < 3 and abs(corner.bounding_box()["x"] - box["x"]) < 3
    assert (
        last["x"] >= head["x"] + head["width"] - 1
        and last["x"] + last["width"] <= box["x"] + box["width"] + 1
    )
    # Scrolled down as well: the head row stays at the top of the frame.
    page.evaluate("() => { document.querySelector('#patrol-sheet').scrollTop = 500; }")
    page.wait_for_timeout(100)
    assert abs(last_rule.bounding_box()["y"] - box["y"]) < 3
    assert abs(corner.bounding_box()["y"] - box["y"]) < 3
    shoot(page, "patrol_sheet_scrolled_right")

    # Every window row names its unit.
    names = page.locator("tbody th.row-head .unit-name").all_inner_texts()
    assert names == [n for n in NAMES for _w in (1, 2)]

    # Jump to a unit: only its rows, at the top of the frame; the address keeps the choice.
    page.select_option("#patrol-jump", label="市医疗保障局")
    rows = page.locator("#patrol-sheet tbody tr:visible")
    expect(rows).to_have_count(2)
    expect(rows.first.locator(".unit-name")).to_have_text("市医疗保障局")
    assert abs(rows.first.bounding_box()["x"] - box["x"]) < 3
    assert page.evaluate("() => document.querySelector('#patrol-sheet').scrollTop") == 0
    assert f"unit={units[6].id}" in page.url
    shoot(page, "patrol_jump")
    page.reload()
    expect(page.locator("#patrol-sheet tbody tr:visible")).to_have_count(2)
    page.select_option("#patrol-jump", value="")
    expect(page.locator("#patrol-sheet tbody tr:visible")).to_have_count(20)


def test_a_large_hall_pages_by_group_and_the_jump_loads_another_group(live_server, open_page, make, app):
    """Twelve units: the sheet shows the first ten; ›  goes to the second group; the jump select on a unit
    of the first group loads that group with the unit's rows alone; the header stays one line at 1024×768."""
    units = hall(make)
    units += [make.unit(f"U{i:02d}", name=f"市第{i}办事处", windows="1;2", display_order=i) for i in (11, 12)]
    page = open_tablet(open_page, live_server)
    page.goto(f"{live_server.url}/admin/patrol")
    page.wait_for_selector("#patrol-sheet")
    expect(page.locator("#patrol-sheet tbody tr")).to_have_count(20)
    expect(page.locator(".patrol-group-now")).to_have_text("第 1 / 2 组")
    head = page.locator(".patrol-head").bounding_box()
    assert head["height"] < 120  # date, jump and group controls fit above the sheet
    page.locator(".patrol-groups a[aria-label='下一组']").tap()
    expect(page.locator(".patrol-group-now")).to_have_text("第 2 / 2 组")
    expect(page.locator("#patrol-sheet tbody tr")).to_have_count(4)
    expect(page.locator("#patrol-sheet tbody .unit-name").first).to_have_text("市第11办事处")
    shoot(page, "patrol_group_2")
    # A tap still works on the second group's page.
    cell(page, units[11], "2", "D05a").locator("[data-patrol-tap]").tap()
    expect(cell(page, units[11], "2", "D05a").locator(".undo")).to_be_visible()
    assert [(i.unit_id, i.window, i.rule_code) for i in incidents()] == [(units[11].id, "2", "D05a")]
    # Jump to a unit of the first group: its group loads with that unit's rows only.
    page.select_option("#patrol-jump", label="市医疗保障局")
    expect(page.locator(".patrol-group-now")).to_have_text("第 1 / 2 组")
    rows = page.locator("#patrol-sheet tbody tr:visible")
    expect(rows).to_have_count(2)
    expect(rows.first.locator(".unit-name")).to_have_text("市医疗保障局")
    assert f"unit={units[6].id}" in page.url
    page.select_option("#patrol-jump", value="")
    expect(page.locator("#patrol-sheet tbody tr:visible")).to_have_count(20)


def test_a_tapped_cell_opens_its_record_for_staff_photo_and_remark(live_server, open_page, make, app):
    units = hall(make)
    make.staff(units[0], "S001", "张三", window="1")
    make.staff(units[0], "S002", "李四", window="2")
    page = open_tablet(open_page, live_server)
    page.goto(f"{live_server.url}/admin/patrol")
    page.wait_for_selector("#patrol-sheet")
    target = cell(page, units[0], "1", "D05a")
    target.locator("button.tap").tap()
    panel = page.locator("#patrol-record")
    expect(panel).to_be_visible()
    expect(panel.locator("h2")).to_contain_text("市税务局")
    expect(panel.locator("h2")).to_contain_text("D05a")
    expect(panel).to_contain_text("09:58:00")
    # The drawer leaves the tapped cell visible.
    assert target.bounding_box()["y"] + target.bounding_box()["height"] <= panel.bounding_box()["y"]
    panel.locator("select[name=staff_pk]").select_option(label="张三(1号窗)")
    panel.locator("input[name=note]").fill("未按规定着装")
    panel.locator("input[name=evidence]").set_input_files(
        files=[{"name": "现场.png", "mimeType": "image/png", "buffer": PNG_1PX}]
    )
    shoot(page, "patrol_record")
    panel.locator("button[type=submit]").tap()
    expect(panel).to_contain_text("已保存,照片 1 张")
    expect(panel).to_contain_text("人员:张三")
    [logged] = incidents()
    assert logged.staff.name == "张三" and logged.note == "未按规定着装"
    assert [e.filename for e in logged.evidence] == ["现场.png"]
    assert logged.history[-1].action == "corrected"
    panel.locator("[data-patrol-close]").tap()
    expect(panel).to_be_hidden()
    # Later, the cell's 详情 opens the same record.
    target.locator("button.rec").tap()
    expect(panel).to_be_visible()
    expect(panel).to_contain_text("备注:未按规定着装")


def test_blank_sheet_prints_on_a4_landscape(live_server, open_page, make, app):
    import subprocess

    hall(make)
    page = open_tablet(open_page, live_server)
    page.goto(f"{live_server.url}/admin/patrol/blank")
    page.wait_for_selector("#patrol-blank")
    page.wait_for_load_state("networkidle")
    shoot(page, "patrol_blank")
    pdf = SCREENSHOTS / "patrol_blank.pdf"
    page.emulate_media(media="print")
    page.pdf(path=str(pdf), prefer_css_page_size=True, print_background=True)
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True).stdout
    width, height = map(float, re.search(r"Page size:\s+([\d.]+) x ([\d.]+)", info).groups())
    assert "(A4)" in info and width > height  # A4 landscape
    subprocess.run(
        [
            "pdftoppm",
            "-png",
            "-r",
            "60",
            "-f",
            "1",
            "-singlefile",
            str(pdf),
            str(SCREENSHOTS / "patrol_blank_pdf"),
        ],
        check=True,
    )
