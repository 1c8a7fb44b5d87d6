"""The hall screen in Debian's Chromium at 1920x1080 and 1080x1920: rotation, live, offline, quiet hours.

The data is a realistic hall: 30 stationed units, January and February 2024 published, March live
(HALL_TODAY is pinned to 2024-03-20 10:00), and a published honor roll: 2023's fourth quarter (October to
December closed) with six advanced collectives and seven advanced individuals, and 2023's eight excellent
window units.
"""

from __future__ import annotations

import re
from datetime import date, datetime

import pytest

from models import Unit, db
from services import honors, incidents, kiosk, months
from services import standings as standings_service
from services.clock import from_hall
from tests.browser.conftest import KIOSK, KIOSK_PORTRAIT, SCREENSHOTS, screenshot

UNITS = [
    "市公安局出入境管理支队",
    "市公安局交通警察支队",
    "市公安局户政管理处",
    "市市场监督管理局",
    "市税务局",
    "市人力资源和社会保障局",
    "市医疗保障局",
    "市住房公积金管理中心",
    "市不动产登记中心",
    "市自然资源局",
    "市住房和城乡建设局",
    "市生态环境局",
    "市交通运输局",
    "市商务局",
    "市卫生健康委员会",
    "市民政局",
    "市司法局",
    "市财政局",
    "市教育局",
    "市文化旅游和广播电视局",
    "市农业农村局",
    "市水利局",
    "市应急管理局",
    "市退役军人事务局",
    "市残疾人联合会",
    "国网市供电公司",
    "市燃气集团",
    "市自来水公司",
    "市公证处",
    "市烟草专卖局",
]
# (unit index, rule, day, count) per month: a few deductions and bonuses, so scores and grades differ.
JANUARY = [
    (3, "D01", 8, 1),
    (4, "D08", 9, 1),
    (9, "D09", 10, 1),
    (12, "D10", 11, 2),
    (20, "D11", 15, 1),
    (7, "B03", 16, 1),
    (1, "B01", 17, 1),
    (25, "D08", 18, 1),
    (27, "D09", 19, 3),
    (29, "D01", 22, 1),
]
FEBRUARY = [
    (3, "D01", 5, 1),
    (12, "D09", 6, 1),
    (20, "D10", 7, 1),
    (5, "D08", 19, 1),
    (27, "D11", 20, 2),
    (2, "B02a", 21, 1),
    (7, "B03", 22, 1),
    (16, "D01", 23, 1),
    (18, "D14", 26, 1),
    (11, "D09", 27, 1),
]
MARCH = [
    (4, "D01", 4, 1),
    (6, "D08", 5, 1),
    (12, "D09", 6, 1),
    (20, "D10", 7, 1),
    (27, "D02a", 11, 1),
    (0, "B03", 12, 1),
    (8, "B01", 13, 1),
    (15, "D01", 14, 1),
    (22, "D08", 15, 2),
    (29, "D14", 18, 1),
]


MORE_UNITS = ["市档案馆", "市气象局", "市邮政管理局", "市红十字会", "市消防救援支队", "市人民防空办公室"]
PEOPLE = ["王小明", "李华", "张丽娟", "刘建国", "陈静", "杨帆", "赵敏", "黄志强", "周婷", "吴磊", "徐芳"]


def publish_rolls(
    make, units: list[Unit], collectives: int = 6, people: int = 7, year_units: int = 8
) -> None:
    """The published honor rolls of 2023: the fourth quarter's (its months closed; every unit scores 100
    there, so all are candidates) and the year's. Individuals are window staff of the collectives."""
    for month in (10, 11, 12):
        months.close(2023, month)
    chosen = units[:collectives]
    staff = [
        make.staff(
            chosen[i % len(chosen)],
            f"P{i:03d}",
            name=PEOPLE[i % len(PEOPLE)],
            window=str(i % 3 + 1),
            start=date(2023, 1, 1),
        )
        for i in range(people)
    ]
    roll = honors.save_selection("quarter", 2023, 4, [u.id for u in chosen], [s.id for s in staff])
    honors.publish(roll.id)
    if year_units:
        year = honors.save_selection("year", 2023, 0, [u.id for u in units[-year_units:]])
        honors.publish(year.id)
    db.session.commit()


