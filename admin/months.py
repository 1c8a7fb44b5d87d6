"""The month lifecycle: the months page (close, publish, reopen with a reason) and the monthly bulletin.

Each step asks for confirmation in the browser (data-confirm) and is audited by services.months.
"""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user

from admin import bp
from admin.forms import ActionForm, ReopenForm
from admin.views import unit_ids
from auth.access import STAFF_ROLES, role_required
from models import Role, db
from scoring import parse_month
from services import DomainError, months
from services.dashboard import month_lines, months_to_close, pending_count
from services.standings import month_row, standings, standings_json


def _month(text: str) -> tuple[int, int]:
    try:
        return parse_month(text)
    except ValueError:
        abort(404)


def _page(reopen: ReopenForm | None = None, reopen_label: str | None = None, status: int = 200):
    return render_template(
        "admin/month_list.html",
        lines=month_lines(),
        action=ActionForm(formdata=None),
        reopen=reopen or ReopenForm(formdata=None),
        reopen_label=reopen_label,
        role=current_user.role,
        due=set(months_to_close()),
    ), status


@bp.route("/months")
@role_required(Role.ADMIN, Role.LEADER)
def month_list():
    return _page()


def _step(text: str, step, done: str):
    year, month = _month(text)
    form = ActionForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        step(year, month)
    except DomainError as error:
        db.session.rollback()
        flash(str(error), "error")
        return _page(status=422)
    db.session.commit()
    flash(done, "success")
    return redirect(url_for("admin.month_list") + f"#month-{text}")


@bp.route("/months/<month>/close", methods=["POST"])
@role_required(Role.ADMIN)
def month_close(month: str):
    year, mon = _month(month)
    waiting = pending_count(year, mon)
    message = _("%(month)s 已关账,成绩已冻结", month=month)
    if waiting:
        message += _("(注意:该月还有 %(n)d 条检测结果未确认,不计入成绩)", n=waiting)
    return _step(month, months.close, message)


@bp.route("/months/<month>/publish", methods=["POST"])
@role_required(Role.ADMIN, Role.LEADER)
def month_publish(month: str):
    return _step(month, months.publish, _("%(month)s 的月度考核通报已发布", month=month))


@bp.route("/months/<month>/reopen", methods=["POST"])
@role_required(Role.ADMIN)
def month_reopen(month: str):
    year, mon = _month(month)
    form = ReopenForm()
    if form.validate_on_submit():
        try:
            months.reopen(year, mon, form.reason.data)
        except DomainError as error:
            db.session.rollback()
            form.reason.errors.append(str(error))
        else:
            db.session.commit()
            flash(_("%(month)s 已重新开放", month=month), "success")
            return redirect(url_for("admin.month_list") + f"#month-{month}")
    return _page(reopen=form, reopen_label=month, status=422)


@bp.route("/months/<month>/bulletin")
@role_required(*STAFF_ROLES)
def month_bulletin(month: str):
    """月度考核通报: the standings with grades and flags, printable on A4; marked 实时 while still open."""
    year, mon = _month(month)
    data = standings_json(year, mon)
    return render_template(
        "admin/month_bulletin.html",
        result=standings(year, mon),
        data=data,
        status=data["status"],
        label=month,
        year=year,
        month=mon,
        row=month_row(year, mon),
        unit_ids=unit_ids(),
    )
