"""The hall screen through the test client: its content, its cheap poll (ETag, 304, 204), its settings page.

No login is needed for /kiosk; HALL_TODAY is pinned to 2024-03-20 and HALL_NOW to 10:00 hall time.
"""

from __future__ import annotations

import hashlib
import re
from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import event, func, select

from models import AuditLog, KioskScreen, Setting, db
from services import incidents, kiosk, months
from services import standings as standings_service
from services.clock import from_hall
from services.standings import standings_json


@pytest.fixture(autouse=True)
def fresh_caches(app):
    # The database is wiped between tests and audit ids start again: cached results keyed by them would lie.
    standings_service._cache.clear()
    kiosk.clear_caches()
    yield
    kiosk.clear_caches()


def poll(client, v="", **headers):
    response = client.get(f"/kiosk/live?v={v}", headers=headers)
    response.close()  # runs the after-response work (the screen's heartbeat), as a server would
    return response


def version_of(client) -> str:
    return poll(client).headers["X-Kiosk-Version"]


def rows(html: str) -> dict[str, str]:
    """Unit name -> score shown, from the landscape live table."""
    out = {}
    for name, score in re.findall(
        r'<td class="k-name">([^<]+)</td>.*?<td class="k-num k-score">(\d+)</td>', html, flags=re.S
    ):
        out.setdefault(name, score)
    return out


def test_screen_shows_the_live_standings_without_login(client, make):
    a = make.unit("U01", name="市税务局")
    make.unit("U02", name="市公安局")
    make.incident(a, "D08")  # -3
    make.incident(a, "B03")  # +2
    response = client.get("/kiosk/")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    data = standings_json(2024, 3)
    shown = rows(html)
    for unit in data["units"]:
        assert shown[unit["name"]] == str(unit["score"])
    assert shown == {"市公安局": "100", "市税务局": "99"}
    assert "2024年3月 实时排名" in html and "实时 · 暂定" in html
    assert "市政务服务大厅" in html
    assert '<span class="k-minus">−3</span>' in html and '<span class="k-plus">+2</span>' in html
    # Its own layout: no menu, no boosted links, no login form; htmx and the screen's script are served here.
    assert "hx-boost" not in html and "mainnav" not in html and "/login" not in html
    assert "/static/vendor/htmx-2.0.11.min.js" in html and "/static/js/kiosk.js" in html
    assert '"timeout":4000' in html and '{"code":"204","swap":false}' in html
    assert 'hx-trigger="every 4s"' in html
    assert "Content-Security-Policy" in response.headers
    assert response.headers["Cache-Control"] == "no-store"


def test_page_has_no_inline_script_style_or_handlers(client, make):
    make.unit("U01")
    html = client.get("/kiosk/").get_data(as_text=True)
    assert not re.search(r"<script(?![^>]*\bsrc=)", html)
    assert "style=" not in html and "<style" not in html
    assert not re.search(r"\son[a-z]+=", html) and "hx-on" not in html
    assert "http://" not in html and "https://" not in html  # nothing from the internet


def test_fragment_is_the_live_block_with_its_version_in_the_poll_url(client, make):
    make.unit("U01", name="市税务局")
    response = poll(client, v="old")
    html = response.get_data(as_text=True)
    tag = response.headers["X-Kiosk-Version"]
    assert response.status_code == 200
    assert response.headers["ETag"] == f'"{tag}"'
    assert response.headers["Cache-Control"] == "no-cache"
    assert html.lstrip().startswith('<main id="kiosk-live"')
    assert "<html" not in html and "k-head" not in html
    assert f"/kiosk/live?v={tag}&amp;screen=" in html
    assert rows(html) == {"市税务局": "100"}


def test_unchanged_poll_gets_204_and_a_matching_etag_304(client, make):
    make.unit("U01")
    tag = version_of(client)
    same = poll(client, v=tag)
    assert same.status_code == 204 and same.data == b""
    assert same.headers["X-Kiosk-Version"] == tag
    cached = poll(client, v="", **{"If-None-Match": f'"{tag}"'})
    assert cached.status_code == 304 and cached.data == b""
    # A compressing proxy (nginx's gzip) makes the ETag weak on the way out and back: still a 304.
    weak = poll(client, v="", **{"If-None-Match": f'W/"{tag}"'})
    assert weak.status_code == 304 and weak.data == b""
    stale = poll(client, v="something-older", **{"If-None-Match": '"something-older"'})
    assert stale.status_code == 200 and b"kiosk-live" in stale.data


