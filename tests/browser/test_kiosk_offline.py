"""The hall screen while the database is away (issue 10, item 10), in Debian's Chromium.

The poll then answers 503 (db_outage.py): the screen keeps the content it shows, marks itself 离线 (the
footer's "数据更新于" stamp, as when the server is unreachable: tests/browser/test_kiosk.py), and shows new
content again once the database is back, without a reload. A 503 from a proxy in front (nginx with every
app server down) is met the same way: route interception answers it.
"""

from __future__ import annotations

from datetime import datetime

import psycopg
from sqlalchemy import event
from sqlalchemy.exc import OperationalError

from models import db
from services import incidents
from services.clock import from_hall
from tests.browser.test_kiosk import ACTIVE, configure, hall, open_kiosk  # noqa: F401  (hall: a fixture)

OUTAGE_PAGE = (
    "<!doctype html><html lang='zh-CN'><body><h1>503 · 服务暂时不可用</h1>"
    "<p>数据库暂时无法连接(可能正在重启或维护),您的数据没有丢失。请稍等片刻后重试。</p></body></html>"
)


def footer(page) -> str:
    return " ".join(page.locator(".k-foot").inner_text().split())


def test_a_503_from_the_app_keeps_the_content_and_shows_offline(hall, open_page, live_server, live_app):  # noqa: F811
    configure(interval=300, panels=["live"])
    page = open_kiosk(open_page, live_server)
    page.evaluate("() => { window.__notReloaded = true; }")
    before = page.locator(ACTIVE).inner_text()
    stamp = page.locator(".k-stamp").inner_text()
    assert footer(page) == stamp

    def away(conn, cursor, statement, parameters, context, executemany):
        raise OperationalError(
            statement, parameters, psycopg.OperationalError("the database system is starting up")
        )

    with live_app.app_context():
        engine = db.engine  # the served app's own engine
    event.listen(engine, "before_cursor_execute", away)
    try:
        with page.expect_response(
            lambda r: "/kiosk/live" in r.url and r.status == 503, timeout=10_000
        ) as seen:
            pass
        response = seen.value
        assert response.headers["retry-after"] == "5" and response.text() == ""
        page.wait_for_selector("body[data-offline]", state="attached", timeout=10_000)
        assert page.locator(".k-offline").is_visible()
        assert footer(page) == f"离线 · {stamp}"  # the stamp of the data shown, marked 离线
        assert page.locator(ACTIVE).inner_text() == before
        page.wait_for_timeout(4500)  # more polls answered 503: still the same content, nothing blank
        assert page.locator(ACTIVE).inner_text() == before and footer(page) == f"离线 · {stamp}"
        assert "服务暂时不可用" not in page.content()
    finally:
        event.remove(engine, "before_cursor_execute", away)

    # The database is back: the mark goes, and a change made meanwhile reaches the screen in place.
    incidents.create(hall[15], "D09", from_hall(datetime(2024, 3, 19, 10, 0)))  # 市民政局 98 -> 93
    db.session.commit()
    page.wait_for_function("() => !document.body.hasAttribute('data-offline')", timeout=10_000)
    page.wait_for_function(
        """() => [...document.querySelectorAll('.k-landscape tr')].some(
             tr => tr.textContent.includes('市民政局')
                   && tr.querySelector('td.k-score').textContent.trim() === '93')""",
        timeout=10_000,
    )
    assert page.locator(".k-offline").is_hidden()
    assert page.evaluate("() => window.__notReloaded") is True


def test_a_503_page_from_a_proxy_is_never_shown(hall, open_page, live_server):  # noqa: F811
    configure(interval=300, panels=["live"])
    page = open_kiosk(open_page, live_server)
    before = page.locator(ACTIVE).inner_text()
    stamp = page.locator(".k-stamp").inner_text()

    def outage(route):
        route.fulfill(
            status=503,
            headers={"Retry-After": "5", "Content-Type": "text/html; charset=utf-8"},
            body=OUTAGE_PAGE,
        )

    page.route("**/kiosk/live*", outage)
    page.wait_for_selector("body[data-offline]", state="attached", timeout=10_000)
    page.wait_for_timeout(4500)
    assert page.locator(ACTIVE).inner_text() == before
    assert footer(page) == f"离线 · {stamp}"
    assert "服务暂时不可用" not in page.content() and "数据库暂时无法连接" not in page.content()

    page.unroute("**/kiosk/live*", outage)
    page.wait_for_function("() => !document.body.hasAttribute('data-offline')", timeout=10_000)
    assert page.locator(ACTIVE).inner_text() == before
