"""Login sessions (ASVS level 2): no open redirect after login, a new session at login, the idle and the
absolute timeout (the hall screen untouched), every session of a user ended by a new password or a
disable, the password policy on the user's own form, and a temporary password changed before anything."""

from __future__ import annotations

import pytest
from flask import g
from sqlalchemy import func, select

from auth import sessions
from models import AuditLog, User, db
from models.user import EndedSession
from services.passwords import one_time_password, password_problem
from tests.conftest import PASSWORD

MINUTE = 60


@pytest.fixture
def clock(monkeypatch):
    """The sessions' clock, moved on by hand: clock.move(minutes)."""

    class Clock:
        at = 1_800_000_000.0

        def move(self, minutes: float) -> None:
            self.at += minutes * MINUTE

    fake = Clock()
    monkeypatch.setattr(sessions, "now", lambda: fake.at)
    return fake


def fresh(client=None):
    """Forget Flask-Login's user cached in `g` (the tests share one app context across requests)."""
    g.pop("_login_user", None)


def log_in(client, username: str, password: str = PASSWORD, **kwargs):
    fresh()
    response = client.post("/login", data={"username": username, "password": password}, **kwargs)
    fresh()
    return response


def get(client, url: str, **kwargs):
    fresh()
    response = client.get(url, **kwargs)
    fresh()
    return response


def goes_to_login(response) -> bool:
    return response.status_code == 302 and "/login" in response.headers["Location"]


# ------------------------------------------------------------------ no open redirect


@pytest.mark.parametrize(
    "target",
    [
        "/%09/evil.example",
        "/%0A/evil.example",
        "/%0D/evil.example",
        "//evil.example",
        "/%5Cevil.example",
        "%5C%5Cevil.example",
        "https://evil.example/",
        "javascript:alert(1)",
    ],
)
def test_login_never_redirects_off_site(client, make, target):
    make.user("admin", username="boss")
    response = client.post(f"/login?next={target}", data={"username": "boss", "password": PASSWORD})
    fresh()
    assert response.status_code == 302
    assert response.headers["Location"] == "/admin/", target


def test_login_follows_a_next_on_this_site(client, make):
    make.user("admin", username="boss")
    response = client.post(
        "/login?next=/admin/incidents?month=2024-03", data={"username": "boss", "password": PASSWORD}
    )
    fresh()
    assert response.headers["Location"] == "/admin/incidents?month=2024-03"


# ------------------------------------------------------------------ a new session at login


def test_login_starts_a_new_session(client, make, clock):
    make.user("admin", username="boss")
    with client.session_transaction() as session:
        session["planted"] = "by an attacker"
        session["_user_id"] = "999.1"
    assert log_in(client, "boss").status_code == 302
    with client.session_transaction() as session:
        first = dict(session)
    assert "planted" not in first
    boss = db.session.scalar(select(User).where(User.username == "boss"))
    assert first["_user_id"] == f"{boss.id}.1" and first["seen"] == first["login_at"] == int(clock.at)
    client.post("/logout")
    with client.session_transaction() as session:
        assert "_user_id" not in session and "nonce" not in session
    assert log_in(client, "boss").status_code == 302
    with client.session_transaction() as session:
        assert session["nonce"] != first["nonce"] and len(session["nonce"]) >= 20


def test_a_copy_of_the_cookie_is_worth_nothing_after_logout(app, client, make, clock):
    """The session is a signed cookie: its logout lists its nonce as ended, so a copy taken before is
    refused; the list keeps a nonce only until that session would have expired anyway."""
    boss = make.user("admin", username="boss")
    log_in(client, "boss")
    with client.session_transaction() as session:
        copy = dict(session)
    thief = app.test_client()
    with thief.session_transaction() as session:
        session.update(copy)
    assert get(thief, "/admin/").status_code == 200  # the copy works while the session lives
    fresh()
    client.post("/logout")
    fresh()
    assert goes_to_login(get(thief, "/admin/"))
    ended = db.session.scalars(select(EndedSession)).all()
    assert [(e.nonce, e.user_id) for e in ended] == [(copy["nonce"], boss.id)]
    # Another login, by the same user, is a new session and works.
    assert log_in(client, "boss").status_code == 302 and get(client, "/admin/").status_code == 200
    # 13 hours on, the next logout clears the nonces whose sessions are over anyway.
    clock.move(13 * 60)
    log_in(client, "boss")
    fresh()
    client.post("/logout")
    fresh()
    assert [e.nonce for e in db.session.scalars(select(EndedSession))] != [copy["nonce"]]
    assert db.session.scalar(select(func.count()).select_from(EndedSession)) == 1


