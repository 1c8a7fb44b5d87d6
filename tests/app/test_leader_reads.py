"""The leader (局领导) "reads everything" (product.md, "Who uses it"): the units, staff (and a staff member's
detail), working-day calendar, detections queue, users and hall-screen settings pages open to a leader, read
only: the page's content is there, no action (add, edit, move, end, leave, toggle, outage, run, confirm,
dismiss, save) is shown, and every action a leader posts anyway is refused (403) and writes nothing."""

from __future__ import annotations

from datetime import date, datetime

import pytest
from sqlalchemy import select

from models import ClockPunch, Incident, IncidentStatus, KioskScreen, db
from services import detections, kiosk
from services.calendar_admin import add_leave, add_outage, toggle_day
from services.clock import from_hall
from tests.html import parse


@pytest.fixture
def hall(make):
    """Two units, a clerk with a leave and two D16 proposals, a holiday, an outage, a screen and its settings,
    and an admin besides the leader who reads it all."""
    unit = make.unit("U01", name="市税务局")
    make.unit("U02", name="市场监管局", active=False)
    clerk = make.staff(unit, "C001", name="赵六", category="C", window=None, start=date(2024, 3, 18))
    make.staff(unit, "W007", name="钱七", window="2")
    for at in (datetime(2024, 3, 18, 8, 27), datetime(2024, 3, 18, 16, 58), datetime(2024, 3, 19, 8, 29)):
        db.session.add(ClockPunch(staff_id="C001", punched_at=from_hall(at)))
    add_leave(clerk, date(2024, 3, 25), date(2024, 3, 26), "年休假")
    toggle_day(date(2024, 3, 8), "妇女节半天")
    add_outage(from_hall(datetime(2024, 3, 12, 8, 0)), from_hall(datetime(2024, 3, 12, 12, 0)), "考勤机断电")
    kiosk.save_settings({"interval": 25, "opening_text": "周一至周五 08:30–17:00"})
    db.session.add(
        KioskScreen(name="二楼东厅", last_seen_at=from_hall(datetime(2024, 3, 20, 9, 59)), address="10.0.0.6")
    )
    db.session.commit()
    detections.run(2024, 3)
    db.session.commit()
    admin = make.user("admin", username="hall-admin")
    pending = list(db.session.scalars(select(Incident).where(Incident.status == IncidentStatus.PROPOSED)))
    assert len(pending) == 2
    return {"unit": unit, "clerk": clerk, "admin": admin, "pending": pending}


def main(client, url: str):
    response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    return parse(response.get_data(as_text=True)).one("main")


def no_actions(page, *forbidden_links: str) -> None:
    """No form that posts, no submit button (but a GET filter's), no link to an add or edit page in the page's
    main part."""
    assert page.all("form[method=post]") == []
    filters = page.all("form[method=get] button")
    assert [b for b in page.all("button") if b not in filters] == [] and page.all("[formaction]") == []
    assert page.all("[hx-post]") == []
    for href in forbidden_links:
        assert page.all(f"a[href*='{href}']") == [], href


def test_leader_reads_the_units_without_add_or_edit(client, login, hall):
    login("leader")
    page = main(client, "/admin/units")
    rows = page.rows("unit-table")
    assert [r[1:3] for r in rows] == [["U01", "市税务局"], ["U02", "市场监管局"]]
    assert "已停用" in rows[1][4]
    no_actions(page, "/admin/units/new", "/edit")
    # The unit's staff list is a read page: its link stays.
    assert page.has(f"a[href='/admin/staff?unit={hall['unit'].id}']")


def test_leader_reads_the_staff_list_and_a_members_detail(client, login, hall):
    login("leader")
    page = main(client, "/admin/staff")
    names = {r[1]: r for r in page.rows("staff-table")}
    assert set(names) == {"赵六", "钱七"} and names["钱七"][2] == "市税务局"
    no_actions(page, "/admin/staff/new")
    assert page.has("form[method=get]")  # the filter reads; it changes nothing

    detail = main(client, f"/admin/staff/{hall['clerk'].id}")
    assert detail.one("h1").text == "赵六 C001"
    assert detail.rows("posting-history") == [["市税务局", "C", "", "2024-03-18", "至今"]]
    assert detail.rows("leave-list") == [["2024-03-25", "2024-03-26", "年休假"]]
    assert not detail.has("#move-card") and not detail.has("#end-card")
    no_actions(detail)


def test_leader_reads_the_calendar_without_toggles_or_outage_form(client, login, hall):
    login("leader")
    page = main(client, "/admin/calendar?year=2024&month=3")
    holiday = page.one("#day-2024-03-08")
    assert "节假日" in holiday.text and "妇女节半天" in holiday.text
    assert "工作日" in page.text_of("#day-2024-03-11")
    assert not page.has("form.day-form") and not page.has("#outage-card")
    assert page.rows("outage-list") == [["2024-03-12 08:00", "2024-03-12 12:00", "考勤机断电"]]
    no_actions(page)


def test_leader_reads_the_detections_queue_without_confirm_or_dismiss(client, login, hall):
    login("leader")
    page = main(client, "/admin/detections?month=2024-03")
    rows = page.rows("detection-table")
    assert len(rows) == 2
    for row in rows:
        assert row[2] == "市税务局" and "赵六" in row[3] and row[4].startswith("D16")
    assert not page.has("#run-card") and not page.has("#bulk-form") and not page.has("input[name=ids]")
    no_actions(page)
    # A job's progress (an admin's run) is not polled for a leader.
    assert not page.has("#job-progress")


