"""The patrol sheet on a tablet in Chromium, landscape and portrait: tap a cell (count 1, "已记录 · 撤销"),
tap again (undone); touch targets of at least 44 px; sticky head row and window column; only the table
scrolls sideways; a tap made while offline waits in the browser and is sent when the network returns."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from models import Incident, IncidentStatus, db
from tests.browser.conftest import SCREENSHOTS, TABLET, TABLET_PORTRAIT, login_as
from tests.conftest import PASSWORD

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
    return path


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
    page = open_page(viewport, has_touch=True)
    login_as(page, live_server, "patrol1", PASSWORD)
    page.wait_for_url(re.compile(r"/admin/$"))
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


def test_an_offline_tap_waits_and_is_sent_once_back_online(live_server, open_page, make, app):
    units = hall(make)
    page = open_page(TABLET, has_touch=True)
    login_as(page, live_server, "patrol1", PASSWORD)
    page.wait_for_url(re.compile(r"/admin/$"))
    page.goto(f"{live_server.url}/admin/patrol")
    page.wait_for_selector("#patrol-sheet")
    target = cell(page, units[1], "3", "D01")

    page.context.set_offline(True)
    target.locator("button.tap").tap()
    expect(page.locator("#patrol-unsent")).to_be_visible()
    expect(page.locator("#patrol-unsent")).to_contain_text("1 条未发送")
    expect(target).to_have_class(re.compile(r"\bpending\b"))
    assert incidents() == []
    queued = page.evaluate("() => JSON.parse(localStorage.getItem('hallscore.patrol.queue'))")
    assert len(queued) == 1 and queued[0]["params"]["rule_code"] == "D01"

    page.context.set_offline(False)
    expect(page.locator("#patrol-unsent")).to_be_hidden(timeout=20_000)
    expect(target.locator(".n").first).to_have_text("1")
    [logged] = incidents()
    assert (logged.unit_id, logged.window, logged.rule_code) == (units[1].id, "3", "D01")
    assert logged.client_key == queued[0]["params"]["client_key"]
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
    assert status == 200 and len(incidents()) == 1


def test_blank_sheet_prints_on_a4_landscape(live_server, open_page, make, app):
    import subprocess

    hall(make)
    page = open_page(TABLET)
    login_as(page, live_server, "patrol1", PASSWORD)
    page.wait_for_url(re.compile(r"/admin/$"))
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