def test_logging_in_as_another_user_ends_the_first_session(app, client, make):
    make.user("admin", username="boss")
    make.user("leader", username="chief")
    log_in(client, "boss")
    with client.session_transaction() as session:
        copy = dict(session)
    log_in(client, "chief")
    thief = app.test_client()
    with thief.session_transaction() as session:
        session.update(copy)
    assert goes_to_login(get(thief, "/admin/"))


def test_a_session_without_the_version_is_no_one(client, make):
    """A cookie from before session versions (or forged with a bare id) logs no one in."""
    user = make.user("admin", username="boss")
    with client.session_transaction() as session:
        session.update(sessions.session_fields(user))
        session["_user_id"] = str(user.id)
    assert goes_to_login(get(client, "/admin/"))
    with client.session_transaction() as session:
        assert "_user_id" not in session


# ------------------------------------------------------------------ idle and absolute timeouts


def test_idle_timeout_ends_the_session(client, make, clock):
    make.user("admin", username="boss")
    log_in(client, "boss")
    # Working: each request within the idle time keeps the session alive.
    for _ in range(3):
        clock.move(25)
        assert get(client, "/admin/").status_code == 200
    clock.move(31)
    response = get(client, "/admin/")
    assert goes_to_login(response)
    page = get(client, response.headers["Location"]).get_data(as_text=True)
    assert "长时间未操作,已自动退出,请重新登录" in page
    with client.session_transaction() as session:
        assert "_user_id" not in session
    # Logging in again works at once.
    assert log_in(client, "boss").status_code == 302
    assert get(client, "/admin/").status_code == 200


def test_an_htmx_request_of_an_ended_session_sends_the_page_to_the_login(client, make, clock):
    """Not the login form swapped into a fragment; and not a 2xx, so a queued patrol tap stays queued."""
    make.user("inspector", username="walker")
    log_in(client, "walker")
    clock.move(31)
    fresh()
    response = client.post("/admin/patrol/tap", data={}, headers={"HX-Request": "true"})
    fresh()
    assert response.status_code == 401 and response.headers["HX-Redirect"] == "/login"
    assert "长时间未操作" in get(client, "/login").get_data(as_text=True)


def test_idle_timeout_is_a_setting(app, client, make, clock, monkeypatch):
    monkeypatch.setitem(app.config, "SESSION_IDLE_MINUTES", 5)
    make.user("admin", username="boss")
    log_in(client, "boss")
    clock.move(4)
    assert get(client, "/admin/").status_code == 200
    clock.move(6)
    assert goes_to_login(get(client, "/admin/"))


def test_unit_users_may_have_their_own_idle_timeout(app, client, make, clock, monkeypatch):
    monkeypatch.setitem(app.config, "UNIT_SESSION_IDLE_MINUTES", 120)
    unit = make.unit("U01")
    make.user("unit", username="tax", unit=unit)
    make.user("admin", username="boss")
    desk = app.test_client()
    log_in(client, "tax")
    log_in(desk, "boss")
    clock.move(90)
    assert get(client, "/portal/").status_code == 200
    assert goes_to_login(get(desk, "/admin/"))  # staff keep the 30 minutes
    clock.move(121)
    assert goes_to_login(get(client, "/portal/"))


def test_absolute_timeout_even_while_working(client, make, clock):
    make.user("admin", username="boss")
    log_in(client, "boss")
    for _ in range(35):  # 11 h 40 min of work, a request every 20 minutes
        clock.move(20)
        assert get(client, "/admin/").status_code == 200
    clock.move(25)
    assert goes_to_login(get(client, "/admin/"))


def test_the_hall_screen_neither_ends_nor_prolongs_a_session(client, make, clock):
    """The hall screen needs no login: it answers the same to an expired session, sets no cookie, and its
    polls (every few seconds, all day) do not keep a staff session alive."""
    make.user("admin", username="boss")
    log_in(client, "boss")
    for _ in range(5):
        clock.move(10)
        for url in ("/kiosk/?screen=hall", "/kiosk/live?screen=hall"):
            response = get(client, url)
            assert response.status_code == 200 and "Set-Cookie" not in response.headers, url
    # 50 minutes of polls, no user at work: the session is over.
    assert goes_to_login(get(client, "/admin/"))
    # An expired session still sees the screen, and the screen still sets no cookie.
    log_in(client, "boss")
    clock.move(45)
    response = get(client, "/kiosk/?screen=hall")
    assert response.status_code == 200 and "Set-Cookie" not in response.headers
    assert "k-live" in response.get_data(as_text=True)