def test_version_moves_with_an_incident_and_the_fragment_shows_it(client, make):
    unit = make.unit("U01", name="市税务局")
    before = version_of(client)
    incident = make.incident(unit, "D09")  # -5
    after = version_of(client)
    assert after != before
    response = poll(client, v=before)
    assert response.status_code == 200 and rows(response.get_data(as_text=True)) == {"市税务局": "95"}
    assert poll(client, v=after).status_code == 204

    incidents.void(incident, "误录")
    db.session.commit()
    voided = version_of(client)
    assert voided != after
    assert rows(poll(client, v=after).get_data(as_text=True)) == {"市税务局": "100"}


def test_version_moves_when_a_month_is_published_and_the_bulletin_panel_appears(client, make):
    a = make.unit("U01", name="市税务局")
    b = make.unit("U02", name="市公安局")
    make.incident(a, "D09", at=datetime(2024, 1, 10, 9, 0))
    make.incident(b, "D08", at=datetime(2024, 2, 10, 9, 0))
    for month in (1, 2):
        months.close(2024, month)
    db.session.commit()
    closed = version_of(client)
    html = client.get("/kiosk/").get_data(as_text=True)
    assert "考核通报" not in html  # closed is not published: the public screen waits for the bulletin

    months.publish(2024, 1)
    months.publish(2024, 2)
    db.session.commit()
    published = version_of(client)
    assert published != closed
    html = poll(client, v=closed).get_data(as_text=True)
    assert "2024年2月 考核通报" in html and "正式结果" in html and "较1月" in html
    section = html[html.index('data-slide="published-1"') :]
    section = section[: section.index("</section>")]
    # February: 市税务局 100 first (up from 2nd in January), 市公安局 97 second (down from 1st).
    assert re.search(r"k-up[^>]*>▲1</span>.*?市税务局.*?>100<.*?k-grade-excellent", section, flags=re.S)
    assert re.search(r"k-down[^>]*>▼1</span>.*?市公安局.*?>97<", section, flags=re.S)


def publish_roll(units, people=(), year=2023, quarter=4):
    """A published honor roll of 2023's fourth quarter (its months closed first): `units` as advanced
    collectives, `people` (staff) as advanced individuals. Every unit is a candidate (no incidents)."""
    from services import honors

    for m in (10, 11, 12):
        if months.is_open(year, m):
            months.close(year, m)
    roll = honors.save_selection("quarter", year, quarter, [u.id for u in units], [p.id for p in people])
    honors.publish(roll.id)
    db.session.commit()
    return roll


def test_honor_roll_shows_only_a_published_roll_never_the_candidates(client, make):
    good = make.unit("U01", name="市税务局")
    make.unit("U02", name="市公安局")
    poor = make.unit("U03", name="市商务局")
    make.incident(good, "B03", at=datetime(2024, 1, 10, 9, 0))
    make.incident(poor, "D11", at=datetime(2024, 2, 10, 9, 0), count=3)
    # The quarter's computed candidates (市税务局, 市公安局) are not a roll: the panel is left out.
    html = client.get("/kiosk/").get_data(as_text=True)
    assert 'data-panel="honor"' not in html and 'data-tab="honor"' not in html
    assert "候选" not in html and "光荣榜" not in html.split("<main", 1)[1]

    staff = make.staff(good, "S-1", name="王小明", window="2", start=date(2023, 1, 1))
    publish_roll([good], [staff])
    kiosk.clear_caches()
    html = client.get("/kiosk/").get_data(as_text=True)
    section = section_of(html, "honor-1")
    assert "光荣榜 · 2023年第四季度" in section and "正式公布" in section and "候选" not in section
    assert "先进集体" in section and "先进个人" in section
    assert re.findall(r'<td class="k-name">([^<]+)</td>', section) == ["市税务局", "市税务局"]
    assert '<td class="k-person">王小明</td>' in section and "2号窗口" in section
    assert "市公安局" not in section  # a candidate not chosen is never shown
    assert 'data-tab="honor"' in html


def test_no_personal_data_and_no_flags_on_the_public_screen(client, make):
    unit = make.unit("U01", name="市税务局")
    staff = make.staff(unit, "S-7788", name="王小明")
    make.incident(
        unit, "D02c", count=3, staff=staff, window="1", note="内部备注甲", public_text="通知单正文乙"
    )
    assert standings_json(2024, 3)["units"][0]["flags"] == ["notice_feedback"]
    for html in (client.get("/kiosk/").get_data(as_text=True), poll(client, v="x").get_data(as_text=True)):
        assert "市税务局" in html
        for private in (
            "王小明",
            "S-7788",
            "内部备注甲",
            "通知单正文乙",
            "D02c",
            "书面通报",
            "notice_feedback",
        ):
            assert private not in html


