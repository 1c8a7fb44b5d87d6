"""The unit's requests in the portal: appeal an item (申诉), report a rectification (整改) or ask for
a later deadline (延期, where the rulebook allows it), claim a bonus (加分申请), and follow each to its
decision.

Unit users only, their own unit only: another unit's item answers 404. The services check and write; a
refused request comes back on the form with its Chinese message (422) and writes nothing.
"""

from __future__ import annotations

from flask import abort, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import MultipleFileField, SelectField, StringField, TextAreaField

from admin import flow
from auth.access import role_required
from models import Role
from page_cache import kept_page
from portal import bp
from portal.inbox import reader_version
from portal.views import _incident_or_404, _unit
from services import appeals, claims, evidence, portal, rectifications
from services.bounds import typed_day
from services.clock import hall_today

EVIDENCE_ACCEPT = "image/jpeg,image/png,image/heic,image/heif,.jpg,.jpeg,.png,.heic,.heif"


class AppealForm(FlaskForm):
    reason = TextAreaField(_l("申诉理由"))
    evidence = MultipleFileField(_l("证明材料(照片,可选)"))


class RectifiedForm(FlaskForm):
    rectified_on = StringField(_l("整改完成日期"))
    description = TextAreaField(_l("整改情况"))
    evidence = MultipleFileField(_l("整改证明照片"))


class ExtensionForm(FlaskForm):
    deadline = StringField(_l("申请的新整改期限"))
    reason = TextAreaField(_l("申请延期的理由"))


class ClaimForm(FlaskForm):
    rule_code = SelectField(_l("加分项目"), validate_choice=False)
    occurred_on = StringField(_l("日期"))
    description = TextAreaField(_l("申请说明"))
    evidence = MultipleFileField(_l("证明材料照片(锦旗、表扬信、报道等)"))


def _files_of(result):
    return list(getattr(result, "stored_files", []) or [])


@bp.route("/requests")
@role_required(Role.UNIT)
@kept_page(version=reader_version)
def request_list():
    unit = _unit()
    return render_template(
        "portal/request_list.html",
        unit=unit,
        open_items=rectifications.open_items(unit.id),
        appeals=appeals.for_unit(unit.id),
        reports=rectifications.for_unit(unit.id),
        claims=claims.for_unit(unit.id),
        extension_allowed=rectifications.extension_allowed(),
        can_claim=bool(claims.claimable_rules()),
        rule_of=portal.incident_rule,
    )


@bp.app_template_global("unit_actions")
def unit_actions(incident, unit) -> dict:
    """What the unit may do with its item now (the item page's buttons)."""
    why = appeals.appeal_problem(incident)
    return {
        "appeal": why is None,
        "why": why,
        "appeal_until": appeals.appeal_until(incident),
        "report": rectifications.report_problem(incident, unit) is None,
        "extension": rectifications.extension_problem(incident, unit) is None,
    }


def _item_page(template: str, form, unit, incident, status: int = 200, **extra):
    return render_template(
        template,
        form=form,
        unit=unit,
        incident=incident,
        rule=portal.incident_rule(incident),
        accept=EVIDENCE_ACCEPT,
        **extra,
    ), status


@bp.route("/items/<int:incident_id>/appeal", methods=["GET", "POST"])
@role_required(Role.UNIT)
def appeal_new(incident_id: int):
    unit, incident = _incident_or_404(incident_id)
    form = AppealForm()
    problem = appeals.appeal_problem(incident)
    if request.method == "POST":
        if not form.validate_on_submit():
            abort(400)
        response = flow.apply(
            lambda: appeals.submit(incident, unit, form.reason.data, request.files.getlist("evidence")),
            show=form.reason,
            done=_("申诉已提交,请等待管理员处理"),
            to=url_for("portal.request_list") + "#appeals",
            undo=lambda a: evidence.discard_files(_files_of(a)),
        )
        if response:
            return response
        return _item_page(
            "portal/request_appeal.html",
            form,
            unit,
            incident,
            422,
            problem=problem,
            deadline=appeals.appeal_deadline(incident),
        )
    return _item_page(
        "portal/request_appeal.html",
        form,
        unit,
        incident,
        problem=problem,
        deadline=appeals.appeal_deadline(incident),
    )