def build_hall(make, names=UNITS) -> list[Unit]:
    units = [
        make.unit(code=f"D{i + 1:02d}", name=name, windows="1;2;3", display_order=i)
        for i, name in enumerate(names)
    ]
    for month, rows in ((1, JANUARY), (2, FEBRUARY), (3, MARCH)):
        for index, rule, day, count in rows:
            incidents.create(units[index], rule, from_hall(datetime(2024, month, day, 9, 30)), count=count)
        db.session.commit()
    for month in (1, 2):
        months.close(2024, month)
        months.publish(2024, month)
    db.session.commit()
    publish_rolls(make, units)
    return units


def fresh_caches() -> None:
    standings_service._cache.clear()  # audit ids restart after each test's wipe: a stale hit would lie
    kiosk.clear_caches()


@pytest.fixture
def hall(make):
    fresh_caches()
    yield build_hall(make)
    fresh_caches()


@pytest.fixture
def big_hall(make):
    """36 units: full pages of eighteen in portrait, the most a page holds."""
    fresh_caches()
    yield build_hall(make, UNITS + MORE_UNITS)
    fresh_caches()


def configure(**values) -> None:
    kiosk.save_settings(values)
    db.session.commit()


ACTIVE = "[data-slide][data-active]:visible"  # the page shown, in the set of the screen's orientation


def open_kiosk(open_page, live_server, viewport=KIOSK):
    page = open_page(viewport)
    page.goto(f"{live_server.url}/kiosk/?screen=测试屏")
    page.locator(ACTIVE).wait_for()
    return page


def active_key(page) -> str:
    return page.evaluate(
        """() => { for (const s of document.querySelectorAll('.k-slides')) {
             if (getComputedStyle(s).display !== 'none') {
               const a = s.querySelector('[data-slide][data-active]'); return a ? a.dataset.slide : null; } }
           return null; }"""
    )


def wait_for_slide(page, key: str, timeout: float = 20000, settle: bool = True) -> None:
    # Generous: a slide turns every few seconds, but a loaded machine can starve the browser for a while.
    page.wait_for_function(
        """key => { for (const s of document.querySelectorAll('.k-slides')) {
             if (getComputedStyle(s).display !== 'none') {
               const a = s.querySelector('[data-slide][data-active]');
               return a && a.dataset.slide === key; } }
           return false; }""",
        arg=key,
        timeout=timeout,
    )
    if settle:
        page.wait_for_timeout(800)  # the cross-fade


def assert_fits(page) -> None:
    sizes = page.evaluate(
        """() => ({scroll: document.documentElement.scrollHeight, inner: window.innerHeight,
                  scrollW: document.documentElement.scrollWidth, innerW: window.innerWidth,
                  cursor: getComputedStyle(document.body).cursor})"""
    )
    assert sizes["scroll"] <= sizes["inner"] and sizes["scrollW"] <= sizes["innerW"], sizes
    assert sizes["cursor"] == "none"


def assert_rows_fit(page) -> None:
    """Every row of the shown page is inside the screen (nothing cut off at the bottom)."""
    bottom = page.evaluate(
        """() => { let b = 0; for (const s of document.querySelectorAll('.k-slides')) {
             if (getComputedStyle(s).display === 'none') continue;
             const a = s.querySelector('[data-slide][data-active]');
             for (const el of a.querySelectorAll('tr, .k-stat')) {
               b = Math.max(b, el.getBoundingClientRect().bottom); }
             const tabs = s.querySelector('.k-tabs').getBoundingClientRect();
             return {rows: b, tabs: tabs.top, height: window.innerHeight}; } }"""
    )
    assert bottom["rows"] <= bottom["tabs"] + 1 and bottom["tabs"] < bottom["height"], bottom


