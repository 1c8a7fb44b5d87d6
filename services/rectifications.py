"""Rectification (限期整改): a unit's items of the rulebook's rectification rule (the role
`rectification_rule`) that are not yet rectified, its reports that one is rectified (a date and evidence),
and, where the rulebook's `rectification_extension_allowed` says so, its requests for a later deadline.

An admin confirms a report's date, which sets the incident's `rectified_on` through
services.incidents.correct (the date the scoring's overdue rule reads), or rejects it with a reason; grants
or refuses an extension (a granted one moves the incident's deadline, again through `correct`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from flask_babel import gettext as _
from sqlalchemy import select

from models import Incident, IncidentStatus, RectificationReport, RequestStatus, Unit, db
from services import DomainError, evidence
from services.appeals import _decide, clean_text, read_files, store_files
from services.audit import acting_user_id, record
from services.clock import hall_today, to_hall, utc_now
from services.notifications import notify_unit
from services.rulebooks import current_rulebook, rulebook_for_month

REPORT = "report"
EXTENSION = "extension"


def rectification_code(incident: Incident) -> str | None:
    """The code of the rectification rule of the incident's month ("" rulebooks have none)."""
    day = to_hall(incident.occurred_at)
    return rulebook_for_month(day.year, day.month).role_code("rectification_rule")


def is_rectification(incident: Incident) -> bool:
    return incident.deadline is not None and incident.rule_code == rectification_code(incident)


def extension_allowed() -> bool:
    """Whether units may ask for a later deadline: the rulebook in force today says so."""
    return bool(current_rulebook().settings.rectification_extension_allowed)


@dataclass
class OpenItem:
    """One item waiting to be rectified, with what the unit has asked about it."""

    incident: Incident
    deadline: date
    overdue: bool
    report: RectificationReport | None  # an open report, if any
    extension: RectificationReport | None  # an open extension request, if any


def open_items(unit_id: int) -> list[OpenItem]:
    """The unit's confirmed items with a rectification deadline and no rectification date, soonest first."""
    rows = db.session.scalars(
        select(Incident)
        .where(
            Incident.unit_id == unit_id,
            Incident.status == IncidentStatus.CONFIRMED,
            Incident.deadline.is_not(None),
            Incident.rectified_on.is_(None),
        )
        .order_by(Incident.deadline, Incident.id)
    )
    items = [i for i in rows if is_rectification(i)]
    waiting: dict[tuple[int, str], RectificationReport] = {}
    if items:
        for report in db.session.scalars(
            select(RectificationReport).where(
                RectificationReport.incident_id.in_([i.id for i in items]),
                RectificationReport.status == RequestStatus.OPEN,
            )
        ):
            waiting[(report.incident_id, report.kind)] = report
    today = hall_today()
    return [
        OpenItem(
            incident=i,
            deadline=i.deadline,
            overdue=today > i.deadline,
            report=waiting.get((i.id, REPORT)),
            extension=waiting.get((i.id, EXTENSION)),
        )
        for i in items
    ]


def _open_of(incident: Incident, kind: str) -> RectificationReport | None:
    return db.session.scalar(
        select(RectificationReport).where(
            RectificationReport.incident_id == incident.id,
            RectificationReport.kind == kind,
            RectificationReport.status == RequestStatus.OPEN,
        )
    )


def _check_item(incident: Incident, unit: Unit) -> None:
    if incident.unit_id != unit.id:
        raise DomainError(_("只能对本单位的记录报告整改"))
    if incident.status != IncidentStatus.CONFIRMED or not is_rectification(incident):
        raise DomainError(_("该记录不是限期整改的记录"))
    if incident.rectified_on is not None:
        raise DomainError(_("该记录已确认整改完成(%(day)s)", day=incident.rectified_on.isoformat()))


def report_problem(incident: Incident, unit: Unit) -> str | None:
    try:
        _check_item(incident, unit)
    except DomainError as error:
        return str(error)
    if _open_of(incident, REPORT):
        return _("该记录已报告整改,请等待管理员确认")
    return None


