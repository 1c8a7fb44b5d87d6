"""Users (admin only): list, add, edit role/unit/active, reset a password, import a file of new users.
The rules are services.users'."""

from __future__ import annotations

import csv
import io

from flask import Response, make_response, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired

from admin import bp, flow
from admin.forms import UserEditForm, UserNewForm, UserPasswordForm, unit_choices
from auth.access import role_required
from models import Role, Unit, User, db
from page_cache import kept_page
from services.imports import users as users_import
from services.users import create_user, list_users, reset_password, update_user


class UserImportForm(FlaskForm):
    file = FileField(_l("文件(.csv 或 .xlsx)"), validators=[FileRequired(message=_l("请选择要导入的文件"))])


def _unit(unit_id: int | None) -> Unit | None:
    return db.session.get(Unit, unit_id) if unit_id else None


@bp.route("/users")
@role_required(Role.ADMIN, Role.LEADER)
@kept_page
def user_list():
    """Leaders read the list; only admins see the add and edit buttons."""
    return render_template(
        "admin/user_list.html", users=list_users(), can_edit=current_user.role == Role.ADMIN
    )


@bp.route("/users/new", methods=["GET", "POST"])
@role_required(Role.ADMIN)
@kept_page
def user_new():
    form = UserNewForm()
    form.unit_id.choices = unit_choices("—")
    if form.validate_on_submit():
        response = flow.apply(
            lambda: create_user(
                form.username.data,
                form.display_name.data,
                form.role.data,
                _unit(form.unit_id.data),
                form.password.data,
            ),
            show=form,
            done=lambda user: _("已添加用户 %(name)s", name=user.username),
            to=url_for("admin.user_list"),
        )
        if response:
            return response
    return render_template("admin/user_form.html", form=form, user=None), 422 if form.errors else 200


def _edit_page(
    user: User, form: UserEditForm | None = None, password: UserPasswordForm | None = None, status: int = 200
):
    form = form or UserEditForm(obj=user, formdata=None, prefix="user")
    form.unit_id.choices = unit_choices("—")
    if form.unit_id.data is None:
        form.unit_id.data = user.unit_id or 0
    password = password or UserPasswordForm(formdata=None, prefix="pw")
    return render_template("admin/user_form.html", form=form, password=password, user=user), status


@bp.route("/users/<int:user_id>/edit", methods=["GET", "POST"])
@role_required(Role.ADMIN)
@kept_page
def user_edit(user_id: int):
    user = db.get_or_404(User, user_id)
    form = UserEditForm(prefix="user")
    form.unit_id.choices = unit_choices("—")
    if form.validate_on_submit():
        response = flow.apply(
            lambda: update_user(
                user,
                display_name=form.display_name.data,
                role=form.role.data,
                unit=_unit(form.unit_id.data),
                active=form.active.data,
                acting=current_user,
            ),
            show=form,
            done=_("已保存用户 %(name)s", name=user.username),
            to=url_for("admin.user_list"),
        )
        return response or _edit_page(user, form=form, status=422)
    if form.is_submitted():
        return _edit_page(user, form=form, status=422)
    return _edit_page(user)


@bp.route("/users/<int:user_id>/password", methods=["POST"])
@role_required(Role.ADMIN)
def user_password(user_id: int):
    user = db.get_or_404(User, user_id)
    form = UserPasswordForm(prefix="pw")
    if form.validate_on_submit():
        response = flow.apply(
            lambda: reset_password(user, form.password.data),
            show=form,
            done=_("已重置 %(name)s 的密码", name=user.username),
            to=url_for("admin.user_list"),
        )
        if response:
            return response
    return _edit_page(user, password=form, status=422)


@bp.route("/users/import", methods=["GET", "POST"])
@role_required(Role.ADMIN)
def user_import():
    """A file of new users; on success the one page that ever shows their one-time passwords."""
    form = UserImportForm()
    errors: list = []
    if form.validate_on_submit():
        upload = form.file.data
        ok, credentials = flow.attempt(
            lambda: users_import.import_users(upload.filename or "", upload.read()),
            show=lambda rejected: errors.extend(getattr(rejected, "errors", None) or [str(rejected)]),
        )
        if ok:
            response = make_response(render_template("admin/user_import_done.html", credentials=credentials))
            # The passwords are in this answer only: no cache, no back-button copy.
            response.headers["Cache-Control"] = "no-store"
            return response
    status = 422 if (errors or form.errors) else 200
    page = render_template(
        "admin/user_import.html",
        form=form,
        errors=errors,
        columns=users_import.COLUMNS,
        max_rows=users_import.MAX_ROWS,
    )
    return page, status


@bp.route("/users/import/template.csv")
@role_required(Role.ADMIN)
def user_import_template():
    """The header and one example row (UTF-8 with BOM, so Excel reads it)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(users_import.COLUMNS)
    writer.writerow(users_import.EXAMPLE)
    return Response(
        out.getvalue().encode("utf-8-sig"),
        mimetype="text/csv",
        headers={"Content-Disposition": "attachment; filename=users-template.csv"},
    )