def test_quiet_hours_show_the_calm_screen_and_change_the_version(client, make):
    make.unit("U01", name="市税务局")
    open_tag = version_of(client)
    kiosk.save_settings(
        {
            "quiet_enabled": True,
            "quiet_start": "09:00",
            "quiet_end": "12:00",
            "opening_text": "周一至周五 9:00–17:00",
        }
    )
    db.session.commit()
    quiet_tag = version_of(client)
    assert quiet_tag != open_tag and quiet_tag.split("-")[2] == "1"
    html = client.get("/kiosk/").get_data(as_text=True)
    assert "非办公时间" in html and "市政务服务大厅" in html and "周一至周五 9:00–17:00" in html
    assert "市税务局" not in html and "k-table" not in html
    assert "k-quiet" in poll(client, v=open_tag).get_data(as_text=True)


@pytest.mark.parametrize(
    ("start", "end", "now", "quiet"),
    [
        ("18:00", "08:00", "18:00", True),
        ("18:00", "08:00", "23:59", True),
        ("18:00", "08:00", "07:59", True),
        ("18:00", "08:00", "08:00", False),
        ("18:00", "08:00", "12:00", False),
        ("12:00", "13:00", "12:30", True),
        ("12:00", "13:00", "13:00", False),
    ],
)
def test_quiet_hours_across_midnight(start, end, now, quiet):
    settings = {**kiosk.DEFAULTS, "quiet_enabled": True, "quiet_start": start, "quiet_end": end}
    assert kiosk.is_quiet(settings, datetime.strptime(now, "%H:%M").time()) is quiet
    off = {**settings, "quiet_enabled": False}
    assert kiosk.is_quiet(off, datetime.strptime(now, "%H:%M").time()) is False


def test_non_working_days_can_be_quiet_all_day(app, client, make):
    make.unit("U01")
    kiosk.save_settings(
        {"quiet_enabled": True, "quiet_non_working": True, "quiet_start": "20:00", "quiet_end": "06:00"}
    )
    db.session.commit()
    assert "k-quiet" not in client.get("/kiosk/").get_data(as_text=True)  # Wednesday 10:00
    old = app.config["HALL_NOW"]
    app.config["HALL_NOW"] = datetime(2024, 3, 23, 10, 0)  # a Saturday
    kiosk.clear_caches()
    try:
        assert "k-quiet" in client.get("/kiosk/").get_data(as_text=True)
    finally:
        app.config["HALL_NOW"] = old


def test_an_unchanged_poll_costs_one_tiny_query(client, make):
    make.unit("U01")
    tag = version_of(client)
    poll(client, v=tag)  # warm: settings cached, heartbeat written
    statements = []

    def count(conn, cursor, statement, *args):
        statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        for _ in range(5):
            assert poll(client, v=tag).status_code == 204
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
    assert len(statements) == 5, statements
    assert all("audit_log" in s and "LIMIT" in s.upper() for s in statements)


def test_settings_decide_interval_and_panels(client, make):
    unit = make.unit("U01")
    kiosk.save_settings({"interval": 30, "panels": ["honor", "live"]})
    db.session.commit()
    html = client.get("/kiosk/").get_data(as_text=True)
    assert 'data-interval="30"' in html
    slides = re.findall(r'data-slide="([a-z]+-\d+)"', html)
    assert slides == ["live-1", "live-1"]  # no roll published yet: the honor panel is left out
    publish_roll([unit])
    kiosk.clear_caches()
    html = client.get("/kiosk/").get_data(as_text=True)
    slides = re.findall(r'data-slide="([a-z]+-\d+)"', html)
    assert slides == ["live-1", "honor-1", "live-1", "honor-1"]  # landscape set, then portrait set
    assert "k-panel-published" not in html and "topbottom" not in html


def test_top_and_bottom_lists_when_switched_on(client, make):
    for i in range(8):
        unit = make.unit(f"U{i}", name=f"单位{i}号")
        if i:
            make.incident(unit, "D01", count=i)
    kiosk.save_settings({"panels": ["topbottom"], "top_n": 3})
    db.session.commit()
    html = client.get("/kiosk/").get_data(as_text=True)
    section = html[html.index('data-slide="topbottom-1"') :]
    section = section[: section.index("</section>")]
    assert "前3名" in section and "后3名" in section
    assert re.findall(r'<td class="k-name">([^<]+)</td>', section) == [
        "单位0号",
        "单位1号",
        "单位2号",
        "单位5号",
        "单位6号",
        "单位7号",
    ]


