"""Ids beyond 64 bits, NUL bytes and redirects after login: refused cleanly, nothing written."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from models import AuditLog, User, db
from security import safe_next
from tests.conftest import PASSWORD


@pytest.mark.parametrize(
    "url",
    [
        "/admin/users/99999999999999999999/edit",
        "/admin/incidents/99999999999999999999",
        "/admin/incidents/9223372036854775808",
        "/admin/incidents/2147483648",
        "/portal/items/99999999999999999999",
    ],
)
def test_an_id_beyond_any_id_column_is_not_found(client, login, url):
    login("admin")
    response = client.get(url)
    assert response.status_code == 404
    assert "您要找的页面或记录不存在" in response.get_data(as_text=True)


def test_the_largest_id_is_looked_up_and_not_found(client, login):
    login("admin")
    response = client.get("/admin/incidents/2147483647")
    assert response.status_code == 404 and "您要找的页面或记录不存在" in response.text


def test_a_nul_byte_in_the_login_form_is_a_bad_request_and_writes_nothing(app, client, make):
    make.user("admin", username="boss")
    with app.app_context():
        before = db.session.scalar(select(func.count(AuditLog.id)))
    response = client.post("/login", data={"username": "bo\x00ss", "password": PASSWORD})
    assert response.status_code == 400
    assert "请求无效" in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(func.count(AuditLog.id))) == before


def test_a_nul_byte_in_a_query_string_is_a_bad_request(client, login):
    login("admin")
    response = client.get("/admin/incidents?note=a%00b")
    assert response.status_code == 400


def test_a_nul_byte_in_an_admin_form_writes_nothing(app, client, login):
    login("admin")
    with app.app_context():
        users = db.session.scalar(select(func.count(User.id)))
    response = client.post(
        "/admin/users/new",
        data={"username": "new\x00user", "role": "admin", "password": "Abcdefgh12345"},
    )
    assert response.status_code == 400
    with app.app_context():
        assert db.session.scalar(select(func.count(User.id))) == users


@pytest.mark.parametrize(
    "target",
    [
        "//evil.example",
        "/\t/evil.example",
        "/%09/evil.example",
        "/\n/evil.example",
        "/\\evil.example",
        "\\\\evil.example",
        "https://evil.example/",
        "javascript:alert(1)",
        "evil.example",
    ],
)
def test_safe_next_refuses_every_way_off_the_site(target):
    from urllib.parse import unquote

    assert safe_next(unquote(target)) is None


@pytest.mark.parametrize("target", ["/admin/", "/admin/incidents?month=2024-03", "/portal/months/2024-03"])
def test_safe_next_keeps_paths_on_the_site(target):
    assert safe_next(target) == target


def test_login_never_redirects_off_the_site(client, make):
    make.user("admin", username="boss")
    response = client.post("/login?next=/%09/evil.example", data={"username": "boss", "password": PASSWORD})
    assert response.status_code == 302
    assert "evil.example" not in response.headers["Location"]
    assert response.headers["Location"].endswith("/admin/")


def test_login_follows_a_next_on_the_site(client, make):
    make.user("admin", username="boss")
    response = client.post("/login?next=/admin/incidents", data={"username": "boss", "password": PASSWORD})
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/admin/incidents")


@pytest.mark.parametrize(
    "url",
    [
        "/admin/detections?job=99999999999999999999",
        "/admin/import?job=99999999999999999999",
        "/admin/notices?page=99999999999999999999",
        "/admin/patrol/record?unit_id=99999999999999999999",
    ],
)
def test_an_id_or_page_beyond_any_id_in_a_query_is_no_error(client, login, url):
    login("admin")
    assert client.get(url).status_code in (200, 404, 422)


def test_a_unit_asking_for_a_huge_warnings_page_gets_the_first(client, login):
    login("unit")
    response = client.get("/portal/warnings?page=99999999999999999999")
    assert response.status_code == 200 and "提醒" in response.text


# Found by the fuzzing of tests/app/test_fuzz.py: "²" is a digit to str.isdigit() but not to int(), and ids
# beyond any id column in forms and filters reached the database (SQLite: OverflowError; PostgreSQL:
# integer out of range).
@pytest.mark.parametrize(
    "url",
    [
        "/admin/patrol/record?unit_id=²",
        "/admin/notices?page=²&unit_id=²",
        "/admin/notices?unit_id=99999999999999999999",
        "/admin/staff?unit=²",
        "/admin/staff?unit=99999999999999999999",
        "/admin/staff/new?unit=99999999999999999999",
        "/admin/calendar?year=²&month=²",
        "/admin/years?year=²",
        "/admin/tallies?year=²",
        "/admin/audit?page=²",
        "/admin/audit?user=99999999999999999999",
        "/admin/audit?user=²",
    ],
)
def test_odd_digits_and_huge_ids_in_a_query_are_no_error(client, login, url):
    login("admin")
    response = client.get(url)
    assert response.status_code in (200, 302, 422), response.status_code


@pytest.mark.parametrize("period", ["²²²²", "²²²²-Q1"])
def test_a_period_of_odd_digits_is_not_found(client, login, period):
    login("admin")
    assert client.get(f"/admin/honors/{period}").status_code == 404


def _counts(app):
    with app.app_context():
        return {
            t.name: db.session.execute(select(func.count()).select_from(t)).scalar()
            for t in db.metadata.sorted_tables
        }


@pytest.mark.parametrize(
    "url, data",
    [
        (
            "/admin/patrol/tap",
            {
                "unit_id": "99999999999999999999",
                "window": "1",
                "rule_code": "D01",
                "client_key": "k",
                "date": "2024-03-05",
            },
        ),
        (
            "/admin/patrol/tap",
            {"unit_id": "²", "window": "1", "rule_code": "D01", "client_key": "k", "date": "2024-03-05"},
        ),
        ("/admin/patrol/undo", {"incident_id": "99999999999999999999"}),
        ("/admin/detections/bulk", {"ids": "99999999999999999999", "action": "confirm"}),
        ("/admin/detections/bulk", {"ids": ["1", "9223372036854775808"], "action": "dismiss", "reason": "x"}),
        ("/admin/honors/2024-Q1/select", {"unit": "99999999999999999999"}),
        ("/admin/honors/2024-Q1/select", {"unit": "²"}),
    ],
)
def test_huge_ids_in_a_form_are_refused_and_write_nothing(app, client, login, make, url, data):
    make.unit("U01")
    login("admin")
    before = _counts(app)
    response = client.post(url, data=data)
    assert 400 <= response.status_code < 500, response.status_code
    assert _counts(app) == before


@pytest.mark.parametrize(
    "start, end",
    [
        ("2024-03-20T09:30", "0001-01-01T00:00"),
        ("0001-01-01T00:00", "2024-03-20T09:30"),
        ("2024-03-20T09:30", "9999-12-31T23:59"),
    ],
)
def test_an_outage_at_the_edge_of_the_calendar_is_a_form_error_and_writes_nothing(
    app, client, login, start, end
):
    login("admin")
    before = _counts(app)
    response = client.post("/admin/calendar/outages", data={"start_at": start, "end_at": end, "note": "x"})
    assert response.status_code == 422
    assert "请填写 2000 年至 2100 年之间的日期" in response.text
    assert _counts(app) == before


@pytest.mark.parametrize(
    "query", ["date_from=0001-01-01", "date_to=9999-12-31", "date_from=0001-01-01&date_to=9999-12-31"]
)
def test_the_audit_log_filtered_at_the_edge_of_the_calendar_says_so(client, login, query):
    login("admin")
    response = client.get(f"/admin/audit?{query}")
    assert response.status_code in (200, 422)
    assert "请填写 2000 年至 2100 年之间的日期" in response.text
