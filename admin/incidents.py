"""Logging incidents at the desk, the incidents list and detail, correcting and voiding, evidence, notices.

The views read the form, call services.incidents (services.warnings for "只记提醒") and render: what the
forms offer, every check of what was typed, and every write live in the services. Points always come from
the rulebook (through the scoring), never from a form. A change goes through admin.flow: one commit after
the service call; a refused change writes nothing (and no evidence file).
"""

from __future__ import annotations

from datetime import datetime

from flask import abort, flash, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import select
from wtforms import Field

import htmx
from admin import bp, flow
from admin.documents import document_page, kept_document, notice_filename
from admin.incident_forms import (
    EVIDENCE_ACCEPT,
    CorrectForm,
    EvidenceForm,
    IncidentFilterForm,
    IncidentForm,
    VoidForm,
)
from auth.access import own_unit_or_404, role_required
from models import Evidence, Incident, IncidentStatus, Posting, Role, Unit, User, db
from page_cache import kept_page, minute_version
from scoring import Rulebook, format_month, parse_month, signed_points
from services import DomainError, incidents, warnings
from services import evidence as evidence_service
from services import portal as portal_service
from services.clock import hall_now, hall_today, to_hall
from services.documents import issuing_office
from services.incidents import Choices, Draft, FieldProblems
from services.incidents_preview import draft_preview, incident_points, rule_of
from services.rulebooks import rulebook_for_month
from stored_files import send_stored
from ui import action_label, field_label

CATEGORY_LABELS = {"W": _l("窗口人员"), "C": _l("综窗后场")}
FORM_BLOCKS = ("unit_fields", "rule_fields", "preview")


@bp.app_template_global("incident_points")
def incident_points_global(incident: Incident) -> int | None:
    """The incident's own signed points as the scoring counts them (templates, the notice partial)."""
    return incident_points(incident)


# The office the notice and every document sign with (templates: `issuing_office()`).
bp.add_app_template_global(issuing_office, "issuing_office")


@bp.app_template_global("notice_number")
def notice_number(incident: Incident) -> str:
    """The notice's number, e.g. TZ-2024-03-000123 (month of the incident, then its id)."""
    day = to_hall(incident.occurred_at)
    return f"TZ-{day.year:04d}-{day.month:02d}-{incident.id:06d}"


def _int(value) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


# ------------------------------------------------------------------ the desk form and the correction form


def _typed_time(form) -> datetime | None:
    """The time typed on the form (naive hall time), None when the field could not read it."""
    value = form.occurred_at.data
    return value if isinstance(value, datetime) else None


def _offer(form, unit: Unit | None, exclude_id: int | None = None) -> Choices:
    """What the services offer for the values typed so far, set on the form's select fields."""
    offered = incidents.choices(
        unit, _typed_time(form), form.rule_code.data, form.staff_pk.data, exclude_id=exclude_id
    )
    if hasattr(form, "unit_id"):
        form.unit_id.choices = [("", _("请选择单位"))] + [
            (str(u.id), u.name) for u in incidents.offered_units()
        ]
    form.rule_code.choices = [("", _("请选择规则"))] + [
        (r.code, f"{r.code} {r.title}") for _group, rules in offered.groups for r in rules
    ]
    form.window.choices = [("", _("不指定窗口"))] + [
        (w, _("%(window)s 号窗口", window=w)) for w in (unit.window_list if unit else [])
    ]
    form.staff_pk.choices = [("", _("不指定人员"))] + [
        (str(s.id), f"{s.name}({s.staff_id})· {_category_label(p)}") for s, p in offered.staff
    ]
    form.linked_id.choices = [("", _("请选择所加扣的违规记录"))] + [
        (
            str(i.id),
            f"{to_hall(i.occurred_at):%m-%d %H:%M} {i.rule_code}"
            f"{' · ' + i.window + _('号窗') if i.window else ''}",
        )
        for i in offered.linked
    ]
    if offered.rule is not None:
        form.count.label.text = _("人数") if offered.rule.per_person else _("次数")
    return offered


def _category_label(posting: Posting) -> str:
    where = _("%(window)s 号窗口", window=posting.window) if posting.window else _("无窗口")
    return f"{where} · {str(CATEGORY_LABELS.get(posting.category, posting.category))}"


def _draft(form, unit: Unit | None) -> Draft:
    """The incident as typed (the service checks it)."""
    return Draft(
        unit=unit,
        unit_given=bool(form.unit_id.data) if hasattr(form, "unit_id") else True,
        occurred=_typed_time(form),
        rule_code=form.rule_code.data or "",
        count=form.count.data,
        staff_pk=form.staff_pk.data or "",
        window=form.window.data or "",
        linked_id=form.linked_id.data or "",
        deadline=form.deadline.data,
        rectified_on=form.rectified_on.data,
        exempt=bool(form.exempt.data),
        note=form.note.data or "",
        public_text=form.public_text.data or "",
    )