def visible_keys(page) -> list[str]:
    """Every page of the set the screen shows (landscape or portrait), in rotation order."""
    return page.evaluate(
        """() => { for (const s of document.querySelectorAll('.k-slides')) {
             if (getComputedStyle(s).display !== 'none') {
               return [...s.querySelectorAll('[data-slide]')].map(x => x.dataset.slide); } }
           return []; }"""
    )


def show_slide(page, key: str) -> None:
    """Bring page `key` on as the rotation would (slide, tab and dot), then let the cross-fade end."""
    page.evaluate(
        """key => { for (const s of document.querySelectorAll('.k-slides')) {
             if (getComputedStyle(s).display === 'none') continue;
             const mark = (sel, on) => s.querySelectorAll(sel).forEach(
               x => x.toggleAttribute('data-active', on(x)));
             mark('[data-slide]', x => x.dataset.slide === key);
             mark('[data-dot]', x => x.dataset.dot === key);
             mark('[data-tab]', x => key.startsWith(x.dataset.tab + '-')); } }""",
        key,
    )
    page.wait_for_timeout(800)


def row_gaps(page) -> dict:
    """Per table of the page shown: how far its last row ends above the bottom of the room it has (px).

    A table panel's room is the page's body, which reaches the page's bottom; each of the top and bottom
    lists has its half. Also the gap between the body and the page's bottom edge (its padding excluded)."""
    return page.evaluate(
        """() => { for (const s of document.querySelectorAll('.k-slides')) {
             if (getComputedStyle(s).display === 'none') continue;
             const a = s.querySelector('[data-slide][data-active]');
             const body = a.querySelector('.k-panel-body').getBoundingClientRect();
             const pad = parseFloat(getComputedStyle(a).paddingBottom);
             const out = {fill: a.classList.contains('k-fill'),
                          body: a.getBoundingClientRect().bottom - pad - body.bottom, tables: []};
             for (const t of a.querySelectorAll('table')) {
               const rows = t.querySelectorAll('tbody tr');
               const room = (t.closest('.k-short') || t.parentElement).getBoundingClientRect();
               out.tables.push(room.bottom - rows[rows.length - 1].getBoundingClientRect().bottom); }
             return out; } }"""
    )


def room_left_by_a_full_page(page, rows: int) -> float:
    """Px left below the last row when the page shown holds `rows` rows at their natural height (no k-fill):
    negative when the server's rows per page would not fit. Changes that page's DOM: call it last."""
    return page.evaluate(
        """rows => { for (const s of document.querySelectorAll('.k-slides')) {
             if (getComputedStyle(s).display === 'none') continue;
             const a = s.querySelector('[data-slide][data-active]');
             a.classList.remove('k-fill');
             const body = a.querySelector('tbody');
             while (body.rows.length < rows) body.appendChild(body.rows[0].cloneNode(true));
             while (body.rows.length > rows) body.deleteRow(-1);
             const room = body.closest('table').parentElement.getBoundingClientRect();
             return room.bottom - body.rows[rows - 1].getBoundingClientRect().bottom; } }""",
        rows,
    )


def small_texts(page, least: float = 28) -> tuple[int, list]:
    """(how many visible texts were measured, those whose computed font size is below `least` px)."""
    found = page.evaluate(
        """least => { const small = []; let seen = 0;
             const walk = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
             while (walk.nextNode()) {
               const node = walk.currentNode, el = node.parentElement;
               if (!node.textContent.trim() || !el) continue;
               if (!el.checkVisibility({opacityProperty: true, visibilityProperty: true})) continue;
               const box = el.getBoundingClientRect();
               if (!box.width || !box.height || box.bottom <= 0 || box.top >= innerHeight) continue;
               seen += 1;
               const px = parseFloat(getComputedStyle(el).fontSize);
               if (px < least) small.push([node.textContent.trim(), px]); }
             return [seen, small]; }""",
        least,
    )
    return found[0], found[1]