def test_an_expired_session_gets_only_public_api_answers(client, make, clock):
    make.user("admin", username="boss")
    log_in(client, "boss")
    clock.move(31)
    response = get(client, "/api/standings?month=2024-03")
    assert response.status_code == 200 and "Set-Cookie" not in response.headers
    assert goes_to_login(get(client, "/admin/"))


# ------------------------------------------------------------------ every session ended


def test_own_new_password_ends_the_other_sessions_only(app, client, make, clock):
    make.user("inspector", username="walker")
    phone = app.test_client()
    log_in(client, "walker")
    log_in(phone, "walker")
    with client.session_transaction() as session:
        old_cookie = dict(session)
    data = {"current": PASSWORD, "new": "a-new-long-pass", "confirm": "a-new-long-pass"}
    fresh()
    response = client.post("/account/password", data=data)
    fresh()
    assert response.status_code == 302
    # This session goes on; the phone's has ended.
    assert get(client, "/admin/").status_code == 200
    response = get(phone, "/admin/")
    assert goes_to_login(response)
    assert "登录已失效" in get(phone, response.headers["Location"]).get_data(as_text=True)
    # A copy of the cookie from before the change is worth nothing either.
    replay = app.test_client()
    with replay.session_transaction() as session:
        session.update(old_cookie)
    assert goes_to_login(get(replay, "/admin/"))
    audit = db.session.scalar(select(AuditLog).where(AuditLog.action == "user.password"))
    assert "a-new-long-pass" not in str(audit.after)


def test_disabling_a_user_ends_their_sessions_at_once(app, client, make, login):
    login("admin")
    user = make.user("inspector", username="walker")
    tablet = app.test_client()
    log_in(tablet, "walker")
    assert get(tablet, "/admin/").status_code == 200
    data = {"user-display_name": "w", "user-role": "inspector", "user-unit_id": "0", "user-active": ""}
    fresh()
    assert client.post(f"/admin/users/{user.id}/edit", data=data).status_code == 302
    assert goes_to_login(get(tablet, "/admin/"))
    # Enabled again, the old session stays ended: the user logs in anew.
    data["user-active"] = "y"
    fresh()
    assert client.post(f"/admin/users/{user.id}/edit", data=data).status_code == 302
    assert goes_to_login(get(tablet, "/admin/"))
    assert log_in(tablet, "walker").status_code == 302


def test_an_admin_reset_ends_the_users_sessions_and_must_be_changed(app, client, make, login):
    login("admin")
    user = make.user("leader", username="chief")
    desk = app.test_client()
    log_in(desk, "chief")
    fresh()
    data = {"pw-password": "temporary-pass-7", "pw-confirm": "temporary-pass-7"}
    assert client.post(f"/admin/users/{user.id}/password", data=data).status_code == 302
    assert goes_to_login(get(desk, "/admin/"))
    response = log_in(desk, "chief", "temporary-pass-7")
    assert response.headers["Location"] == "/account/password"


# ------------------------------------------------------------------ temporary passwords


