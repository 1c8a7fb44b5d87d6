"""Kept pages (page_cache.kept_page): a page is answered from the text it gave last time only while nothing
it shows can have changed, each answer carries its own session's form token, and nothing of one reader
reaches another."""

from __future__ import annotations

import re
import uuid
from datetime import datetime, timedelta

import pytest
from flask import g
from sqlalchemy import func, insert, select
from sqlalchemy.exc import OperationalError

import page_cache
from app import create_app
from models import AuditLog, BulletinRead, Incident, KioskScreen, Month, MonthStatus, Notification, Unit, db
from services import months
from services.clock import from_hall
from services.notifications import notify_unit
from tests.conftest import PASSWORD
from tests.html import parse


def token_of(html: str) -> str:
    """The session's token as the page gives it to htmx (base.html's hx-headers)."""
    return re.search(r'"X-CSRFToken": "([^"]+)"', html).group(1)


def rows(client, path: str) -> list[str]:
    return [r.text for r in parse(client.get(path).get_data(as_text=True)).all("tbody tr")]


def test_a_kept_list_shows_the_next_change_at_once(client, login, make):
    unit = make.unit("U01", name="市税务局")
    make.incident(unit, "D01", at=datetime(2024, 3, 5, 9, 0))
    login("admin")
    first = rows(client, "/admin/incidents")
    assert len(first) == 1 and rows(client, "/admin/incidents") == first
    assert len(page_cache._pages) >= 1  # kept
    make.incident(unit, "D03", at=datetime(2024, 3, 6, 9, 0))
    assert len(rows(client, "/admin/incidents")) == 2


def test_a_kept_page_follows_the_hall_clock_to_the_minute(client, login, make, app, monkeypatch):
    """The desk form's default time is the hall's minute: a kept form never offers a minute gone by."""
    make.unit("U01")
    login("admin")

    def default_time() -> str:
        form = parse(client.get("/admin/incidents/new").get_data(as_text=True))
        return form.first("#occurred_at").get("value")

    assert default_time() == "2024-03-20T10:00"
    monkeypatch.setitem(app.config, "HALL_NOW", datetime(2024, 3, 20, 10, 1))
    assert default_time() == "2024-03-20T10:01"


def test_each_reader_sees_their_own_name_and_the_role_check_comes_first(client, app, make, login):
    make.unit("U01")
    first = make.user("admin", username="admin_one")
    first.display_name = "第一位管理员"
    second = make.user("admin", username="admin_two")
    second.display_name = "第二位管理员"
    db.session.commit()
    other = app.test_client()
    for c, user in ((client, first), (other, second)):
        assert c.post("/login", data={"username": user.username, "password": PASSWORD}).status_code == 302
        g.pop("_login_user", None)
    assert "第一位管理员" in parse(client.get("/admin/audit").get_data(as_text=True)).text_of(".who")
    g.pop("_login_user", None)  # the tests' app context outlives a request, and Flask-Login's user with it
    who = parse(other.get("/admin/audit").get_data(as_text=True)).text_of(".who")
    assert "第二位管理员" in who and "第一位管理员" not in who
    g.pop("_login_user", None)
    login("unit")  # the first client, now a unit user's session: refused before any kept page is read
    assert client.get("/admin/audit").status_code == 403


@pytest.fixture
def csrf_app(app):
    keys = ("SQLALCHEMY_DATABASE_URI", "SECRET_KEY", "EVIDENCE_DIR", "EXPORT_DIR", "HALL_TODAY", "HALL_NOW")
    return create_app({**{k: app.config[k] for k in keys}, "TESTING": True, "WTF_CSRF_ENABLED": True})


def test_each_session_gets_its_own_form_token_on_a_kept_page(csrf_app, make):
    """Two desks signed in as the same user: the second answer is the kept page, with the second
    session's token, and each token works for its own session only."""
    make.user("admin", username="boss")
    desks = [csrf_app.test_client(), csrf_app.test_client()]
    for desk in desks:
        token = token_of(desk.get("/login").get_data(as_text=True))
        g.pop("csrf_token", None)
        answer = desk.post("/login", data={"username": "boss", "password": PASSWORD, "csrf_token": token})
        assert answer.status_code == 302
        g.pop("_login_user", None)
        g.pop("csrf_token", None)
    tokens = []
    for desk in desks:
        tokens.append(token_of(desk.get("/admin/units").get_data(as_text=True)))
        g.pop("_login_user", None)
        g.pop("csrf_token", None)
    assert tokens[0] != tokens[1] and "\x00" not in "".join(tokens)
    # The second session's token is refused in the first session, and accepted in its own.
    assert desks[0].post("/admin/months/2024-02/close", headers={"X-CSRFToken": tokens[1]}).status_code == 400
    g.pop("_login_user", None)
    assert desks[1].post("/admin/months/2024-02/close", headers={"X-CSRFToken": tokens[1]}).status_code == 302
    assert db.session.scalar(select(Month.status)) == MonthStatus.CLOSED
    g.pop("_login_user", None)