@bp.route("/items/<int:incident_id>/rectified", methods=["GET", "POST"])
@role_required(Role.UNIT)
def rectified_new(incident_id: int):
    unit, incident = _incident_or_404(incident_id)
    form = RectifiedForm()
    problem = rectifications.report_problem(incident, unit)
    if request.method == "GET":
        form.rectified_on.data = hall_today().isoformat()
        return _item_page("portal/request_rectified.html", form, unit, incident, problem=problem)
    if not form.validate_on_submit():
        abort(400)
    response = flow.apply(
        lambda: rectifications.report(
            incident,
            unit,
            typed_day(form.rectified_on.data, missing=_("请填写整改完成日期")),
            form.description.data,
            request.files.getlist("evidence"),
        ),
        show=form.description,
        done=_("整改情况已报告,请等待管理员确认"),
        to=url_for("portal.request_list") + "#rectifications",
        undo=lambda r: evidence.discard_files(_files_of(r)),
    )
    return response or _item_page("portal/request_rectified.html", form, unit, incident, 422, problem=problem)


@bp.route("/items/<int:incident_id>/extension", methods=["GET", "POST"])
@role_required(Role.UNIT)
def extension_new(incident_id: int):
    unit, incident = _incident_or_404(incident_id)
    form = ExtensionForm()
    if not rectifications.extension_allowed():
        # No button leads here; a typed address is refused in words (409: the rulebook, not the user).
        return _item_page(
            "portal/request_extension.html",
            form,
            unit,
            incident,
            409,
            problem=_("现行考核细则不允许申请延长整改期限"),
        )
    problem = rectifications.extension_problem(incident, unit)
    if request.method == "GET":
        return _item_page("portal/request_extension.html", form, unit, incident, problem=problem)
    if not form.validate_on_submit():
        abort(400)
    response = flow.apply(
        lambda: rectifications.request_extension(
            incident,
            unit,
            typed_day(form.deadline.data, missing=_("请填写申请的新整改期限")),
            form.reason.data,
        ),
        show=form.reason,
        done=_("延期申请已提交,请等待管理员处理"),
        to=url_for("portal.request_list") + "#rectifications",
    )
    return response or _item_page("portal/request_extension.html", form, unit, incident, 422, problem=problem)


@bp.route("/claims/new", methods=["GET", "POST"])
@role_required(Role.UNIT)
@kept_page(version=reader_version)
def claim_new():
    unit = _unit()
    form = ClaimForm()
    rules = claims.claimable_rules()
    form.rule_code.choices = [("", _("请选择加分项目"))] + [
        (r.code, f"{r.code} {r.title}(+{r.points})") for r in rules
    ]
    status = 200
    if request.method == "POST":
        if not form.validate_on_submit():
            abort(400)
        response = flow.apply(
            lambda: claims.submit(
                unit,
                form.rule_code.data or "",
                typed_day(form.occurred_on.data, missing=_("请填写获得表扬或报道的日期")),
                form.description.data,
                request.files.getlist("evidence"),
            ),
            show=form.description,
            done=_("加分申请已提交,请等待管理员审核"),
            to=url_for("portal.request_list") + "#claims",
            undo=lambda c: evidence.discard_files(_files_of(c)),
        )
        if response:
            return response
        status = 422
    elif not form.occurred_on.data:
        form.occurred_on.data = hall_today().isoformat()
    return render_template(
        "portal/request_claim.html", form=form, unit=unit, rules=rules, accept=EVIDENCE_ACCEPT
    ), status
