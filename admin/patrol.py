"""The patrol sheet on a tablet (日常巡查扣分表): tap a cell to log, tap again within a minute to undo;
and its printable blank for days when paper is used.

A tap answers with the cell's fragment (a block of the sheet's template) and opens the tap's record in the
panel (#patrol-record, out of band) to add the staff member, a photo and a remark; a refusal answers 422
with a message retargeted to #flash, so the cell keeps its state.
"""

from __future__ import annotations

from datetime import date, time, timedelta

from flask import flash, make_response, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from jinja2.utils import htmlsafe_json_dumps
from markupsafe import Markup
from sqlalchemy.exc import IntegrityError
from wtforms import MultipleFileField, SelectField, StringField
from wtforms.validators import Length

import htmx
from admin import bp
from admin.documents import document_page, kept_document
from admin.incident_forms import EVIDENCE_ACCEPT, PatrolTapForm, PatrolUndoForm
from auth.access import role_required
from models import Incident, IncidentStatus, Role, Unit, db
from page_cache import kept_page
from scoring import Rule, signed_points
from security import int_arg, whole_number
from services import DomainError
from services import evidence as evidence_service
from services import patrol as patrol_service
from services.audit import acting_user_id
from services.bounds import first_rulebook_day
from services.clock import hall_today, to_hall

SHEET = "admin/patrol_sheet.html"
RECORD = "admin/patrol_record.html"


class PatrolDetailForm(FlaskForm):
    """The record panel: the staff member, a remark and photos added to a tap (checked by the services)."""

    staff_pk = SelectField(_l("人员"), choices=[], validate_choice=False)
    note = StringField(_l("备注"), validators=[Length(max=1000, message=_l("备注不能超过 1000 字"))])
    evidence = MultipleFileField(_l("照片"))


def short_title(rule: Rule) -> str:
    """A column head: the title without its parenthetical detail (the full text is in the cell's tooltip)."""
    for mark in ("(", "("):
        if mark in rule.title:
            return rule.title.split(mark, 1)[0]
    return rule.title


def _day_arg() -> tuple[date, str | None]:
    """The day asked for (?date=), or today with the reason when it is not a date, is still to come, or
    is before the first rulebook (nothing was patrolled then)."""
    text = (request.args.get("date") or "").strip()
    today = hall_today()
    if not text:
        return today, None
    try:
        day = date.fromisoformat(text)
    except ValueError:
        return today, _("日期格式应为 YYYY-MM-DD,如 2024-03-20;已显示今天")
    if day > today:
        return today, _("%(day)s 还没有到,已显示今天", day=day.isoformat())
    first = first_rulebook_day()
    if first is not None and day < first:
        return today, _(
            "%(day)s 早于考核细则的生效日期 %(first)s,已显示今天",
            day=day.isoformat(),
            first=first.isoformat(),
        )
    return day, None


def _cell(
    unit: Unit,
    window: str,
    rule: Rule,
    day: date,
    count: int,
    recent: Incident | None,
    editable: bool,
    message: str = "",
) -> dict:
    seconds = patrol_service.undo_seconds_left(recent) if recent is not None else 0
    vals = {"unit_id": unit.id, "window": window, "rule_code": rule.code, "date": day.isoformat()}
    return {
        "key": f"{unit.id}|{window}|{rule.code}",
        "unit": unit,
        "window": window,
        "rule": rule,
        "count": count,
        "recent": recent if seconds > 0 else None,
        "seconds": seconds,
        "editable": editable,
        "message": message,
        "vals": vals,
        # Built here once rather than through a dozen template look-ups per cell (a sheet has ~750).
        "vals_json": htmlsafe_json_dumps(vals),
        "label": f"{unit.name} {window} {rule.code}",
    }


