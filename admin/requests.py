"""待处理: the units' appeals, rectification reports (and extension requests) and bonus claims, each with
its decide form; and the files units attached to them.

The views read the form and call services.appeals / services.rectifications / services.claims, which
check and write (a refused decision writes nothing: its message comes back on the item, status 422).
Also the template globals the appeal-state partial (templates/_appeal_state.html) and the notice use.
"""

from __future__ import annotations

from datetime import date

from flask import abort, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import StringField, TextAreaField

from admin import bp, flow
from auth.access import own_unit_or_404, role_required
from models import Appeal, BonusClaim, Incident, RectificationReport, RequestFile, Role, db
from page_cache import kept_page
from services import DomainError, appeals, claims, rectifications
from services import evidence as evidence_service
from services.bounds import typed_day
from stored_files import send_stored

STATE_LABELS = {
    "open": _l("待处理"),
    "upheld": _l("维持原记录"),
    "voided": _l("申诉成立,已作废"),
    "confirmed": _l("已确认"),
    "approved": _l("已通过"),
    "rejected": _l("已退回"),
}


class DecideForm(FlaskForm):
    """One decision: which way (`decision`), the reason the unit reads, and for a rectification report
    the date the admin confirms (read and checked by the view: a bad date is a Chinese message)."""

    decision = StringField()
    reason = TextAreaField(_l("处理意见(单位可见)"))
    rectified_on = StringField(_l("确认的整改完成日期"))


@bp.app_template_global("appeal_state")
def appeal_state(incident_id: int | None) -> Appeal | None:
    """The incident's latest appeal, or None (one query per request whatever the page lists)."""
    return appeals.state_of(incident_id)


@bp.app_template_global("appeal_until")
def appeal_until(incident: Incident) -> date | None:
    """The last day the notice may promise an appeal; None: no promise (a bonus, or the window passed)."""
    return appeals.appeal_until(incident)


@bp.app_template_global("request_state_label")
def request_state_label(status: str) -> str:
    return str(STATE_LABELS.get(str(status), status))


def _file_url(row: RequestFile) -> str:
    return url_for("admin.request_file", file_id=row.id)


def _page(errors: dict | None = None, status: int = 200):
    waiting = appeals.pending()
    return render_template(
        "admin/request_list.html",
        appeals=waiting,
        reports=rectifications.pending(),
        claims=claims.pending(),
        decided_appeals=appeals.recent_decided(),
        decided_reports=rectifications.recent_decided(),
        decided_claims=claims.recent_decided(),
        deadlines={a.id: appeals.appeal_deadline(a.incident) for a in waiting},
        errors=errors or {},
        form=DecideForm(formdata=None),
        file_url=_file_url,
        displayable=evidence_service.displayable,
    ), status


@bp.app_template_global("request_counts")
def request_counts() -> dict[str, int]:
    """What waits for an admin (the dashboard's 待办)."""
    from services.dashboard import requests_waiting

    return requests_waiting()


@bp.route("/requests")
@role_required(Role.ADMIN, Role.LEADER)
@kept_page
def request_list():
    return _page()


def _apply(key: str, change, done: str):
    """Call the service (admin.flow): on DomainError roll back and show the page with the message on the
    item (422); else commit, flash and go back to the page."""
    errors: dict[str, str] = {}

    def show(error: DomainError) -> None:
        flow.flash_error(error)
        errors[key] = str(error)

    return flow.apply(change, show=show, done=done, to=url_for("admin.request_list")) or _page(errors, 422)


def _form() -> DecideForm:
    form = DecideForm()
    if not form.validate_on_submit():
        abort(400)
    return form


@bp.route("/requests/appeals/<int:appeal_id>/decide", methods=["POST"])
@role_required(Role.ADMIN)
def appeal_decide(appeal_id: int):
    appeal = db.get_or_404(Appeal, appeal_id)
    form = _form()
    outcome = form.decision.data or ""
    return _apply(
        f"appeal-{appeal.id}",
        lambda: appeals.decide(appeal, outcome, form.reason.data),
        _("已作废该记录,申诉成立") if outcome == "void" else _("已维持原记录"),
    )


@bp.route("/requests/rectifications/<int:report_id>/decide", methods=["POST"])
@role_required(Role.ADMIN)
def rectification_decide(report_id: int):
    row = db.get_or_404(RectificationReport, report_id)
    form = _form()
    decision = form.decision.data or ""

    def change():
        if decision not in ("confirm", "reject"):
            raise DomainError(_("请选择处理结果:确认或退回"))
        return rectifications.decide(
            row, decision == "confirm", form.reason.data, confirmed_on=typed_day(form.rectified_on.data)
        )

    return _apply(f"rectification-{row.id}", change, _("已确认") if decision == "confirm" else _("已退回"))


@bp.route("/requests/claims/<int:claim_id>/decide", methods=["POST"])
@role_required(Role.ADMIN)
def claim_decide(claim_id: int):
    claim = db.get_or_404(BonusClaim, claim_id)
    form = _form()
    decision = form.decision.data or ""

    def change():
        if decision not in ("approve", "reject"):
            raise DomainError(_("请选择处理结果:通过或不予通过"))
        return claims.decide(claim, decision == "approve", form.reason.data)

    return _apply(
        f"claim-{claim.id}",
        change,
        _("已通过,加分记录已登记") if decision == "approve" else _("已退回该加分申请"),
    )


@bp.route("/requests/files/<int:file_id>")
@role_required(Role.ADMIN, Role.INSPECTOR, Role.LEADER, Role.UNIT)
def request_file(file_id: int):
    """A file a unit attached to a request, for the hall's people and that unit only."""
    row = db.get_or_404(RequestFile, file_id)
    own_unit_or_404(row.unit_id)
    return send_stored(evidence_service.path_of(row), row.filename)