def ranking_font_px(page) -> float:
    return page.evaluate(
        """() => { for (const s of document.querySelectorAll('.k-slides')) {
             if (getComputedStyle(s).display === 'none') continue;
             const td = s.querySelector('[data-slide][data-active] td.k-name');
             return parseFloat(getComputedStyle(td).fontSize); } }"""
    )


def test_landscape_rotates_through_every_panel_and_page(hall, open_page, live_server):
    configure(interval=2)
    page = open_kiosk(open_page, live_server)
    assert page.locator("h1").first.inner_text() == "市政务服务大厅"
    assert active_key(page) == "live-1"
    shown = page.locator(ACTIVE)
    assert "2024年3月 实时排名" in shown.inner_text() and "实时 · 暂定" in shown.inner_text()
    assert shown.locator("tbody tr").count() == 10  # 30 units: three pages of ten
    assert "第 1 / 3 页" in shown.inner_text()
    keys = page.evaluate(
        "() => [...document.querySelectorAll('.k-landscape [data-slide]')].map(s => s.dataset.slide)"
    )
    assert keys[:6] == ["live-1", "live-2", "live-3", "published-1", "published-2", "published-3"]
    assert keys[6] == "honor-1" and all(k.startswith("honor-") for k in keys[6:])
    for key in keys[1:] + ["live-1"]:  # every page in turn, then round again
        wait_for_slide(page, key, timeout=4000, settle=False)
        assert page.locator(".k-landscape [data-slide][data-active]").count() == 1
        assert_fits(page)
    assert page.locator(".k-landscape [data-tab=live][data-active]").count() == 1


@pytest.mark.parametrize("panel", ["live", "published", "honor", "topbottom"])
def test_each_panel_at_1080p(hall, open_page, live_server, panel):
    configure(interval=300, panels=[panel], top_n=5)
    page = open_kiosk(open_page, live_server)
    page.wait_for_timeout(900)
    screenshot(page, f"kiosk_{panel}")
    shown = page.locator(ACTIVE)
    text = shown.inner_text()
    if panel == "live":
        assert "2024年3月 实时排名" in text and "实时 · 暂定" in text and "参评单位" in text
        assert "较2月" in text  # ▲/▼ against the last published month, on the live panel too
        assert shown.locator(".k-up, .k-down").count() > 0
    elif panel == "published":
        assert "2024年2月 考核通报" in text and "正式结果" in text and "较1月" in text and "优秀" in text
        assert shown.locator(".k-up, .k-down").count() > 0  # ▲/▼ against January, published too
    elif panel == "honor":  # the published roll, never the computed candidates
        assert "光荣榜 · 2023年第四季度" in text and "正式公布" in text and "候选" not in text
        assert "先进集体" in text and "先进个人" in text and "王小明" in text and "号窗口" in text
    else:
        assert "前5名" in text and "后5名" in text and "市应急管理局" in text
    assert shown.locator("tbody tr").count() > 0
    assert ranking_font_px(page) >= 32
    assert_fits(page)
    assert_rows_fit(page)


@pytest.mark.parametrize(("orientation", "viewport"), [("landscape", KIOSK), ("portrait", KIOSK_PORTRAIT)])
def test_every_page_fills_the_screen_in_large_type(hall, open_page, live_server, orientation, viewport):
    """30 units at 1920x1080 and 1080x1920: every page of every panel reaches the bottom of the screen
    (no half-empty screen), and no text on it is smaller than 28 px."""
    configure(interval=300, panels=list(kiosk.PANELS), top_n=5)
    page = open_kiosk(open_page, live_server, viewport)
    keys = visible_keys(page)
    assert {k.rsplit("-", 1)[0] for k in keys} == set(kiosk.PANELS), keys
    measured = 0
    for key in keys:
        show_slide(page, key)
        assert active_key(page) == key
        shown = page.locator(ACTIVE)
        short = key.startswith(("topbottom", "honor"))  # lists of a few rows, in larger type
        assert shown.locator("tbody tr").count() >= (5 if short else 7), key
        gaps = row_gaps(page)
        assert gaps["fill"], (key, gaps)
        assert abs(gaps["body"]) <= 2 and all(0 <= gap <= 6 for gap in gaps["tables"]), (key, gaps)
        seen, small = small_texts(page)
        assert seen >= 30 and not small, (key, small)
        measured += seen
        assert_fits(page)
        assert_rows_fit(page)
        screenshot(page, f"kiosk_{orientation}_{key}")
        if not key.startswith(("topbottom", "honor")):  # and a page as long as the server makes them fits too
            most = kiosk.ROWS_LANDSCAPE if orientation == "landscape" else kiosk.ROWS_PORTRAIT
            assert room_left_by_a_full_page(page, most) >= 0, key
    assert measured > 30 * len(keys)


