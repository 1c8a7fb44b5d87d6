"""Logging incidents at the desk, the incidents list and detail, correcting and voiding, evidence, notices.

Points always come from the rulebook (through the scoring), never from a form. Every page that changes
something commits once, after the service calls; a refused change writes nothing (and no evidence file).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from flask import abort, flash, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

import htmx
from admin import bp
from admin.incident_forms import (
    EVIDENCE_ACCEPT,
    CorrectForm,
    EvidenceForm,
    IncidentFilterForm,
    IncidentForm,
    VoidForm,
)
from auth.access import own_unit_or_404, role_required
from models import (
    Evidence,
    Incident,
    IncidentStatus,
    Posting,
    Role,
    Staff,
    Unit,
    User,
    Warning,
    db,
)
from scoring import Rule, Rulebook, RuleKind, format_month, parse_month
from services import DomainError, incidents
from services import evidence as evidence_service
from services.audit import acting_user_id, record
from services.clock import from_hall, hall_now, hall_today, month_utc_range, to_hall, utc_now
from services.incidents_preview import incident_points, points_by_id, preview, rule_of
from services.months import is_open
from services.rulebooks import rulebook_for_month
from ui import action_label, field_label

PAGE_SIZE = 50
CATEGORY_LABELS = {"W": _l("窗口人员"), "C": _l("综窗后场")}
FORM_BLOCKS = ("unit_fields", "rule_fields", "preview")


@bp.app_template_global("incident_points")
def incident_points_global(incident: Incident) -> int | None:
    """The incident's own signed points as the scoring counts them (templates, the notice partial)."""
    return incident_points(incident)


@bp.app_template_global("notice_number")
def notice_number(incident: Incident) -> str:
    """The notice's number, e.g. TZ-2024-03-000123 (month of the incident, then its id)."""
    day = to_hall(incident.occurred_at)
    return f"TZ-{day.year:04d}-{day.month:02d}-{incident.id:06d}"


def signed_points(rule: Rule) -> int:
    return rule.points if rule.kind == RuleKind.BONUS else -rule.points


# ------------------------------------------------------------------ the desk form's state


@dataclass
class FormState:
    """What the desk form (and the correction form) offer for the values typed so far."""

    units: list[Unit]
    unit: Unit | None
    day: date
    occurred_at: datetime | None  # aware UTC
    rulebook: Rulebook
    rule: Rule | None
    groups: list[tuple[str, list[Rule]]]
    staff: list[tuple[Staff, Posting]]
    linked: list[Incident]
    warnings: list[Warning] = field(default_factory=list)


def _active_units() -> list[Unit]:
    return list(
        db.session.scalars(select(Unit).where(Unit.active.is_(True)).order_by(Unit.display_order, Unit.code))
    )


def _int(value) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _staff_on(unit: Unit, day: date) -> list[tuple[Staff, Posting]]:
    rows = db.session.execute(
        select(Staff, Posting)
        .join(Posting, Posting.staff_pk == Staff.id)
        .where(
            Posting.unit_id == unit.id,
            Posting.start_date <= day,
            (Posting.end_date.is_(None)) | (Posting.end_date >= day),
        )
        .order_by(Posting.window, Staff.name)
    )
    return [(s, p) for s, p in rows]


def _groups(rulebook: Rulebook) -> list[tuple[str, list[Rule]]]:
    """Rules grouped as rulebook.md lists them (deductions by heading, then bonuses); D19b is not offered."""
    groups: dict[str, list[Rule]] = {}
    for rule in rulebook.rules:
        if not rule.derived:
            groups.setdefault(rule.group or _("其他"), []).append(rule)
    return list(groups.items())