def test_pages_are_balanced():
    made = [kiosk.Row(rank=i, name=str(i), score=100) for i in range(30)]
    assert [len(p) for p in kiosk.pages(made, 10)] == [10, 10, 10]
    assert [len(p) for p in kiosk.pages(made, 18)] == [15, 15]
    assert [len(p) for p in kiosk.pages(made[:11], 10)] == [6, 5]
    assert kiosk.pages([], 10) == [[]]


def test_a_ranking_longer_than_a_page_is_paged(client, make):
    for i in range(23):
        make.unit(f"U{i:02d}", name=f"单位{i:02d}")
    kiosk.save_settings({"panels": ["live"]})
    db.session.commit()
    html = client.get("/kiosk/").get_data(as_text=True)
    landscape = html[html.index("k-slides k-landscape") : html.index("k-slides k-portrait")]
    assert re.findall(r'data-slide="(live-\d)"', landscape) == ["live-1", "live-2", "live-3"]
    assert "第 1 / 3 页" in landscape and landscape.count('<td class="k-name">') == 23
    portrait = html[html.index("k-slides k-portrait") :]
    assert re.findall(r'data-slide="(live-\d)"', portrait) == ["live-1", "live-2"]


def registered(name: str) -> tuple[KioskScreen, str]:
    screen, token = kiosk.register_screen(name, "landscape", None)
    db.session.commit()
    return screen, token


def test_screen_contacts_are_written_together_at_most_once_a_minute(app, client, make):
    make.unit("U01")
    main_screen, main_token = registered("大厅主屏")
    east, east_token = registered("二楼东厅")
    audit_rows = db.session.scalar(select(func.count(AuditLog.id)))

    def seen() -> dict[str, datetime]:
        db.session.expire_all()
        return {s.name: s.last_seen_at for s in db.session.scalars(select(KioskScreen)) if s.last_seen_at}

    client.get(f"/kiosk/live?v=x&screen={main_token}").close()  # 10:00: the first contact is written at once
    assert seen() == {"大厅主屏": from_hall(datetime(2024, 3, 20, 10, 0))}
    old = app.config["HALL_NOW"]
    try:
        app.config["HALL_NOW"] = datetime(2024, 3, 20, 10, 0, 30)
        client.get(f"/kiosk/live?screen={east_token}").close()
        assert "二楼东厅" not in seen()  # remembered, not yet written
        app.config["HALL_NOW"] = datetime(2024, 3, 20, 10, 1, 5)
        client.get(f"/kiosk/live?screen={east_token}").close()
        assert seen() == {
            "大厅主屏": from_hall(datetime(2024, 3, 20, 10, 0)),
            "二楼东厅": from_hall(datetime(2024, 3, 20, 10, 1, 5)),
        }
    finally:
        app.config["HALL_NOW"] = old
    assert db.session.scalar(select(KioskScreen.address).where(KioskScreen.name == "二楼东厅")) == "127.0.0.1"
    # A heartbeat is not a change: it writes no audit row, so it never refreshes the other screens.
    assert db.session.scalar(select(func.count(AuditLog.id))) == audit_rows


def test_screen_names_are_cleaned_and_tokens_recognised():
    assert kiosk.screen_name("<script>东厅</script>") == "script东厅/script"
    assert kiosk.screen_name("   ") == ""
    assert len(kiosk.screen_name("长" * 100)) == 32
    token = "A" * 32
    assert kiosk.screen_token(token) == token and kiosk.screen_token(" " + token + " ") == token
    for not_a_token in (None, "", "二楼东厅", "short", "A" * 65, "A" * 31 + "<", "A" * 31 + "/"):
        assert kiosk.screen_token(not_a_token) is None