@pytest.mark.parametrize(("orientation", "viewport"), [("landscape", KIOSK), ("portrait", KIOSK_PORTRAIT)])
def test_a_full_honor_page_fits_in_large_type(make, open_page, live_server, orientation, viewport):
    """As many collectives and individuals as an honor page holds (seven of each in landscape, six in
    portrait), long unit names among them: every row is on the screen, the page is filled, nothing is
    smaller than 28 px."""
    fresh_caches()
    most = kiosk.HONOR_ROWS_LANDSCAPE if orientation == "landscape" else kiosk.HONOR_ROWS_PORTRAIT
    units = [
        make.unit(code=f"H{i:02d}", name=name, windows="1;2;3", display_order=i)
        for i, name in enumerate(UNITS[:most])
    ]
    publish_rolls(make, units, collectives=most, people=most, year_units=0)
    configure(interval=300, panels=["honor"])
    page = open_kiosk(open_page, live_server, viewport)
    assert visible_keys(page) == ["honor-1"]
    shown = page.locator(ACTIVE)
    assert shown.locator(".k-honor-collective tbody tr").count() == most
    assert shown.locator(".k-honor-individual tbody tr").count() == most
    assert "市公安局出入境管理支队" in shown.inner_text()
    gaps = row_gaps(page)
    assert gaps["fill"] and all(0 <= gap <= 6 for gap in gaps["tables"]), gaps
    seen, small = small_texts(page)
    assert seen >= 30 and not small, small
    assert_fits(page)
    assert_rows_fit(page)
    screenshot(page, f"kiosk_{orientation}_honor_full")
    fresh_caches()


def test_portrait_shows_longer_pages(big_hall, open_page, live_server):
    configure(interval=2, panels=["live", "published", "honor", "topbottom"], top_n=5)
    page = open_kiosk(open_page, live_server, KIOSK_PORTRAIT)
    assert active_key(page) == "live-1"
    assert page.locator(".k-landscape").is_hidden()
    shown = page.locator(ACTIVE)
    assert shown.locator("tbody tr").count() == 18  # 36 units: two full pages of eighteen
    page.wait_for_timeout(800)
    screenshot(page, "kiosk_portrait")
    assert ranking_font_px(page) >= 32
    assert_fits(page)
    assert_rows_fit(page)
    for key in ("live-2", "published-1"):
        wait_for_slide(page, key)
    assert_rows_fit(page)
    screenshot(page, "kiosk_portrait_published")
    for key in ("published-2", "honor-1"):
        wait_for_slide(page, key)
    assert_rows_fit(page)
    screenshot(page, "kiosk_portrait_honor")
    wait_for_slide(page, "topbottom-1")
    text = page.locator(ACTIVE).inner_text()
    assert "前5名" in text and "后5名" in text
    assert_rows_fit(page)
    screenshot(page, "kiosk_portrait_topbottom")


def test_an_incident_logged_appears_within_five_seconds(hall, open_page, live_server):
    configure(interval=300, panels=["live"])
    page = open_kiosk(open_page, live_server)
    page.evaluate("() => { window.__notReloaded = true; }")
    row = page.locator(".k-landscape tr", has_text="市民政局")
    assert row.locator("td.k-score").text_content().strip() == "98"

    incidents.create(hall[15], "D09", from_hall(datetime(2024, 3, 19, 10, 0)))
    db.session.commit()

    page.wait_for_function(
        """() => [...document.querySelectorAll('.k-landscape tr')].some(
             tr => tr.textContent.includes('市民政局')
                   && tr.querySelector('td.k-score').textContent.trim() === '93')""",
        timeout=5000,
    )
    assert page.evaluate("() => window.__notReloaded") is True  # swapped in place, no reload
    assert active_key(page) == "live-1"
    assert page.locator(".k-landscape [data-slide][data-active]").count() == 1