def test_a_units_header_follows_its_own_reads(client, login, make):
    """Reading a notification writes no audit row: the portal's kept pages name the unread count."""
    unit = make.unit("U01", name="市税务局")
    login("unit", unit=unit)
    notify_unit(unit.id, "incident", "新的扣分项", key=str(uuid.uuid4()))
    db.session.commit()
    home = parse(client.get("/portal/").get_data(as_text=True))
    assert home.text_of("inbox-unread") == "1"
    notification_id = db.session.scalar(select(func.max(Notification.id)))
    client.get(f"/portal/inbox/{notification_id}")
    home = parse(client.get("/portal/").get_data(as_text=True))
    assert home.all("#inbox-unread") == []


def test_the_receipts_page_follows_a_units_first_opening(client, login, make, app):
    """A unit's first opening of a bulletin is written without an audit row: the kept receipts page
    names the newest receipt."""
    unit = make.unit("U01", name="市税务局")
    make.incident(unit, "D01", at=datetime(2024, 2, 5, 9, 0))
    months.close(2024, 2)
    months.publish(2024, 2)
    db.session.commit()
    reader = app.test_client()
    user = make.user("unit", username="reader", unit=unit)
    assert reader.post("/login", data={"username": user.username, "password": PASSWORD}).status_code == 302
    g.pop("_login_user", None)
    login("admin")
    g.pop("_login_user", None)

    def receipts() -> str:
        text = parse(client.get("/admin/months/2024-02/receipts").get_data(as_text=True)).text
        g.pop("_login_user", None)
        return text

    before = receipts()
    assert "市税务局" in before and receipts() == before  # kept
    assert reader.get("/portal/months/2024-02").status_code == 200
    g.pop("_login_user", None)
    assert db.session.scalar(select(func.count(BulletinRead.id))) == 1
    assert receipts() != before


def test_a_patrol_sheet_with_an_undo_running_is_made_afresh(client, login, make):
    """The undo button counts down and goes when the minute is over, with no audited change between."""
    unit = make.unit("U01", name="市税务局", windows="1")
    login("inspector")
    data = {"unit_id": unit.id, "window": "1", "rule_code": "D01", "client_key": str(uuid.uuid4())}
    data["date"] = "2024-03-20"  # the tests' hall day
    assert client.post("/admin/patrol/tap", data=data, headers={"HX-Request": "true"}).status_code == 200
    first = client.get("/admin/patrol").get_data(as_text=True)
    assert 0 < int(re.search(r'data-undo-seconds="(\d+)"', first).group(1)) <= 60
    tapped = db.session.scalar(select(Incident))
    tapped.created_at -= timedelta(seconds=61)  # a minute later
    db.session.commit()
    assert "已记录 · 撤销" not in client.get("/admin/patrol").get_data(as_text=True)


def test_a_flashed_message_is_shown_once_and_never_kept(client, login, make):
    make.unit("U01", name="市税务局")
    login("admin")
    client.get("/admin/units")  # kept without the message
    answer = client.post(
        "/admin/units/new",
        data={"code": "U02", "name": "市人社局", "windows": "1", "display_order": "2", "active": "y"},
    )
    assert answer.status_code == 302
    shown = parse(client.get(answer.headers["Location"]).get_data(as_text=True))
    assert shown.all(".flash") != []
    again = parse(client.get(answer.headers["Location"]).get_data(as_text=True))
    assert again.all(".flash") == [] and "市人社局" in again.text


def test_the_screens_list_follows_a_screens_contact(client, login):
    """A hall screen's polls write its last contact without an audit row: the kept settings page names
    the newest contact."""
    login("admin")
    answer = client.post("/admin/kiosk/screens", data={"name": "二楼东厅", "orientation": "landscape"})
    assert answer.status_code in (200, 302)
    client.get("/admin/kiosk")  # the registration's message, shown once

    def page() -> str:
        return parse(client.get("/admin/kiosk").get_data(as_text=True)).text_of("main")

    before = page()
    assert "二楼东厅" in before and "从未联络" in before and page() == before
    screen = db.session.scalar(select(KioskScreen))
    screen.last_seen_at = from_hall(datetime(2024, 3, 20, 9, 59, 30))  # its contacts, written in a batch
    db.session.commit()
    after = page()
    assert "从未联络" not in after and "2024-03-20 09:59:30" in after


