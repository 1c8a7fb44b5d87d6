"""The detections queue (admin): run D13/D16 for a month in the background, then confirm or dismiss each
proposal (htmx row swap, with an out-of-band swap keeping the pending-count badge honest) or many at once."""

from __future__ import annotations

from flask import abort, flash, redirect, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from admin import bp, flow
from admin.forms import ActionForm, DetectionBulkForm, DetectionRunForm, DismissForm
from admin.views import job_progress, month_arg, month_options, start_job
from auth.access import role_required
from htmx import is_htmx, render_block, render_page_or_block
from models import Incident, Job, Role, db
from page_cache import kept_page
from scoring import format_month, signed_points
from security import int_arg
from services import detections
from services.clock import to_hall
from services.dashboard import month_is_closed, pending_months
from services.rulebooks import rulebook_for_month

TEMPLATE = "admin/detection_list.html"


def _points(incident: Incident) -> int:
    """The rulebook's points of a proposal, signed, as the scoring will count them once confirmed."""
    at = to_hall(incident.occurred_at)
    try:
        rule = rulebook_for_month(at.year, at.month).rule(incident.rule_code)
    except KeyError:
        return 0
    return signed_points(rule, incident.count or 1, exempt=bool(incident.exempt))


def _titles(rows: list[Incident]) -> dict[int, str]:
    titles = {}
    for incident in rows:
        at = to_hall(incident.occurred_at)
        try:
            titles[incident.id] = rulebook_for_month(at.year, at.month).rule(incident.rule_code).title
        except KeyError:
            titles[incident.id] = ""
    return titles


def _detected(year: int, month: int) -> dict[str, str]:
    """The codes the month's rulebook gives the detected rules (D13, D16 in 2023), for the page's text."""
    rulebook = rulebook_for_month(year, month)
    return {
        "turnover": rulebook.role_code("turnover_rule") or "—",
        "clock_in": rulebook.role_code("clock_in_rule") or "—",
    }


def _context(year: int, month: int, job: Job | None = None, bulk: DetectionBulkForm | None = None) -> dict:
    rows = detections.pending(year, month)
    return {
        "label": format_month(year, month),
        "rows": rows,
        "points": {i.id: _points(i) for i in rows},
        "count": len(rows),
        "other_months": [(m, n) for m, n in pending_months() if m != format_month(year, month)],
        "closed": month_is_closed(year, month),
        "run_form": DetectionRunForm(formdata=None),
        "bulk": bulk or DetectionBulkForm(formdata=None),
        "action": ActionForm(formdata=None),
        "job": job,
        "job_progress": job_progress,
        "month_options": month_options(format_month(year, month)),
        "titles": _titles(rows),
        "detected": _detected(year, month),
        "dismiss_prefix": lambda i: f"r{i.id}",
        "can_edit": current_user.role == Role.ADMIN,  # a leader reads the queue, confirms nothing
    }


def _watching_a_job() -> bool:
    """The page with ?job= shows a running detection's progress (a job's progress is not audited)."""
    return bool(request.args.get("job"))


@bp.route("/detections")
@role_required(Role.ADMIN, Role.LEADER)
@kept_page(bypass=_watching_a_job)
def detection_list():
    year, month = month_arg()
    job_id = int_arg("job")
    job = db.session.get(Job, job_id) if job_id else None
    if current_user.role != Role.ADMIN:
        job = None  # a leader runs no detection, so polls no progress
    if job is not None and job.kind != "detect":
        job = None
    return render_page_or_block(TEMPLATE, "pending_table", **_context(year, month, job))


@bp.route("/detections/run", methods=["POST"])
@role_required(Role.ADMIN)
def detection_run():
    form = DetectionRunForm()
    if not form.validate_on_submit():
        flash("".join(str(e) for errors in form.errors.values() for e in errors), "error")
        return redirect(url_for("admin.detection_list"))
    year, month = form.month.month
    if month_is_closed(year, month):
        flash(
            _("%(m)s 已关账,不能运行检测;如确需检测,请先重新开放该月", m=format_month(year, month)), "error"
        )
        return redirect(url_for("admin.detection_list", month=format_month(year, month)))
    job = start_job("detect", current_user.id, detections.run, year, month)
    if is_htmx():
        return render_block(TEMPLATE, "job_progress", **_context(year, month, job))
    return redirect(url_for("admin.detection_list", month=format_month(year, month), job=job.id))


@bp.route("/detections/jobs/<int:job_id>")
@role_required(Role.ADMIN)
def detection_progress(job_id: int):
    """The polled progress fragment; 286 stops the polling once the job is finished."""
    job = db.get_or_404(Job, job_id)
    if job.kind != "detect":
        abort(404)
    year, month = month_arg()
    html = render_block(TEMPLATE, "job_progress", **_context(year, month, job), final=job.status != "running")
    return html, 286 if job.status != "running" else 200


def _row_response(incident: Incident, error: str | None = None):
    at = to_hall(incident.occurred_at)
    context = _context(at.year, at.month)
    status = 422 if error else 200
    return render_block(TEMPLATE, "detection_row", i=incident, error=error, oob=True, **context), status


def _one(incident_id: int, change, done: str):
    incident = db.get_or_404(Incident, incident_id)
    errors: list[str] = []
    ok, _result = flow.attempt(lambda: change(incident), show=lambda error: errors.append(str(error)))
    if not ok:
        db.session.refresh(incident)
        if is_htmx():
            return _row_response(incident, errors[0])
        flash(errors[0], "error")
    else:
        if is_htmx():
            return _row_response(incident)
        flash(done, "success")
    return redirect(url_for("admin.detection_list", month=to_hall(incident.occurred_at).strftime("%Y-%m")))


@bp.route("/detections/<int:incident_id>/confirm", methods=["POST"])
@role_required(Role.ADMIN)
def detection_confirm(incident_id: int):
    return _one(incident_id, lambda i: detections.confirm_many([i.id]), _("已确认,该记录计入成绩"))


@bp.route("/detections/<int:incident_id>/dismiss", methods=["POST"])
@role_required(Role.ADMIN)
def detection_dismiss(incident_id: int):
    form = DismissForm(prefix=f"r{incident_id}")
    if not form.validate_on_submit():
        incident = db.get_or_404(Incident, incident_id)
        message = "".join(str(e) for errors in form.errors.values() for e in errors)
        if is_htmx():
            return _row_response(incident, message)
        flash(message, "error")
        return redirect(
            url_for("admin.detection_list", month=to_hall(incident.occurred_at).strftime("%Y-%m"))
        )
    reason = form.reason.data or ""
    return _one(incident_id, lambda i: detections.dismiss_many([i.id], reason), _("已驳回,该记录不计入成绩"))


@bp.route("/detections/bulk", methods=["POST"])
@role_required(Role.ADMIN)
def detection_bulk():
    """Confirm or dismiss every ticked proposal (all or nothing)."""
    year, month = month_arg()
    form = DetectionBulkForm()
    if form.validate_on_submit():
        confirm = form.action.data == "confirm"
        response = flow.apply(
            lambda: (
                detections.confirm_many(form.ids.data)
                if confirm
                else detections.dismiss_many(form.ids.data, form.reason.data or "")
            ),
            show=form,
            done=lambda done: (
                _("已确认 %(n)d 条检测结果", n=len(done))
                if confirm
                else _("已驳回 %(n)d 条检测结果", n=len(done))
            ),
            to=url_for("admin.detection_list", month=format_month(year, month)),
        )
        if response:
            return response
    return render_page_or_block(TEMPLATE, "pending_table", **_context(year, month, bulk=form)), 422