def test_offline_mark_keeps_content_and_recovers(hall, open_page, live_server):
    configure(interval=300, panels=["live"])
    page = open_kiosk(open_page, live_server)
    before = page.locator(ACTIVE).inner_text()
    stamp = page.locator(".k-stamp").inner_text()
    assert re.fullmatch(r"数据更新于 (\d+月\d+日 )?\d\d:\d\d", stamp), stamp
    assert page.locator(".k-offline").is_hidden()
    live_server.stop()
    page.wait_for_selector("body[data-offline]", state="attached", timeout=10_000)
    assert page.locator(".k-offline").is_visible()
    # One updated time: the mark is the stamp itself, the server's time of the data shown, not a second clock.
    assert " ".join(page.locator(".k-foot").inner_text().split()) == f"离线 · {stamp}"
    assert "最后更新" not in page.content()
    assert page.locator(ACTIVE).inner_text() == before  # the last content stays
    page.wait_for_timeout(4500)  # another failed poll or two: still the same, nothing blank
    assert page.locator(ACTIVE).inner_text() == before
    assert " ".join(page.locator(".k-foot").inner_text().split()) == f"离线 · {stamp}"
    assert not small_texts(page)[1]  # the mark too is at least 28 px
    screenshot(page, "kiosk_offline")
    page.set_viewport_size(KIOSK_PORTRAIT)
    page.wait_for_timeout(300)
    assert page.locator(".k-offline").is_visible() and not small_texts(page)[1]
    screenshot(page, "kiosk_offline_portrait")
    page.set_viewport_size(KIOSK)

    live_server.start()
    page.wait_for_function("() => !document.body.hasAttribute('data-offline')", timeout=10_000)
    assert page.locator(".k-offline").is_hidden()
    assert page.locator(ACTIVE).inner_text() == before


def test_quiet_hours_show_a_calm_screen(hall, open_page, live_server):
    configure(quiet_enabled=True, quiet_start="09:00", quiet_end="12:00")  # HALL_NOW is 10:00
    page = open_page(KIOSK)
    page.goto(f"{live_server.url}/kiosk/")
    page.wait_for_selector(".k-quiet")
    text = page.locator(".k-quiet").inner_text()
    assert "非办公时间" in text and "市政务服务大厅" in text and "08:30–11:30" in text
    assert page.locator(".k-head").is_hidden()
    assert "D0" not in page.content() and "市民政局" not in page.content()
    page.wait_for_timeout(1200)
    assert_fits(page)
    seen, small = small_texts(page)
    assert seen >= 5 and not small, small
    screenshot(page, "kiosk_quiet")

    # Leaving quiet hours (here: the setting turned off) brings the rankings back without a touch.
    configure(quiet_enabled=False)
    page.wait_for_selector(".k-landscape [data-slide][data-active]", timeout=6000)
    assert page.locator(".k-head").is_visible()
    page.set_viewport_size(KIOSK_PORTRAIT)
    configure(quiet_enabled=True)
    page.wait_for_selector(".k-quiet", timeout=6000)
    page.wait_for_timeout(1200)
    assert_fits(page)
    assert not small_texts(page)[1]
    screenshot(page, "kiosk_quiet_portrait")