def test_a_change_committed_after_a_newer_one_is_seen(client, login, make):
    """On PostgreSQL an audit id is taken at the INSERT: a writer may commit after another that took a
    higher id, and the kept page (and the live standings, by the same key) follows that late row too. On
    SQLite the key leaves the late rows' count out because the case cannot arise: a second writer cannot
    write while the first one's transaction is open, so ids come in commit order. Each database is checked
    for its own guarantee (`.ci/run` runs the suite on both)."""
    if db.engine.dialect.name == "sqlite":
        _second_writer_waits_for_the_first()
        return
    make.unit("U01", name="市税务局")
    login("admin")
    newest = db.session.scalar(select(func.max(AuditLog.id)))
    db.session.add(AuditLog(id=newest + 5, action="unit.update", target="unit:0"))  # the later writer
    db.session.commit()
    assert "市税务局" in parse(client.get("/admin/units").get_data(as_text=True)).text_of("main")
    unit = db.session.scalar(select(Unit))
    unit.name = "市税务局(新址)"  # the earlier writer, committing now with its lower id
    db.session.add(AuditLog(id=newest + 2, action="unit.update", target=f"unit:{unit.id}"))
    db.session.commit()
    assert "市税务局(新址)" in parse(client.get("/admin/units").get_data(as_text=True)).text_of("main")


def _second_writer_waits_for_the_first() -> None:
    """SQLite: while one connection holds an uncommitted audit row, another cannot write one (with no
    busy wait it is refused at once); once the first commits, the second's id comes after it."""
    first, second = db.engine.connect(), db.engine.connect()
    try:
        for conn in (first, second):
            conn.exec_driver_sql("PRAGMA busy_timeout = 0")
            conn.commit()
        row = {"action": "unit.update", "target": "unit:0"}
        with first.begin():
            first_id = first.execute(insert(AuditLog).values(**row).returning(AuditLog.id)).scalar_one()
            with pytest.raises(OperationalError, match="locked"), second.begin():
                second.execute(insert(AuditLog).values(**row))
        with second.begin():
            second_id = second.execute(insert(AuditLog).values(**row).returning(AuditLog.id)).scalar_one()
        assert second_id > first_id
    finally:
        for conn in (first, second):
            conn.rollback()
            conn.exec_driver_sql("PRAGMA busy_timeout = 30000")  # as app.py sets every connection
            conn.commit()
            conn.close()


def test_a_screen_gone_quiet_is_shown_as_silent(client, login, app, monkeypatch):
    """Silence is a matter of the clock (no write at all): the kept settings page names the minute."""
    login("admin")
    client.post("/admin/kiosk/screens", data={"name": "二楼东厅", "orientation": "landscape"})
    screen = db.session.scalar(select(KioskScreen))
    screen.last_seen_at = from_hall(datetime(2024, 3, 20, 9, 59, 30))
    db.session.commit()
    client.get("/admin/kiosk")  # the registration's message, shown once
    assert "未联络" not in " ".join(parse(client.get("/admin/kiosk").get_data(as_text=True)).texts("tbody"))
    monkeypatch.setitem(app.config, "HALL_NOW", datetime(2024, 3, 20, 10, 5))
    assert "已超过" in " ".join(parse(client.get("/admin/kiosk").get_data(as_text=True)).texts("tbody"))


def test_a_reminder_sent_without_an_audit_row_reaches_a_kept_inbox(client, login, make):
    """The daily timer's reminders are written without an audit row; reading one writes none either. The
    inbox kept with 0 unread before the reminder is not the inbox after it was read (0 unread again)."""
    unit = make.unit("U01", name="市税务局")
    login("unit", unit=unit)
    assert "整改期限提醒" not in parse(client.get("/portal/inbox").get_data(as_text=True)).text_of("main")
    notify_unit(unit.id, "deadline", "整改期限提醒", key=str(uuid.uuid4()))
    db.session.commit()
    reminder = db.session.scalar(select(func.max(Notification.id)))
    client.get(f"/portal/inbox/{reminder}")  # read: the unread count is 0 again
    assert "整改期限提醒" in parse(client.get("/portal/inbox").get_data(as_text=True)).text_of("main")


def test_a_page_that_flashes_its_own_message_is_not_kept(client, login, make):
    """A view that flashes and renders in the same request (a month out of range) leaves nothing kept."""
    make.unit("U01")
    login("admin")
    before = len(page_cache._pages)
    page = parse(client.get("/admin/standings?month=9999-12").get_data(as_text=True))
    assert page.all(".flash") != [] and len(page_cache._pages) == before