def _urls() -> dict[str, str]:
    """The cells' three addresses, built once per page (not 3 × 15,000 url_for calls): the cell's own
    ids ride in its hx-vals (a tap's POST body, the record panel's query string)."""
    return {
        "tap": url_for("admin.patrol_tap"),
        "undo": url_for("admin.patrol_undo"),
        "record": url_for("admin.patrol_record"),
    }


def _columns(rules: list[Rule]) -> list[dict]:
    return [{"rule": r, "short": short_title(r), "signed": signed_points(r)} for r in rules]


def _chosen_group(groups: list[patrol_service.Group], jump: int | None) -> patrol_service.Group | None:
    """The group shown: the jumped-to unit's, else ?group=N (1 when missing or out of range)."""
    if not groups:
        return None
    if jump is not None:
        return next(g for g in groups if any(u.id == jump for u in g.units))
    number = int_arg("group") or 1
    return groups[number - 1] if 1 <= number <= len(groups) else groups[0]


def _patrol_version() -> tuple | None:
    """A sheet with one of the reader's taps still undoable (its cell counts down) is made afresh
    (page_cache)."""
    day, _error = _day_arg()
    return None if patrol_service.recent_taps(day) else ()


@bp.route("/patrol")
@role_required(Role.ADMIN, Role.INSPECTOR)
@kept_page(version=_patrol_version)
def patrol_sheet():
    """A day's sheet (default today): windows × patrol items, each cell with that day's count; one group
    of units at a time (?group=N, or the group of ?unit=, whose rows alone are shown)."""
    day, error = _day_arg()
    today = hall_today()
    rules = patrol_service.patrol_rules(day)
    units = patrol_service.active_units()
    groups = patrol_service.groups(units)
    jump = int_arg("unit")
    if jump not in {u.id for u in units}:
        jump = None
    group = _chosen_group(groups, jump)
    shown = group.units if group else []
    counts = patrol_service.counts(day, [u.id for u in shown])
    recent = patrol_service.recent_taps(day)
    editable = day == today
    rows = patrol_service.rows(shown)
    grid = [
        (
            row,
            [
                _cell(
                    row.unit,
                    row.window,
                    rule,
                    day,
                    counts.get((row.unit.id, row.window, rule.code), 0),
                    recent.get((row.unit.id, row.window, rule.code)),
                    editable,
                )
                for rule in rules
            ],
        )
        for row in rows
    ]
    body = render_template(
        SHEET,
        day=day,
        today=today,
        columns=_columns(rules),
        grid=grid,
        units=units,
        groups=groups,
        group=group,
        jump=jump,
        editable=editable,
        error=error,
        urls=_urls(),
        prev_day=day - timedelta(days=1),
        next_day=day + timedelta(days=1) if day < today else None,
    )
    return body, 422 if error else 200


def _refuse(message: str):
    """A refused tap: the message goes to #flash (the cell stays as it is)."""
    response = make_response(render_template("admin/patrol_message.html", message=message), 422)
    response.headers["HX-Retarget"] = "#flash"
    response.headers["HX-Reswap"] = "innerHTML"
    return response


def _is_admin() -> bool:
    return current_user.role == Role.ADMIN


def _record_panel(
    unit: Unit,
    window: str,
    rule_code: str,
    day: date,
    *,
    current: Incident | None = None,
    message: str = "",
    error: str = "",
    form: PatrolDetailForm | None = None,
    oob: bool = False,
) -> str:
    """The panel of one cell's records of a day: each with its staff select, remark and photo upload."""
    rule = next((r for r in patrol_service.patrol_rules(day) if r.code == rule_code), None)
    items = patrol_service.cell_incidents(unit, window, rule_code, day)
    if current is not None and current in items:  # the record just tapped or saved comes first
        items = [current] + [i for i in items if i is not current]
    else:
        items = list(reversed(items))
    staff = patrol_service.staff_on(unit, day)
    admin = _is_admin()
    return render_template(
        RECORD,
        unit=unit,
        window=window,
        rule=rule,
        rule_code=rule_code,
        day=day,
        items=[(i, patrol_service.detail_problem(i, is_admin=admin)) for i in items],
        current=current,
        staff=staff,
        message=message,
        error=error,
        form=form,
        accept=EVIDENCE_ACCEPT,
        oob=oob,
    )


