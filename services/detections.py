"""Detections: D13 (staff turnover) from the roster history and D16 (missed clock-in) from the punches.

`run` builds the scoring's plain inputs from the database, calls `scoring.detect_d13` / `detect_d16`
and stores each proposal as a *proposed* incident (it does not count until an admin confirms it). A
proposal's key is stored as the incident's `detection_key` (unique), and keys already held in any status
are skipped, so a rerun proposes nothing twice and a dismissed proposal never comes back.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.orm import selectinload

from models import ClockOutage, ClockPunch, Incident, IncidentHistory, IncidentStatus, Leave, Staff, Unit, db
from scoring import Leave as LeaveIn
from scoring import Outage, Proposal, Punch, RuleKind, detect_d13, detect_d16, unknown_staff
from services import DomainError
from services import incidents as incident_service
from services.audit import record
from services.calendar_admin import hall_calendar
from services.clock import from_hall, hall_now, month_utc_range, to_hall
from services.months import is_open
from services.roster import roster_entries
from services.rulebooks import rulebook_for_month

Progress = Callable[[int, int], Any]
_CHUNK = 500


def _naive(dt: datetime) -> datetime:
    return to_hall(dt).replace(tzinfo=None)


def _punches(year: int, month: int) -> list[Punch]:
    start, end = month_utc_range(year, month)
    rows = db.session.execute(
        select(ClockPunch.staff_id, ClockPunch.punched_at).where(
            ClockPunch.punched_at >= start, ClockPunch.punched_at < end
        )
    )
    return [Punch(staff_id=s, punched_at=_naive(at)) for s, at in rows]


def _outages(year: int, month: int) -> list[Outage]:
    start, end = month_utc_range(year, month)
    rows = db.session.scalars(
        select(ClockOutage).where(ClockOutage.start_at < end, ClockOutage.end_at > start)
    )
    return [Outage(start=_naive(o.start_at), end=_naive(o.end_at)) for o in rows]


def _leaves() -> list[LeaveIn]:
    rows = db.session.execute(
        select(Staff.staff_id, Leave.start_date, Leave.end_date).join(Staff, Staff.id == Leave.staff_pk)
    )
    return [LeaveIn(staff_id=s, start_date=a, end_date=b) for s, a, b in rows]


def _held_keys(keys: Iterable[str]) -> set[str]:
    keys = list(keys)
    held: set[str] = set()
    for i in range(0, len(keys), _CHUNK):
        held.update(
            db.session.scalars(
                select(Incident.detection_key).where(Incident.detection_key.in_(keys[i : i + _CHUNK]))
            )
        )
    return held


# The rule roles the system detects; the month's rulebook says which rule each one proposes (2023: D13, D16).
DETECTED_ROLES = ("turnover_rule", "clock_in_rule")


def detected_rules(year: int, month: int) -> tuple[str, ...]:
    """The codes of the month's detected rules, in `DETECTED_ROLES` order (roles no rule plays left out)."""
    rulebook = rulebook_for_month(year, month)
    return tuple(code for role in DETECTED_ROLES if (code := rulebook.role_code(role)))


def proposals(year: int, month: int, rules: Iterable[str] | None = None) -> tuple[list[Proposal], list[str]]:
    """Every turnover (D13) and clock-in (D16) proposal for the month (held or not), and the punches'
    unknown staff ids. `rules` narrows to some of `detected_rules` (default: all of them)."""
    rules = detected_rules(year, month) if rules is None else tuple(rules)
    roster = roster_entries()
    settings = rulebook_for_month(year, month).settings
    punches = _punches(year, month)
    # Hall "now", not just today: a clock-in window that has not ended yet is never flagged.
    through = hall_now().replace(tzinfo=None)
    found: list[Proposal] = []
    if settings.turnover_rule and settings.turnover_rule in rules:
        # The reason is the text the unit reads and the documents print: people by name, not by id.
        names = {sid: name for sid, name in db.session.execute(select(Staff.staff_id, Staff.name))}
        found += detect_d13(roster, year, month, settings, names)
    if settings.clock_in_rule and settings.clock_in_rule in rules:
        found += detect_d16(
            roster,
            punches,
            hall_calendar(),
            year,
            month,
            settings,
            outages=_outages(year, month),
            leaves=_leaves(),
            through=through,
        )
    return found, unknown_staff(punches, roster)