def test_settings_page_is_for_admins_only(client, login, make):
    """Admins change the settings; a leader reads them (tests/app/test_leader_reads.py) and cannot post."""
    assert client.get("/admin/kiosk").status_code == 302
    login("inspector", username="k-inspector")
    assert client.get("/admin/kiosk").status_code == 403
    client.post("/logout")
    login("leader", username="k-leader")
    assert client.post("/admin/kiosk", data={"interval": "5", "panel_live": "y"}).status_code == 403
    client.post("/logout")
    login("unit")
    assert client.get("/admin/kiosk").status_code in (403, 404)
    client.post("/logout")
    login("admin")
    html = client.get("/admin/kiosk").get_data(as_text=True)
    assert "大屏设置" in html and "还没有登记大屏" in html
    assert 'href="/admin/kiosk"' in html  # the menu entry


def test_settings_page_lists_screens_and_flags_silent_ones(client, login):
    now = from_hall(datetime(2024, 3, 20, 10, 0))
    db.session.add_all(
        [
            KioskScreen(name="大厅主屏", last_seen_at=now - timedelta(seconds=50), address="10.0.0.5"),
            KioskScreen(name="二楼东厅", last_seen_at=now - timedelta(minutes=5), address="10.0.0.6"),
        ]
    )
    db.session.commit()
    login("admin")
    html = client.get("/admin/kiosk").get_data(as_text=True)
    main = html[html.index("二楼东厅") - 400 :]
    assert "2024-03-20 09:59:10" in html and "2024-03-20 09:55:00" in html
    assert html.count("已超过 2 分钟未联络") == 1 and "在线" in html
    assert main.index("二楼东厅") < main.index("已超过 2 分钟未联络")


def test_settings_are_saved_and_audited(client, login):
    login("admin")
    response = client.post(
        "/admin/kiosk",
        data={
            "interval": "20",
            "panel_live": "y",
            "panel_honor": "y",
            "top_n": "5",
            "quiet_enabled": "y",
            "quiet_start": "18:30",
            "quiet_end": "07:30",
            "opening_text": " 工作日 8:30–17:00 ",
        },
    )
    assert response.status_code == 302
    saved = kiosk.get_settings()
    assert saved["interval"] == 20 and saved["panels"] == ["live", "honor"]
    assert saved["quiet_enabled"] is True
    assert saved["quiet_start"] == "18:30" and saved["quiet_end"] == "07:30"
    assert saved["opening_text"] == "工作日 8:30–17:00" and saved["rev"] == 1
    row = db.session.scalar(select(AuditLog).where(AuditLog.action == "kiosk.settings"))
    assert row.after["interval"] == 20 and row.before["interval"] == 15
    page = client.get("/admin/kiosk").get_data(as_text=True)
    assert "大屏设置已保存" in page and 'value="20"' in page


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"interval": "abc"}, "不是有效的整数"),
        ({"interval": "1"}, "应为 2 至 300 之间的整数"),
        ({"interval": "9999"}, "应为 2 至 300 之间的整数"),
        ({"panel_live": ""}, "请至少选择一个要显示的版块"),
        ({"quiet_start": "25:00"}, "时间格式应为 HH:MM"),
        ({"quiet_end": "18:00"}, "结束时间不能与开始时间相同"),
        ({"top_n": "0"}, "应为 1 至 10 之间的整数"),
        ({"opening_text": "长" * 81}, "不能超过 80 个字"),
    ],
)
def test_bad_settings_are_refused_and_nothing_is_written(client, login, data, message):
    login("admin")
    audit_before = db.session.scalar(select(func.count(AuditLog.id)))
    form = {
        "interval": "15",
        "panel_live": "y",
        "top_n": "5",
        "quiet_start": "18:00",
        "quiet_end": "08:00",
        **data,
    }
    form = {k: v for k, v in form.items() if v != ""}
    response = client.post("/admin/kiosk", data=form)
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    assert db.session.get(Setting, kiosk.SETTING_KEY) is None
    assert db.session.scalar(select(func.count(AuditLog.id))) == audit_before


def test_the_service_refuses_bad_settings_too():
    from services import DomainError

    with pytest.raises(DomainError, match="轮播间隔"):
        kiosk.save_settings({"interval": 1})
    with pytest.raises(DomainError, match="版块"):
        kiosk.save_settings({"panels": []})
    with pytest.raises(DomainError, match="HH:MM"):
        kiosk.save_settings({"quiet_start": "7:00"})
    assert db.session.get(Setting, kiosk.SETTING_KEY) is None


def test_a_broken_stored_setting_falls_back_to_the_defaults(client, make):
    make.unit("U01")
    db.session.add(Setting(key=kiosk.SETTING_KEY, value={"interval": "fast", "panels": ["nope"]}))
    db.session.commit()
    assert kiosk.get_settings()["interval"] == 15
    response = client.get("/kiosk/")
    assert response.status_code == 200 and 'data-interval="15"' in response.get_data(as_text=True)


