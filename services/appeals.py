"""Appeals (申诉): a unit appeals a confirmed deduction of an open month within the rulebook's
`appeal_working_days` (working days of the hall calendar from the day the incident was logged); an admin
upholds it (the incident stands) or voids the incident, once, with a reason the unit reads.

Also what the three kinds of request share (services.rectifications, services.claims): their files, checked
and stored as incident evidence is (services.evidence), and the hall calendar as scoring.calendar reads it.
A refused call raises DomainError before it writes anything; services flush, the caller commits.
"""

from __future__ import annotations

from datetime import date, timedelta

from flask import has_request_context, request
from flask_babel import gettext as _
from sqlalchemy import func, select

from models import Appeal, Incident, IncidentStatus, RequestFile, RequestStatus, Unit, db
from scoring import RuleKind
from scoring.calendar import add_working_days
from services import DomainError
from services import evidence as evidence_service
from services.audit import acting_user_id, record
from services.bounds import closed_month_problem
from services.calendar_admin import hall_calendar
from services.clock import hall_today, month_utc_range, to_hall, utc_now
from services.notifications import notify_unit
from services.rulebooks import rulebook_for_month

REASON_MAX = 2000


# ------------------------------------------------------------------ shared by the three kinds of request


def working_days_after(day: date, n: int) -> date:
    """The n-th working day after `day` on the hall calendar (holidays and make-up working days)."""
    # n working days never span more than n weeks plus the longest holiday (Spring Festival, ~9 days).
    return add_working_days(day, n, hall_calendar(day, day + timedelta(days=7 * n + 30)))


def clean_text(text: str | None, what: str) -> str:
    """A required text, stripped; DomainError in Chinese when empty or too long."""
    text = (text or "").strip()
    if not text:
        raise DomainError(_("请填写%(what)s", what=what))
    if len(text) > REASON_MAX:
        raise DomainError(_("%(what)s不能超过 %(n)d 个字", what=what, n=REASON_MAX))
    return text


def read_files(files, *, required: bool = False) -> list[evidence_service.Upload]:
    """Check every uploaded file first (a bad one refuses the request before anything is written)."""
    uploads = evidence_service.read_uploads(files)
    if required and not uploads:
        raise DomainError(_("请上传至少一张证明材料的照片"))
    return uploads


def store_files(uploads: list[evidence_service.Upload], unit_id: int, **parent) -> list[RequestFile]:
    """Write the files and their rows for one request (`appeal=…`, `report=…` or `claim=…`); flushed.
    On failure nothing stays on disk."""
    ((attr, owner),) = parent.items()

    def make_row(upload: evidence_service.Upload, stored_name: str) -> RequestFile:
        row = RequestFile(
            unit_id=unit_id,
            **evidence_service.file_columns(upload, stored_name, utc_now(), acting_user_id()),
        )
        setattr(row, f"{attr}_id", owner.id)
        return row

    rows: list[RequestFile] = evidence_service.write_files(uploads, make_row)
    owner.stored_files = rows  # for the caller's clean-up if its commit fails (evidence.discard_files)
    return rows


def _decide(row, status: str, reason: str) -> None:
    row.status = status
    row.decided_at = utc_now()
    row.decided_by_id = acting_user_id()
    row.decision_reason = reason


# ------------------------------------------------------------------ appeals


def _memo(key, compute):
    """A value computed once per request (a page shows an incident's notice and state more than once)."""
    holder = request._get_current_object() if has_request_context() else None
    if holder is None:
        return compute()
    memo = holder.__dict__.setdefault("_appeals_memo", {})
    if key not in memo:
        memo[key] = compute()
    return memo[key]


def _rulebook_of(incident: Incident):
    day = to_hall(incident.occurred_at)
    return _memo(("rulebook", day.year, day.month), lambda: rulebook_for_month(day.year, day.month))


def incident_rule(incident: Incident):
    try:
        return _rulebook_of(incident).rule(incident.rule_code)
    except KeyError:
        return None


def appeal_deadline(incident: Incident) -> date | None:
    """The last day a unit may appeal this incident; None when it is not appealable at all (a bonus,
    anything but a confirmed incident). Counted from the day it was logged (created_at, hall time)."""
    if incident.status != IncidentStatus.CONFIRMED:
        return None
    rule = incident_rule(incident)
    if rule is None or rule.kind != RuleKind.DEDUCTION:
        return None
    n = _rulebook_of(incident).settings.appeal_working_days
    logged = to_hall(incident.created_at).date()
    return _memo(("deadline", logged, n), lambda: working_days_after(logged, n))