def extension_problem(incident: Incident, unit: Unit) -> str | None:
    """Why the unit cannot ask for a later deadline on this item now, or None: the one check the portal's
    button and `request_extension` share."""
    if not extension_allowed():
        return _("现行考核细则不允许申请延长整改期限")
    try:
        _check_item(incident, unit)
    except DomainError as error:
        return str(error)
    if hall_today() > incident.deadline:
        return _("整改期限已过,不能再申请延期")
    if _open_of(incident, REPORT):
        return _("该记录已报告整改,请等待管理员确认")
    if _open_of(incident, EXTENSION):
        return _("该记录已有延期申请正在处理")
    return None


def _new_request(incident: Incident, unit: Unit, kind: str, description: str, **day) -> RectificationReport:
    """The unit's new open report (`rectified_on=…`) or extension request (`requested_deadline=…`), by the
    acting user, now; flushed."""
    row = RectificationReport(
        incident=incident,
        unit_id=unit.id,
        kind=kind,
        description=description,
        status=RequestStatus.OPEN,
        submitted_at=utc_now(),
        submitted_by_id=acting_user_id(),
        **day,
    )
    db.session.add(row)
    db.session.flush()
    return row


def report(incident: Incident, unit: Unit, rectified_on: date | None, description: str, files=None):
    """The unit says the item is rectified on `rectified_on`, with a description and evidence photos."""
    _check_item(incident, unit)
    if rectified_on is None:
        raise DomainError(_("请填写整改完成日期"))
    if rectified_on > hall_today():
        raise DomainError(_("整改完成日期不能晚于今天"))
    if rectified_on < to_hall(incident.occurred_at).date():
        raise DomainError(_("整改完成日期早于发生日期"))
    description = clean_text(description, _("整改情况"))
    uploads = read_files(files, required=True)
    if _open_of(incident, REPORT):
        raise DomainError(_("该记录已报告整改,请等待管理员确认"))
    row = _new_request(incident, unit, REPORT, description, rectified_on=rectified_on)
    stored = store_files(uploads, unit.id, report=row)
    record(
        "rectification.report",
        f"rectification:{row.id}",
        after={
            "incident": incident.id,
            "rectified_on": rectified_on.isoformat(),
            "text": description,
            "files": evidence.file_summary(stored),
        },
    )
    return row


def request_extension(incident: Incident, unit: Unit, new_deadline: date | None, reason: str):
    """A later deadline asked for (延期); refused when the rulebook in force does not allow it."""
    problem = extension_problem(incident, unit)
    if problem:
        raise DomainError(problem)
    if new_deadline is None:
        raise DomainError(_("请填写申请的新整改期限"))
    if new_deadline <= incident.deadline:
        raise DomainError(_("新整改期限须晚于原期限 %(day)s", day=incident.deadline.isoformat()))
    reason = clean_text(reason, _("申请延期的理由"))
    row = _new_request(incident, unit, EXTENSION, reason, requested_deadline=new_deadline)
    record(
        "rectification.extension",
        f"rectification:{row.id}",
        after={"incident": incident.id, "deadline": new_deadline.isoformat(), "reason": reason},
    )
    return row


def decide(row: RectificationReport, accept: bool, reason: str = "", confirmed_on: date | None = None):
    """Confirm a report's date (or the date the admin establishes) / grant an extension, or reject it
    with a reason; once."""
    if row.status != RequestStatus.OPEN:
        raise DomainError(_("该申请已经处理,不能重复决定"))
    from services import incidents

    incident = row.incident
    reason = (reason or "").strip()
    if not accept:
        reason = clean_text(reason, _("退回理由"))
        _decide(row, RequestStatus.REJECTED, reason)
        title = (
            _("整改报告被退回:%(code)s", code=incident.rule_code)
            if row.kind == REPORT
            else _("延期申请未获同意:%(code)s", code=incident.rule_code)
        )
    elif row.kind == REPORT:
        day = confirmed_on or row.rectified_on
        if day > hall_today():
            raise DomainError(_("整改完成日期不能晚于今天"))
        incidents.correct(incident, {"rectified_on": day}, reason or _("确认单位报告的整改完成日期"))
        row.confirmed_on = day
        _decide(row, RequestStatus.CONFIRMED, reason)
        title = _("整改已确认:%(code)s,完成日期 %(day)s", code=incident.rule_code, day=day.isoformat())
    else:
        incidents.correct(incident, {"deadline": row.requested_deadline}, reason or _("同意单位的延期申请"))
        _decide(row, RequestStatus.CONFIRMED, reason)
        title = _(
            "延期申请已同意:%(code)s,新期限 %(day)s",
            code=incident.rule_code,
            day=row.requested_deadline.isoformat(),
        )
    record(
        "rectification.decide",
        f"rectification:{row.id}",
        before={"status": RequestStatus.OPEN},
        after={
            "status": row.status,
            "reason": reason,
            "incident": incident.id,
            "rectified_on": row.confirmed_on.isoformat() if row.confirmed_on else None,
        },
    )
    notify_unit(row.unit_id, "rectification_confirmed", title, f"/portal/requests#rectification-{row.id}")
    db.session.flush()
    return row