def run(
    year: int,
    month: int,
    *,
    confirm: bool = False,
    progress: Progress | None = None,
    rules: Iterable[str] | None = None,
) -> dict:
    """Propose the month's D13 and D16 incidents; with `confirm`, confirm the ones made (scripted use).

    `rules` narrows the run (D16 alone makes sense only for months with clock-in data imported).
    Returns {"proposed": new proposals, "existing": proposals already held (any status), "confirmed": K,
    "unknown_staff": punch ids no roster knows, "skipped_inactive": proposals for inactive units}.
    """
    if not is_open(year, month):
        raise DomainError(f"{year}年{month}月已关账,不能运行检测;如确需检测,请先重新开放该月")
    allowed = detected_rules(year, month)
    rules = allowed if rules is None else tuple(rules)
    unknown_rules = sorted(set(rules) - set(allowed))
    if unknown_rules:
        known = f"只有 {' 和 '.join(allowed)} 由系统检测" if allowed else "该月的考核细则没有由系统检测的规则"
        raise DomainError(f"无法检测 {'、'.join(unknown_rules)}:{known}")
    found, unknown = proposals(year, month, rules)
    held = _held_keys(p.key for p in found)
    fresh = [p for p in found if p.key not in held]
    units = {u.code: u for u in db.session.scalars(select(Unit))}
    staff = {s.staff_id: s for s in db.session.scalars(select(Staff).options(selectinload(Staff.postings)))}
    rows, skipped = _checked_rows(fresh, units, staff)
    ids = _write_proposed(rows)
    confirmed = 0
    if confirm:
        _write_confirmed(rows, ids)
        confirmed = len(rows)
    summary = {
        "month": f"{year:04d}-{month:02d}",
        "proposed": len(rows),
        "existing": len(found) - len(fresh),
        "confirmed": confirmed,
        "unknown_staff": unknown,
        "skipped_inactive": skipped,
    }
    record("detect.run", f"month:{summary['month']}", after=summary)
    db.session.flush()
    if progress:
        progress(len(fresh), len(fresh))
    return summary


def _checked_rows(
    fresh: list[Proposal], units: dict[str, Unit], staff: dict[str, Staff]
) -> tuple[list[dict], int]:
    """The incident rows of the proposals, each checked as services.incidents.create checks one (its day,
    then the rule's requirements; the first problem raises DomainError), with the snapshot its history and
    audit rows hold; and how many proposals were for inactive units (skipped)."""
    from services.audit import acting_user_id
    from services.bounds import closed_month_problem, first_rulebook_day, incident_day_problem
    from services.clock import hall_today, utc_now

    today, first = hall_today(), first_rulebook_day()
    days: dict = {}  # a day's problem, asked once (services.bounds.incident_day_problem)
    rulebooks: dict = {}
    user_id, now = acting_user_id(), utc_now()
    rows, skipped = [], 0
    for proposal in fresh:
        unit = units.get(proposal.unit_code)
        if unit is None or not unit.active:
            skipped += 1  # inactive units are not assessed (rulebook.md "Exact readings")
            continue
        person = staff.get(proposal.staff_id) if proposal.staff_id else None
        posting = person.posting_on(proposal.occurred_at.date()) if person else None
        window = posting.window if posting is not None and posting.unit_id == unit.id else None
        occurred_at = from_hall(proposal.occurred_at)
        day = to_hall(occurred_at)
        if day.date() not in days:
            bad = day.date() > today or (first is not None and day.date() < first)
            bad = bad or closed_month_problem(day) is not None
            days[day.date()] = incident_day_problem(day, today=today) if bad else None
        if days[day.date()]:
            raise DomainError(days[day.date()])
        month = (day.year, day.month)
        rulebook = rulebooks.get(month) or rulebooks.setdefault(month, rulebook_for_month(*month))
        problems = incident_service.rule_problems(
            rulebook,
            proposal.rule_code,
            count=1,
            staff_category=incident_service._category(person, day.date()),  # as create's check
            deadline=None,
            exempt=False,
            window=window,
            unit=unit,
            day=day.date(),
            rectified_on=None,
        )
        if problems:
            raise DomainError(";".join(message for _field, message in problems))
        row = {
            "unit_id": unit.id,
            "rule_code": proposal.rule_code,
            "occurred_at": occurred_at,
            "count": 1,
            "staff_pk": person.id if person else None,
            "window": window or None,
            "note": proposal.reason or "",
            "public_text": proposal.reason or "",
            "deadline": None,
            "rectified_on": None,
            "exempt": False,
            "linked_id": None,
            "status": IncidentStatus.PROPOSED,
            "source": "detect",
            "detection_key": proposal.key,
            "detection_reason": "\n".join((proposal.reason, *proposal.evidence)),
            "recorded_by_id": user_id,
            "created_at": now,
        }
        shot = {  # services.incidents.snapshot of the incident the row becomes
            "unit": unit.code,
            "rule_code": row["rule_code"],
            "occurred_at": day.strftime("%Y-%m-%d %H:%M"),
            "count": 1,
            "staff": person.staff_id if person else None,
            "window": row["window"],
            "note": row["note"],
            "public_text": row["public_text"],
            "deadline": None,
            "rectified_on": None,
            "exempt": False,
            "linked_id": None,
            "status": IncidentStatus.PROPOSED.value,
            "void_reason": None,
        }
        rows.append({"incident": row, "snapshot": shot, "day": day, "unit_code": unit.code})
    return rows, skipped


