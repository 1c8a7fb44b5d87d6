"""Logging, correcting, voiding, confirming and dismissing incidents; each change kept in its history.

Also what the desk form and the correction form offer (`choices`) and every check of what was typed on
them (`draft_problems`), so the views only read the form, call a function here and render: the desk, the
correction, the patrol sheet and the imports all end in `create`/`correct`, which check the rulebook's
fields and the date bounds of services.bounds (not in the future, not before the first rulebook, not in a
closed month). A refused call raises DomainError before it writes anything.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from flask_babel import gettext as _
from sqlalchemy import select

from models import Evidence, Incident, IncidentHistory, IncidentStatus, Posting, Staff, Unit, Warning, db
from scoring import Rule, Rulebook, RuleKind
from services import DomainError, notifications
from services import evidence as evidence_service
from services.audit import acting_user_id, record
from services.bounds import (
    check_incident_day,
    check_month_open,
    closed_month_problem,
    first_rulebook_day,
    incident_day_problem,
)
from services.clock import from_hall, hall_today, month_utc_range, to_hall, utc_now
from services.rulebooks import rulebook_for_month

# A time typed on the desk may run this far ahead of the server's clock (a wall clock a little fast).
CLOCK_SKEW = timedelta(minutes=5)


class FieldProblems(DomainError):
    """What is wrong with named fields of a form: (field name, Chinese message) pairs; str() joins them."""

    def __init__(self, problems: list[tuple[str, str]]):
        self.problems = list(problems)
        super().__init__(";".join(message for _field, message in self.problems))


EDITABLE = (
    "rule_code",
    "occurred_at",
    "count",
    "staff_pk",
    "window",
    "note",
    "public_text",
    "deadline",
    "rectified_on",
    "exempt",
    "linked_id",
)


def rule_problems(
    rulebook: Rulebook,
    rule_code: str,
    *,
    count: int | None,
    staff_category: str | None,
    deadline: date | None,
    exempt: bool,
    window: str | None = None,
    unit: Unit | None = None,
    day: date | None = None,
    rectified_on: date | None = None,
) -> list[tuple[str, str]]:
    """What is wrong with an incident's fields under the rulebook, as (field, Chinese message) pairs.

    Shared by the forms, the imports and the service so every entry path says the same thing. With the
    incident's `day`, a deadline or rectification date before it is refused (a deadline before the
    violation would put its D19b in an earlier month).
    """
    problems: list[tuple[str, str]] = []
    try:
        rule = rulebook.rule(rule_code)
    except KeyError:
        return [("rule_code", f"规则编号 {rule_code} 不存在于规则版本 {rulebook.key}")]
    if rule.derived:
        problems.append(("rule_code", f"{rule_code} 由系统根据整改期限自动计算,不能手工录入"))
    if count is None or count < 1:
        problems.append(("count", "次数(人数)必须是不小于 1 的整数"))
    if "deadline" in rule.requires and deadline is None:
        problems.append(("deadline", f"{rule_code} 必须填写整改期限"))
    if exempt and "exempt" not in rule.requires:
        problems.append(("exempt", f"{rule_code} 没有免扣情形,不能标记为免扣"))
    if staff_category and rule.applies in ("W", "C") and staff_category != rule.applies:
        kind = {"W": "值守窗口工作人员", "C": "纳入综窗的后场工作人员"}[rule.applies]
        problems.append(("staff_id", f"{rule_code} 只适用于{kind},该人员类别为 {staff_category}"))
    if unit is not None and window and window not in unit.window_list:
        problems.append(("window", f"窗口 {window} 不属于{unit.name}"))
    if day is not None and deadline is not None and deadline < day:
        problems.append(("deadline", "整改期限早于发生日期"))
    if day is not None and rectified_on is not None and rectified_on < day:
        problems.append(("rectified_on", "整改完成日期早于发生日期"))
    return problems


def snapshot(incident: Incident) -> dict:
    return {
        "unit": incident.unit.code if incident.unit else incident.unit_id,
        "rule_code": incident.rule_code,
        "occurred_at": to_hall(incident.occurred_at).strftime("%Y-%m-%d %H:%M"),
        "count": incident.count,
        "staff": incident.staff.staff_id if incident.staff else None,
        "window": incident.window,
        "note": incident.note,
        "public_text": incident.public_text,
        "deadline": incident.deadline.isoformat() if incident.deadline else None,
        "rectified_on": incident.rectified_on.isoformat() if incident.rectified_on else None,
        "exempt": incident.exempt,
        "linked_id": incident.linked_id,
        "status": incident.status,
        "void_reason": incident.void_reason,
    }


def _log(incident: Incident, action: str, reason: str = "", before: dict | None = None) -> None:
    after = snapshot(incident)
    db.session.add(
        IncidentHistory(
            incident=incident, by_id=acting_user_id(), action=action, reason=reason, snapshot=after
        )
    )
    record(f"incident.{action}", f"incident:{incident.id}", before=before, after=after)


def _check(incident: Incident) -> None:
    day = to_hall(incident.occurred_at)
    rulebook = rulebook_for_month(day.year, day.month)
    problems = rule_problems(
        rulebook,
        incident.rule_code,
        count=incident.count,
        staff_category=_category(incident.staff, day.date()),
        deadline=incident.deadline,
        exempt=incident.exempt,
        window=incident.window,
        unit=incident.unit,
        day=day.date(),
        rectified_on=incident.rectified_on,
    )
    if problems:
        raise DomainError(";".join(msg for _, msg in problems))


def _category(staff: Staff | None, day: date) -> str | None:
    if staff is None:
        return None
    posting = staff.posting_on(day) or staff.current
    return posting.category if posting else None


def create(
    unit: Unit,
    rule_code: str,
    occurred_at: datetime,
    *,
    count: int = 1,
    staff: Staff | None = None,
    window: str | None = None,
    note: str = "",
    public_text: str = "",
    deadline: date | None = None,
    rectified_on: date | None = None,
    exempt: bool = False,
    linked: Incident | None = None,
    status: str = IncidentStatus.CONFIRMED,
    source: str = "desk",
    detection_key: str | None = None,
    detection_reason: str | None = None,
) -> Incident:
    if occurred_at.tzinfo is None:
        raise ValueError("occurred_at must be aware")
    check_incident_day(occurred_at)
    incident = Incident(
        unit=unit,
        rule_code=rule_code,
        occurred_at=occurred_at,
        count=count,
        staff=staff,
        window=window or None,
        note=note or "",
        public_text=public_text or "",
        deadline=deadline,
        rectified_on=rectified_on,
        exempt=exempt,
        linked=linked,
        status=status,
        source=source,
        detection_key=detection_key,
        detection_reason=detection_reason,
        recorded_by_id=acting_user_id(),
        created_at=utc_now(),
    )
    _check(incident)
    db.session.add(incident)
    db.session.flush()
    _log(incident, "proposed" if status == IncidentStatus.PROPOSED else "created")
    notifications.notify_incident(incident)  # a confirmed item reaches the unit's inbox
    return incident


def correct(incident: Incident, changes: dict, reason: str) -> Incident:
    reason = (reason or "").strip()
    if not reason:
        raise DomainError("修改记录必须填写原因")
    if incident.status == IncidentStatus.VOIDED:
        raise DomainError("已作废的记录不能修改")
    check_month_open(incident.occurred_at)
    if "occurred_at" in changes:
        check_incident_day(changes["occurred_at"])
    before = snapshot(incident)
    for field, value in changes.items():
        if field not in EDITABLE:
            raise ValueError(field)
        setattr(incident, field, value)
    db.session.flush()
    db.session.refresh(incident)
    _check(incident)
    _log(incident, "corrected", reason, before)
    return incident


def void(incident: Incident, reason: str) -> Incident:
    reason = (reason or "").strip()
    if not reason:
        raise DomainError("作废记录必须填写原因")
    if incident.status == IncidentStatus.VOIDED:
        raise DomainError("该记录已经作废")
    check_month_open(incident.occurred_at)
    before = snapshot(incident)
    incident.status = IncidentStatus.VOIDED
    incident.void_reason = reason
    incident.voided_at = utc_now()
    incident.voided_by_id = acting_user_id()
    _log(incident, "voided", reason, before)
    return incident


def confirm(incident: Incident) -> Incident:
    if incident.status != IncidentStatus.PROPOSED:
        raise DomainError("只有待确认的检测结果可以确认")
    check_month_open(incident.occurred_at)
    before = snapshot(incident)
    incident.status = IncidentStatus.CONFIRMED
    _log(incident, "confirmed", "", before)
    notifications.notify_incident(incident)
    return incident


def dismiss(incident: Incident, reason: str = "") -> Incident:
    if incident.status != IncidentStatus.PROPOSED:
        raise DomainError("只有待确认的检测结果可以驳回")
    before = snapshot(incident)
    incident.status = IncidentStatus.DISMISSED
    incident.void_reason = (reason or "").strip() or "管理员驳回"
    _log(incident, "dismissed", incident.void_reason, before)
    return incident


# ------------------------------------------------------------------ what the desk and correction forms offer


def offered_units() -> list[Unit]:
    """The units the desk form offers: the active ones, in listing order (an inactive unit's past stays)."""
    return list(
        db.session.scalars(select(Unit).where(Unit.active.is_(True)).order_by(Unit.display_order, Unit.code))
    )


def offered_unit(unit_id: int | str | None) -> Unit | None:
    """The unit chosen on the desk form, if it exists and is active."""
    number = _as_int(unit_id)
    if number is None or not 0 < number < 2**63:
        return None
    unit = db.session.get(Unit, number)
    return unit if unit is not None and unit.active else None


def staff_on(unit: Unit, day: date) -> list[tuple[Staff, Posting]]:
    """Who was posted at the unit on that day, with the posting (window, category), windows first."""
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


def rule_groups(rulebook: Rulebook) -> list[tuple[str, list[Rule]]]:
    """Rules grouped as rulebook.md lists them (deductions by heading, then bonuses); not derived ones."""
    groups: dict[str, list[Rule]] = {}
    for rule in rulebook.rules:
        if not rule.derived:
            groups.setdefault(rule.group or _("其他"), []).append(rule)
    return list(groups.items())


def linked_choices(unit: Unit, day: date, exclude_id: int | None = None) -> list[Incident]:
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


def linked_to(incident: Incident) -> list[Incident]:
    """The incidents that point at this one (D15 at its violation)."""
    return list(
        db.session.scalars(select(Incident).where(Incident.linked_id == incident.id).order_by(Incident.id))
    )


def month_open(incident: Incident) -> bool:
    return closed_month_problem(incident.occurred_at) is None


def _as_int(value) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


@dataclass
class Choices:
    """What the desk form (and the correction form) offer for the values typed so far.

    `day` is the day whose roster, rulebook and month are offered: the typed one, or today when the typed
    one is out of range (a year like 0001 or 9999 has no roster, and no month the database can bound).
    `occurred_at` (aware UTC) is None then, so nothing is previewed for it.
    """

    unit: Unit | None
    day: date
    occurred_at: datetime | None
    rulebook: Rulebook
    rule: Rule | None
    groups: list[tuple[str, list[Rule]]]
    staff: list[tuple[Staff, Posting]]
    linked: list[Incident]
    warnings: list[Warning] = dataclasses.field(default_factory=list)
    day_problem: str | None = None  # why the typed time cannot be used (out of bounds), in Chinese


def _offered_day(occurred: datetime | None) -> tuple[date, datetime | None]:
    """The day to offer choices for and the typed time in UTC, for a naive hall time as typed."""
    today = hall_today()
    if occurred is None:
        return today, None
    first = first_rulebook_day()
    if occurred.date() > today or (first is not None and occurred.date() < first):
        return today, None
    try:
        return occurred.date(), from_hall(occurred)
    except (OverflowError, ValueError):
        return today, None


def choices(
    unit: Unit | None,
    occurred: datetime | None,
    rule_code: str | None,
    staff_pk: int | str | None = None,
    exclude_id: int | None = None,
) -> Choices:
    """The choices for a unit, a typed hall time (naive, as the form reads it) and a rule code."""
    from services import warnings

    day, occurred_at = _offered_day(occurred)
    rulebook = rulebook_for_month(day.year, day.month)
    rule = None
    if rule_code:
        try:
            rule = rulebook.rule(rule_code)
        except KeyError:
            rule = None
    if rule is not None and rule.derived:
        rule = None
    return Choices(
        unit=unit,
        day=day,
        occurred_at=occurred_at,
        rulebook=rulebook,
        rule=rule,
        groups=rule_groups(rulebook),
        staff=staff_on(unit, day) if unit else [],
        linked=linked_choices(unit, day, exclude_id) if unit and rule and "linked" in rule.requires else [],
        warnings=(
            warnings.recent(unit, rule.code, _as_int(staff_pk)) if unit and rule and rule.warning_rule else []
        ),
        day_problem=day_problem(occurred) if occurred is not None else None,
    )


# ------------------------------------------------------------------ checking what was typed


@dataclass
class Draft:
    """An incident as typed on the desk form or the correction form: choices as submitted (text ids)."""

    unit: Unit | None
    occurred: datetime | None  # naive hall time as typed; None when the form could not read it
    rule_code: str = ""
    count: int | None = 1
    staff_pk: str = ""
    window: str = ""
    linked_id: str = ""
    deadline: date | None = None
    rectified_on: date | None = None
    exempt: bool = False
    note: str = ""
    public_text: str = ""
    unit_given: bool = True  # a unit was chosen (an unknown or inactive one leaves `unit` None)


def day_problem(occurred: datetime | None) -> str | None:
    """Why an incident (or a warning) may not be dated at the typed hall time; None when it may."""
    if occurred is None:
        return _("请填写发生时间")
    problem = incident_day_problem(occurred.date())
    if problem:
        return problem
    try:
        occurred_at = from_hall(occurred)
    except (OverflowError, ValueError):
        return _("请填写正确的日期和时间,如 2024-03-20 09:30")
    if occurred_at > utc_now() + CLOCK_SKEW:
        return _("发生时间不能晚于现在")
    return None


def draft_problems(draft: Draft, offered: Choices) -> tuple[dict | None, list[tuple[str, str]]]:
    """Check a draft against what the form offered: (the values for `create`, []) or (None, problems).

    Problems are (form field name, Chinese message): every entry check of the desk and the correction
    form, so a view puts them on its fields and writes nothing.
    """
    problems: list[tuple[str, str]] = []

    def fail(name: str, message: str) -> None:
        if (name, message) not in problems:
            problems.append((name, message))

    unit = draft.unit
    if unit is None:
        fail("unit_id", _("所选单位不存在或已停用") if draft.unit_given else _("请选择单位"))
    problem = day_problem(draft.occurred)
    if problem:
        fail("occurred_at", problem)
    rule = offered.rule
    if rule is None:
        fail(
            "rule_code",
            _("请选择考核规则")
            if not draft.rule_code
            else _("规则 %(code)s 不存在或不能手工登记", code=draft.rule_code),
        )
    staff = None
    if draft.staff_pk:
        posted = {str(s.id): s for s, _p in offered.staff}
        staff = posted.get(str(draft.staff_pk))
        if staff is None:
            fail("staff_pk", _("该人员在发生日期不在所选单位"))
    window = draft.window or None
    if window and unit and window not in unit.window_list:
        fail("window", _("窗口 %(window)s 不属于%(name)s", window=window, name=unit.name))
    if unit is None or rule is None:
        return None, problems
    linked = None
    if "linked" in rule.requires:
        offered_linked = {str(i.id): i for i in offered.linked}
        if not draft.linked_id:
            fail("linked_id", _("%(code)s 必须选择所加扣的违规记录", code=rule.code))
        elif str(draft.linked_id) not in offered_linked:
            fail("linked_id", _("所选违规记录不是该单位本月已确认的扣分记录"))
        else:
            linked = offered_linked[str(draft.linked_id)]
    has_deadline = "deadline" in rule.requires
    values = {
        "unit": unit,
        "rule_code": rule.code,
        "occurred_at": offered.occurred_at,
        "count": draft.count,
        "staff": staff,
        "window": window,
        "note": (draft.note or "").strip(),
        "public_text": (draft.public_text or "").strip(),
        "deadline": draft.deadline if has_deadline else None,
        "rectified_on": draft.rectified_on if has_deadline else None,
        "exempt": bool(draft.exempt),
        "linked": linked,
    }
    posting = staff.posting_on(offered.day) if staff else None
    for name, message in rule_problems(
        offered.rulebook,
        rule.code,
        count=draft.count,
        staff_category=posting.category if posting else None,
        deadline=values["deadline"],
        exempt=values["exempt"],
        window=window,
        unit=unit,
        day=offered.day if offered.occurred_at is not None else None,
        rectified_on=values["rectified_on"],
    ):
        fail({"staff_id": "staff_pk"}.get(name, name), message)
    if values["rectified_on"] is not None and values["rectified_on"] > hall_today():
        fail("rectified_on", _("整改完成日期不能晚于今天"))
    if offered.occurred_at is None and not problems:  # cannot happen after day_problem; kept as a guard
        fail("occurred_at", _("请填写发生时间"))
    return (None if problems else values), problems


def log_from_desk(draft: Draft, files, offered: Choices | None = None) -> tuple[Incident, list[Evidence]]:
    """Log an incident typed at the desk with its evidence photos; FieldProblems and nothing written if
    anything is wrong (a bad photo refuses the whole submission, before any file is written)."""
    offered = offered or choices(draft.unit, draft.occurred, draft.rule_code, draft.staff_pk)
    values, problems = draft_problems(draft, offered)
    uploads: list[evidence_service.Upload] = []
    try:
        uploads = evidence_service.read_uploads(files)
    except DomainError as error:
        problems.append(("evidence", str(error)))
    if problems or values is None:
        raise FieldProblems(problems)
    incident = create(
        values.pop("unit"), values.pop("rule_code"), values.pop("occurred_at"), source="desk", **values
    )
    return incident, evidence_service.store(incident, uploads)


def changes_from(incident: Incident, values: dict) -> dict:
    """Only what differs from the stored incident, in `correct`'s field names. The form shows minutes: a
    time typed as the stored one's minute keeps the stored seconds (a patrol tap's) rather than changing."""
    occurred_at = values["occurred_at"]
    stored = incident.occurred_at
    if occurred_at is not None and stored.replace(second=0, microsecond=0) == occurred_at:
        occurred_at = stored
    wanted = {
        "rule_code": values["rule_code"],
        "occurred_at": occurred_at,
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


def correction_problems(
    incident: Incident, draft: Draft, offered: Choices
) -> tuple[dict | None, list[tuple[str, str]]]:
    """`draft_problems` for the correction form, plus: not a voided incident, not one of a closed month."""
    if incident.status == IncidentStatus.VOIDED:
        return None, [("reason", _("已作废的记录不能修改"))]
    values, problems = draft_problems(draft, offered)
    closed = closed_month_problem(incident.occurred_at)
    if closed and ("occurred_at", closed) not in problems:
        problems.insert(0, ("occurred_at", closed))
    return (None if problems else values), problems


def correct_from_form(
    incident: Incident, draft: Draft, reason: str, offered: Choices | None = None
) -> Incident:
    """Correct an incident from the correction form; FieldProblems and nothing written if anything is
    wrong (a voided incident, its month or the new one closed, a bad field, nothing changed)."""
    offered = offered or choices(incident.unit, draft.occurred, draft.rule_code, draft.staff_pk, incident.id)
    values, problems = correction_problems(incident, draft, offered)
    if problems or values is None:
        raise FieldProblems(problems)
    changes = changes_from(incident, values)
    if not changes:
        raise FieldProblems([("reason", _("没有任何改动"))])
    try:
        return correct(incident, changes, reason)
    except FieldProblems:
        raise
    except DomainError as error:
        raise FieldProblems([("reason", str(error))]) from error


def add_evidence(incident: Incident, files) -> list[Evidence]:
    """Add photos to an incident (not a voided one, not in a closed month); nothing written if refused."""
    uploads = evidence_service.read_uploads(files)
    if not uploads:
        raise DomainError(_("请选择要添加的照片"))
    if incident.status == IncidentStatus.VOIDED:
        raise DomainError(_("已作废的记录不能添加附件"))
    check_month_open(incident.occurred_at)
    return evidence_service.store(incident, uploads)
