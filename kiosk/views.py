"""The hall screen: the full-screen page and the fragment its live region polls every few seconds.

The poll is built to be cheap for 100 screens: `kiosk.current_version()` is one tiny query; a poll whose
`v` is the current version gets 204 (htmx swaps nothing), an `If-None-Match` that matches gets 304, and
only a changed version renders the fragment (from panels cached per version).
"""

from __future__ import annotations

from urllib.parse import quote

from flask import current_app, make_response, render_template, request, url_for
from flask_babel import gettext as _
from markupsafe import Markup
from sqlalchemy.exc import SQLAlchemyError

from auth.access import public
from extensions import limiter
from htmx import render_block
from kiosk import bp
from models import db
from services import kiosk
from services.clock import hall_now, to_hall, utc_now
from services.memo import database_key, remember

TEMPLATE = "kiosk/screen.html"
# The fragment is rendered once per version and process; only the screen's token in its poll URL differs.
_SCREEN_SLOT = "KIOSKSCREENSLOT"
_fragments: dict[tuple, str] = {}


@limiter.request_filter
def _never_limit_the_screens() -> bool:
    # Many screens share one address behind the hall's NAT, and resolving (empty) limits costs about as
    # much as the whole unchanged poll: the limiter skips the kiosk as it skips static files.
    return request.blueprint == "kiosk"


def _date_text(now) -> str:
    weekdays = _("星期日,星期一,星期二,星期三,星期四,星期五,星期六").split(",")
    weekday = weekdays[(now.weekday() + 1) % 7] if len(weekdays) == 7 else ""
    return (
        _("{y}年{m}月{d}日 {w}")
        .replace("{y}", str(now.year))
        .replace("{m}", str(now.month))
        .replace("{d}", str(now.day))
        .replace("{w}", weekday)
    )


def _context(version: kiosk.Version, screen: str | None) -> dict:
    now = hall_now()
    changed = version.changed_at
    return {
        "view": kiosk.screen_view(version),
        "poll_url": url_for("kiosk.live", v=version.tag, screen=screen or ""),
        "now": now,
        "now_ms": int(utc_now().timestamp() * 1000),
        "utc_offset": int(now.utcoffset().total_seconds() // 60),
        "date_text": _date_text(now),
        "stamp_at": to_hall(changed) if changed else None,
        "stamp_today": changed is not None and to_hall(changed).date() == now.date(),
    }


def _fragment(version: kiosk.Version, screen: str | None) -> str:
    key = (database_key(), version.tag, version.changed_at)
    html = remember(
        _fragments, key, lambda: render_block(TEMPLATE, "live", **_context(version, _SCREEN_SLOT))
    )
    return html.replace(f"screen={_SCREEN_SLOT}", f"screen={quote(screen or '', safe='')}")


def _touch_after(response, screen: str | None):
    """Note a registered screen's contact; when due, write every noted contact after the response is sent.

    After, not before: a heartbeat must never delay the poll, even while an import holds SQLite's write lock.
    A screen without a token (or with one nobody registered) is shown the same page and recorded nowhere.
    """
    if not kiosk.note_contact(screen, request.remote_addr or ""):
        return response
    app = current_app._get_current_object()

    def write():
        with app.app_context():
            try:
                kiosk.write_contacts()
                db.session.commit()
            except SQLAlchemyError:
                db.session.rollback()  # a busy database: the next round writes the newer contacts
            finally:
                db.session.remove()

    response.call_on_close(write)
    return response


@bp.errorhandler(500)
def failed(error):
    """A bare 500: no page, no #flash to retarget (the screen has none); the screen keeps what it shows."""
    db.session.rollback()
    response = make_response("", 500)
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/")
@public
def screen():
    token = kiosk.screen_token(request.args.get("screen"))
    version = kiosk.current_version()
    live_html = Markup(_fragment(version, token))  # our own template's rendering, escaped when rendered
    response = make_response(render_template(TEMPLATE, live_html=live_html, **_context(version, token)))
    # The page is never cached: its fragment carries the state, and a stale page would poll an old version.
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Kiosk-Version"] = version.tag
    return _touch_after(response, token)


@bp.route("/live")
@public
def live():
    token = kiosk.screen_token(request.args.get("screen"))
    version = kiosk.current_version()
    if request.args.get("v") == version.tag:
        response = make_response("", 204)
    elif request.if_none_match.contains_weak(version.tag):
        # Weak too: a proxy that compresses the fragment (nginx's gzip) turns the ETag weak, and an exact
        # match would then send the whole fragment on every poll.
        response = make_response("", 304)
    else:
        response = make_response(_fragment(version, token))
    response.set_etag(version.tag)
    # no-cache: the browser may keep the body but must ask again each time (If-None-Match -> 304).
    response.headers["Cache-Control"] = "no-cache"
    response.headers["X-Kiosk-Version"] = version.tag
    return _touch_after(response, token)
