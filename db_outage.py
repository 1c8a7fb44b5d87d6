"""The database away (restarting, unreachable, SQLite locked past its busy timeout): a clean 503, never a 500.

Every request that reaches the database while it is away fails the same way: a Chinese 503 page (JSON for
`/api/`, a flash message for htmx, an empty body for the hall screen, which keeps what it shows and marks
itself 离线), with `Retry-After`. Nothing has been written: the failed transaction is rolled back. The
engine's `pool_pre_ping` (config.engine_options) replaces the pool's dead connections once the database is
back, so the app recovers by itself, without a restart.

The page must not need the database: it is a page of its own (no nav, no inbox count), and the logged-in
user, when not yet loaded, is taken as anonymous instead of being read from the database that just failed.
"""

from __future__ import annotations

import logging

from flask import Flask, g, jsonify, make_response, render_template, request
from flask_babel import gettext as _
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

import htmx
from extensions import login_manager
from models import db

RETRY_AFTER_SECONDS = 5
log = logging.getLogger(__name__)


def is_outage(error: DBAPIError) -> bool:
    """The database away or busy, as opposed to a bug (a bad query, a missing column) that stays a 500."""
    if error.connection_invalidated:
        return True
    if not isinstance(error, (OperationalError, InterfaceError)):
        return False
    if type(error.orig).__module__.startswith("sqlite3"):
        # SQLite reports a typo in a query as OperationalError too; only "locked"/"busy" means "try again".
        text = str(error.orig).lower()
        return "locked" in text or "busy" in text
    return True


def message() -> str:
    return _("数据库暂时无法连接(可能正在重启或维护),您的数据没有丢失。请稍等片刻后重试。")


def _rollback() -> None:
    try:
        db.session.rollback()
    except Exception:  # the connection is gone: nothing to roll back, the pool discards it
        log.debug("rollback after a database outage failed", exc_info=True)


def unavailable(error: DBAPIError):
    if not is_outage(error):
        raise error  # a real bug: Flask logs it and answers with the 500 page
    reason = " ".join(str(error.orig).split())[:300]  # one line in the log
    log.warning("database unavailable: %s %s -> 503 (%s)", request.method, request.path, reason)
    _rollback()
    if "_login_user" not in g:
        # The user could not be loaded (that query failed): render as anonymous, not by asking again.
        g._login_user = login_manager.anonymous_user()
    if request.blueprint == "api" or request.path.startswith("/api/"):
        response = jsonify({"error": message(), "status": 503})
    elif request.blueprint == "kiosk":
        response = make_response("", 503)  # the screen keeps its content and shows 离线 (static/js/kiosk.js)
    elif htmx.is_htmx():
        response = make_response(render_template("errors/503.html", fragment=True, message=message()))
        response.headers["HX-Retarget"] = "#flash"
        response.headers["HX-Reswap"] = "innerHTML"
    else:
        response = make_response(render_template("errors/503.html", fragment=False, message=message()))
    response.status_code = 503
    response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    response.headers["Cache-Control"] = "no-store"
    return response


def _remove_session_quietly(exc: BaseException | None = None) -> None:
    """End the request's session; if the database went away after the response was made, the ROLLBACK of
    that ending fails: drop the connection (the pool replaces it) and keep the response (a 200, or a 302 of
    a write already committed) instead of turning it into a bare 500 from the teardown."""
    try:
        db.session.remove()
    except DBAPIError as error:
        log.warning("database gone while ending a request: %s", " ".join(str(error.orig).split())[:300])
        try:
            db.session.registry().invalidate()  # no ROLLBACK sent: the connections are discarded
        except Exception:
            log.debug("invalidating the session failed", exc_info=True)
        db.session.registry.clear()


def init_app(app: Flask) -> None:
    app.register_error_handler(DBAPIError, unavailable)
    # Registered after Flask-SQLAlchemy's own teardown, so it runs before it (teardowns run in reverse).
    app.teardown_appcontext(_remove_session_quietly)