def test_a_change_keeps_the_page_shown_and_never_leaves_a_frame_without_one(hall, open_page, live_server):
    configure(interval=6, panels=["live"])
    page = open_kiosk(open_page, live_server)
    first = page.locator("[data-clock=time]").first.inner_text()
    assert first.startswith("10:0")  # hall time from the server (HALL_NOW is pinned to 10:00)
    page.wait_for_timeout(1200)
    assert page.locator("[data-clock=time]").first.inner_text() != first  # the clock ticks
    wait_for_slide(page, "live-2", timeout=8000)
    # Record, after every DOM change, how many pages are shown: a swap must never leave none (a flicker).
    page.evaluate(
        """() => { window.__shown = [];
             new MutationObserver(() => window.__shown.push(
               document.querySelectorAll('.k-landscape [data-slide][data-active]').length))
             .observe(document.body, {subtree: true, childList: true, attributes: true}); }"""
    )
    incidents.create(hall[3], "D08", from_hall(datetime(2024, 3, 19, 15, 0)))
    db.session.commit()
    page.wait_for_function(
        """() => [...document.querySelectorAll('.k-landscape tr')].some(
             tr => tr.textContent.includes('市市场监督管理局')
                   && tr.querySelector('td.k-score').textContent.trim() === '97')""",
        timeout=5000,
    )
    assert active_key(page) == "live-2"  # still the page it was on, not back to the first
    shown = page.evaluate("() => window.__shown")
    assert shown and set(shown) == {1}, shown


def test_errors_and_foreign_pages_are_never_swapped_in(hall, open_page, live_server, live_app, monkeypatch):
    configure(interval=300, panels=["live"])
    page = open_kiosk(open_page, live_server)
    before = page.locator(ACTIVE).inner_text()

    def broken():
        raise RuntimeError("database gone")

    monkeypatch.setattr(kiosk, "current_version", broken)  # every poll now answers 500
    page.wait_for_selector("body[data-offline]", state="attached", timeout=10_000)
    assert page.locator(ACTIVE).inner_text() == before
    assert "系统错误" not in page.content()

    monkeypatch.undo()
    # A proxy's or captive portal's page answering 200 is not the screen's fragment either.
    monkeypatch.setitem(live_app.view_functions, "kiosk.live", lambda: "<h1>维护中</h1>")
    page.wait_for_timeout(4500)
    assert page.locator(ACTIVE).inner_text() == before and "维护中" not in page.content()
    assert page.evaluate("() => document.body.hasAttribute('data-offline')")

    monkeypatch.undo()
    page.wait_for_function("() => !document.body.hasAttribute('data-offline')", timeout=10_000)
    assert page.locator(ACTIVE).inner_text() == before


def form_screenshot(page, name: str) -> None:
    """Like conftest's screenshot(), but leaves the caret alone: Playwright hides it with an injected <style>
    that a later boosted navigation carries along, and the CSP (rightly) refuses it."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), caret="initial")


def test_admin_sets_the_screen_up(hall, open_page, live_server, make):
    from tests.browser.conftest import DESK, login_as
    from tests.conftest import PASSWORD

    make.user("admin", username="kiosk-admin")
    # A screen the admin registered, opened at the address the page gave (an unregistered one is not listed).
    _screen, token = kiosk.register_screen("测试屏", "landscape", None)
    db.session.commit()
    client_page = open_page(KIOSK)
    client_page.goto(f"{live_server.url}/kiosk/?screen={token}")
    client_page.locator(ACTIVE).wait_for()
    client_page.close()
    page = open_page(DESK)
    login_as(page, live_server, "kiosk-admin", PASSWORD)
    page.wait_for_url("**/admin/")  # the login form is boosted: wait until it has landed
    page.goto(f"{live_server.url}/admin/kiosk")
    assert "测试屏" in page.locator("table").inner_text()
    page.fill("input[name=interval]", "1")
    page.click("main form [type=submit]")
    page.wait_for_selector(".field .error")
    assert "应为 2 至 300 之间的整数" in page.content()
    form_screenshot(page, "kiosk_settings_error")
    page.fill("input[name=interval]", "20")
    page.check("input[name=panel_topbottom]")
    page.click("main form [type=submit]")
    page.wait_for_selector(".flash-success")
    form_screenshot(page, "kiosk_settings")
    db.session.expire_all()
    saved = kiosk.get_settings()
    assert saved["interval"] == 20 and "topbottom" in saved["panels"]
