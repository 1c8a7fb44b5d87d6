"""The patrol sheet on a tablet (日常巡查扣分表): tap a cell to log, tap again within a minute to undo;
and its printable blank for days when paper is used.

A tap answers with the cell's fragment (a block of the sheet's template); a refusal answers 422 with a
message retargeted to #flash, so the cell keeps its state.
"""

from __future__ import annotations

from datetime import date, time, timedelta

from flask import make_response, render_template, request
from flask_babel import gettext as _
from sqlalchemy.exc import IntegrityError

import htmx
from admin import bp
from admin.incident_forms import PatrolTapForm, PatrolUndoForm
from auth.access import role_required
from models import Incident, IncidentStatus, Role, Unit, db
from scoring import Rule, signed_points
from services import DomainError
from services import patrol as patrol_service
from services.audit import acting_user_id
from services.clock import hall_today, to_hall

SHEET = "admin/patrol_sheet.html"


def short_title(rule: Rule) -> str:
    """A column head: the title without its parenthetical detail (the full text is in the cell's tooltip)."""
    for mark in ("(", "("):
        if mark in rule.title:
            return rule.title.split(mark, 1)[0]
    return rule.title


def _day_arg() -> tuple[date, str | None]:
    text = (request.args.get("date") or "").strip()
    if not text:
        return hall_today(), None
    try:
        return date.fromisoformat(text), None
    except ValueError:
        return hall_today(), _("日期格式应为 YYYY-MM-DD,如 2024-03-20;已显示今天")


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
        "vals": {"unit_id": unit.id, "window": window, "rule_code": rule.code, "date": day.isoformat()},
    }


def _columns(rules: list[Rule]) -> list[dict]:
    return [{"rule": r, "short": short_title(r), "signed": signed_points(r)} for r in rules]


@bp.route("/patrol")
@role_required(Role.ADMIN, Role.INSPECTOR)
def patrol_sheet():
    """A day's sheet (default today): windows × patrol items, each cell with that day's count."""
    day, error = _day_arg()
    today = hall_today()
    rules = patrol_service.patrol_rules(day)
    counts = patrol_service.counts(day)
    recent = patrol_service.recent_taps(day)
    editable = day == today
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
        for row in patrol_service.rows()
    ]
    body = render_template(
        SHEET,
        day=day,
        today=today,
        columns=_columns(rules),
        grid=grid,
        editable=editable,
        error=error,
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


def _cell_response(incident: Incident, message: str = ""):
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
    return htmx.render_block(SHEET, "cell", cell=cell)


def _parse_time(text: str | None) -> time | None:
    try:
        return time.fromisoformat(text) if text else None
    except ValueError:
        return None


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
    return _cell_response(incident)


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


@bp.route("/patrol/blank")
@role_required(Role.ADMIN, Role.INSPECTOR)
def patrol_blank():
    """The blank sheet to print (A4 landscape) for days when paper is used."""
    day, _error = _day_arg()
    rules = patrol_service.patrol_rules(day)
    return render_template("admin/patrol_blank.html", columns=_columns(rules), rows=patrol_service.rows())
