"""Official documents: the settings (issuing office, 文号 prefix), template helpers, the page-or-PDF helper,
and the `.pdf` routes of the admin's documents.

`document_page(template, filename=..., **context)` is what a document's view returns: the HTML page (prints
from the browser) or, on a `.pdf` route or `?format=pdf`, the PDF of the same template (WeasyPrint). A
`.pdf` route calls the page's own view through `pdf_of(view, ...)`, so both share one view and template
(and the view's permission checks: another unit's ids are 404 on either).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from flask import abort, flash, make_response, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import StringField, SubmitField
from wtforms.validators import InputRequired, Length

from admin import bp
from auth.access import STAFF_ROLES, role_required
from models import Role, Unit, db
from page_cache import kept_page
from scoring import parse_month
from security import int_arg
from services import DomainError, export_jobs
from services import documents as docs
from services.bounds import check_month_in_range
from services.clock import hall_today, to_hall
from services.paging import slice_of


@bp.app_template_filter("chinese_date")
def chinese_date_filter(day: date | datetime | None) -> str:
    """A date (or an aware datetime, taken in hall time) in Chinese numerals: 二〇二六年十一月三十日."""
    if day is None:
        return ""
    if isinstance(day, datetime):
        day = to_hall(day).date()
    return docs.chinese_date(day)


_PDF_FLAG = "hallscore.document_pdf"


@bp.app_template_global("document_settings")
def document_settings_global() -> dict[str, str]:
    return docs.get_settings()


def wants_pdf(as_pdf: bool = False) -> bool:
    return bool(as_pdf or request.environ.get(_PDF_FLAG) or request.args.get("format") == "pdf")


def _document_bypass() -> bool:
    return wants_pdf() or bool(request.headers.get("HX-Boosted"))


# A document page shows no reader (no name, no form token): one copy per role and unit. Only a page (text)
# is kept: a PDF or a boosted request (answered with HX-Redirect) is answered afresh. A large hall's detail
# tables or blank patrol sheet render in 30–60 ms.
kept_document = kept_page(shared=True, bypass=_document_bypass)


def document_page(template: str, *, filename: str, as_pdf: bool = False, **context: Any):
    """The document's HTML page, or the PDF download of the same template (`as_pdf`, `pdf_of` or
    ?format=pdf). A document is a page of its own (its stylesheet, no menu): a boosted link (htmx) to
    it, or to its PDF, is answered with HX-Redirect, so the browser loads it whole (or downloads it)."""
    pdf = wants_pdf(as_pdf)
    if request.headers.get("HX-Boosted"):  # the page or the PDF, never swapped into the page that asked
        response = make_response("", 200)
        response.headers["HX-Redirect"] = request.full_path.rstrip("?")
        return response
    context.setdefault("doc_settings", docs.get_settings())
    html = render_template(template, pdf=pdf, **context)
    if pdf:
        return docs.pdf_response(html, filename, base_url=request.url_root)
    return html


def notice_filename(rule, number: str) -> str:
    """The notice's PDF name: 违规违纪通知单 TZ-2024-03-000123.pdf (考核加分通知单 for a bonus)."""
    bonus = rule is not None and str(rule.kind) == "bonus"
    return (_("考核加分通知单") if bonus else _("违规违纪通知单")) + f" {number}.pdf"


def pdf_of(view, *args: Any, **kwargs: Any):
    """The PDF of the page `view` answers (its checks and context, the same template)."""
    request.environ[_PDF_FLAG] = True  # this request's (not g: a test client may share one app context)
    return view(*args, **kwargs)


class DocumentSettingsForm(FlaskForm):
    office = StringField(
        _l("发文机关(红头和落款)"),
        validators=[
            InputRequired(message=_l("请填写发文机关名称")),
            Length(max=docs.MAX_LEN["office"], message=_l("不能超过 40 个字")),
        ],
    )
    prefix = StringField(
        _l("发文字号的机关代字"),
        validators=[
            InputRequired(message=_l("请填写发文字号的机关代字")),
            Length(max=docs.MAX_LEN["prefix"], message=_l("不能超过 24 个字")),
        ],
    )
    submit = SubmitField(_l("保存"))


@bp.route("/documents/settings", methods=["GET", "POST"])
@role_required(Role.ADMIN)
def document_settings():
    form = DocumentSettingsForm()
    status = 200
    if form.validate_on_submit():
        try:
            docs.save_settings(form.office.data, form.prefix.data)
        except DomainError as error:
            db.session.rollback()
            flash(str(error), "error")
        else:
            db.session.commit()
            flash(_("公文设置已保存"), "success")
            return redirect(url_for("admin.document_settings"))
    if form.is_submitted():
        status = 422
    else:
        current = docs.get_settings()
        form.office.data = current["office"]
        form.prefix.data = current["prefix"]
    example = docs.format_number(form.prefix.data or docs.DEFAULTS["prefix"], hall_today().year, 11)
    return render_template("documents/settings.html", form=form, example=example), status


