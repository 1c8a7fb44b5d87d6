"""Login (rate-limited per account and per address, failures only), logout, change own password."""

from __future__ import annotations

import functools
import math
import secrets
import time

from flask import current_app, flash, make_response, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_limiter import RateLimitExceeded
from flask_login import current_user, login_required
from sqlalchemy import select
from werkzeug.security import check_password_hash, generate_password_hash

from auth import bp
from auth.access import STAFF_ROLES, public
from auth.forms import LoginForm, PasswordForm
from auth.sessions import end_session, start_session
from extensions import limiter
from models import Role, User, db
from security import safe_next
from services import DomainError
from services.audit import record
from services.passwords import MIN_PASSWORD
from services.users import WrongPassword, change_own_password
from ui import ERRORS


def _account_limit() -> str:
    return current_app.config["LOGIN_RATE_LIMIT"]


def _address_limit() -> str:
    return current_app.config.get("LOGIN_ADDRESS_RATE_LIMIT") or "20 per minute; 100 per hour"


def _account() -> str:
    """Failures per account, from whatever addresses (a guesser spreading over many machines)."""
    return "account:" + (request.form.get("username") or "").strip().lower()[:64]


def _address() -> str:
    """Failures per address, over whatever accounts (a guesser trying one password on every account).
    Behind a proxy this is the client's address only if the app trusts the proxy's X-Forwarded-For."""
    return f"address:{request.remote_addr}"


def _failed(response) -> bool:
    # Only a failure counts: a login that succeeds (302) uses up none of the budget.
    return response.status_code != 302


def _refused(limit) -> object:
    """The login page again, saying when to try: 429, and the password never checked. (Flask-Limiter puts
    this answer into its RateLimitExceeded; `_too_many` below hands it out instead of the app's 429 page.)"""
    minutes = max(1, math.ceil((limit.reset_at - time.time() - 1) / 60))  # reset_at is rounded up
    form = LoginForm()
    form.password.errors = [_("登录失败次数过多,请 %(n)d 分钟后再试", n=minutes)]
    return make_response(render_template("auth/login.html", form=form), 429)


@bp.errorhandler(RateLimitExceeded)
def _too_many(error: RateLimitExceeded):
    if error.response is not None:
        return error.response
    return render_template("errors/error.html", code=429, title=ERRORS[429][0], message=ERRORS[429][1]), 429


def home_for(user: User) -> str:
    return url_for("portal.home") if user.role == Role.UNIT else url_for("admin.dashboard")


@functools.cache
def _dummy_hash(method: str) -> str:
    return generate_password_hash(secrets.token_hex(8), method=method)


def _hash_anyway(password: str) -> None:
    method = current_app.config.get("PASSWORD_HASH_METHOD", "scrypt")
    check_password_hash(_dummy_hash(method), password or "")


@bp.route("/")
@public
def index():
    if current_user.is_authenticated:
        return redirect(home_for(current_user))
    return redirect(url_for("auth.login"))


@bp.route("/login", methods=["GET", "POST"])
@public
@limiter.limit(_account_limit, key_func=_account, methods=["POST"], deduct_when=_failed, on_breach=_refused)
@limiter.limit(_address_limit, key_func=_address, methods=["POST"], deduct_when=_failed, on_breach=_refused)
def login():
    form = LoginForm()
    if form.validate_on_submit():
        user = db.session.scalar(select(User).where(User.username == form.username.data.strip()))
        if user is None:
            _hash_anyway(form.password.data)  # as long as a wrong password: no telling who exists
        elif user.check_password(form.password.data) and user.active:
            start_session(user)
            record("user.login", f"user:{user.id}", user_id=user.id)
            db.session.commit()
            if user.must_change_password:
                flash(_("您的密码是管理员设置的临时密码,请先修改密码"), "info")
                return redirect(url_for("auth.password"))
            return redirect(safe_next(request.args.get("next")) or home_for(user))
        form.password.errors.append(_("用户名或密码错误"))
        return render_template("auth/login.html", form=form), 422
    return render_template("auth/login.html", form=form), 422 if form.errors else 200


@bp.route("/logout", methods=["POST"])
@login_required
def logout():
    end_session()
    db.session.commit()
    flash(_("已退出登录"), "info")
    return redirect(url_for("auth.login"))


logout.allowed_roles = ("any",)


@bp.route("/account/password", methods=["GET", "POST"])
@login_required
def password():
    form = PasswordForm()
    if form.validate_on_submit():
        user = current_user._get_current_object()
        try:
            change_own_password(user, form.current.data, form.new.data)
        except DomainError as error:
            db.session.rollback()
            target = form.current if isinstance(error, WrongPassword) else form.new
            target.errors.append(str(error))
        else:
            db.session.commit()
            # Every other session of the user has ended (the version went up); this one goes on, anew.
            start_session(user)
            flash(_("密码已修改"), "success")
            return redirect(home_for(user))
    status = 422 if form.errors else 200
    return render_template(
        "auth/password.html",
        form=form,
        staff_roles=STAFF_ROLES,
        forced=current_user.must_change_password,
        min_password=MIN_PASSWORD,
    ), status


password.allowed_roles = ("any",)
