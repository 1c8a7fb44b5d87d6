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
    # htmx sends the token as a header (base.html's hx-headers): accepted.
    response = client.post("/admin/months/2024-02/close", headers={"X-CSRFToken": token})
    assert response.status_code == 302
    assert db.session.scalar(select(Month.status)) == "closed"
    g.pop("_login_user", None)


def test_login_rate_limit(client, make, monkeypatch):
    # The limiter is one object for every app the tests build, and an app made with RATELIMIT_ENABLED off
    # (the browser tests' live server) switches it off for all; this test needs it on whatever ran before.
    monkeypatch.setattr(limiter, "enabled", True)
    make.user("admin", username="boss")
    # A successful login does not count against the limit.
    for _ in range(3):
        assert client.post("/login", data={"username": "boss", "password": PASSWORD}).status_code == 302
        client.post("/logout")
        g.pop("_login_user", None)
    for _ in range(5):
        response = client.post("/login", data={"username": "boss", "password": "wrong"})
        assert response.status_code == 422 and "用户名或密码错误" in response.get_data(as_text=True)
    response = client.post("/login", data={"username": "boss", "password": "wrong"})
    assert response.status_code == 429
    html = response.get_data(as_text=True)
    assert "尝试次数过多" in html and "一分钟后再试" in html
    # Even the right password waits now; another account from the same address does not.
    assert client.post("/login", data={"username": "boss", "password": PASSWORD}).status_code == 429
    make.user("leader", username="other")
    assert client.post("/login", data={"username": "other", "password": PASSWORD}).status_code == 302
    g.pop("_login_user", None)


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