def _put(form, offered: Choices, problems: list[tuple[str, str]]) -> None:
    """Each (field, message) on its field; a field the page does not show (exempt on D01) gets it on the
    rule. A time the field could not read keeps only the field's own message."""
    rule = offered.rule
    for name, message in problems:
        if name == "occurred_at" and _typed_time(form) is None and form.occurred_at.errors:
            continue
        if name == "exempt" and not (rule and "exempt" in rule.requires):
            name = "rule_code"
        target = getattr(form, name, None)
        if not isinstance(target, Field):
            target = form.rule_code
        if message not in target.errors:
            target.errors = [*target.errors, message]


def _show(form, offered: Choices):
    """admin.flow's `show` for these forms: FieldProblems on their fields, any other message on the rule."""

    def show(error: DomainError) -> None:
        problems = error.problems if isinstance(error, FieldProblems) else [("rule_code", str(error))]
        _put(form, offered, problems)

    return show


def _render_form(form: IncidentForm, offered: Choices, status: int = 200):
    part = request.args.get("part")
    context = {
        "form": form,
        "state": offered,
        "rule": offered.rule,
        "signed": signed_points(offered.rule) if offered.rule else None,
        "preview": draft_preview(offered, form.count.data, bool(form.exempt.data), form.deadline.data),
        "accept": EVIDENCE_ACCEPT,
        "signed_map": {r.code: signed_points(r) for _group, rules in offered.groups for r in rules},
    }
    if request.method == "GET" and part in FORM_BLOCKS and htmx.is_htmx():
        return htmx.render_block("admin/incident_form.html", part, **context), status
    return render_template("admin/incident_form.html", **context), status


@bp.route("/incidents/new", methods=["GET", "POST"])
@role_required(Role.ADMIN, Role.INSPECTOR)
@kept_page(version=minute_version)
def incident_new():
    """The desk form; GET with values (htmx) re-renders one of its blocks as the inputs change."""
    now = hall_now().replace(second=0, microsecond=0, tzinfo=None)
    if request.method == "GET":
        form = IncidentForm(formdata=request.args, occurred_at=now)
        return _render_form(form, _offer(form, incidents.offered_unit(form.unit_id.data)))

    form = IncidentForm(occurred_at=now)
    offered = _offer(form, incidents.offered_unit(form.unit_id.data))
    actions = request.form.getlist("action")
    if "refresh" in actions:  # the no-JavaScript way to update the unit's windows and staff
        return _render_form(form, offered)
    draft = _draft(form, offered.unit)
    warning_only = "warning" in actions
    if not form.validate():
        if warning_only:
            _put(form, offered, warnings.problems(draft, offered))
        else:
            _put(form, offered, incidents.draft_problems(draft, offered)[1])
        return _render_form(form, offered, 422)
    if warning_only:  # "只记提醒": no points, read by the rules that depend on earlier warnings (D04b, D05b)
        response = flow.apply(
            lambda: warnings.give(draft, offered),
            show=_show(form, offered),
            done=lambda w: _("已记录对%(name)s的提醒(%(code)s,不扣分)", name=w.unit.name, code=w.rule_code),
            to=lambda w: url_for("admin.incident_new", unit_id=w.unit_id, rule_code=w.rule_code),
        )
    else:
        response = flow.apply(
            lambda: incidents.log_from_desk(draft, form.evidence.data, offered),
            show=_show(form, offered),
            done=lambda logged: _(
                "已登记 %(code)s %(title)s(附件 %(n)d 个)",
                code=logged[0].rule_code,
                title=offered.rule.title,
                n=len(logged[1]),
            ),
            to=lambda logged: url_for("admin.incident_detail", incident_id=logged[0].id),
            undo=lambda logged: evidence_service.discard_files(logged[1]),
        )
    return response or _render_form(form, offered, 422)


# ------------------------------------------------------------------ list


def _filter_choices(form: IncidentFilterForm, rulebook: Rulebook) -> None:
    units = db.session.scalars(select(Unit).order_by(Unit.display_order, Unit.code))
    form.unit_id.choices = [("", _("全部单位"))] + [(str(u.id), u.name) for u in units]
    form.rule_code.choices = [("", _("全部规则"))] + [
        (r.code, f"{r.code} {r.title}") for r in rulebook.rules if not r.derived
    ]
    form.status.choices = [("", _("全部状态"))] + [
        (s.value, label)
        for s, label in (
            (IncidentStatus.CONFIRMED, _("已确认")),
            (IncidentStatus.PROPOSED, _("待确认")),
            (IncidentStatus.VOIDED, _("已作废")),
            (IncidentStatus.DISMISSED, _("已驳回")),
        )
    ]
    users = db.session.scalars(
        select(User).where(User.role.in_([Role.ADMIN, Role.INSPECTOR])).order_by(User.username)
    )
    form.recorded_by.choices = [("", _("全部登记人"))] + [(str(u.id), u.label) for u in users]


