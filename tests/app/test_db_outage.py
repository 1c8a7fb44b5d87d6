"""The database away: every request gets a clean 503 in Chinese (HTML, JSON for /api, a flash for htmx, an
empty body for the hall screen), with Retry-After, nothing leaks, nothing is written, and the next request
after the database is back succeeds. The real restart under gunicorn is bench/fault_db_restart.py."""

from __future__ import annotations

import io
import sqlite3
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import event, func, select
from sqlalchemy.exc import OperationalError

from models import Evidence, Incident, db
from services import kiosk
from services import standings as standings_service
from tests import images

DISCONNECT = "terminating connection due to administrator command"
LEAKS = (
    "Traceback",
    "OperationalError",
    "psycopg",
    "sqlite3",
    "SELECT",
    "INSERT",
    DISCONNECT,
    "administrator",
)


@pytest.fixture(autouse=True)
def fresh_caches(app):
    standings_service._cache.clear()
    kiosk.clear_caches()
    yield
    kiosk.clear_caches()


@contextmanager
def database_away(app, orig: Exception | None = None, only: str | None = None):
    """Every statement (or every statement starting with `only`) fails as a database that went away does:
    SQLAlchemy's OperationalError around the driver's own error."""
    orig = orig or psycopg.OperationalError(DISCONNECT)

    def fail(conn, cursor, statement, parameters, context, executemany):
        if only is None or statement.lstrip().upper().startswith(only):
            raise OperationalError(statement, parameters, orig)

    engine = db.engine
    event.listen(engine, "before_cursor_execute", fail)
    try:
        yield
    finally:
        event.remove(engine, "before_cursor_execute", fail)


def assert_clean_503(response) -> str:
    body = response.get_data(as_text=True)
    assert response.status_code == 503, body
    assert response.headers["Retry-After"] == "5"
    assert response.headers["Cache-Control"] == "no-store"
    for leak in LEAKS:
        assert leak not in body, leak
    return body


def test_a_page_gets_the_chinese_503_page(app, client, login, make):
    make.unit("U01", name="市税务局")
    login("admin")
    with database_away(app):
        response = client.get("/admin/")
    body = assert_clean_503(response)
    assert response.mimetype == "text/html"
    assert "503 · 服务暂时不可用" in body
    assert "数据库暂时无法连接" in body and "您的数据没有丢失" in body
    assert 'href="/static/css/app.css"' in body  # the look of the other error pages
    # The user could not be loaded: the page shows no menu, no name, rather than asking the database again.
    assert "退出" not in body and "工作台" not in body
    # Back again: the same session works, the app was not restarted.
    after = client.get("/admin/")
    assert after.status_code == 200 and "工作台" in after.get_data(as_text=True)


def test_an_anonymous_page_gets_it_too(app, client):
    with database_away(app):
        response = client.post("/login", data={"username": "admin", "password": "x"})
    body = assert_clean_503(response)
    assert "刚才提交的内容没有保存" in body


def test_the_api_answers_json(app, client, make):
    make.unit("U01")
    with database_away(app):
        response = client.get("/api/standings")
    assert_clean_503(response)
    assert response.is_json
    assert response.get_json() == {
        "error": "数据库暂时无法连接(可能正在重启或维护),您的数据没有丢失。请稍等片刻后重试。",
        "status": 503,
    }
    assert client.get("/api/standings").status_code == 200


def test_htmx_gets_a_flash_message(app, client, login, make):
    make.unit("U01")
    login("admin")
    with database_away(app):
        response = client.get("/admin/incidents", headers={"HX-Request": "true"})
    body = assert_clean_503(response)
    assert response.headers["HX-Retarget"] == "#flash"
    assert body.strip().startswith('<p class="flash flash-error">503 · 数据库暂时无法连接')


def test_the_hall_screen_poll_gets_an_empty_503(app, client, make):
    make.unit("U01")
    with database_away(app):
        response = client.get("/kiosk/live?screen=A")
        response.close()
    assert assert_clean_503(response) == ""
    assert "X-Kiosk-Version" not in response.headers  # kiosk.js swaps only what names a version
    back = client.get("/kiosk/live?screen=A")
    back.close()
    assert back.status_code == 200 and back.headers["X-Kiosk-Version"]


def test_a_write_that_fails_writes_nothing(app, client, login, make):
    unit = make.unit("U01", name="市税务局", windows="1")
    login("admin")
    data = {
        "unit_id": str(unit.id),
        "occurred_at": "2024-03-18T09:30",
        "rule_code": "D01",
        "count": "1",
        "window": "",
        "staff_pk": "",
        "note": "",
        "public_text": "",
        "action": "save",
        "evidence": (io.BytesIO(images.png()), "a.png"),
    }
    folder = Path(app.config["EVIDENCE_DIR"])
    files_before = set(folder.rglob("*"))  # other tests may have left their files in the shared folder
    # The reads work, the database goes away at the first write.
    with database_away(app, only="INSERT"):
        response = client.post("/admin/incidents/new", data=data, content_type="multipart/form-data")
    assert_clean_503(response)
    assert db.session.scalar(select(func.count(Incident.id))) == 0
    assert db.session.scalar(select(func.count(Evidence.id))) == 0
    assert set(folder.rglob("*")) == files_before  # the photo written first was removed


def test_sqlite_locked_past_its_busy_timeout_is_a_503(app, client, make):
    make.unit("U01")
    with database_away(app, orig=sqlite3.OperationalError("database is locked")):
        response = client.get("/api/standings")
    assert_clean_503(response)


def test_a_bad_query_stays_a_500_not_hidden_as_an_outage(app, client, make):
    """SQLite names a typo in a query an OperationalError too: that is a bug, and it must show as one."""
    make.unit("U01")
    app.config["PROPAGATE_EXCEPTIONS"] = False
    try:
        with database_away(app, orig=sqlite3.OperationalError("no such column: units.nope")):
            response = client.get("/api/standings")
    finally:
        app.config["PROPAGATE_EXCEPTIONS"] = None
    assert response.status_code == 500
    assert "Retry-After" not in response.headers


def test_the_database_going_away_before_the_request_ends_keeps_the_response(app):
    """The database stops between the view and the end of the request: the ROLLBACK that ends the request's
    session fails. The app's teardowns (run as a server runs them at the end of each request; the test
    client keeps the test's app context instead) drop the dead connection and raise nothing, so the response
    already made is sent instead of a bare 500, and the next request gets a fresh connection."""
    assert db.session.scalar(select(func.count(Incident.id))) == 0  # a transaction is open
    failed = []

    def rollback_fails(conn):
        if not failed:
            failed.append(True)
            raise OperationalError("ROLLBACK", {}, psycopg.OperationalError("server closed the connection"))

    event.listen(db.engine, "rollback", rollback_fails)
    try:
        app.do_teardown_appcontext(None)
    finally:
        event.remove(db.engine, "rollback", rollback_fails)
    assert failed, "the closing rollback was not reached"
    assert db.session.scalar(select(func.count(Incident.id))) == 0