def window_problem(incident: Incident, today: date | None = None) -> str | None:
    """Why this incident cannot be appealed now whatever was appealed before, in Chinese; None when it can."""
    deadline = appeal_deadline(incident)
    if deadline is None:
        return _("只能对已确认的扣分记录提出申诉")
    if (today or hall_today()) > deadline:
        return _("申诉期限已过(截至 %(day)s)", day=deadline.isoformat())
    day = to_hall(incident.occurred_at)
    closed = _memo(("closed", day.year, day.month), lambda: closed_month_problem(incident.occurred_at))
    if closed:
        return _("该记录所在月份已关账,不能再申诉")
    return None


def appeal_until(incident: Incident) -> date | None:
    """The day the notice may promise an appeal until; None when no appeal is possible (so no promise):
    outside the window, or once the incident has been appealed (one appeal per incident: `appeal_problem`)."""
    return None if appeal_problem(incident) else appeal_deadline(incident)


def appeals_of(incident: Incident) -> list[Appeal]:
    return list(
        db.session.scalars(select(Appeal).where(Appeal.incident_id == incident.id).order_by(Appeal.id))
    )


def appeal_problem(incident: Incident) -> str | None:
    """`window_problem`, and one appeal per incident: an open one waits, a decided one is final."""
    for appeal in appeals_of(incident):
        if appeal.is_open:
            return _("该记录已有申诉正在处理,请等待结果")
        return _("该记录的申诉已有处理结果,不能再次申诉")
    return window_problem(incident)


def submit(incident: Incident, unit: Unit, reason: str, files=None) -> Appeal:
    """A unit's appeal of its own incident, with its reason and evidence photos."""
    if incident.unit_id != unit.id:
        raise DomainError(_("只能对本单位的记录提出申诉"))
    reason = clean_text(reason, _("申诉理由"))
    uploads = read_files(files)
    problem = appeal_problem(incident)
    if problem:
        raise DomainError(problem)
    appeal = Appeal(
        incident=incident,
        unit_id=unit.id,
        reason=reason,
        status=RequestStatus.OPEN,
        submitted_at=utc_now(),
        submitted_by_id=acting_user_id(),
    )
    db.session.add(appeal)
    db.session.flush()
    stored = store_files(uploads, unit.id, appeal=appeal)
    record(
        "appeal.submit",
        f"appeal:{appeal.id}",
        after={"incident": incident.id, "reason": reason, "files": evidence_service.file_summary(stored)},
    )
    return appeal


def decide(appeal: Appeal, outcome: str, reason: str) -> Appeal:
    """Uphold the incident ("uphold") or void it ("void"), once, with a reason the unit reads."""
    if not appeal.is_open:
        raise DomainError(_("该申诉已经处理,不能重复决定"))
    if outcome not in ("uphold", "void"):
        raise DomainError(_("请选择处理结果:维持或作废"))
    reason = clean_text(reason, _("处理理由"))
    incident = appeal.incident
    if outcome == "void":
        from services import incidents

        incidents.void(incident, _("申诉成立:%(reason)s", reason=reason))
        _decide(appeal, RequestStatus.VOIDED, reason)
        title = _("申诉成立,%(code)s 记录已作废", code=incident.rule_code)
    else:
        _decide(appeal, RequestStatus.UPHELD, reason)
        title = _("申诉未获支持,%(code)s 记录维持", code=incident.rule_code)
    record(
        "appeal.decide",
        f"appeal:{appeal.id}",
        before={"status": RequestStatus.OPEN},
        after={"status": appeal.status, "reason": reason, "incident": incident.id},
    )
    notify_unit(appeal.unit_id, "appeal_decided", title, f"/portal/requests#appeal-{appeal.id}")
    db.session.flush()
    return appeal


def open_count_in(year: int, month: int) -> int:
    """Undecided appeals of incidents of that month (a month with any cannot be closed without saying so)."""
    start, end = month_utc_range(year, month)
    return (
        db.session.scalar(
            select(func.count(Appeal.id))
            .join(Incident, Incident.id == Appeal.incident_id)
            .where(
                Appeal.status == RequestStatus.OPEN, Incident.occurred_at >= start, Incident.occurred_at < end
            )
        )
        or 0
    )


