"""Login sessions (Flask's signed cookie session, ASVS level 2's session rules):

- a login starts a new session: whatever the cookie held before is dropped and a fresh nonce is stored, so
  no session id from before the login (fixed by an attacker) survives it;
- logging out lists the session's nonce as ended (`EndedSession`), so a copy of the cookie is refused too;
- the session holds the user's id *and* session version (`User.get_id`): raising the version (own or reset
  password, disabled, role changed) ends every session of that user at its next request;
- an idle timeout (`SESSION_IDLE_MINUTES`, 30 by default; `UNIT_SESSION_IDLE_MINUTES` may give the unit
  users of the portal, often on a phone, another) and an absolute one (`SESSION_MAX_HOURS`, 12);
  the hall screen, the API, static files and the pages' own progress polls neither end nor prolong a
  session (the hall screen needs no login, and a poll is not the user at work);
- a temporary password (`must_change_password`) sends every page to the change-password page until done.
"""

from __future__ import annotations

import secrets
import time
from datetime import UTC, datetime

from flask import (
    current_app,
    flash,
    g,
    has_request_context,
    make_response,
    redirect,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user, login_user, logout_user
from sqlalchemy import delete, select

import htmx
from extensions import login_manager
from models import Role, User, db
from models.user import EndedSession

# Requests that are not the user at work: they keep no session alive and are never sent elsewhere.
PASSIVE_BLUEPRINTS = {"kiosk", "api"}
PASSIVE_ENDPOINTS = {"static", "admin.import_progress", "admin.detection_progress"}
# Pages a user with a temporary password may still open.
CHANGE_PASSWORD_ENDPOINTS = {"auth.password", "auth.logout", "auth.login", "static"}
# "seen" is written back at most this often, so a busy page does not re-send the cookie on every request.
SEEN_RESOLUTION_SECONDS = 60


def now() -> float:
    """Wall-clock seconds (a function, so tests can move time on)."""
    return time.time()


def load_user(user_id: str) -> User | None:
    """Flask-Login's user loader: `<id>.<session version>`; a stale version, a disabled user or a session
    ended by its logout is no one. One query: the user and whether this session's nonce was ended."""
    id_text, _dot, version_text = (user_id or "").partition(".")
    if not (id_text.isdigit() and version_text.isdigit()) or len(id_text) > 10:
        return None  # a session from before versions, or a forged one
    nonce = str(session.get("nonce") or "") if has_request_context() else ""
    ended = select(EndedSession.nonce).where(EndedSession.nonce == nonce).exists()
    row = db.session.execute(select(User, ended).where(User.id == int(id_text))).first()
    if row is None:
        return None
    user, was_ended = row
    if was_ended or not user.active or (user.session_version or 1) != int(version_text):
        return None
    return user


def session_fields(user: User, at: float | None = None) -> dict:
    """What a fresh login session holds besides Flask-Login's keys (tests that set up a session use it)."""
    at = now() if at is None else at
    return {
        "_user_id": user.get_id(),
        "_fresh": True,
        "nonce": secrets.token_urlsafe(16),
        "login_at": int(at),
        "seen": int(at),
    }


def start_session(user: User) -> None:
    """Log `user` in on a brand-new session (nothing of the previous cookie carries over). Another user's
    session in the same browser is ended as by its logout; the caller commits."""
    if current_user.is_authenticated and current_user.id != user.id:
        end_session()
    session.clear()
    login_user(user)
    fields = session_fields(user)
    session["nonce"], session["login_at"], session["seen"] = (
        fields["nonce"],
        fields["login_at"],
        fields["seen"],
    )


def end_session() -> None:
    """This session is over: out of the cookie, and its nonce refused should a copy of the cookie come
    back before it would have expired anyway. The caller commits."""
    nonce, login_at = session.get("nonce"), session.get("login_at")
    if current_user.is_authenticated and isinstance(nonce, str) and isinstance(login_at, int):
        _, longest = _limits()
        ends_at = datetime.fromtimestamp(login_at + longest, UTC)
        db.session.execute(
            delete(EndedSession).where(EndedSession.ends_at < datetime.fromtimestamp(now(), UTC))
        )
        if ends_at > datetime.fromtimestamp(now(), UTC) and db.session.get(EndedSession, nonce) is None:
            db.session.add(EndedSession(nonce=nonce[:64], user_id=current_user.id, ends_at=ends_at))
    logout_user()
    session.clear()


def expire_session() -> None:
    """An expired session: out of the cookie (any copy of it is expired too)."""
    logout_user()
    session.clear()


def _limits() -> tuple[int, int]:
    """(idle, absolute) limits in seconds for the logged-in user."""
    config = current_app.config
    idle = int(config.get("SESSION_IDLE_MINUTES") or 30)
    if current_user.role == Role.UNIT and config.get("UNIT_SESSION_IDLE_MINUTES"):
        idle = int(config["UNIT_SESSION_IDLE_MINUTES"])
    return idle * 60, int(config.get("SESSION_MAX_HOURS") or 12) * 3600


def _is_passive() -> bool:
    return request.blueprint in PASSIVE_BLUEPRINTS or request.endpoint in PASSIVE_ENDPOINTS


def _expired(moment: float) -> bool:
    idle, longest = _limits()
    seen, login_at = session.get("seen"), session.get("login_at")
    if not isinstance(seen, int) or not isinstance(login_at, int):
        return True  # not a session this app started at a login
    return moment - seen > idle or moment - login_at > longest


def _to_login_if_htmx():
    """An htmx request of an ended session: the whole page goes to the login (not the login form swapped
    into a fragment). 401, not a 2xx: a queued patrol tap stays queued until the inspector is back."""
    if not htmx.is_htmx():
        return None
    response = make_response("", 401)
    response.headers["HX-Redirect"] = url_for("auth.login")
    return response


def check_session():
    """Before every request: end an expired session, keep a live one alive, hold a temporary password.

    A passive request (hall screen, API, static, progress polls) is answered as anonymous when the
    session has expired, but its cookie is left as it is: it neither ends nor prolongs the session.
    """
    if "_user_id" not in session:
        return None
    passive = _is_passive()
    if not current_user.is_authenticated:  # its version was raised, or the user was disabled
        if passive:
            return None
        session.clear()
        flash(_("登录已失效(密码已修改或账号已停用),请重新登录"), "info")
        return _to_login_if_htmx()
    moment = now()
    if _expired(moment):
        if passive:
            g._login_user = login_manager.anonymous_user()
            return None
        expire_session()
        flash(_("长时间未操作,已自动退出,请重新登录"), "info")
        # The view answers an anonymous user as it always does (login page, public content).
        return _to_login_if_htmx()
    if passive:
        return None
    if moment - session["seen"] >= SEEN_RESOLUTION_SECONDS:
        session["seen"] = int(moment)
    if current_user.must_change_password and request.endpoint not in CHANGE_PASSWORD_ENDPOINTS:
        target = url_for("auth.password")
        if htmx.is_htmx():
            # Not a 2xx: the patrol sheet's queued taps must stay queued, and htmx follows HX-Redirect.
            response = make_response("", 403)
            response.headers["HX-Redirect"] = target
            return response
        return redirect(target)
    return None
