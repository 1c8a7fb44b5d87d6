"""Browser tests: Debian's Chromium driven by Playwright against the app served from a thread.

Playwright's own browser download cannot work here; we launch /usr/bin/chromium.
"""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from playwright.sync_api import sync_playwright
from werkzeug.serving import make_server

from app import create_app

SCREENSHOTS = Path(__file__).resolve().parent.parent / "screenshots"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
    "--lang=zh-CN",
]
TABLET = {"width": 1024, "height": 768}
TABLET_PORTRAIT = {"width": 768, "height": 1024}
PHONE = {"width": 375, "height": 667}
DESK = {"width": 1440, "height": 900}
KIOSK = {"width": 1920, "height": 1080}
KIOSK_PORTRAIT = {"width": 1080, "height": 1920}


class LiveServer:
    """The app on 127.0.0.1 in a thread; stop() and start() keep the same port (the kiosk's offline test).

    The first start binds port 0, so the system hands out a free port: with `pytest -n`, workers starting
    servers at the same time never race for one (as a port probed free and bound later could)."""

    def __init__(self, app):
        self.app = app
        self.port = 0
        self._server = None
        self._thread = None

    @property
    def url(self) -> str:
        assert self.port, "start() the server first"
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self._server = make_server("127.0.0.1", self.port, self.app, threaded=True)
        self.port = self._server.server_port
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


@pytest.fixture(scope="session")
def live_app(app):
    """A second app on the same database as `app`, with CSRF on, as users meet it."""
    config = dict(app.config)
    config.update({"WTF_CSRF_ENABLED": True, "TESTING": False, "RATELIMIT_ENABLED": False})
    return create_app(
        {
            k: config[k]
            for k in (
                "SQLALCHEMY_DATABASE_URI",
                "SECRET_KEY",
                "EVIDENCE_DIR",
                "PASSWORD_HASH_METHOD",
                "HALL_TODAY",
                "HALL_NOW",
                "WTF_CSRF_ENABLED",
                "TESTING",
                "RATELIMIT_ENABLED",
            )
        }
    )


@pytest.fixture
def live_server(live_app):
    server = LiveServer(live_app)
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def browser():
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture
def open_page(browser):
    """open_page(viewport) -> a page; console errors (CSP violations among them) fail the test."""
    contexts = []
    errors: list[str] = []

    def make(viewport=DESK, **kwargs):
        context = browser.new_context(viewport=viewport, locale="zh-CN", **kwargs)
        contexts.append(context)
        page = context.new_page()
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.set_default_timeout(10_000)
        return page

    make.errors = errors
    yield make
    for context in contexts:
        context.close()
    csp = [e for e in errors if "Content Security Policy" in e or "Refused to" in e]
    assert not csp, f"CSP violations in the browser console: {csp}"


def screenshot(page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    # caret="initial": hiding the caret leaves style="" on inputs, which htmx would then settle (CSP).
    page.screenshot(path=str(path), full_page=False, caret="initial")
    return path


def login_as(page, server: LiveServer, username: str, password: str) -> None:
    page.goto(f"{server.url}/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_url(lambda url: "/login" not in url)
    page.wait_for_load_state("networkidle")