def open_counts_by_month() -> dict[str, int]:
    """ "YYYY-MM" -> undecided appeals of that month's incidents (the months page)."""
    out: dict[str, int] = {}
    rows = db.session.execute(
        select(Incident.occurred_at)
        .join(Appeal, Appeal.incident_id == Incident.id)
        .where(Appeal.status == RequestStatus.OPEN)
    )
    for (occurred_at,) in rows:
        label = to_hall(occurred_at).strftime("%Y-%m")
        out[label] = out.get(label, 0) + 1
    return out


def by_incident() -> dict[int, Appeal]:
    """Every incident's latest appeal, loaded once per request (appeals are few: a list shows its rows'
    states with one query whatever its length)."""
    holder = request._get_current_object() if has_request_context() else None
    cache = getattr(holder, "_appeals_by_incident", None)
    if cache is not None:
        return cache
    cache = {}
    for appeal in db.session.scalars(select(Appeal).order_by(Appeal.id)):
        cache[appeal.incident_id] = appeal
    if holder is not None:
        holder._appeals_by_incident = cache
    return cache


def state_of(incident_id: int | None) -> Appeal | None:
    if not incident_id:
        return None
    return by_incident().get(incident_id)


def pending() -> list[Appeal]:
    return list(
        db.session.scalars(select(Appeal).where(Appeal.status == RequestStatus.OPEN).order_by(Appeal.id))
    )


def recent_decided(limit: int = 30) -> list[Appeal]:
    return list(
        db.session.scalars(
            select(Appeal)
            .where(Appeal.status != RequestStatus.OPEN)
            .order_by(Appeal.decided_at.desc(), Appeal.id.desc())
            .limit(limit)
        )
    )


def for_unit(unit_id: int) -> list[Appeal]:
    return list(
        db.session.scalars(select(Appeal).where(Appeal.unit_id == unit_id).order_by(Appeal.id.desc()))
    )


# ------------------------------------------------------------------ the demo hall


def load_demo(unit_users: dict[int, int], admin_id: int | None, inspector_id: int | None = None) -> dict:
    """The demo hall's requests (`unit_users`: unit id -> the id of that unit's user who asks): appeals
    decided both ways and one waiting, rectification reports and bonus claims likewise (services.
    rectifications, services.claims). Where a unit has no deduction still open to appeal, the inspector logs
    one this morning. Returns counts for the demo's summary."""
    from services import claims, incidents, rectifications
    from services.audit import acting_as
    from services.clock import from_hall, hall_now

    made = {"appeals": 0}
    units = [db.session.get(Unit, unit_id) for unit_id in unit_users]
    outcomes = [("uphold", 0), ("void", 1), (None, 0)]
    texts = {
        "uphold": ("当时窗口人员在后台调取档案,并非空岗。", "巡查照片显示窗口无人超过20分钟,维持原记录。"),
        "void": ("当日该人员经批准外出参加培训,附请假审批单。", "经核实请假手续齐全,申诉成立,作废该记录。"),
        None: ("评价器当时故障,已报修,附报修记录。", ""),
    }
    for outcome, which in outcomes:
        unit = units[which % len(units)]
        start, _end = month_utc_range(hall_today().year, hall_today().month)
        candidates = db.session.scalars(
            select(Incident)
            .where(
                Incident.unit_id == unit.id,
                Incident.status == IncidentStatus.CONFIRMED,
                Incident.occurred_at >= start,
            )
            .order_by(Incident.occurred_at.desc())
        )
        incident = next((i for i in candidates if appeal_problem(i) is None), None)
        if incident is None:
            now = hall_now().replace(tzinfo=None, second=0, microsecond=0)
            at = min(now, now.replace(hour=9, minute=0))
            window = unit.window_list[0] if unit.window_list else None
            with acting_as(inspector_id):
                incident = incidents.create(unit, _demo_rule(at.date()), from_hall(at), window=window)
        reason, answer = texts[outcome]
        with acting_as(unit_users[unit.id]):
            appeal = submit(incident, unit, reason)
        if outcome is not None:
            with acting_as(admin_id):
                decide(appeal, outcome, answer)
        made["appeals"] += 1
    made.update(rectifications.load_demo(unit_users, admin_id))
    made.update(claims.load_demo(unit_users, admin_id))
    db.session.flush()
    return made


def _demo_rule(day: date) -> str:
    """A plain deduction of the rulebook in force: a patrol rule with no extra field and no flag."""
    rulebook = rulebook_for_month(day.year, day.month)
    return next(
        r.code
        for r in rulebook.rules
        if r.kind == RuleKind.DEDUCTION and r.patrol and not r.requires and not r.flags and not r.derived
    )