def test_an_empty_hall_still_shows_a_calm_screen(client):
    html = client.get("/kiosk/").get_data(as_text=True)
    assert "暂无参评单位" in html and "2024年3月 实时排名" in html


# --- issue 8, item 18: the screen fills its page, large type, one updated time, ▲/▼ on the live panel ----


def section_of(html: str, key: str, orientation: str = "landscape") -> str:
    """The HTML of one page (`data-slide` key) in the landscape or portrait set."""
    start = html.index(f"k-slides k-{orientation}")
    part = html[html.rindex("<section", 0, html.index(f'data-slide="{key}"', start)) :]
    return part[: part.index("</section>")]


def test_the_live_panel_shows_rank_changes_against_the_last_published_month(client, make):
    a = make.unit("U01", name="市税务局")
    b = make.unit("U02", name="市公安局")
    c = make.unit("U03", name="市商务局")
    make.incident(a, "D09", at=datetime(2024, 1, 10, 9, 0))  # January: 公安局 1, 商务局 1, 税务局 3
    months.close(2024, 1)
    months.publish(2024, 1)
    make.incident(b, "D09", at=datetime(2024, 2, 10, 9, 0))  # February closed, not published: not compared
    months.close(2024, 2)
    db.session.commit()
    make.incident(c, "D11", at=datetime(2024, 3, 5, 9, 0))  # March live: 税务局 100, 公安局 100, 商务局 95
    html = client.get("/kiosk/").get_data(as_text=True)
    for orientation in ("landscape", "portrait"):
        live = section_of(html, "live-1", orientation)
        assert '<th class="k-change">较1月</th>' in live  # the last published month, not February
        changes = dict(
            re.findall(
                r'<td class="k-change"><span class="k-[a-z]+"[^>]*>([^<]+)</span></td>\s*'
                r'<td class="k-name">([^<]+)</td>',
                live,
            )[i][::-1]
            for i in range(3)
        )
        assert changes == {"市税务局": "▲2", "市公安局": "—", "市商务局": "▼2"}
    assert "k-down" in live and "k-up" in live


def test_the_live_panel_has_no_change_column_before_any_month_is_published(client, make):
    make.unit("U01", name="市税务局")
    html = client.get("/kiosk/").get_data(as_text=True)
    assert "k-change" not in section_of(html, "live-1") and "较" not in html


def test_pages_with_enough_rows_fill_the_page_and_short_lists_do_not(client, make):
    for i in range(23):
        make.unit(f"U{i:02d}", name=f"单位{i:02d}")
    kiosk.save_settings({"panels": ["live", "topbottom"], "top_n": 5})
    db.session.commit()
    html = client.get("/kiosk/").get_data(as_text=True)
    # 23 units: landscape 8 + 8 + 7 of 10, portrait 12 + 11 of 18: every page holds at least half a page.
    for orientation, keys in (
        ("landscape", ["live-1", "live-2", "live-3"]),
        ("portrait", ["live-1", "live-2"]),
    ):
        for key in keys + ["topbottom-1"]:
            assert re.search(r'class="k-slide k-panel-[a-z]+ k-fill"', section_of(html, key, orientation)), (
                key
            )

    kiosk.save_settings({"top_n": 2})
    db.session.commit()
    html = client.get("/kiosk/").get_data(as_text=True)
    assert "k-fill" not in section_of(html, "topbottom-1")  # two rows a list: natural height

    small = [kiosk.Row(rank=i, name=str(i), score=100) for i in range(4)]
    assert [s.fill for s in kiosk._slides(kiosk.Panel(kind="live", year=2024, month=3, rows=small), 10)] == [
        False
    ]
    assert [s.fill for s in kiosk._slides(kiosk.Panel(kind="live", year=2024, month=3, rows=small), 8)] == [
        True
    ]


def test_one_updated_time_and_the_offline_mark_reuses_it(client, make):
    make.unit("U01", name="市税务局")
    html = client.get("/kiosk/").get_data(as_text=True)
    assert "最后更新" not in html and "data-last-ok" not in html  # no second, client-side time
    foot = html[html.index('<footer class="k-foot"') : html.index("</footer>")]
    # The mark is the footer's stamp itself: 离线 · 数据更新于 HH:MM, shown only while offline (CSS).
    assert re.search(
        r'<span class="k-offline"><i></i>离线 · </span>\s*'
        r'<span class="k-stamp">数据更新于\s+(\d+月\d+日 )?\d\d:\d\d</span>',
        foot,
    )
    assert html.count("数据更新于") == 1 and html.count("k-offline") == 1
    assert 'class="k-offline"' not in html[: html.index('<main id="kiosk-live"')]  # none in the header


