"""Units: list, add, edit (code, name, windows, display order, active)."""

from __future__ import annotations

from flask import render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user

from admin import bp, flow
from admin.forms import UnitForm
from auth.access import role_required
from models import Role, Unit, db
from page_cache import kept_page
from services.calendar_admin import list_units, save_unit


@bp.route("/units")
@role_required(Role.ADMIN, Role.LEADER)
@kept_page
def unit_list():
    """Leaders read the list; only admins see the add and edit buttons."""
    return render_template(
        "admin/unit_list.html", units=list_units(), can_edit=current_user.role == Role.ADMIN
    )


def _save(form: UnitForm, unit: Unit | None):
    if form.validate_on_submit():
        response = flow.apply(
            lambda: save_unit(
                unit,
                code=form.code.data,
                name=form.name.data,
                windows=form.windows.data or "",
                display_order=form.display_order.data,
                active=form.active.data,
            ),
            show=form,
            done=lambda saved: _("单位 %(name)s 已保存", name=saved.name),
            to=url_for("admin.unit_list"),
        )
        if response:
            return response
    status = 422 if form.errors else 200
    return render_template("admin/unit_form.html", form=form, unit=unit), status


@bp.route("/units/new", methods=["GET", "POST"])
@role_required(Role.ADMIN)
@kept_page
def unit_new():
    return _save(UnitForm(unit=None), None)


@bp.route("/units/<int:unit_id>/edit", methods=["GET", "POST"])
@role_required(Role.ADMIN)
@kept_page
def unit_edit(unit_id: int):
    unit = db.get_or_404(Unit, unit_id)
    form = UnitForm(obj=unit, unit=unit)
    return _save(form, unit)
