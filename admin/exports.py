"""Spreadsheets for admins and leaders (product.md: admins "export and print", leaders "read the yearly
summary"): the month's rankings, every unit's detail table, the incidents list with its filters, the tallies,
and the yearly summary (年终汇总) as a page, an .xlsx and a document for the city government.

Inspectors read the same pages but download nothing (the spreadsheets leave the hall); a unit downloads
only its own detail table, in the portal.
"""

from __future__ import annotations

from flask import abort, current_app, redirect, render_template, request, url_for
from flask_babel import gettext as _
from werkzeug.datastructures import MultiDict

from admin import bp
from auth.access import role_required
from models import Role
from scoring import parse_month
from security import whole_number
from services import DomainError, exports, yearly
from services.clock import hall_today
from services.standings import check_month_in_range

EXPORT_ROLES = (Role.ADMIN, Role.LEADER)
# The incidents of one month in one sheet: far above any month the hall has had (the list pages by 50).
INCIDENTS_LIMIT = 100_000


def _download(data: bytes, filename: str, ascii_name: str, mimetype: str = exports.XLSX_MIMETYPE):
    response = current_app.response_class(data, mimetype=mimetype)
    response.headers["Content-Disposition"] = exports.content_disposition(filename, ascii_name)
    # An open month changes with every incident: never serve a stale sheet from a cache.
    response.headers["Cache-Control"] = "no-store"
    return response


def _month_or_404(month: str) -> tuple[int, int]:
    try:
        year, mon = parse_month(month)
        check_month_in_range(year, mon)  # a month not begun has no ranking to download
    except (ValueError, DomainError):
        abort(404)
    return year, mon


def _year_months_or_404(year: int) -> list[int]:
    try:
        return yearly.year_months(year)
    except DomainError:
        abort(404)


@bp.route("/standings/<month>/rankings.xlsx")
@role_required(*EXPORT_ROLES)
def rankings_export(month: str):
    year, mon = _month_or_404(month)
    return _download(
        exports.rankings_xlsx(year, mon),
        exports.rankings_filename(year, mon),
        exports.rankings_ascii_name(year, mon),
    )


@bp.route("/standings/<month>/details.xlsx")
@role_required(*EXPORT_ROLES)
def details_export(month: str):
    """考核评分明细表 of every unit for one month, one sheet per unit."""
    year, mon = _month_or_404(month)
    return _download(
        exports.details_xlsx(year, [mon]),
        exports.details_filename(year, mon),
        exports.details_ascii_name(year, mon),
    )


@bp.route("/years/<int:year>/details.xlsx")
@role_required(*EXPORT_ROLES)
def year_details_export(year: int):
    """Every unit's detail tables of the whole year, one sheet per unit (a few seconds on the demo hall)."""
    months = _year_months_or_404(year)
    return _download(
        exports.details_xlsx(year, months),
        exports.details_filename(year, None),
        exports.details_ascii_name(year, None),
    )


@bp.route("/incidents/export.xlsx")
@role_required(*EXPORT_ROLES)
def incidents_export():
    """The incidents list with the same filters (the list's form and query), every matching row, one sheet."""
    from admin.incidents import IncidentFilterForm, _filter_choices, _int
    from services import incident_list
    from services.rulebooks import rulebook_for_month

    args = request.args.to_dict()
    args.setdefault("month", hall_today().strftime("%Y-%m"))
    form = IncidentFilterForm(formdata=MultiDict(args))
    form.validate()
    try:
        year, mon = parse_month((form.month.data or "").strip())
    except ValueError:
        abort(404)
    if incident_list.month_problem(year, mon):
        abort(404)
    rulebook = rulebook_for_month(year, mon)
    _filter_choices(form, rulebook)
    labels = []
    for name in ("unit_id", "rule_code", "status", "recorded_by"):
        field = getattr(form, name)
        choices = dict(field.choices)
        if field.data and field.data not in choices:
            abort(404)  # a filter the list would refuse (422) has nothing to download
        if field.data:
            labels.append(str(choices[field.data]))
    listed = incident_list.list_page(
        incident_list.ListFilter(
            year,
            mon,
            unit_id=_int(form.unit_id.data),
            rule_code=form.rule_code.data or None,
            status=form.status.data or None,
            recorded_by_id=_int(form.recorded_by.data),
        ),
        1,
        rulebook,
        per_page=INCIDENTS_LIMIT,
    )
    filters_text = _("筛选:%(what)s", what="、".join(labels)) if labels else ""
    return _download(
        exports.incidents_xlsx(listed, rulebook, year, mon, filters_text),
        exports.incidents_filename(year, mon),
        exports.incidents_ascii_name(year, mon),
    )


@bp.route("/tallies/<int:year>.xlsx")
@role_required(*EXPORT_ROLES)
def tallies_export(year: int):
    _year_months_or_404(year)
    return _download(
        exports.tallies_xlsx(year), exports.tallies_filename(year), exports.tallies_ascii_name(year)
    )


# ---------------------------------------------------------------- the yearly summary (年终汇总)


@bp.route("/years", defaults={"year": None})
@bp.route("/years/<int:year>")
@role_required(*EXPORT_ROLES)
def year_summary(year: int | None):
    if year is None:
        text = (request.args.get("year") or "").strip()
        chosen = whole_number(text, low=1000, high=9999) or hall_today().year
        return redirect(url_for("admin.year_summary", year=chosen))
    _year_months_or_404(year)
    summary = yearly.summary(year)
    return render_template(
        "admin/year_summary.html",
        s=summary,
        years=yearly.available_years(),
        flags_text=exports.year_flags_text,
        document_url=url_for("admin.year_summary_document", year=year),
    )


@bp.route("/years/<int:year>/summary.xlsx")
@role_required(*EXPORT_ROLES)
def year_summary_export(year: int):
    _year_months_or_404(year)
    return _download(
        exports.year_xlsx(yearly.summary(year)), exports.year_filename(year), exports.year_ascii_name(year)
    )


@bp.route("/years/<int:year>/document")
@role_required(*EXPORT_ROLES)
def year_summary_document(year: int):
    """The summary for the city government as an official document: the A4 page (prints from the browser),
    or `?format=pdf` rendered on the server (services.documents.render_pdf)."""
    from admin.documents import document_page
    from services import documents as docs

    _year_months_or_404(year)
    summary = yearly.summary(year)
    issued = docs.issued(yearly.document_key(year))
    return document_page(
        "documents/year_summary.html",
        filename=_("%(year)d年度考核汇总.pdf", year=year),
        s=summary,
        flags_text=exports.year_flags_text,
        doc_number=issued.number if issued else "",
        issued_on=issued.issued_on if issued else hall_today(),
        draft="" if summary.complete else _("初稿:%(year)d年尚有月份未关账,数字可能变动", year=year),
        back_url=url_for("admin.year_summary", year=year),
        pdf_url=url_for("admin.year_summary_document", year=year, format="pdf"),
    )


@bp.app_context_processor
def export_permission():
    """`can_export()` for the pages' download buttons: shown only to who may download (the views decide)."""

    def can_export() -> bool:
        from flask_login import current_user

        return bool(current_user.is_authenticated and current_user.role in EXPORT_ROLES)

    return {"can_export": can_export}