def test_no_text_on_the_screen_is_set_below_28_px_at_1080p():
    """1rem is 32 px at 1920x1080 and 1080x1920, so every font size in kiosk.css is at least .875rem."""
    from pathlib import Path

    css = (Path(__file__).resolve().parents[2] / "static" / "css" / "kiosk.css").read_text()
    sizes = re.findall(r"font-size:\s*([^;}]+)", css)
    rems = [float(m) for s in sizes for m in re.findall(r"^([\d.]+)rem$", s.strip())]
    assert rems and min(rems) >= 0.875, sorted(rems)[:5]
    assert all(s.strip().endswith("rem") or s.strip().startswith("min(") for s in sizes), sizes
    assert "font-size: min(min(100vw, 100vh) / 33.75, max(100vw, 100vh) / 60)" in css


def test_honor_roll_pages_put_collectives_beside_individuals_and_fill(client, make):
    """Nine collectives and three individuals: seven a list a page in landscape, six in portrait, balanced
    (5 + 4); each page shows both lists while both have rows; a year roll follows on its own page."""
    from services import honors

    units = [make.unit(f"U{i:02d}", name=f"单位{i}") for i in range(1, 10)]
    people = [
        make.staff(units[0], f"S{i}", name=f"人员{i}", window=str(i), start=date(2023, 1, 1))
        for i in range(1, 4)
    ]
    publish_roll(units, people)
    year = honors.save_selection("year", 2023, 0, [u.id for u in units[:2]])
    honors.publish(year.id)
    db.session.commit()
    kiosk.clear_caches()
    view = kiosk.screen_view(kiosk.current_version())
    [panel] = [p for p in view.panels if p.kind == "honor"]
    shape = [(s.roll, [(li.kind, len(li.rows)) for li in s.lists], s.fill) for s in panel.landscape]
    assert shape == [
        ("2023年第四季度", [("collective", 5), ("individual", 2)], True),
        ("2023年第四季度", [("collective", 4), ("individual", 1)], True),
        ("2023年度", [("year_unit", 2)], False),
    ]
    assert [len(s.lists[0].rows) for s in panel.portrait] == [5, 4, 2]
    html = client.get("/kiosk/").get_data(as_text=True)
    assert "第 1 / 3 页" in section_of(html, "honor-1") and "k-fill" in section_of(html, "honor-1")
    assert "年度优秀窗口单位" in section_of(html, "honor-3", "portrait")


# ------------------------------------------------------------------ issue 10 item 16: registered screens


def screen_rows() -> int:
    return db.session.scalar(select(func.count(KioskScreen.id))) or 0


def test_an_anonymous_client_cannot_add_screens_but_still_sees_the_public_screen(app, client, make):
    make.unit("U01", name="市税务局")
    old = app.config["HALL_NOW"]
    try:
        for i in range(305):  # what filled the admin page before: 305 names, each a new row
            app.config["HALL_NOW"] = datetime(2024, 3, 20, 10, 0) + timedelta(minutes=2 * i)
            name = f"屏{i}" if i % 2 else f"{i:032d}"  # old-style names and token-shaped guesses
            response = client.get(f"/kiosk/live?screen={name}")
            response.close()
            assert response.status_code == 200 and "市税务局" in response.get_data(as_text=True)
    finally:
        app.config["HALL_NOW"] = old
    page = client.get("/kiosk/?screen=二楼东厅")
    page.close()
    assert page.status_code == 200 and "市税务局" in page.get_data(as_text=True)
    assert "二楼东厅" not in page.get_data(as_text=True)  # a name is no token: its poll carries none
    assert screen_rows() == 0
    assert len(kiosk._pending) <= 1 and all(len(p) <= kiosk.MAX_PENDING for p in kiosk._pending.values())