def _closed_panel(oob: bool = False) -> str:
    return render_template(RECORD, closed=True, oob=oob)


def _cell_response(incident: Incident, message: str = "", *, panel: bool = False):
    """The cell's fragment; with `panel`, the tap's record opens beside it (out of band); after an undo the
    panel closes."""
    unit = incident.unit
    day = to_hall(incident.occurred_at).date()
    rule = next((r for r in patrol_service.patrol_rules(day) if r.code == incident.rule_code), None)
    if rule is None or incident.window is None:
        return _refuse(_("该记录不在巡查表上"))
    count = patrol_service.cell_count(unit, incident.window, rule.code, day)
    recent = incident if incident.status == IncidentStatus.CONFIRMED and incident.source == "patrol" else None
    if recent is not None and recent.recorded_by_id != acting_user_id():
        recent = None
    cell = _cell(unit, incident.window, rule, day, count, recent, day == hall_today(), message)
    # The panel rides inside the cell (htmx takes nested out-of-band elements out before the swap): after
    # a </td> the HTML parser would drop the panel's <form>.
    if panel and incident.status == IncidentStatus.CONFIRMED:
        record = _record_panel(unit, incident.window, rule.code, day, current=incident, oob=True)
        cell["panel"] = Markup(record)  # our own rendered template
    elif incident.status != IncidentStatus.CONFIRMED:
        cell["panel"] = Markup(_closed_panel(oob=True))
    return htmx.render_block(SHEET, "cell", cell=cell, urls=_urls())


def _parse_time(text: str | None) -> time | None:
    """The tablet's time of the tap (HH:MM or HH:MM:SS); None when not sent. Bad text: DomainError."""
    text = (text or "").strip()
    if not text:
        return None
    try:
        return time.fromisoformat(text).replace(microsecond=0, tzinfo=None)
    except ValueError:
        raise DomainError(_("巡查时间格式应为 HH:MM:SS")) from None


@bp.route("/patrol/tap", methods=["POST"])
@role_required(Role.ADMIN, Role.INSPECTOR)
def patrol_tap():
    """Log the tapped cell's incident at the time of the round; a re-sent client_key answers the first one."""
    form = PatrolTapForm()
    if not form.validate_on_submit():
        return _refuse(next(iter(e for errors in form.errors.values() for e in errors), _("巡查记录无效")))
    unit = db.session.get(Unit, form.unit_id.data)
    if unit is None:
        return _refuse(_("单位不存在"))
    try:
        incident, _created = patrol_service.tap(
            unit,
            form.window.data.strip(),
            form.rule_code.data.strip(),
            form.client_key.data.strip(),
            form.date.data,
            _parse_time(form.time.data),
        )
        db.session.commit()
    except DomainError as error:
        db.session.rollback()
        return _refuse(str(error))
    except IntegrityError:
        # Two copies of one tap arrived together: the other one stored it.
        db.session.rollback()
        incident = patrol_service.by_client_key(form.client_key.data.strip())
        if incident is None:
            raise
    return _cell_response(incident, panel=True)


@bp.route("/patrol/undo", methods=["POST"])
@role_required(Role.ADMIN, Role.INSPECTOR)
def patrol_undo():
    """A second tap within a minute: void the tap ("巡查撤销") if the same user made it."""
    form = PatrolUndoForm()
    if not form.validate_on_submit():
        return _refuse(_("撤销请求无效"))
    incident = db.session.get(Incident, form.incident_id.data)
    if incident is None:
        return _refuse(_("记录不存在"))
    try:
        patrol_service.undo(incident)
        db.session.commit()
    except DomainError as error:
        db.session.rollback()
        return _refuse(str(error))
    return _cell_response(incident, _("已撤销"))