def test_leader_reads_the_users_without_add_or_edit(client, login, hall):
    login("leader", username="boss")
    page = main(client, "/admin/users")
    users = {r[0]: r for r in page.rows("user-table")}
    assert users["hall-admin"][2] == "管理员" and users["boss"][2] == "局领导"
    no_actions(page, "/admin/users/new", "/edit")


def test_leader_reads_the_screen_settings_without_the_form(client, login, hall):
    login("leader")
    page = main(client, "/admin/kiosk")
    assert page.text_of("setting-interval") == "25"
    assert page.text_of("setting-opening_text") == "周一至周五 08:30–17:00"
    assert page.text_of("setting-panels") == "本月实时排名、最近一期考核通报、光荣榜"
    assert page.text_of("setting-quiet_enabled") == "否"
    assert "二楼东厅" in page.text and "10.0.0.6" in page.text
    assert page.all("input") == [] and page.all("form") == []
    no_actions(page)


def test_leaders_menu_lists_the_read_pages_not_import(client, login, hall):
    login("leader")
    nav = {a.get("href") for a in parse(client.get("/admin/").get_data(as_text=True)).all("nav a")}
    for href in (
        "/admin/units",
        "/admin/staff",
        "/admin/calendar",
        "/admin/detections",
        "/admin/users",
        "/admin/kiosk",
    ):
        assert href in nav, href
    assert "/admin/import" not in nav and "/admin/documents/settings" not in nav


def test_admin_still_sees_every_action(client, login, hall):
    """The same selectors find the actions for an admin, so the leader's checks above are not vacuous."""
    login("admin")
    assert main(client, "/admin/units").has("a[href='/admin/units/new']")
    assert main(client, "/admin/staff").has("a[href='/admin/staff/new']")
    detail = main(client, f"/admin/staff/{hall['clerk'].id}")
    assert detail.has("#move-card form[method=post]") and detail.has("#leave-card form[method=post]")
    calendar = main(client, "/admin/calendar?year=2024&month=3")
    assert calendar.has("#day-2024-03-11 form.day-form") and calendar.has("#outage-card form[method=post]")
    queue = main(client, "/admin/detections?month=2024-03")
    assert queue.has("#bulk-form") and len(queue.all("button[formaction]")) == 4
    assert main(client, "/admin/users").has("a[href='/admin/users/new']")
    assert main(client, "/admin/kiosk").has("form[method=post] input[name=interval]")


def snapshot() -> dict:
    """Every row of every table, to show a refused request wrote nothing."""
    db.session.expire_all()
    with db.engine.connect() as conn:
        return {t.name: sorted(map(repr, conn.execute(t.select()).all())) for t in db.metadata.sorted_tables}


def test_leaders_posts_are_refused_and_write_nothing(client, login, hall):
    login("leader")
    unit, clerk, admin = hall["unit"], hall["clerk"], hall["admin"]
    first, second = (i.id for i in hall["pending"])
    posts = {
        "/admin/units/new": {
            "code": "U09",
            "name": "新单位",
            "windows": "1",
            "display_order": "1",
            "active": "y",
        },
        f"/admin/units/{unit.id}/edit": {"code": "U01", "name": "改名", "windows": "1", "display_order": "0"},
        "/admin/staff/new": {
            "staff_id": "N001",
            "name": "新人",
            "unit_id": str(unit.id),
            "category": "W",
            "window": "1",
            "start_date": "2024-03-01",
        },
        f"/admin/staff/{clerk.id}/move": {
            "move-unit_id": str(unit.id),
            "move-category": "W",
            "move-from_date": "2024-03-19",
        },
        f"/admin/staff/{clerk.id}/end": {"end-end_date": "2024-03-19"},
        f"/admin/staff/{clerk.id}/leave": {"leave-start_date": "2024-03-27", "leave-end_date": "2024-03-27"},
        "/admin/users/new": {
            "username": "newbie",
            "display_name": "新用户",
            "role": "admin",
            "unit_id": "0",
            "password": "a-long-password-1",
        },
        f"/admin/users/{admin.id}/edit": {"user-display_name": "x", "user-role": "unit", "user-unit_id": "0"},
        f"/admin/users/{admin.id}/password": {"pw-password": "another-password-1"},
        "/admin/calendar/days/2024-03-11": {"note": "不该生效"},
        "/admin/calendar/outages": {
            "start_at": "2024-03-13T08:00",
            "end_at": "2024-03-13T09:00",
            "note": "x",
        },
        "/admin/detections/run": {"month": "2024-03"},
        f"/admin/detections/{first}/confirm": {},
        f"/admin/detections/{second}/dismiss": {f"r{second}-reason": "不对"},
        "/admin/detections/bulk?month=2024-03": {"ids": [str(first), str(second)], "action": "confirm"},
        "/admin/kiosk": {
            "interval": "5",
            "panel_live": "y",
            "top_n": "3",
            "quiet_start": "18:00",
            "quiet_end": "08:00",
        },
    }
    before = snapshot()
    for url, data in posts.items():
        response = client.post(url, data=data)
        assert response.status_code == 403, (url, response.status_code)
        assert "无权访问" in response.get_data(as_text=True)
        # The same with htmx (the calendar cell and the detection rows post that way).
        assert client.post(url, data=data, headers={"HX-Request": "true"}).status_code == 403, url
    for url in (
        "/admin/units/new",
        f"/admin/units/{unit.id}/edit",
        "/admin/staff/new",
        "/admin/users/new",
        f"/admin/users/{admin.id}/edit",
        "/admin/import",
    ):
        assert client.get(url).status_code == 403, url
    assert snapshot() == before
    assert all(i.status == IncidentStatus.PROPOSED for i in db.session.scalars(select(Incident)))
    assert kiosk.get_settings()["interval"] == 25
