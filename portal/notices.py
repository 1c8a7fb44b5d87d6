"""The unit's notices (书面通报并要求反馈): read, acknowledge (已读), answer with text and attachments;
and the warnings (提醒) given to the unit, its windows and staff. Another unit's notice or file is a 404."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import MultipleFileField, TextAreaField

from admin import flow
from admin.notices import BADGES
from auth.access import role_required
from models import Role, db
from models.notice import NoticeAttachment
from page_cache import kept_page
from portal import bp
from portal.inbox import reader_version
from portal.views import _unit
from security import int_arg
from services import DomainError, evidence
from services import notices as notice_service
from services.clock import hall_today
from services.rulebooks import rulebook_for_month
from stored_files import send_stored


class AnswerForm(FlaskForm):
    text = TextAreaField(_l("反馈内容"))
    files = MultipleFileField(_l("附件(图片或 PDF,可多选)"))


class ReadForm(FlaskForm):
    """The 已读 button: only its CSRF token."""


def state_labels() -> dict[str, str]:
    return {
        "unread": _("未读"),
        "read": _("已读,待反馈"),
        "answered": _("已反馈"),
        "overdue": _("逾期未反馈"),
        "withdrawn": _("已撤销"),
    }


def _notice_or_404(notice_id: int):
    unit = _unit()
    notice = notice_service.notice_for_unit(unit.id, notice_id)
    if notice is None:
        abort(404)
    return unit, notice


@bp.route("/notices")
@role_required(Role.UNIT)
@kept_page(version=reader_version)
def notice_list():
    unit = _unit()
    today = hall_today()
    rows = notice_service.for_unit(unit.id)
    return render_template(
        "portal/notice_list.html",
        unit=unit,
        rows=rows,
        states={n.id: notice_service.state_of(n, today) for n in rows},
        labels=state_labels(),
        badge=BADGES,
        flag_titles=notice_service.FLAG_TITLES,
    )


def _detail(unit, notice, form: AnswerForm | None = None, status: int = 200):
    return (
        render_template(
            "portal/notice_detail.html",
            unit=unit,
            notice=notice,
            state=notice_service.state_of(notice),
            labels=state_labels(),
            badge=BADGES,
            lines=notice_service.notice_lines(notice),
            flag_titles=notice_service.FLAG_TITLES,
            form=form or AnswerForm(),
            read_form=ReadForm(),
            days=notice_service.notice_rulebook(notice).settings.notice_answer_working_days,
        ),
        status,
    )


@bp.route("/notices/<int:notice_id>")
@role_required(Role.UNIT)
@kept_page(version=reader_version)
def notice_detail(notice_id: int):
    unit, notice = _notice_or_404(notice_id)
    return _detail(unit, notice)


@bp.route("/notices/<int:notice_id>/read", methods=["POST"])
@role_required(Role.UNIT)
def notice_read(notice_id: int):
    unit, notice = _notice_or_404(notice_id)
    form = ReadForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        if notice_service.mark_read(notice):
            db.session.commit()
            flash(_("已确认阅读该通报,请在期限内提交反馈"), "success")
    except DomainError as error:
        db.session.rollback()
        flash(str(error), "error")
    return redirect(url_for("portal.notice_detail", notice_id=notice.id))


@bp.route("/notices/<int:notice_id>/answer", methods=["POST"])
@role_required(Role.UNIT)
def notice_answer(notice_id: int):
    unit, notice = _notice_or_404(notice_id)
    form = AnswerForm()
    if not form.validate_on_submit():
        abort(400)
    ok, _rows = flow.attempt(
        lambda: notice_service.answer(
            notice, form.text.data, notice_service.read_attachments(request.files.getlist(form.files.name))
        ),
        show=form.text,
        undo=evidence.discard_files,
    )
    if not ok:
        return _detail(unit, notice, form, 422)
    if notice.answered_late:
        flash(_("反馈已提交。已超过反馈期限,记为逾期反馈。"), "warning")
    else:
        flash(_("反馈已提交"), "success")
    return redirect(url_for("portal.notice_detail", notice_id=notice.id))


@bp.route("/notices/attachments/<int:attachment_id>")
@role_required(Role.UNIT)
def notice_attachment(attachment_id: int):
    unit = _unit()
    row = db.session.get(NoticeAttachment, attachment_id)
    if row is None or row.notice.unit_id != unit.id:
        abort(404)
    return send_stored(evidence.path_of(row), row.filename)


@bp.route("/warnings")
@role_required(Role.UNIT)
@kept_page(version=reader_version)
def warning_list():
    """The warnings (提醒) given to the unit, its windows and staff, newest first, a page at a time."""
    unit = _unit()
    page = int_arg("page") or 1
    listed = notice_service.unit_warnings(unit.id, page)
    today = hall_today()
    rulebook = rulebook_for_month(today.year, today.month)
    titles = {r.code: r.title for r in rulebook.rules}
    return render_template("portal/warning_list.html", unit=unit, listed=listed, titles=titles)
