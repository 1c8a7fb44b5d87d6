"""Spreadsheets for admins and leaders (product.md: admins "export and print", leaders "read the yearly
summary"): the month's rankings, every unit's detail table, the incidents list with its filters, the tallies,
and the yearly summary (年终汇总) as a page, an .xlsx and a document for the city government.

Inspectors read the same pages but download nothing (the spreadsheets leave the hall); a unit downloads
only its own detail table, in the portal.

The heavy ones (the year's detail tables, the incidents, the tallies; and the PDF batches of
admin/documents.py and admin/honors.py) may also run as background jobs (services.export_jobs): a POST here
starts one and leads to its page, which shows the progress and then offers the file to the user who started
it (or an admin).
Their GET addresses still answer the file at once, for scripts.
"""

from __future__ import annotations

import re
from datetime import timedelta

from flask import abort, current_app, flash, redirect, render_template, request, send_file, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user
from markupsafe import Markup
from sqlalchemy import select
from werkzeug.datastructures import MultiDict

from admin import bp
from auth.access import STAFF_ROLES, role_required
from htmx import is_htmx, render_block
from models import Job, Role, User, db
from page_cache import kept_page
from scoring import parse_month
from security import whole_number
from services import DomainError, export_jobs, exports, jobs, yearly
from services.bounds import check_month_in_range
from services.clock import hall_today

EXPORT_ROLES = (Role.ADMIN, Role.LEADER)
INCIDENTS_LIMIT = exports.INCIDENTS_LIMIT
JOB_TEMPLATE = "admin/export_job.html"


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


def incident_filters(args: dict) -> dict | None:
    """The incidents list's filters in `args` (its query), checked as the list checks them: the export's
    parameters (month, unit_id, rule_code, status, recorded_by and the filters' text), or None when the list
    would refuse them (a 422 there: nothing to download)."""
    from admin.incidents import IncidentFilterForm, _filter_choices, _int
    from services import incident_list
    from services.rulebooks import rulebook_for_month

    args = {k: v for k, v in args.items() if k in ("month", "unit_id", "rule_code", "status", "recorded_by")}
    args.setdefault("month", hall_today().strftime("%Y-%m"))
    form = IncidentFilterForm(formdata=MultiDict(args))
    form.validate()
    try:
        year, mon = parse_month((form.month.data or "").strip())
    except ValueError:
        return None
    if incident_list.month_problem(year, mon):
        return None
    _filter_choices(form, rulebook_for_month(year, mon))
    labels = []
    for name in ("unit_id", "rule_code", "status", "recorded_by"):
        field = getattr(form, name)
        choices = dict(field.choices)
        if field.data and field.data not in choices:
            return None
        if field.data:
            labels.append(str(choices[field.data]))
    return {
        "month": f"{year:04d}-{mon:02d}",
        "unit_id": _int(form.unit_id.data),
        "rule_code": form.rule_code.data or None,
        "status": form.status.data or None,
        "recorded_by": _int(form.recorded_by.data),
        "filters_text": _("筛选:%(what)s", what="、".join(labels)) if labels else None,
    }


