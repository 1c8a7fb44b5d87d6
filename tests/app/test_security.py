"""Security: CSRF refusal, the login rate limit, security headers and cookies on every response, and a
scan of templates/ and static/js for inline scripts, style attributes and event-handler attributes."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from flask import g
from sqlalchemy import func, select

from app import create_app
from extensions import limiter
from models import Month, db
from tests.conftest import PASSWORD

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def csrf_app(app):
    """A second app on the same database with CSRF on, as in production."""
    keys = ("SQLALCHEMY_DATABASE_URI", "SECRET_KEY", "EVIDENCE_DIR", "HALL_TODAY", "HALL_NOW")
    return create_app({**{k: app.config[k] for k in keys}, "TESTING": True, "WTF_CSRF_ENABLED": True})


def csrf_token_of(html: str) -> str:
    return re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html).group(1)


def test_csrf_refuses_a_post_without_token(csrf_app, make):
    make.user("admin", username="boss")
    client = csrf_app.test_client()
    response = client.post("/login", data={"username": "boss", "password": PASSWORD})
    assert response.status_code == 400 and "请求无效" in response.get_data(as_text=True)
    g.pop("_login_user", None)
    # With the token from the form, the same login works; a later POST without a token is refused.
    token = csrf_token_of(client.get("/login").get_data(as_text=True))
    response = client.post("/login", data={"username": "boss", "password": PASSWORD, "csrf_token": token})
    assert response.status_code == 302
    response = client.post("/admin/months/2024-02/close")
    assert response.status_code == 400
    assert db.session.scalar(select(func.count(Month.id))) == 0
    # The login started a new session, so the token from before it is void too (ASVS: a new token at login).
    response = client.post("/admin/months/2024-02/close", headers={"X-CSRFToken": token})
    assert response.status_code == 400
    # htmx sends the session's token as a header (base.html's hx-headers): accepted.
    token = csrf_token_of(client.get("/account/password").get_data(as_text=True))
    response = client.post("/admin/months/2024-02/close", headers={"X-CSRFToken": token})
    assert response.status_code == 302
    assert db.session.scalar(select(Month.status)) == "closed"
    g.pop("_login_user", None)


def _fail(client, username: str, address: str):
    response = client.post(
        "/login", data={"username": username, "password": "wrong"}, environ_base={"REMOTE_ADDR": address}
    )
    g.pop("_login_user", None)
    return response


def test_login_rate_limit(client, make, monkeypatch):
    # The limiter is one object for every app the tests build, and an app made with RATELIMIT_ENABLED off
    # (the browser tests' live server) switches it off for all; this test needs it on whatever ran before.
    monkeypatch.setattr(limiter, "enabled", True)
    make.user("admin", username="boss")
    # A successful login does not count against the limit.
    for _ in range(8):
        assert client.post("/login", data={"username": "boss", "password": PASSWORD}).status_code == 302
        client.post("/logout")
        g.pop("_login_user", None)
    for _ in range(5):
        response = client.post("/login", data={"username": "boss", "password": "wrong"})
        assert response.status_code == 422 and "用户名或密码错误" in response.get_data(as_text=True)
    response = client.post("/login", data={"username": "boss", "password": "wrong"})
    assert response.status_code == 429
    html = response.get_data(as_text=True)
    # The login page again, saying when to try (the account's limit is per minute here).
    assert "登录失败次数过多,请 1 分钟后再试" in html and 'name="username"' in html and "boss" in html
    # Even the right password waits now; another account from the same address does not.
    assert client.post("/login", data={"username": "boss", "password": PASSWORD}).status_code == 429
    make.user("leader", username="other")
    assert client.post("/login", data={"username": "other", "password": PASSWORD}).status_code == 302
    g.pop("_login_user", None)


def test_one_account_from_many_addresses_is_refused(client, make, monkeypatch):
    """60 failures on one account from 10 addresses were all answered before: now the sixth is refused."""
    monkeypatch.setattr(limiter, "enabled", True)
    make.user("admin", username="boss")
    codes = [_fail(client, "boss", f"10.0.0.{n % 10 + 1}").status_code for n in range(60)]
    assert codes[:5] == [422] * 5 and set(codes[5:]) == {429}
    # The account's owner, from an address of their own, waits too: the guesser cannot be told apart.
    response = client.post(
        "/login", data={"username": "BOSS ", "password": PASSWORD}, environ_base={"REMOTE_ADDR": "10.9.9.9"}
    )
    g.pop("_login_user", None)
    assert response.status_code == 429


def test_one_address_over_many_accounts_is_refused(client, make, monkeypatch):
    """121 failures from one address over as many accounts were all answered before: now the 21st is
    refused (20 a minute, the hall's desks behind one address have room), and other addresses go on."""
    monkeypatch.setattr(limiter, "enabled", True)
    make.user("admin", username="boss")
    codes = [_fail(client, f"user{n}", "192.0.2.7").status_code for n in range(121)]
    assert codes[:20] == [422] * 20 and set(codes[20:]) == {429}
    refused = client.post(
        "/login", data={"username": "boss", "password": PASSWORD}, environ_base={"REMOTE_ADDR": "192.0.2.7"}
    )
    g.pop("_login_user", None)
    assert refused.status_code == 429
    other = client.post(
        "/login", data={"username": "boss", "password": PASSWORD}, environ_base={"REMOTE_ADDR": "192.0.2.8"}
    )
    g.pop("_login_user", None)
    assert other.status_code == 302


def test_security_headers_on_every_kind_of_response(client, login):
    responses = [
        client.get("/login"),
        client.get("/admin/"),
        client.get("/no-such-page"),
        client.get("/static/css/app.css"),
        client.get("/api/standings?month=2024-03"),
    ]
    login("admin")
    responses += [
        client.get("/admin/"),
        client.get("/admin/standings/2024-99/units/1"),
        client.post("/admin/units/new", data={}),
    ]
    for response in responses:
        csp = response.headers["Content-Security-Policy"]
        assert "default-src 'self'" in csp and "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
        assert "unsafe-inline" not in csp
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["X-Frame-Options"] == "DENY"
        assert response.headers["Referrer-Policy"] == "same-origin"


def test_session_cookie_is_httponly_and_samesite(client, make):
    make.user("admin", username="boss")
    response = client.post("/login", data={"username": "boss", "password": PASSWORD})
    cookie = next(c for c in response.headers.getlist("Set-Cookie") if c.startswith("session="))
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    g.pop("_login_user", None)


def test_secure_cookie_in_production(monkeypatch, tmp_path):
    monkeypatch.setenv("SESSION_COOKIE_SECURE", "1")
    prod = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'p.db'}", "SECRET_KEY": "x"})
    assert prod.config["SESSION_COOKIE_SECURE"] is True and prod.config["SESSION_COOKIE_HTTPONLY"] is True


INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.I)
STYLE_ATTR = re.compile(r"""\sstyle\s*=\s*["']""", re.I)
ON_HANDLER = re.compile(r"""\son[a-z]+\s*=\s*["']""", re.I)
HX_ON = re.compile(r"\shx-on[:-]", re.I)


def test_no_inline_script_style_or_handlers_in_templates():
    problems = []
    for path in sorted((ROOT / "templates").rglob("*.html")):
        text = path.read_text(encoding="utf-8")
        for name, pattern in (
            ("inline <script>", INLINE_SCRIPT),
            ("style=", STYLE_ATTR),
            ("on*=", ON_HANDLER),
            ("hx-on", HX_ON),
        ):
            for match in pattern.finditer(text):
                line = text.count("\n", 0, match.start()) + 1
                problems.append(f"{path.relative_to(ROOT)}:{line}: {name}")
    assert not problems, "\n".join(problems)


def test_no_eval_or_inline_html_handlers_in_static_js():
    problems = []
    for path in sorted((ROOT / "static" / "js").rglob("*.js")):
        text = path.read_text(encoding="utf-8")
        for name, pattern in (
            ("eval(", re.compile(r"\beval\s*\(")),
            ("new Function", re.compile(r"new\s+Function\b")),
            ("on*= in markup", ON_HANDLER),
            ("style= in markup", STYLE_ATTR),
            ("inline <script>", INLINE_SCRIPT),
        ):
            if pattern.search(text):
                problems.append(f"{path.relative_to(ROOT)}: {name}")
    assert not problems, "\n".join(problems)


def test_the_scan_would_catch_them():
    assert INLINE_SCRIPT.search("<script>alert(1)</script>") and not INLINE_SCRIPT.search(
        '<script src="/a.js">'
    )
    assert STYLE_ATTR.search('<p style="color:red">') and ON_HANDLER.search('<a onclick="x()">')
    assert HX_ON.search('<button hx-on:click="x">') and not ON_HANDLER.search('<p data-one="1">')
