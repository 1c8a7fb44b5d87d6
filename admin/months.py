"""The month lifecycle: the months page (close, publish, reopen with a reason) and the monthly bulletin.

Each step asks for confirmation in the browser (data-confirm) and is audited by services.months.
"""

from __future__ import annotations

from flask import abort, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from admin import bp, flow
from admin.documents import document_page, kept_document
from admin.forms import ActionForm, ReopenForm
from auth.access import STAFF_ROLES, role_required
from models import Role, db
from page_cache import kept_page
from scoring import format_month, parse_month
from services import DomainError, appeals, documents, months
from services.bounds import check_month_in_range
from services.clock import hall_today
from services.dashboard import month_lines, months_to_close, pending_count
from services.rulebooks import rulebook_for_month
from services.standings import month_row, standings, standings_json


def _month(text: str) -> tuple[int, int]:
    """The month of the URL; 404 for what is not a month (2024-13). A month out of range (9999-12,
    0001-01, not ended, before the first rulebook) is for the services to refuse in Chinese."""
    try:
        return parse_month(text)
    except ValueError:
        abort(404)


def _page(reopen: ReopenForm | None = None, reopen_label: str | None = None, status: int = 200):
    today = hall_today()
    return render_template(
        "admin/month_list.html",
        lines=month_lines(),
        action=ActionForm(formdata=None),
        reopen=reopen or ReopenForm(formdata=None),
        reopen_label=reopen_label,
        role=current_user.role,
        due=set(months_to_close()),
        # The month under way is closed once it has ended (services.bounds.check_month_ended).
        current=format_month(today.year, today.month),
        open_appeals=appeals.open_counts_by_month(),
    ), status


@bp.route("/months")
@role_required(Role.ADMIN, Role.LEADER)
@kept_page
def month_list():
    return _page()


def _step(text: str, step, done):
    """Call the service; on DomainError roll back and show the months page with its message; else
    commit, flash `done(year, month)` and go back to the month's row."""
    year, month = _month(text)
    form = ActionForm()
    if not form.validate_on_submit():
        abort(400)
    response = flow.apply(
        lambda: step(year, month),
        show=flow.flash_error,
        done=lambda _result: done(year, month),
        to=url_for("admin.month_list") + f"#month-{format_month(year, month)}",
    )
    return response or _page(status=422)


def _closed_message(year: int, month: int) -> str:
    message = _("%(month)s 已关账,成绩已冻结", month=format_month(year, month))
    waiting = pending_count(year, month)
    if waiting:
        message += _("(注意:该月还有 %(n)d 条检测结果未确认,不计入成绩)", n=waiting)
    return message


@bp.route("/months/<month>/close", methods=["POST"])
@role_required(Role.ADMIN)
def month_close(month: str):
    # The checkbox "仍然关账" beside a month with undecided appeals (services.months.close refuses
    # without it).
    despite = request.form.get("despite_open_appeals") in ("1", "y", "on", "true")
    return _step(month, lambda y, m: months.close(y, m, despite_open_appeals=despite), _closed_message)


@bp.route("/months/<month>/publish", methods=["POST"])
@role_required(Role.ADMIN, Role.LEADER)
def month_publish(month: str):
    return _step(
        month,
        months.publish,
        lambda y, m: _("%(month)s 的月度考核通报已发布", month=format_month(y, m)),
    )


@bp.route("/months/<month>/reopen", methods=["POST"])
@role_required(Role.ADMIN)
def month_reopen(month: str):
    year, mon = _month(month)
    form = ReopenForm()
    if form.validate_on_submit():
        label = format_month(year, mon)
        response = flow.apply(
            lambda: months.reopen(year, mon, form.reason.data),
            # The service refuses a month that is open: its row has no reopen form to show the message.
            show=flow.flash_error,
            done=_("%(month)s 已重新开放", month=label),
            to=url_for("admin.month_list") + f"#month-{label}",
        )
        if response:
            return response
    return _page(reopen=form, reopen_label=month, status=422)


@bp.route("/months/<month>/bulletin")
@role_required(*STAFF_ROLES)
@kept_document
def month_bulletin(month: str):
    """月度考核通报: the standings with grades and flags, printable on A4; marked 实时 while still open.
    A month not begun, or before the first rulebook, has no bulletin (404)."""
    year, mon = _month(month)
    try:
        check_month_in_range(year, mon)
    except DomainError:
        abort(404)
    data = standings_json(year, mon)
    row = month_row(year, mon)
    meta = documents.bulletin_meta(row)  # a published month's 文号 (given once, kept)
    db.session.commit()
    return document_page(
        "admin/month_bulletin.html",
        filename=_("%(y)d年%(m)d月考核通报.pdf", y=year, m=mon),
        result=standings(year, mon),
        data=data,
        status=data["status"],
        label=month,
        year=year,
        month=mon,
        row=row,
        rulebook=rulebook_for_month(year, mon),
        **meta,
    )