def _linked_choices(unit: Unit, day: date, exclude_id: int | None = None) -> list[Incident]:
    """D15's violation: the unit's confirmed deductions of the month (not another linked rule like D15)."""
    start, end = month_utc_range(day.year, day.month)
    rulebook = rulebook_for_month(day.year, day.month)
    deductions = {
        r.code for r in rulebook.rules if r.kind == RuleKind.DEDUCTION and "linked" not in r.requires
    }
    rows = db.session.scalars(
        select(Incident)
        .where(
            Incident.unit_id == unit.id,
            Incident.status == IncidentStatus.CONFIRMED,
            Incident.occurred_at >= start,
            Incident.occurred_at < end,
            Incident.rule_code.in_(deductions),
        )
        .order_by(Incident.occurred_at.desc())
    )
    return [i for i in rows if i.id != exclude_id]


def _warnings(unit: Unit, rule: Rule, staff_pk: int | None) -> list[Warning]:
    query = select(Warning).where(Warning.unit_id == unit.id, Warning.rule_code == rule.code)
    if staff_pk:
        query = query.where((Warning.staff_pk == staff_pk) | (Warning.staff_pk.is_(None)))
    return list(db.session.scalars(query.order_by(Warning.given_at.desc()).limit(20)))


def _state(form, unit: Unit | None, exclude_id: int | None = None) -> FormState:
    """Work out the choices from the form's current values and set them on the form's select fields."""
    occurred = form.occurred_at.data
    occurred_at = from_hall(occurred) if isinstance(occurred, datetime) else None
    day = to_hall(occurred_at).date() if occurred_at else hall_today()
    rulebook = rulebook_for_month(day.year, day.month)
    rule = None
    if form.rule_code.data:
        try:
            rule = rulebook.rule(form.rule_code.data)
        except KeyError:
            rule = None
    if rule is not None and rule.derived:
        rule = None
    units = _active_units()
    staff = _staff_on(unit, day) if unit else []
    linked = _linked_choices(unit, day, exclude_id) if unit and rule and "linked" in rule.requires else []
    warnings = _warnings(unit, rule, _int(form.staff_pk.data)) if unit and rule and rule.warning_rule else []

    if hasattr(form, "unit_id"):
        form.unit_id.choices = [("", _("请选择单位"))] + [(str(u.id), u.name) for u in units]
    form.rule_code.choices = [("", _("请选择规则"))] + [
        (r.code, f"{r.code} {r.title}") for _group, rules in _groups(rulebook) for r in rules
    ]
    form.window.choices = [("", _("不指定窗口"))] + [
        (w, _("%(window)s 号窗口", window=w)) for w in (unit.window_list if unit else [])
    ]
    form.staff_pk.choices = [("", _("不指定人员"))] + [
        (str(s.id), f"{s.name}({s.staff_id})· {_category_label(p)}") for s, p in staff
    ]
    form.linked_id.choices = [("", _("请选择所加扣的违规记录"))] + [
        (
            str(i.id),
            f"{to_hall(i.occurred_at):%m-%d %H:%M} {i.rule_code}"
            f"{' · ' + i.window + _('号窗') if i.window else ''}",
        )
        for i in linked
    ]
    if rule is not None:
        form.count.label.text = _("人数") if rule.per_person else _("次数")
    return FormState(
        units=units,
        unit=unit,
        day=day,
        occurred_at=occurred_at,
        rulebook=rulebook,
        rule=rule,
        groups=_groups(rulebook),
        staff=staff,
        linked=linked,
        warnings=warnings,
    )


def _category_label(posting: Posting) -> str:
    where = _("%(window)s 号窗口", window=posting.window) if posting.window else _("无窗口")
    return f"{where} · {str(CATEGORY_LABELS.get(posting.category, posting.category))}"


def _form_unit(form: IncidentForm) -> Unit | None:
    unit_id = _int(form.unit_id.data)
    unit = db.session.get(Unit, unit_id) if unit_id else None
    return unit if unit is not None and unit.active else None


