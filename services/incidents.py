"""Logging, correcting, voiding, confirming and dismissing incidents; each change kept in its history."""

from __future__ import annotations

from datetime import date, datetime

from models import Incident, IncidentHistory, IncidentStatus, Staff, Unit, db
from scoring import Rulebook
from services import DomainError
from services.audit import acting_user_id, record
from services.clock import to_hall, utc_now
from services.months import require_open_for
from services.rulebooks import rulebook_for_month

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
) -> list[tuple[str, str]]:
    """What is wrong with an incident's fields under the rulebook, as (field, Chinese message) pairs.

    Shared by the forms, the imports and the service so every entry path says the same thing.
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
    require_open_for(occurred_at)
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
    return incident


def correct(incident: Incident, changes: dict, reason: str) -> Incident:
    reason = (reason or "").strip()
    if not reason:
        raise DomainError("修改记录必须填写原因")
    if incident.status == IncidentStatus.VOIDED:
        raise DomainError("已作废的记录不能修改")
    require_open_for(incident.occurred_at)
    if "occurred_at" in changes:
        require_open_for(changes["occurred_at"])
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
    require_open_for(incident.occurred_at)
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
    require_open_for(incident.occurred_at)
    before = snapshot(incident)
    incident.status = IncidentStatus.CONFIRMED
    _log(incident, "confirmed", "", before)
    return incident


def dismiss(incident: Incident, reason: str = "") -> Incident:
    if incident.status != IncidentStatus.PROPOSED:
        raise DomainError("只有待确认的检测结果可以驳回")
    before = snapshot(incident)
    incident.status = IncidentStatus.DISMISSED
    incident.void_reason = (reason or "").strip() or "管理员驳回"
    _log(incident, "dismissed", incident.void_reason, before)
    return incident