def test_a_temporary_password_must_be_changed_first(app, client, make, login):
    login("admin")
    fresh()
    data = {
        "username": "clerk",
        "display_name": "",
        "role": "inspector",
        "unit_id": "0",
        "password": "given-by-admin-1",
    }
    assert client.post("/admin/users/new", data=data).status_code == 302
    clerk = db.session.scalar(select(User).where(User.username == "clerk"))
    assert clerk.must_change_password
    tablet = app.test_client()
    response = log_in(tablet, "clerk", "given-by-admin-1", query_string={"next": "/admin/incidents"})
    assert response.headers["Location"] == "/account/password"
    page = get(tablet, "/account/password").get_data(as_text=True)
    assert "临时密码" in page
    # Every page sends them back, an htmx request too (not a 2xx: a queued patrol tap stays queued).
    for url in ("/", "/admin/", "/admin/incidents", "/admin/patrol"):
        response = get(tablet, url)
        assert response.status_code == 302 and response.headers["Location"] == "/account/password", url
    fresh()
    response = tablet.post("/admin/patrol/tap", data={}, headers={"HX-Request": "true"})
    fresh()
    assert response.status_code == 403 and response.headers["HX-Redirect"] == "/account/password"
    # The hall screen is not theirs to be held from.
    assert get(tablet, "/kiosk/?screen=hall").status_code == 200
    # The same password again is refused; a good one frees them.
    fresh()
    same = {"current": "given-by-admin-1", "new": "given-by-admin-1", "confirm": "given-by-admin-1"}
    response = tablet.post("/account/password", data=same)
    assert response.status_code == 422 and "新密码不能与当前密码相同" in response.get_data(as_text=True)
    fresh()
    own = {"current": "given-by-admin-1", "new": "my-own-choice-3", "confirm": "my-own-choice-3"}
    assert tablet.post("/account/password", data=own).status_code == 302
    fresh()
    db.session.refresh(clerk)
    assert not clerk.must_change_password
    assert get(tablet, "/admin/incidents").status_code == 200


@pytest.mark.parametrize(
    ("new", "message"),
    [
        ("short-1", "密码至少 10 位"),
        ("13800138000", "密码不能全是数字"),
        ("Walker-Team", None),  # fine: a long, uncommon one
        ("walker1234", None),
        ("WALKER1234", None),
        ("qwertyuiop", "这个密码太常见"),
        ("Password123", "这个密码太常见"),
        ("aaaaaaaaaaaa", "同一两个字符重复"),
    ],
)
def test_own_password_policy(client, make, new, message):
    user = make.user("inspector", username="walker1234")
    log_in(client, "walker1234")
    fresh()
    response = client.post("/account/password", data={"current": PASSWORD, "new": new, "confirm": new})
    fresh()
    db.session.refresh(user)
    if new.lower() == "walker1234":
        message = "密码不能与用户名相同"
    if message is None:
        assert response.status_code == 302 and user.check_password(new)
    else:
        assert response.status_code == 422 and message in response.get_data(as_text=True)
        assert user.check_password(PASSWORD)
        assert not db.session.scalar(
            select(func.count(AuditLog.id)).where(AuditLog.action == "user.password")
        )


def test_wrong_current_password_is_refused(client, make):
    user = make.user("inspector", username="walker")
    log_in(client, "walker")
    fresh()
    data = {"current": "not-my-password", "new": "a-new-long-pass", "confirm": "a-new-long-pass"}
    response = client.post("/account/password", data=data)
    fresh()
    assert response.status_code == 422 and "当前密码不正确" in response.get_data(as_text=True)
    db.session.refresh(user)
    assert user.check_password(PASSWORD) and user.session_version == 1


def test_the_policy_on_every_path_that_sets_a_password(client, login, make, runner):
    """The users page (new and reset) and the CLI refuse what the own-password form refuses."""
    login("admin")
    walker = make.user("inspector", username="walker")
    new = {"username": "clerk2024", "display_name": "", "role": "inspector", "unit_id": "0"}
    for password, message in (("1234567890", "密码不能全是数字"), ("Clerk2024", "密码至少 10 位")):
        fresh()
        response = client.post("/admin/users/new", data={**new, "password": password})
        assert response.status_code == 422 and message in response.get_data(as_text=True), password
    fresh()
    response = client.post(
        "/admin/users/new", data={**new, "username": "clerk20245", "password": "CLERK20245"}
    )
    assert response.status_code == 422 and "密码不能与用户名相同" in response.get_data(as_text=True)
    fresh()
    data = {"pw-password": "password123", "pw-confirm": "password123"}
    response = client.post(f"/admin/users/{walker.id}/password", data=data)
    fresh()
    assert response.status_code == 422 and "这个密码太常见" in response.get_data(as_text=True)
    result = runner.invoke(args=["create-user", "root2", "--role", "admin", "--password", "qwertyuiop"])
    assert result.exit_code != 0 and "这个密码太常见" in result.output
    assert db.session.scalar(select(func.count(User.id))) == 2  # the admin and walker, no one else
    db.session.refresh(walker)
    assert walker.check_password(PASSWORD) and not walker.must_change_password


def test_one_time_passwords_pass_the_policy_and_differ():
    made = {one_time_password() for _ in range(200)}
    assert len(made) == 200
    assert all(password_problem(p) is None and len(p) == 12 for p in made)