def _write_proposed(rows: list[dict]) -> list[int]:
    """The proposals' incidents, their history ("proposed") and audit rows (incident.proposed), each table
    in one bulk INSERT; returns the incidents' ids, in the rows' order."""
    from services.audit import acting_user_id

    if not rows:
        return []
    made = db.session.execute(
        insert(Incident).returning(Incident.id, Incident.detection_key), [r["incident"] for r in rows]
    )
    by_key = {key: pk for pk, key in made}
    ids = [by_key[r["incident"]["detection_key"]] for r in rows]
    user_id = acting_user_id()
    db.session.execute(
        insert(IncidentHistory),
        [
            {
                "incident_id": pk,
                "by_id": user_id,
                "action": "proposed",
                "reason": "",
                "snapshot": r["snapshot"],
            }
            for pk, r in zip(ids, rows, strict=True)
        ],
    )
    _audit([("incident.proposed", pk, None, r["snapshot"]) for pk, r in zip(ids, rows, strict=True)])
    return ids


def _write_confirmed(rows: list[dict], ids: list[int]) -> None:
    """services.incidents.confirm of each proposal just written (`confirm`: scripted use), in bulk: the
    status, the history ("confirmed") and audit rows (incident.confirmed), and each unit's message."""
    from models.notification import Notification
    from services.audit import acting_user_id
    from services.bounds import check_month_open
    from services.clock import utc_now
    from services.notifications import item_link

    if not rows:
        return
    for day in {r["day"].date() for r in rows}:
        check_month_open(day)
    confirmed = IncidentStatus.CONFIRMED
    db.session.execute(update(Incident), [{"id": pk, "status": confirmed} for pk in ids])
    user_id, now = acting_user_id(), utc_now()
    after = [{**r["snapshot"], "status": confirmed.value} for r in rows]
    db.session.execute(
        insert(IncidentHistory),
        [
            {"incident_id": pk, "by_id": user_id, "action": "confirmed", "reason": "", "snapshot": shot}
            for pk, shot in zip(ids, after, strict=True)
        ],
    )
    _audit(
        [
            ("incident.confirmed", pk, r["snapshot"], shot)
            for pk, r, shot in zip(ids, rows, after, strict=True)
        ]
    )
    db.session.execute(
        insert(Notification),
        [
            {
                "unit_id": r["incident"]["unit_id"],
                "kind": "incident",
                "title": _incident_title(r["incident"]["rule_code"], r["day"])[:200],
                "link": item_link(pk),
                "key": None,
                "created_at": now,
            }
            for pk, r in zip(ids, rows, strict=True)
        ],
    )


def _incident_title(rule_code: str, day: datetime) -> str:
    """The unit's message of a confirmed item, as services.notifications.notify_incident words it."""
    rule = next((r for r in rulebook_for_month(day.year, day.month).rules if r.code == rule_code), None)
    what = "加分" if rule is not None and rule.kind == RuleKind.BONUS else "扣分"
    name = f"{rule_code} {rule.title}" if rule is not None else rule_code
    return f"新增{what}记录:{name}({day.month}月{day.day}日)"


def _audit(entries: list[tuple[str, int, dict | None, dict]]) -> None:
    """services.audit.record of each (action, incident id, before, after), in one bulk INSERT."""
    from models import AuditLog
    from services.audit import acting_user_id

    user_id = acting_user_id()
    db.session.execute(
        insert(AuditLog),
        [
            {
                "action": action,
                "target": f"incident:{pk}",
                "before": before,
                "after": after,
                "user_id": user_id,
            }
            for action, pk, before, after in entries
        ],
    )


def pending(year: int | None = None, month: int | None = None) -> list[Incident]:
    """Proposed incidents waiting for an admin, oldest first (all months, or one month)."""
    query = (
        select(Incident)
        .where(Incident.status == IncidentStatus.PROPOSED)
        .options(selectinload(Incident.unit), selectinload(Incident.staff))
        .order_by(Incident.occurred_at, Incident.id)
    )
    if year is not None and month is not None:
        start, end = month_utc_range(year, month)
        query = query.where(Incident.occurred_at >= start, Incident.occurred_at < end)
    return list(db.session.scalars(query))


def _proposed(ids: Iterable[int]) -> list[Incident]:
    ids = sorted({int(i) for i in ids})
    if not ids:
        raise DomainError("请至少选择一条检测结果")
    rows = list(db.session.scalars(select(Incident).where(Incident.id.in_(ids)).order_by(Incident.id)))
    if len(rows) != len(ids):
        raise DomainError("所选的检测结果不存在")
    return [r for r in rows if r.status == IncidentStatus.PROPOSED]


def confirm_many(ids: Iterable[int]) -> list[Incident]:
    """Confirm the chosen proposals (those already handled are left as they are); they count from now on."""
    done = [incident_service.confirm(incident) for incident in _proposed(ids)]
    db.session.flush()
    return done


def dismiss_many(ids: Iterable[int], reason: str) -> list[Incident]:
    """Dismiss the chosen proposals; they are kept (never proposed again) and never count."""
    reason = (reason or "").strip()
    if not reason:
        raise DomainError("驳回检测结果必须填写原因")
    done = [incident_service.dismiss(incident, reason) for incident in _proposed(ids)]
    db.session.flush()
    return done