def _cell_args() -> tuple[Unit, str, str, date] | None:
    unit = db.session.get(Unit, int_arg("unit_id") or 0)
    window = (request.args.get("window") or "").strip()
    rule_code = (request.args.get("rule_code") or "").strip()
    try:
        day = date.fromisoformat((request.args.get("date") or "").strip())
    except ValueError:
        return None
    if unit is None or window not in unit.window_list:
        return None
    if rule_code not in {r.code for r in patrol_service.patrol_rules(day)}:
        return None
    return unit, window, rule_code, day


@bp.route("/patrol/record")
@role_required(Role.ADMIN, Role.INSPECTOR)
def patrol_record():
    """The panel of a cell's records of a day (opened from the cell's 详情 button)."""
    args = _cell_args()
    if args is None:
        return _refuse(_("该格子不在巡查表上"))
    unit, window, rule_code, day = args
    return _record_panel(unit, window, rule_code, day)


@bp.route("/patrol/record/<int:incident_id>", methods=["POST"])
@role_required(Role.ADMIN, Role.INSPECTOR)
def patrol_record_save(incident_id: int):
    """Add the staff member, a remark and photos to a record of the sheet (services.incidents.correct and
    services.evidence); the panel answers with what was saved, or the Chinese reason and nothing written."""
    incident = db.session.get(Incident, incident_id)
    if incident is None or incident.window is None:
        return _refuse(_("记录不存在"))
    unit, window, rule_code = incident.unit, incident.window, incident.rule_code
    day = to_hall(incident.occurred_at).date()
    form = PatrolDetailForm()
    stored: list = []
    try:
        if not form.validate_on_submit():
            raise DomainError(next(iter(e for errs in form.errors.values() for e in errs), _("提交无效")))
        text = (form.staff_pk.data or "").strip()
        if text and whole_number(text) is None:
            raise DomainError(_("人员无效"))
        uploads = evidence_service.read_uploads(form.evidence.data)
        stored = patrol_service.add_details(
            incident,
            is_admin=_is_admin(),
            staff_pk=int(text) if text else None,
            note=form.note.data or "",
            uploads=uploads,
        )
        db.session.commit()
    except DomainError as error:
        db.session.rollback()
        evidence_service.discard_files(stored)
        incident = db.session.get(Incident, incident_id)
        if not htmx.is_htmx():
            flash(str(error), "error")
            return redirect(url_for("admin.patrol_sheet", date=day.isoformat()))
        body = _record_panel(unit, window, rule_code, day, current=incident, error=str(error), form=form)
        return body, 422
    except Exception:
        db.session.rollback()
        evidence_service.discard_files(stored)
        raise
    message = _("已保存") + (_(",照片 %(n)d 张", n=len(stored)) if stored else "")
    if not htmx.is_htmx():
        flash(message, "success")
        return redirect(url_for("admin.patrol_sheet", date=day.isoformat()))
    return _record_panel(unit, window, rule_code, day, current=incident, message=message)


@bp.route("/patrol/blank")
@role_required(Role.ADMIN, Role.INSPECTOR)
@kept_document
def patrol_blank():
    """The sheet to print (A4 landscape): blank for days when paper is used, or filled from a day's
    records (?date=YYYY-MM-DD&filled=1). The PDF: admin/documents.py patrol_blank_pdf."""
    day, error = _day_arg()
    filled = request.args.get("filled") == "1" and error is None
    rules = patrol_service.patrol_rules(day)
    return document_page(
        "admin/patrol_blank.html",
        filename=_("日常巡查扣分表 %(d)s.pdf", d=day.isoformat()) if filled else _("日常巡查扣分表.pdf"),
        columns=_columns(rules),
        rows=patrol_service.rows(),
        day=day,
        counts=patrol_service.counts(day) if filled else None,
        error=error,
    )