@bp.route("/incidents")
@role_required(Role.ADMIN, Role.INSPECTOR, Role.LEADER)
@kept_page
def incident_list():
    """Incidents of a month, filtered and paginated in the database; the filter form swaps only the table
    block (htmx). A page past the last one is empty (with a link back); bad filters are a 422."""
    from services import incident_list as incident_list_service

    args = request.args.to_dict()
    args.setdefault("month", hall_today().strftime("%Y-%m"))
    from werkzeug.datastructures import MultiDict

    form = IncidentFilterForm(formdata=MultiDict(args))
    form.validate()  # first: it resets the errors the checks below add
    year_month = None
    try:
        year_month = parse_month((form.month.data or "").strip())
    except ValueError:
        form.month.errors = [_("月份格式应为 YYYY-MM,如 2024-03")]
    rulebook = (
        rulebook_for_month(*year_month)
        if year_month
        else rulebook_for_month(hall_today().year, hall_today().month)
    )
    _filter_choices(form, rulebook)
    for name, choices in (
        ("unit_id", form.unit_id.choices),
        ("rule_code", form.rule_code.choices),
        ("status", form.status.choices),
        ("recorded_by", form.recorded_by.choices),
    ):
        value = getattr(form, name).data
        if value and value not in {c[0] for c in choices}:
            getattr(form, name).errors = [_("筛选条件无效")]
    if year_month and not form.month.errors:
        problem = incident_list_service.month_problem(*year_month)
        if problem:
            form.month.errors = [problem]
    bad = any(f.errors for f in form)
    page = form.page.data if isinstance(form.page.data, int) and form.page.data >= 1 else 1
    listed = incident_list_service.ListPage(rows=[], total=0, page=1, pages=1)
    if not bad:
        listed = incident_list_service.list_page(
            incident_list_service.ListFilter(
                *year_month,
                unit_id=_int(form.unit_id.data),
                rule_code=form.rule_code.data or None,
                status=form.status.data or None,
                recorded_by_id=_int(form.recorded_by.data),
            ),
            min(page, incident_list_service.MAX_INT),
            rulebook,
        )
    filters = {k: v for k, v in args.items() if k != "page" and v}
    body = htmx.render_page_or_block(
        "admin/incident_list.html",
        "table",
        form=form,
        listed=listed,
        filters=filters,
        rules={r.code: r for r in rulebook.rules},
        month_label=format_month(*year_month) if year_month else "",
    )
    return body, 422 if bad else 200


# ------------------------------------------------------------------ detail, correct, void


def _incident_or_404(incident_id: int) -> Incident:
    return db.get_or_404(Incident, incident_id)


def _history(incident: Incident) -> list[dict]:
    """History rows with the fields each change touched (against the snapshot before it)."""
    out, previous = [], None
    for h in incident.history:
        changed = []
        if previous is not None:
            for key, value in h.snapshot.items():
                if previous.get(key) != value:
                    changed.append((key, field_label(key), previous.get(key), value))
        out.append({"row": h, "action": action_label(f"incident.{h.action}"), "changed": changed})
        previous = h.snapshot
    return out


def _detail(
    incident: Incident,
    status: int = 200,
    void_form: VoidForm | None = None,
    evidence_form: EvidenceForm | None = None,
):
    return render_template(
        "admin/incident_detail.html",
        incident=incident,
        rule=rule_of(incident),
        points=incident_points(incident),
        history=_history(incident),
        linked_by=incidents.linked_to(incident),
        number=notice_number(incident),
        month_open=incidents.month_open(incident),
        void_form=void_form or VoidForm(),
        evidence_form=evidence_form or EvidenceForm(),
        accept=EVIDENCE_ACCEPT,
        displayable=evidence_service.displayable,
        can_admin=_is_admin(),
        can_add_evidence=_can_add_evidence(),
    ), status


def _is_admin() -> bool:
    from flask_login import current_user

    return current_user.role == Role.ADMIN


def _can_add_evidence() -> bool:
    from flask_login import current_user

    return current_user.role in (Role.ADMIN, Role.INSPECTOR)


def _field_and_flash(form_field: Field):
    """Show a refusal on the field and as a flash (the detail page hides its forms in a closed month)."""

    def show(error: DomainError) -> None:
        flow.show_error(form_field, error)
        flash(str(error), "error")

    return show


