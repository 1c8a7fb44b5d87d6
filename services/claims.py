"""Bonus claims (加分申请): a unit claims a bonus that comes from outside the hall (the rulebook marks those
rules `claimable`: a pennant, a letter of thanks, a media report, adopted information) with the day, a
description and evidence; an admin approves it once into a confirmed bonus incident (services.incidents.
create, within the date bounds of services.bounds) or rejects it with a reason.
"""

from __future__ import annotations

from datetime import date, datetime, time

from flask_babel import gettext as _
from sqlalchemy import select

from models import BonusClaim, Evidence, RequestStatus, Unit, db
from scoring import Rule, RuleKind
from services import DomainError, evidence
from services.appeals import _decide, clean_text, read_files, store_files
from services.audit import acting_user_id, record
from services.bounds import incident_day_problem
from services.clock import from_hall, hall_now, hall_today, utc_now
from services.notifications import notify_unit
from services.rulebooks import rulebook_for_month


def claimable_rules(day: date | None = None) -> list[Rule]:
    """The bonuses units may claim under the rulebook of `day`'s month (today's by default)."""
    day = day or hall_today()
    rulebook = rulebook_for_month(day.year, day.month)
    return [r for r in rulebook.rules if r.claimable and r.kind == RuleKind.BONUS and not r.derived]


def _claimable(rule_code: str, day: date) -> Rule:
    for rule in claimable_rules(day):
        if rule.code == rule_code:
            return rule
    raise DomainError(_("规则 %(code)s 不是单位可以申请的加分项", code=rule_code or "—"))


def submit(unit: Unit, rule_code: str, occurred_on: date | None, description: str, files=None) -> BonusClaim:
    """A unit's claim, checked as the bonus incident it would become: a day the hall may still log."""
    if occurred_on is None:
        raise DomainError(_("请填写获得表扬或报道的日期"))
    problem = incident_day_problem(occurred_on)
    if problem:
        raise DomainError(problem)
    _claimable(rule_code, occurred_on)
    description = clean_text(description, _("申请说明"))
    uploads = read_files(files, required=True)
    claim = BonusClaim(
        unit_id=unit.id,
        rule_code=rule_code,
        occurred_on=occurred_on,
        description=description,
        status=RequestStatus.OPEN,
        submitted_at=utc_now(),
        submitted_by_id=acting_user_id(),
    )
    db.session.add(claim)
    db.session.flush()
    stored = store_files(uploads, unit.id, claim=claim)
    record(
        "claim.submit",
        f"claim:{claim.id}",
        after={
            "rule_code": rule_code,
            "occurred_on": occurred_on.isoformat(),
            "text": description,
            "files": evidence.file_summary(stored),
        },
    )
    return claim


def _occurred_at(day: date) -> datetime:
    """The bonus incident's time: 09:00 hall time on the claimed day (never later than now)."""
    at = datetime.combine(day, time(9, 0))
    now = hall_now().replace(tzinfo=None, second=0, microsecond=0)
    return from_hall(min(at, now) if day == now.date() else at)


def decide(claim: BonusClaim, approve: bool, reason: str = "") -> BonusClaim:
    """Approve into a confirmed bonus incident (its files become the incident's evidence), or reject with
    a reason; once."""
    if claim.status != RequestStatus.OPEN:
        raise DomainError(_("该加分申请已经处理,不能重复决定"))
    reason = (reason or "").strip()
    if approve:
        from services import incidents

        _claimable(claim.rule_code, claim.occurred_on)
        incident = incidents.create(
            claim.unit,
            claim.rule_code,
            _occurred_at(claim.occurred_on),
            public_text=claim.description,
            note=_("单位加分申请 #%(id)d 审核通过", id=claim.id) + (f":{reason}" if reason else ""),
            source="claim",
        )
        for f in claim.files:
            # The claim's photos are the bonus's evidence: the same stored files, listed on the incident too.
            db.session.add(
                Evidence(
                    incident=incident,
                    filename=f.filename,
                    stored_name=f.stored_name,
                    content_type=f.content_type,
                    size=f.size,
                    uploaded_at=f.uploaded_at,
                    uploaded_by_id=f.uploaded_by_id,
                )
            )
        claim.incident = incident
        _decide(claim, RequestStatus.APPROVED, reason)
        title = _("加分申请已通过:%(code)s", code=claim.rule_code)
    else:
        reason = clean_text(reason, _("不予通过的理由"))
        _decide(claim, RequestStatus.REJECTED, reason)
        title = _("加分申请未通过:%(code)s", code=claim.rule_code)
    db.session.flush()
    record(
        "claim.decide",
        f"claim:{claim.id}",
        before={"status": RequestStatus.OPEN},
        after={"status": claim.status, "reason": reason, "incident": claim.incident_id},
    )
    notify_unit(claim.unit_id, "claim_decided", title, f"/portal/requests#claim-{claim.id}")
    return claim


def pending() -> list[BonusClaim]:
    return list(
        db.session.scalars(
            select(BonusClaim).where(BonusClaim.status == RequestStatus.OPEN).order_by(BonusClaim.id)
        )
    )


def recent_decided(limit: int = 30) -> list[BonusClaim]:
    return list(
        db.session.scalars(
            select(BonusClaim)
            .where(BonusClaim.status != RequestStatus.OPEN)
            .order_by(BonusClaim.decided_at.desc(), BonusClaim.id.desc())
            .limit(limit)
        )
    )


def for_unit(unit_id: int) -> list[BonusClaim]:
    return list(
        db.session.scalars(
            select(BonusClaim).where(BonusClaim.unit_id == unit_id).order_by(BonusClaim.id.desc())
        )
    )


# ------------------------------------------------------------------ the demo hall


def load_demo(unit_users: dict[int, int], admin_id: int | None) -> dict:
    """Claims in the demo hall: approved, rejected and waiting, dated in the current month."""
    from datetime import timedelta

    from services.audit import acting_as

    made = {"claims": 0}
    rules = claimable_rules()
    if not rules or not unit_users:
        return made
    today = hall_today()
    day = max(today.replace(day=1), today - timedelta(days=3))
    plans = [
        (True, rules[0].code, "办事群众赠送锦旗一面,感谢窗口延时服务。", ""),
        (
            False,
            rules[min(1, len(rules) - 1)].code,
            "市电视台采访报道窗口工作。",
            "所附材料为单位内部简报,不是媒体报道,不予加分。",
        ),
        (None, rules[-1].code, "报送的窗口服务信息被市政务服务网采纳。", ""),
    ]
    unit_ids = list(unit_users)
    for n, (outcome, code, text, answer) in enumerate(plans):
        unit_id = unit_ids[n % len(unit_ids)]
        with acting_as(unit_users[unit_id]):
            claim = BonusClaim(
                unit_id=unit_id,
                rule_code=code,
                occurred_on=day,
                description=text,
                status=RequestStatus.OPEN,
                submitted_at=utc_now(),
                submitted_by_id=unit_users[unit_id],
            )
            db.session.add(claim)
            db.session.flush()
            record("claim.submit", f"claim:{claim.id}", after={"rule_code": code, "text": text})
        if outcome is not None:
            with acting_as(admin_id):
                decide(claim, outcome, answer)
        made["claims"] += 1
    return made