def pending() -> list[RectificationReport]:
    return list(
        db.session.scalars(
            select(RectificationReport)
            .where(RectificationReport.status == RequestStatus.OPEN)
            .order_by(RectificationReport.id)
        )
    )


def recent_decided(limit: int = 30) -> list[RectificationReport]:
    return list(
        db.session.scalars(
            select(RectificationReport)
            .where(RectificationReport.status != RequestStatus.OPEN)
            .order_by(RectificationReport.decided_at.desc(), RectificationReport.id.desc())
            .limit(limit)
        )
    )


def for_unit(unit_id: int) -> list[RectificationReport]:
    return list(
        db.session.scalars(
            select(RectificationReport)
            .where(RectificationReport.unit_id == unit_id)
            .order_by(RectificationReport.id.desc())
        )
    )


# ------------------------------------------------------------------ the demo hall


def load_demo(unit_users: dict[int, int], admin_id: int | None) -> dict:
    """Rectification in the demo hall: reports confirmed, rejected and waiting on the units' open items
    (where a unit has none, an admin logs one of the rectification rule this morning)."""
    from datetime import datetime, time

    from services import incidents
    from services.appeals import working_days_after
    from services.audit import acting_as
    from services.bounds import closed_month_problem
    from services.clock import from_hall, hall_now

    made = {"rectifications": 0}
    units = [db.session.get(Unit, unit_id) for unit_id in unit_users]
    texts = {
        True: ("已补充一次性告知单并组织窗口人员学习,附照片。", ""),
        False: ("已整改。", "未见整改材料,请补充告知单照片后重新报告。"),
        None: ("已按要求进驻该事项,附进驻清单照片。", ""),
    }
    for n, outcome in enumerate((True, False, None)):
        unit = units[n % len(units)]
        items = [
            o
            for o in open_items(unit.id)
            if o.report is None and closed_month_problem(o.incident.occurred_at) is None
        ]
        if items:
            incident = items[0].incident
        else:
            today = hall_today()
            code = current_rulebook().role_code("rectification_rule")
            if not code:
                break
            now = hall_now().replace(tzinfo=None, second=0, microsecond=0)
            at = min(now, datetime.combine(today, time(9, 0)))
            with acting_as(admin_id):
                incident = incidents.create(
                    unit,
                    code,
                    from_hall(at),
                    deadline=working_days_after(today, 5),
                    public_text=_("未履行一次性告知,限期整改。"),
                )
        day = min(hall_today(), incident.deadline)
        text, answer = texts[outcome]
        with acting_as(unit_users[unit.id]):
            row = _demo_report(incident, unit, day, text)
        if outcome is not None:
            with acting_as(admin_id):
                decide(row, outcome, answer)
        made["rectifications"] += 1
    return made


def _demo_report(incident: Incident, unit: Unit, day: date, text: str) -> RectificationReport:
    """A report as `report` writes it, without photos (the demo has none to upload)."""
    row = _new_request(incident, unit, REPORT, text, rectified_on=day)
    record(
        "rectification.report",
        f"rectification:{row.id}",
        after={"incident": incident.id, "rectified_on": day.isoformat(), "text": text},
    )
    return row