@bp.route("/incidents/<int:incident_id>")
@role_required(Role.ADMIN, Role.INSPECTOR, Role.LEADER)
@kept_page
def incident_detail(incident_id: int):
    return _detail(_incident_or_404(incident_id))


@bp.route("/incidents/<int:incident_id>/void", methods=["POST"])
@role_required(Role.ADMIN)
def incident_void(incident_id: int):
    incident = _incident_or_404(incident_id)
    form = VoidForm()
    if form.validate_on_submit():
        response = flow.apply(
            lambda: incidents.void(incident, form.reason.data),
            show=_field_and_flash(form.reason),
            done=_("已作废该记录,不再计分"),
            to=url_for("admin.incident_detail", incident_id=incident.id),
        )
        if response:
            return response
    return _detail(incident, 422, void_form=form)


def _correct_defaults(incident: Incident) -> dict:
    return {
        "occurred_at": to_hall(incident.occurred_at).replace(tzinfo=None, second=0, microsecond=0),
        "rule_code": incident.rule_code,
        "window": incident.window or "",
        "staff_pk": str(incident.staff_pk) if incident.staff_pk else "",
        "count": incident.count,
        "exempt": incident.exempt,
        "deadline": incident.deadline,
        "rectified_on": incident.rectified_on,
        "linked_id": str(incident.linked_id) if incident.linked_id else "",
        "note": incident.note,
        "public_text": incident.public_text,
    }


@bp.route("/incidents/<int:incident_id>/correct", methods=["GET", "POST"])
@role_required(Role.ADMIN)
@kept_page
def incident_correct(incident_id: int):
    incident = _incident_or_404(incident_id)
    form = CorrectForm(data=_correct_defaults(incident)) if request.method == "GET" else CorrectForm()
    offered = _offer(form, incident.unit, exclude_id=incident.id)
    context = {
        "incident": incident,
        "form": form,
        "state": offered,
        "rule": offered.rule,
        "signed": signed_points(offered.rule) if offered.rule else None,
        "number": notice_number(incident),
        "month_open": incidents.month_open(incident),
    }
    if request.method == "GET":
        return render_template("admin/incident_correct.html", **context)
    draft = _draft(form, incident.unit)
    response = None
    if not form.validate():
        _put(form, offered, incidents.correction_problems(incident, draft, offered)[1])
    else:
        response = flow.apply(
            lambda: incidents.correct_from_form(incident, draft, form.reason.data, offered),
            show=_show(form, offered),
            done=_("已修改该记录"),
            to=url_for("admin.incident_detail", incident_id=incident.id),
        )
    return response or (render_template("admin/incident_correct.html", **context), 422)


@bp.route("/incidents/<int:incident_id>/notice")
@role_required(Role.ADMIN, Role.INSPECTOR, Role.LEADER)
@kept_document
def incident_notice(incident_id: int):
    """违规违纪通知单: print-ready, A4 portrait; the body is templates/_notice.html."""
    incident = _incident_or_404(incident_id)
    rule = rule_of(incident)
    return document_page(
        "admin/incident_notice.html",
        filename=notice_filename(rule, notice_number(incident)),
        incident=incident,
        rule=rule,
        number=notice_number(incident),
    )


# ------------------------------------------------------------------ evidence


@bp.route("/incidents/<int:incident_id>/evidence", methods=["POST"])
@role_required(Role.ADMIN, Role.INSPECTOR)
def evidence_add(incident_id: int):
    incident = _incident_or_404(incident_id)
    form = EvidenceForm()
    if form.validate_on_submit():
        response = flow.apply(
            lambda: incidents.add_evidence(incident, form.evidence.data),
            show=_field_and_flash(form.evidence),
            done=lambda rows: _("已添加附件 %(n)d 个", n=len(rows)),
            to=url_for("admin.incident_detail", incident_id=incident.id),
            undo=evidence_service.discard_files,
        )
        if response:
            return response
    return _detail(incident, 422, evidence_form=form)


@bp.route("/evidence/<int:evidence_id>")
@role_required(Role.ADMIN, Role.INSPECTOR, Role.LEADER, Role.UNIT)
def evidence_file(evidence_id: int):
    """A stored photo, for whoever may see its incident (a unit user: only its own unit's, and only of an
    incident the portal shows it: never of a proposal)."""
    row = db.get_or_404(Evidence, evidence_id)
    own_unit_or_404(row.incident.unit_id)
    if current_user.role == Role.UNIT and row.incident.status not in portal_service.VISIBLE_STATUSES:
        abort(404)
    return send_stored(evidence_service.path_of(row), row.filename)