def _clean(form, state: FormState, unit: Unit | None) -> dict | None:
    """The incident's values from a field-valid form, or None after putting Chinese messages on fields."""
    ok = True

    def fail(field_, message: str) -> None:
        nonlocal ok
        field_.errors = [*field_.errors, message]
        ok = False

    if unit is None:
        fail(form.unit_id, _("请选择单位") if not form.unit_id.data else _("所选单位不存在或已停用"))
    if state.occurred_at is None:
        return None
    if state.occurred_at > utc_now() + timedelta(minutes=5):
        fail(form.occurred_at, _("发生时间不能晚于现在"))
    rule = state.rule
    if rule is None:
        fail(
            form.rule_code,
            _("请选择考核规则")
            if not form.rule_code.data
            else _("规则 %(code)s 不存在或不能手工登记", code=form.rule_code.data),
        )
    staff = None
    if form.staff_pk.data:
        chosen = {str(s.id): (s, p) for s, p in state.staff}
        if form.staff_pk.data not in chosen:
            fail(form.staff_pk, _("该人员在发生日期不在所选单位"))
        else:
            staff = chosen[form.staff_pk.data][0]
    window = form.window.data or None
    if window and unit and window not in unit.window_list:
        fail(form.window, _("窗口 %(window)s 不属于%(name)s", window=window, name=unit.name))
    if unit is None or rule is None:
        return None
    linked = None
    if "linked" in rule.requires:
        chosen = {str(i.id): i for i in state.linked}
        if not form.linked_id.data:
            fail(form.linked_id, _("%(code)s 必须选择所加扣的违规记录", code=rule.code))
        elif form.linked_id.data not in chosen:
            fail(form.linked_id, _("所选违规记录不是该单位本月已确认的扣分记录"))
        else:
            linked = chosen[form.linked_id.data]
    has_deadline = "deadline" in rule.requires
    values = {
        "unit": unit,
        "rule_code": rule.code,
        "occurred_at": state.occurred_at,
        "count": form.count.data,
        "staff": staff,
        "window": window,
        "note": (form.note.data or "").strip(),
        "public_text": (form.public_text.data or "").strip(),
        "deadline": form.deadline.data if has_deadline else None,
        "rectified_on": form.rectified_on.data if has_deadline else None,
        "exempt": bool(form.exempt.data),
        "linked": linked,
    }
    posting = staff.posting_on(state.day) if staff else None
    problems = incidents.rule_problems(
        state.rulebook,
        rule.code,
        count=values["count"],
        staff_category=posting.category if posting else None,
        deadline=values["deadline"],
        exempt=values["exempt"],
        window=window,
        unit=unit,
    )
    # A field the rule does not show (exempt on D01) carries its message on the rule instead.
    targets = {
        "staff_id": form.staff_pk,
        "rule_code": form.rule_code,
        "count": form.count,
        "deadline": form.deadline,
        "window": form.window,
        "exempt": form.exempt if "exempt" in rule.requires else form.rule_code,
    }
    for name, message in problems:
        if message not in targets.get(name, form.rule_code).errors:
            fail(targets.get(name, form.rule_code), message)
    if not is_open(state.day.year, state.day.month):
        fail(
            form.occurred_at,
            _(
                "%(y)d年%(m)d月已关账,不能登记或修改该月的记录;如确需修改,请先重新开放该月",
                y=state.day.year,
                m=state.day.month,
            ),
        )
    return values if ok else None


def _preview(form, state: FormState) -> dict:
    """The preview block's data: the unit's score, grade and rank before and after the draft."""
    rule, unit = state.rule, state.unit
    if unit is None or rule is None or state.occurred_at is None:
        return {"hint": _("选择单位、规则和发生时间后,这里显示登记后本单位的得分、等级和排名。")}
    count = form.count.data if isinstance(form.count.data, int) and form.count.data >= 1 else None
    if count is None:
        return {"hint": _("次数须为不小于 1 的整数。")}
    if "deadline" in rule.requires and not form.deadline.data:
        return {"hint": _("%(code)s 填写整改期限后显示预览。", code=rule.code)}
    try:
        return preview(unit, rule.code, state.occurred_at, count, bool(form.exempt.data), form.deadline.data)
    except ValueError as error:
        return {"hint": str(error)}