# ---------------------------------------------------------------- the admin's documents as PDF


@bp.route("/months/<month>/bulletin.pdf")
@role_required(*STAFF_ROLES)
def month_bulletin_pdf(month: str):
    from admin.months import month_bulletin

    return pdf_of(month_bulletin, month)


@bp.route("/incidents/<int:incident_id>/notice.pdf")
@role_required(*STAFF_ROLES)
def incident_notice_pdf(incident_id: int):
    from admin.incidents import incident_notice

    return pdf_of(incident_notice, incident_id)


@bp.route("/patrol/blank.pdf")
@role_required(Role.ADMIN, Role.INSPECTOR)
def patrol_blank_pdf():
    from admin.patrol import patrol_blank

    return pdf_of(patrol_blank)


# ---------------------------------------------------------------- 考核评分明细表


def _month_or_404(text: str) -> tuple[int, int]:
    try:
        year, month = parse_month(text)
        check_month_in_range(year, month)
    except (ValueError, DomainError):
        abort(404)
    return year, month


def details_page(
    units: list[Unit], year: int, month: int, *, back_url: str, pdf_url: str, filename: str, listed=None
):
    """The detail table of `units` (each a page) for a month: the page or its PDF. `listed`: the page of
    units shown (its pager in the toolbar), when the screen shows a part of them."""
    views = export_jobs.details_views(units, year, month)
    return document_page(
        "documents/details.html",
        filename=filename,
        back_url=back_url,
        pdf_url=pdf_url,
        listed=listed,
        **export_jobs.details_context(views, year, month),
    )


# Units a screen of every unit's detail tables shows: a large hall's month is 17,000 items (5 MB of HTML,
# a second to render); the PDF and its background job hold every unit.
DETAILS_UNITS_A_PAGE = 10


@bp.route("/months/<month>/details")
@role_required(*STAFF_ROLES)
@kept_document
def month_details(month: str):
    """考核评分明细表 of every unit for a month (a page each)."""
    year, mon = _month_or_404(month)
    units = export_jobs.scored_units(year, mon)
    listed = None
    if not wants_pdf():
        listed = slice_of(units, int_arg("page"), DETAILS_UNITS_A_PAGE)
        units = listed.rows
    return details_page(
        units,
        year,
        mon,
        back_url=url_for("admin.standings_page", month=month),
        pdf_url=url_for("admin.month_details_pdf", month=month),
        filename=_("%(y)d年%(m)d月各单位考核评分明细表.pdf", y=year, m=mon),
        listed=listed,
    )


@bp.route("/months/<month>/details.pdf")
@role_required(*STAFF_ROLES)
def month_details_pdf(month: str):
    return pdf_of(month_details, month)


@bp.route("/exports/month-details", methods=["POST"])
@role_required(*STAFF_ROLES)
def month_details_job():
    """后台生成 the PDF of every unit's detail table of a month (the job beside /months/<month>/details.pdf:
    a large hall's is hundreds of pages)."""
    from admin.exports import start_export

    month = (request.form.get("month") or "").strip()
    try:
        check_month_in_range(*parse_month(month))
        back = url_for("admin.standings_page", month=month)
    except ValueError:  # DomainError too: the standings page would say it again
        back = url_for("admin.standings_page")
    return start_export(export_jobs.MONTH_DETAILS, {"month": month}, back)


@bp.route("/months/<month>/details/<int:unit_id>")
@role_required(*STAFF_ROLES)
@kept_document
def unit_details(month: str, unit_id: int):
    """考核评分明细表 of one unit for a month."""
    year, mon = _month_or_404(month)
    unit = db.session.get(Unit, unit_id)
    if unit is None:
        abort(404)
    return details_page(
        [unit],
        year,
        mon,
        back_url=url_for("admin.standings_page", month=month),
        pdf_url=url_for("admin.unit_details_pdf", month=month, unit_id=unit.id),
        filename=_("%(u)s %(y)d年%(m)d月考核评分明细表.pdf", u=unit.name, y=year, m=mon),
    )


@bp.route("/months/<month>/details/<int:unit_id>.pdf")
@role_required(*STAFF_ROLES)
def unit_details_pdf(month: str, unit_id: int):
    return pdf_of(unit_details, month, unit_id)
