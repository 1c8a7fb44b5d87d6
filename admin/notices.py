"""Notices that need an answer, as admins and leaders follow them (a filtered list, each notice with its
answer), and the letters to the discipline and leadership groups, to print or download as PDF."""

from __future__ import annotations

from datetime import date

from flask import abort, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import select

from admin import bp
from admin.documents import document_page, kept_document
from auth.access import role_required
from htmx import render_page_or_block
from models import Role, Unit, db
from models.notice import LETTER_FLAGS, NOTICE_STATES, Notice, NoticeAttachment
from page_cache import kept_page
from scoring import format_month, parse_month
from security import int_arg, whole_number
from services import evidence
from services import notices as notice_service
from services.clock import hall_today
from services.rulebooks import rulebook_for_month
from stored_files import send_stored

READERS = (Role.ADMIN, Role.LEADER)

# The badge of each state (the app's colours: waiting amber, read blue, answered green, overdue red);
# the portal shows the same.
BADGES = {
    "unread": "badge-warn",
    "read": "status-open",
    "answered": "status-published",
    "overdue": "flag",
    "withdrawn": "status-voided",
}


def state_labels() -> dict[str, str]:
    return {
        "unread": _("未读"),
        "read": _("已读未反馈"),
        "answered": _("已反馈"),
        "overdue": _("逾期未反馈"),
        "withdrawn": _("已撤销"),
    }


@bp.route("/notices")
@role_required(*READERS)
@kept_page
def notice_list():
    """Every notice, filtered by month, unit and state, a page at a time (counted and cut in SQL)."""
    args = request.args
    errors: list[str] = []
    year = month = None
    month_text = (args.get("month") or "").strip()
    if month_text:
        try:
            year, month = parse_month(month_text)
        except ValueError:
            errors.append(_("月份格式应为 YYYY-MM,如 2024-03"))
    units = list(db.session.scalars(select(Unit).order_by(Unit.display_order, Unit.code)))
    unit_id = None
    unit_text = (args.get("unit_id") or "").strip()
    if unit_text:
        unit_id = whole_number(unit_text)
        if unit_id not in {u.id for u in units}:
            errors.append(_("所选单位不存在"))
    state = (args.get("state") or "").strip() or None
    labels = state_labels()
    if state is not None and state not in labels:
        errors.append(_("筛选条件无效"))
    page = int_arg("page") or 1
    listed = notice_service.ListPage(rows=[], total=0, page=1, pages=1)
    if not errors:
        listed = notice_service.list_page(
            notice_service.NoticeFilter(year=year, month=month, unit_id=unit_id, state=state), page
        )
    today = hall_today()
    filters = {
        k: v for k, v in {"month": month_text, "unit_id": unit_text, "state": state or ""}.items() if v
    }
    body = render_page_or_block(
        "admin/notice_list.html",
        "notice_table",
        listed=listed,
        states={n.id: notice_service.state_of(n, today) for n in listed.rows},
        counts=notice_service.state_counts(today),
        state_names=NOTICE_STATES,
        labels=labels,
        badge=BADGES,
        units=units,
        months=[format_month(y, m) for y, m in notice_service.notice_months()],
        filters=filters,
        chosen={"month": month_text, "unit_id": unit_text, "state": state or ""},
        errors=errors,
        flag_titles=notice_service.FLAG_TITLES,
    )
    return body, 422 if errors else 200


@bp.route("/notices/<int:notice_id>")
@role_required(*READERS)
@kept_page
def notice_detail(notice_id: int):
    notice = db.get_or_404(Notice, notice_id)
    return render_template(
        "admin/notice_detail.html",
        notice=notice,
        state=notice_service.state_of(notice),
        labels=state_labels(),
        badge=BADGES,
        lines=notice_service.notice_lines(notice),
        flag_titles=notice_service.FLAG_TITLES,
    )


@bp.route("/notices/attachments/<int:attachment_id>")
@role_required(*READERS)
def notice_attachment(attachment_id: int):
    row = db.get_or_404(NoticeAttachment, attachment_id)
    return send_stored(evidence.path_of(row), row.filename)  # as the portal sends a unit's own


@bp.route("/notices/<int:notice_id>/document")
@role_required(*READERS)
@kept_document
def notice_document(notice_id: int):
    """The notice as the written document sent to the unit (书面通报), to print or as PDF."""
    notice = db.get_or_404(Notice, notice_id)
    context = {
        "notice": notice,
        "lines": notice_service.notice_lines(notice),
        "flag_titles": notice_service.FLAG_TITLES,
        "rulebook_title": notice_service.notice_rulebook(notice).title,  # the measures the notice cites
    }
    return _document(
        "documents/letter_notice.html",
        f"notice:{notice.id}",
        "notice",
        _("书面通报-%(unit)s-%(month)s", unit=notice.unit.name, month=notice.label),
        context,
        url_for("admin.notice_detail", notice_id=notice.id),
        issued_on=notice.opened_on,  # the written notice is dated the day it was sent to the unit
    )


@bp.route("/letters")
@role_required(*READERS)
@kept_page
def letter_list():
    """The closed months' letters to the discipline group and the leadership group."""
    return render_template(
        "admin/notice_letters.html",
        months=[
            {
                "label": format_month(y, m),
                "year": y,
                "month": m,
                "letters": notice_service.letters_for_month(y, m),
            }
            for y, m, _flags in notice_service.letter_months()
        ],
        flag_titles=notice_service.FLAG_TITLES,
    )


@bp.route("/letters/<month>/<flag>")
@role_required(*READERS)
@kept_document
def letter_document(month: str, flag: str):
    """One letter (a closed month, a flag), as the page that prints from the browser or, with
    ?format=pdf, as a PDF from the server."""
    try:
        year, m = parse_month(month)
    except ValueError:
        abort(404)
    if flag not in LETTER_FLAGS:
        abort(404)
    letter = notice_service.letter(year, m, flag)
    if letter is None:
        abort(404)
    name = _("报纪检监察组函") if flag == "discipline_report" else _("报领导小组函")
    return _document(
        "documents/letter_report.html",
        letter.key,
        "letter",
        f"{name}-{letter.label}",
        {
            "letter": letter,
            "flag_titles": notice_service.FLAG_TITLES,
            "rulebook_title": rulebook_for_month(year, m).title,  # the measures the letter cites
        },
        url_for("admin.letter_list"),
    )


def _document(
    template: str,
    key: str,
    kind: str,
    filename: str,
    context: dict,
    back_url: str,
    issued_on: date | None = None,
):
    """A document page with its 文号 (given once per document key, then kept), or its PDF with ?format=pdf
    (admin.documents.document_page)."""
    from services import documents

    issued = documents.issue_document(key, kind, issued_on)
    db.session.commit()  # the number is kept from its first printing on
    return document_page(
        template,
        filename=filename,
        doc_number=issued.number,
        issued_on=issued.issued_on,
        pdf_url=f"{request.path}?format=pdf",
        back_url=back_url,
        **context,
    )