def _render_form(form: IncidentForm, state: FormState, status: int = 200):
    part = request.args.get("part")
    context = {
        "form": form,
        "state": state,
        "rule": state.rule,
        "signed": signed_points(state.rule) if state.rule else None,
        "preview": _preview(form, state),
        "accept": EVIDENCE_ACCEPT,
        "signed_map": {r.code: signed_points(r) for _group, rules in state.groups for r in rules},
    }
    if request.method == "GET" and part in FORM_BLOCKS and htmx.is_htmx():
        return htmx.render_block("admin/incident_form.html", part, **context), status
    return render_template("admin/incident_form.html", **context), status


@bp.route("/incidents/new", methods=["GET", "POST"])
@role_required(Role.ADMIN, Role.INSPECTOR)
def incident_new():
    """The desk form; GET with values (htmx) re-renders one of its blocks as the inputs change."""
    now = hall_now().replace(second=0, microsecond=0, tzinfo=None)
    if request.method == "GET":
        form = IncidentForm(formdata=request.args, occurred_at=now)
        return _render_form(form, _state(form, _form_unit(form)))

    form = IncidentForm(occurred_at=now)
    unit = _form_unit(form)
    state = _state(form, unit)
    actions = request.form.getlist("action")
    if "refresh" in actions:  # the no-JavaScript way to update the unit's windows and staff
        return _render_form(form, state)
    if not form.validate():
        _clean(form, state, unit)
        return _render_form(form, state, 422)
    if "warning" in actions:
        return _save_warning(form, state, unit)
    values = _clean(form, state, unit)
    if values is None:
        return _render_form(form, state, 422)
    try:
        uploads = evidence_service.read_uploads(form.evidence.data)
    except DomainError as error:
        form.evidence.errors = [*form.evidence.errors, str(error)]
        return _render_form(form, state, 422)
    stored: list[Evidence] = []
    try:
        incident = incidents.create(
            values.pop("unit"), values.pop("rule_code"), values.pop("occurred_at"), source="desk", **values
        )
        stored = evidence_service.store(incident, uploads)
        db.session.commit()
    except DomainError as error:
        db.session.rollback()
        evidence_service.discard_files(stored)
        form.rule_code.errors = [*form.rule_code.errors, str(error)]
        return _render_form(form, state, 422)
    except Exception:
        db.session.rollback()
        evidence_service.discard_files(stored)
        raise
    flash(
        _(
            "已登记 %(code)s %(title)s(附件 %(n)d 个)",
            code=state.rule.code,
            title=state.rule.title,
            n=len(stored),
        ),
        "success",
    )
    return redirect(url_for("admin.incident_detail", incident_id=incident.id))