def test_admin_registers_a_screen_and_its_url_records_its_contact(app, client, login, make):
    make.unit("U01", name="市税务局")
    admin = login("admin")
    response = client.post("/admin/kiosk/screens", data={"name": " 二楼东厅 ", "orientation": "portrait"})
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "此地址只显示这一次" in html
    token = re.search(r'value="http://localhost/kiosk/\?screen=([A-Za-z0-9_-]{32})"', html).group(1)
    screen = db.session.scalar(select(KioskScreen))
    assert (screen.name, screen.orientation, screen.registered_by_id) == ("二楼东厅", "portrait", admin.id)
    assert screen.token_hash == hashlib.sha256(token.encode()).hexdigest() and token not in screen.token_hash
    assert screen.last_seen_at is None
    audit = db.session.scalar(select(AuditLog).where(AuditLog.action == "kiosk.screen.register"))
    assert audit.after == {"name": "二楼东厅", "orientation": "portrait"} and token not in str(audit.after)
    listed = client.get("/admin/kiosk").get_data(as_text=True)
    assert "二楼东厅" in listed and "竖屏" in listed and "从未联络" in listed and token not in listed
    client.post("/logout")
    shown = client.get(f"/kiosk/?screen={token}")
    shown.close()
    assert shown.status_code == 200 and f"screen={token}" in shown.get_data(as_text=True)  # the poll keeps it
    db.session.expire_all()
    assert db.session.get(KioskScreen, screen.id).last_seen_at == from_hall(datetime(2024, 3, 20, 10, 0))
    assert screen_rows() == 1


def test_reissue_and_revoke(app, client, login, make):
    screen, old_token = registered("二楼东厅")
    login("admin")
    html = client.post(f"/admin/kiosk/screens/{screen.id}/token").get_data(as_text=True)
    new_token = re.search(r"screen=([A-Za-z0-9_-]{32})", html).group(1)
    assert new_token != old_token
    db.session.expire_all()
    assert db.session.get(KioskScreen, screen.id).token_hash == kiosk.token_hash(new_token)
    client.get(f"/kiosk/live?screen={old_token}").close()  # the old address: shown, not recorded
    db.session.expire_all()
    assert db.session.get(KioskScreen, screen.id).last_seen_at is None
    response = client.post(f"/admin/kiosk/screens/{screen.id}/revoke")
    assert response.status_code == 302
    assert "已撤销大屏“二楼东厅”" in client.get("/admin/kiosk").get_data(as_text=True)
    assert screen_rows() == 0
    kiosk.clear_caches()
    live = client.get(f"/kiosk/live?screen={new_token}")
    live.close()
    assert live.status_code == 200 and screen_rows() == 0
    actions = set(db.session.scalars(select(AuditLog.action)))
    assert {"kiosk.screen.register", "kiosk.screen.reissue", "kiosk.screen.revoke"} <= actions
    assert client.post("/admin/kiosk/screens/999999/revoke").status_code == 404


@pytest.mark.parametrize(
    "data, message",
    [
        ({"name": "  ", "orientation": "landscape"}, "请填写大屏名称"),
        ({"name": "<>&", "orientation": "landscape"}, "请填写大屏名称"),
        ({"name": "东厅", "orientation": "sideways"}, "请选择大屏方向"),
        ({"name": "大厅主屏", "orientation": "landscape"}, "已有名为“大厅主屏”的大屏"),
        ({"name": "长" * 33, "orientation": "landscape"}, "不能超过 32 个字"),
        ({"name": "第三块", "orientation": "landscape"}, "最多登记 2 块大屏"),
    ],
)
def test_bad_registrations_are_refused_and_write_nothing(client, login, monkeypatch, data, message):
    registered("大厅主屏")
    registered("二楼西厅")
    if "第三块" not in data["name"]:
        db.session.delete(db.session.scalar(select(KioskScreen).where(KioskScreen.name == "二楼西厅")))
        db.session.commit()
    monkeypatch.setattr(kiosk, "MAX_SCREENS", 2)
    login("admin")
    before = screen_rows(), db.session.scalar(select(func.count(AuditLog.id)))
    response = client.post("/admin/kiosk/screens", data=data)
    assert response.status_code == 422 and message in response.get_data(as_text=True)
    assert (screen_rows(), db.session.scalar(select(func.count(AuditLog.id)))) == before


def test_a_leader_reads_the_screens_but_cannot_register_or_revoke(client, login):
    screen, _token = registered("二楼东厅")
    login("leader")
    html = client.get("/admin/kiosk").get_data(as_text=True)
    assert "二楼东厅" in html and "登记新大屏" not in html and "撤销" not in html
    assert (
        client.post("/admin/kiosk/screens", data={"name": "x", "orientation": "landscape"}).status_code == 403
    )
    assert client.post(f"/admin/kiosk/screens/{screen.id}/revoke").status_code == 403
    assert screen_rows() == 1
