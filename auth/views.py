"""Login (rate-limited), logout, change own password."""

from __future__ import annotations

from flask import current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user
from sqlalchemy import select

from auth import bp
from auth.access import STAFF_ROLES, public
from auth.forms import LoginForm, PasswordForm
from extensions import limiter
from models import Role, User, db
from security import safe_next
from services.audit import record


def _login_limit() -> str:
    return current_app.config["LOGIN_RATE_LIMIT"]


def _account_and_address() -> str:
    return f"{(request.form.get('username') or '').strip().lower()}|{request.remote_addr}"


def home_for(user: User) -> str:
    return url_for("portal.home") if user.role == Role.UNIT else url_for("admin.dashboard")


@bp.route("/")
@public
def index():
    if current_user.is_authenticated:
        return redirect(home_for(current_user))
    return redirect(url_for("auth.login"))


@bp.route("/login", methods=["GET", "POST"])
@public
@limiter.limit(
    _login_limit,
    key_func=_account_and_address,
    methods=["POST"],
    deduct_when=lambda response: response.status_code != 302,
)
def login():
    form = LoginForm()
    if form.validate_on_submit():
        user = db.session.scalar(select(User).where(User.username == form.username.data.strip()))
        if user and user.active and user.check_password(form.password.data):
            login_user(user)
            record("user.login", f"user:{user.id}", user_id=user.id)
            db.session.commit()
            return redirect(safe_next(request.args.get("next")) or home_for(user))
        form.password.errors.append(_("用户名或密码错误"))
        return render_template("auth/login.html", form=form), 422
    return render_template("auth/login.html", form=form), 422 if form.errors else 200


@bp.route("/logout", methods=["POST"])
@login_required
def logout():
    logout_user()
    flash(_("已退出登录"), "info")
    return redirect(url_for("auth.login"))


logout.allowed_roles = ("any",)


@bp.route("/account/password", methods=["GET", "POST"])
@login_required
def password():
    form = PasswordForm()
    if form.validate_on_submit():
        if not current_user.check_password(form.current.data):
            form.current.errors.append(_("当前密码不正确"))
        else:
            current_user.set_password(form.new.data)
            record("user.password", f"user:{current_user.id}")
            db.session.commit()
            flash(_("密码已修改"), "success")
            return redirect(home_for(current_user))
    status = 422 if form.errors else 200
    return render_template("auth/password.html", form=form, staff_roles=STAFF_ROLES), status


password.allowed_roles = ("any",)