def _save_warning(form: IncidentForm, state: FormState, unit: Unit | None):
    """ "只记提醒": a Warning with no points, for the rules that depend on earlier warnings (D04b, D05b)."""
    rule = state.rule
    if unit is None:
        form.unit_id.errors = [_("请选择单位")]
    if rule is None or not rule.warning_rule:
        form.rule_code.errors = [_("只有“提醒后仍不改正”一类的规则(如 D04b、D05b)可以只记提醒")]
    staff_ids = {str(s.id): s for s, _p in state.staff}
    if form.staff_pk.data and form.staff_pk.data not in staff_ids:
        form.staff_pk.errors = [_("该人员在发生日期不在所选单位")]
    if form.window.data and unit and form.window.data not in unit.window_list:
        form.window.errors = [_("窗口 %(window)s 不属于%(name)s", window=form.window.data, name=unit.name)]
    if state.occurred_at and state.occurred_at > utc_now() + timedelta(minutes=5):
        form.occurred_at.errors = [_("发生时间不能晚于现在")]
    if any(f.errors for f in form):
        return _render_form(form, state, 422)
    warning = Warning(
        unit=unit,
        staff=staff_ids.get(form.staff_pk.data),
        window=form.window.data or None,
        rule_code=rule.code,
        given_at=state.occurred_at,
        given_by_id=acting_user_id(),
        text=(form.public_text.data or form.note.data or "").strip(),
    )
    db.session.add(warning)
    db.session.flush()
    record(
        "warning.create",
        f"warning:{warning.id}",
        after={
            "unit": unit.code,
            "rule_code": rule.code,
            "staff": warning.staff.staff_id if warning.staff else None,
            "window": warning.window,
            "given_at": to_hall(warning.given_at).strftime("%Y-%m-%d %H:%M"),
            "text": warning.text,
        },
    )
    db.session.commit()
    flash(_("已记录对%(name)s的提醒(%(code)s,不扣分)", name=unit.name, code=rule.code), "success")
    return redirect(url_for("admin.incident_new", unit_id=unit.id, rule_code=rule.code))


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
    rule = rule_of(incident)
    linked_by = list(
        db.session.scalars(select(Incident).where(Incident.linked_id == incident.id).order_by(Incident.id))
    )
    day = to_hall(incident.occurred_at)
    return render_template(
        "admin/incident_detail.html",
        incident=incident,
        rule=rule,
        points=incident_points(incident),
        history=_history(incident),
        linked_by=linked_by,
        number=notice_number(incident),
        month_open=is_open(day.year, day.month),
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


@bp.route("/incidents/<int:incident_id>")
@role_required(Role.ADMIN, Role.INSPECTOR, Role.LEADER)
def incident_detail(incident_id: int):
    return _detail(_incident_or_404(incident_id))


@bp.route("/incidents/<int:incident_id>/void", methods=["POST"])
@role_required(Role.ADMIN)
def incident_void(incident_id: int):
    incident = _incident_or_404(incident_id)
    form = VoidForm()
    if not form.validate_on_submit():
        return _detail(incident, 422, void_form=form)
    try:
        incidents.void(incident, form.reason.data)
        db.session.commit()
    except DomainError as error:
        db.session.rollback()
        form.reason.errors = [*form.reason.errors, str(error)]
        flash(str(error), "error")  # the form is hidden when the month is closed
        return _detail(incident, 422, void_form=form)
    flash(_("已作废该记录,不再计分"), "success")
    return redirect(url_for("admin.incident_detail", incident_id=incident.id))


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


def _changes(incident: Incident, values: dict) -> dict:
    """Only what differs from the stored incident, in the service's field names."""
    wanted = {
        "rule_code": values["rule_code"],
        "occurred_at": values["occurred_at"],
        "count": values["count"],
        "staff_pk": values["staff"].id if values["staff"] else None,
        "window": values["window"],
        "note": values["note"],
        "public_text": values["public_text"],
        "deadline": values["deadline"],
        "rectified_on": values["rectified_on"],
        "exempt": values["exempt"],
        "linked_id": values["linked"].id if values["linked"] else None,
    }
    return {k: v for k, v in wanted.items() if getattr(incident, k) != v}


@bp.route("/incidents/<int:incident_id>/correct", methods=["GET", "POST"])
@role_required(Role.ADMIN)
def incident_correct(incident_id: int):
    incident = _incident_or_404(incident_id)
    defaults = _correct_defaults(incident)
    form = CorrectForm(data=defaults) if request.method == "GET" else CorrectForm()
    state = _state(form, incident.unit, exclude_id=incident.id)
    context = {
        "incident": incident,
        "form": form,
        "state": state,
        "rule": state.rule,
        "signed": signed_points(state.rule) if state.rule else None,
        "number": notice_number(incident),
    }
    day = to_hall(incident.occurred_at)
    context["month_open"] = is_open(day.year, day.month)
    if request.method == "GET":
        return render_template("admin/incident_correct.html", **context)
    if incident.status == IncidentStatus.VOIDED:
        form.reason.errors = [_("已作废的记录不能修改")]
        return render_template("admin/incident_correct.html", **context), 422
    valid = form.validate()
    values = _clean(form, state, incident.unit) if state.occurred_at else None
    if not context["month_open"]:
        form.occurred_at.errors = [
            *form.occurred_at.errors,
            _("%(y)d年%(m)d月已关账,不能修改该月的记录;如确需修改,请先重新开放该月", y=day.year, m=day.month),
        ]
    if not valid or values is None or not context["month_open"]:
        return render_template("admin/incident_correct.html", **context), 422
    changes = _changes(incident, values)
    if not changes:
        form.reason.errors = [_("没有任何改动")]
        return render_template("admin/incident_correct.html", **context), 422
    try:
        incidents.correct(incident, changes, form.reason.data)
        db.session.commit()
    except DomainError as error:
        db.session.rollback()
        form.reason.errors = [str(error)]
        return render_template("admin/incident_correct.html", **context), 422
    flash(_("已修改该记录"), "success")
    return redirect(url_for("admin.incident_detail", incident_id=incident.id))


@bp.route("/incidents/<int:incident_id>/notice")
@role_required(Role.ADMIN, Role.INSPECTOR, Role.LEADER)
def incident_notice(incident_id: int):
    """违规违纪通知单: print-ready, A4 portrait; the body is templates/_notice.html."""
    incident = _incident_or_404(incident_id)
    return render_template(
        "admin/incident_notice.html",
        incident=incident,
        rule=rule_of(incident),
        number=notice_number(incident),
    )


# ------------------------------------------------------------------ evidence


@bp.route("/incidents/<int:incident_id>/evidence", methods=["POST"])
@role_required(Role.ADMIN, Role.INSPECTOR)
def evidence_add(incident_id: int):
    incident = _incident_or_404(incident_id)
    form = EvidenceForm()
    if not form.validate_on_submit():
        return _detail(incident, 422, evidence_form=form)
    stored: list[Evidence] = []
    try:
        uploads = evidence_service.read_uploads(form.evidence.data)
        if not uploads:
            raise DomainError(_("请选择要添加的照片"))
        if incident.status == IncidentStatus.VOIDED:
            raise DomainError(_("已作废的记录不能添加附件"))
        day = to_hall(incident.occurred_at)
        if not is_open(day.year, day.month):
            raise DomainError(
                _(
                    "%(y)d年%(m)d月已关账,不能修改该月的记录;如确需修改,请先重新开放该月",
                    y=day.year,
                    m=day.month,
                )
            )
        stored = evidence_service.store(incident, uploads)
        db.session.commit()
    except DomainError as error:
        db.session.rollback()
        evidence_service.discard_files(stored)
        form.evidence.errors = [*form.evidence.errors, str(error)]
        flash(str(error), "error")
        return _detail(incident, 422, evidence_form=form)
    except Exception:
        db.session.rollback()
        evidence_service.discard_files(stored)
        raise
    flash(_("已添加附件 %(n)d 个", n=len(stored)), "success")
    return redirect(url_for("admin.incident_detail", incident_id=incident.id))


@bp.route("/evidence/<int:evidence_id>")
@role_required(Role.ADMIN, Role.INSPECTOR, Role.LEADER, Role.UNIT)
def evidence_file(evidence_id: int):
    """A stored photo, for whoever may see its incident (a unit user: only its own unit's)."""
    row = db.get_or_404(Evidence, evidence_id)
    own_unit_or_404(row.incident.unit_id)
    path = evidence_service.path_of(row)
    if not path.is_file():
        abort(404)
    response = send_file(
        path,
        mimetype=row.content_type,
        as_attachment=False,
        download_name=row.filename,
        conditional=True,
        max_age=0,
    )
    response.headers["Cache-Control"] = "private, max-age=3600"
    response.headers["X-Content-Type-Options"] = "nosniff"
    disposition = response.headers.get("Content-Disposition", "inline")
    if not disposition.startswith("inline"):
        disposition = "inline"
    response.headers["Content-Disposition"] = disposition
    return response