@bp.route("/incidents/export.xlsx")
@role_required(*EXPORT_ROLES)
def incidents_export():
    """The incidents list with the same filters (the list's form and query), every matching row, one sheet."""
    from services import incident_list
    from services.rulebooks import rulebook_for_month

    params = incident_filters(request.args.to_dict())
    if params is None:
        abort(404)  # a filter the list would refuse (422) has nothing to download
    year, mon = parse_month(params["month"])
    rulebook = rulebook_for_month(year, mon)
    listed = incident_list.list_page(
        incident_list.ListFilter(
            year,
            mon,
            unit_id=params["unit_id"],
            rule_code=params["rule_code"],
            status=params["status"],
            recorded_by_id=params["recorded_by"],
        ),
        1,
        rulebook,
        per_page=INCIDENTS_LIMIT,
    )
    return _download(
        exports.incidents_xlsx(listed, rulebook, year, mon, params["filters_text"] or ""),
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
@kept_page
def year_summary(year: int | None):
    if year is None:
        text = (request.args.get("year") or "").strip()
        chosen = whole_number(text, low=1000, high=9999) or hall_today().year
        return redirect(url_for("admin.year_summary", year=chosen))
    _year_months_or_404(year)
    summary = yearly.summary(year)
    units_table = summary.render_once(
        ("page units", str(get_locale())),
        lambda: Markup(
            render_template("admin/_year_units.html", s=summary, flags_text=exports.year_flags_text)
        ),
    )
    return render_template(
        "admin/year_summary.html",
        s=summary,
        units_table=units_table,
        years=yearly.available_years(),
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
    from admin.documents import document_page, wants_pdf
    from services import documents as docs

    _year_months_or_404(year)
    summary = yearly.summary(year)
    issued = docs.issued(yearly.document_key(year))
    doc_number = issued.number if issued else ""
    issued_on = issued.issued_on if issued else hall_today()

    def page(as_pdf: bool = False):
        return document_page(
            "documents/year_summary.html",
            filename=_("%(year)d年度考核汇总.pdf", year=year),
            as_pdf=as_pdf,
            s=summary,
            flags_text=exports.year_flags_text,
            doc_number=doc_number,
            issued_on=issued_on,
            draft="" if summary.complete else _("初稿:%(year)d年尚有月份未关账,数字可能变动", year=year),
            back_url=url_for("admin.year_summary", year=year),
            pdf_url=url_for("admin.year_summary_document", year=year, format="pdf"),
        )

    if wants_pdf() or request.headers.get("HX-Boosted"):  # a PDF, or the redirect a boosted link gets
        return page()
    # The page holds nothing of the reader (no form, no name): the same text for every leader, kept with
    # the summary it was made from (the settings and the number it shows are part of the key).
    key = ("document", str(get_locale()), doc_number, issued_on, tuple(docs.get_settings().items()))
    return summary.render_once(key, page)


# ---------------------------------------------------------------- the heavy exports as background jobs


def start_export(kind: str, params: dict, back: str):
    """Start the export job `kind` as the user asking and lead to its page; refused parameters (a year without
    results, a month not begun…) go back to `back` with the reason, and write nothing."""
    try:
        params = export_jobs.check(kind, params)
    except DomainError as error:
        db.session.rollback()
        flash(str(error), "error")
        return redirect(back)
    job = jobs.start(kind, export_jobs.run, kind, params, started_by=current_user.id, job_params=params)
    return redirect(url_for("admin.export_job", job_id=job.id), code=303)


def _year_field() -> int | None:
    return whole_number(request.form.get("year"), low=1000, high=9999)


@bp.route("/exports/year-details", methods=["POST"])
@role_required(*EXPORT_ROLES)
def year_details_job():
    """后台生成 the year's detail tables of every unit (the job beside /years/<year>/details.xlsx)."""
    year = _year_field()
    has_results = False
    if year:
        try:
            has_results = bool(yearly.year_months(year))
        except DomainError:
            pass
    back = url_for("admin.year_summary", year=year) if has_results else url_for("admin.year_summary")
    return start_export(export_jobs.YEAR_DETAILS, {"year": year}, back)


@bp.route("/exports/tallies", methods=["POST"])
@role_required(*EXPORT_ROLES)
def tallies_job():
    """后台生成 the tallies of a year (the job beside /tallies/<year>.xlsx)."""
    year = _year_field()
    back = url_for("admin.tally_list", year=year) if year else url_for("admin.tally_list")
    return start_export(export_jobs.TALLIES, {"year": year}, back)


@bp.route("/exports/incidents", methods=["POST"])
@role_required(*EXPORT_ROLES)
def incidents_job():
    """后台生成 the incidents list with the list's filters (the form's fields, as the list's query)."""
    params = incident_filters(request.form.to_dict())
    if params is None:
        flash(_("筛选条件无效,没有可导出的记录;请在列表中重新筛选"), "error")
        return redirect(url_for("admin.incident_list"))
    return start_export(export_jobs.INCIDENTS, params, _origin(export_jobs.INCIDENTS, params))


def _origin(kind: str, params: dict) -> str:
    """The page that offers the export (the job page's way back)."""
    try:
        if kind in (export_jobs.YEAR_DETAILS, export_jobs.TALLIES):
            endpoint = "admin.year_summary" if kind == export_jobs.YEAR_DETAILS else "admin.tally_list"
            return url_for(endpoint, year=int(params["year"]))
        if kind == export_jobs.INCIDENTS:
            names = ("month", "unit_id", "rule_code", "status", "recorded_by")
            return url_for(
                "admin.incident_list", **{k: params[k] for k in names if params.get(k) is not None}
            )
        if kind == export_jobs.MONTH_DETAILS:
            return url_for("admin.standings_page", month=str(params["month"]))
        if kind == export_jobs.HONOR_LETTERS:
            return url_for("admin.honor_period", period=str(params["period"]))
    except (KeyError, TypeError, ValueError):
        pass
    return url_for("admin.dashboard")


def _readable_job(job_id: int) -> Job:
    """The export job, if the user may see it (who started it, or an admin); else 404 (whose it is and
    whether it exists are not told)."""
    job = db.session.get(Job, job_id)
    if job is None or not export_jobs.may_read(job, current_user.id, current_user.role):
        abort(404)
    return job


def _size_text(size) -> str:
    if not isinstance(size, int):
        return ""
    if size < 1024 * 1024:
        return _("%(n)s KB", n=max(1, round(size / 1024)))
    return _("%(n).1f MB", n=size / 1024 / 1024)


def _job_context(job: Job) -> dict:
    from admin.views import job_progress

    done, total = job_progress(job)  # a job whose worker died is failed here (services.jobs.settle)
    path = export_jobs.stored_file(job)
    result = job.result if isinstance(job.result, dict) else {}
    starter = db.session.get(User, job.created_by_id) if job.created_by_id else None
    recent = db.session.scalars(
        select(Job)
        .where(Job.kind.in_(list(export_jobs.KINDS)), Job.created_by_id == current_user.id, Job.id != job.id)
        .order_by(Job.id.desc())
        .limit(10)
    ).all()
    keep = export_jobs.keep_seconds()
    return {
        "job": job,
        "done": done,
        "total": total,
        "title": export_jobs.title(job),
        "file": path,
        "size": _size_text(result.get("size")),
        "expires": job.finished_at + timedelta(seconds=export_jobs.keep_seconds())
        if job.finished_at
        else None,
        "keep_hours": keep // 3600,
        "starter": starter.label if starter else "",
        "back_url": _origin(job.kind, export_jobs.params_of(job)),
        "recent": [(r, export_jobs.title(r)) for r in recent],
    }


@bp.route("/exports/jobs/<int:job_id>")
@role_required(*STAFF_ROLES)
def export_job(job_id: int):
    """An export job's page: its progress (the polled block; 286 stops the polling once it is finished),
    then the file's download."""
    job = _readable_job(job_id)
    context = _job_context(job)
    if is_htmx():
        return render_block(JOB_TEMPLATE, "job_status", **context), 286 if job.status != "running" else 200
    return render_template(JOB_TEMPLATE, **context)


def _ascii(name) -> str:
    text = re.sub(r"[^A-Za-z0-9._-]", "_", name if isinstance(name, str) else "")
    return text or "export"


@bp.route("/exports/jobs/<int:job_id>/file")
@role_required(*STAFF_ROLES)
def export_job_file(job_id: int):
    """The file an export job made: to who started it (or an admin), while it is kept."""
    job = _readable_job(job_id)
    path = export_jobs.stored_file(job)
    if path is None:
        if job.status == "running":
            flash(_("文件还在生成中,完成后即可下载"), "error")
        elif job.status == "failed":
            flash(_("生成失败,没有文件可下载;请重新运行"), "error")
        else:
            flash(_("文件已过期或已被更新的导出替换,请重新生成"), "error")
        return redirect(url_for("admin.export_job", job_id=job.id))
    result = job.result
    _extension, mimetype = export_jobs.KINDS[job.kind].file
    response = send_file(path, mimetype=mimetype, conditional=False, etag=False, max_age=0)
    filename = result.get("filename") if isinstance(result.get("filename"), str) else path.name
    response.headers["Content-Disposition"] = exports.content_disposition(
        filename, _ascii(result.get("ascii_name"))
    )
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.route("/exports/jobs/<int:job_id>/again", methods=["POST"])
@role_required(*STAFF_ROLES)
def export_job_again(job_id: int):
    """Run an export again (a failed one, a crashed one, an expired file, or fresher numbers): a new job with
    the same parameters, started by the user asking."""
    job = _readable_job(job_id)
    here = url_for("admin.export_job", job_id=job.id)
    if job.status == "running":
        flash(_("该导出仍在进行中,请等待完成"), "error")
        return redirect(here)
    return start_export(job.kind, export_jobs.params_of(job), here)


@bp.app_context_processor
def export_permission():
    """`can_export()` for the pages' download buttons: shown only to who may download (the views decide)."""

    def can_export() -> bool:
        from flask_login import current_user

        return bool(current_user.is_authenticated and current_user.role in EXPORT_ROLES)

    return {"can_export": can_export}
