"""Standings: the one service every page, export, API and CLI call for a month's results.

Open months are scored live from confirmed incidents; closed and published months come from the
snapshot stored when they were closed, so they never move.
"""

from __future__ import annotations

from datetime import date, timedelta
from threading import Lock

from sqlalchemy import and_, func, or_, select

from models import AuditLog, Incident, IncidentStatus, Month, MonthStatus, Unit, db
from scoring import Flag, Grade, IncidentIn, Item, MonthResult, UnitIn, UnitResult, score_month
from services.clock import hall_today, month_utc_range, to_hall
from services.rulebooks import rulebook_for_month

_cache: dict[tuple, MonthResult] = {}
_cache_lock = Lock()


def month_row(year: int, month: int) -> Month | None:
    return db.session.scalar(select(Month).where(Month.year == year, Month.month == month))


def month_status(year: int, month: int) -> str:
    row = month_row(year, month)
    return row.status if row else MonthStatus.OPEN


def change_marker() -> int:
    """The newest audit row id: every change writes one, so it tells whether anything changed."""
    return db.session.scalar(select(func.max(AuditLog.id))) or 0


def active_units() -> list[UnitIn]:
    rows = db.session.execute(
        select(Unit.code, Unit.name, Unit.display_order).where(Unit.active.is_(True)).order_by(Unit.code)
    )
    return [UnitIn(code=c, name=n, display_order=o) for c, n, o in rows]


def incidents_for_month(year: int, month: int) -> list[IncidentIn]:
    """Confirmed incidents dated in the month, plus D19a whose overdue D19b may land in it."""
    start, end = month_utc_range(year, month)
    first = date(year, month, 1)
    last = date(year + (month == 12), month % 12 + 1, 1) - timedelta(days=1)
    rows = db.session.execute(
        select(
            Incident.id, Unit.code, Incident.rule_code, Incident.occurred_at, Incident.count,
            Incident.exempt, Incident.deadline, Incident.rectified_on,
        )
        .join(Unit, Unit.id == Incident.unit_id)
        .where(
            Incident.status == IncidentStatus.CONFIRMED,
            Unit.active.is_(True),
            or_(
                and_(Incident.occurred_at >= start, Incident.occurred_at < end),
                and_(
                    Incident.rule_code == "D19a",
                    Incident.deadline >= first - timedelta(days=1),
                    Incident.deadline <= last - timedelta(days=1),
                ),
            ),
        )
    )
    return [
        IncidentIn(
            id=i, unit_code=code, rule_code=rule, occurred_on=to_hall(at).date(), count=count or 1,
            exempt=bool(exempt), deadline=deadline, rectified_on=rectified,
        )
        for i, code, rule, at, count, exempt, deadline, rectified in rows
    ]


def _score_live(year: int, month: int, today: date, earlier_unqualified: dict[str, int] | None) -> MonthResult:
    return score_month(
        rulebook_for_month(year, month), active_units(), incidents_for_month(year, month),
        year, month, today, earlier_unqualified,
    )


def _earlier_unqualified(year: int, month: int, today: date) -> dict[str, int]:
    """Unqualified months of the same year before this one, per unit (replace_staff reads it)."""
    counts: dict[str, int] = {}
    for m in range(1, month):
        earlier = _frozen(year, m) or _score_live(year, m, today, None)
        for unit in earlier.units:
            if unit.grade == Grade.UNQUALIFIED:
                counts[unit.code] = counts.get(unit.code, 0) + 1
    return counts


def _frozen(year: int, month: int) -> MonthResult | None:
    row = month_row(year, month)
    if row and row.status != MonthStatus.OPEN and row.snapshot:
        return result_from_dict(row.snapshot)
    return None


def live_standings(year: int, month: int) -> MonthResult:
    """Score the month from the database now, whatever its status (used to freeze it at closing)."""
    today = hall_today()
    return _score_live(year, month, today, _earlier_unqualified(year, month, today))


def standings(year: int, month: int) -> MonthResult:
    """The month's results: frozen if closed or published, else live (cached until the next change)."""
    frozen = _frozen(year, month)
    if frozen:
        return frozen
    key = (db.engine.url.render_as_string(), year, month, hall_today(), change_marker())
    with _cache_lock:
        hit = _cache.get(key)
    if hit:
        return hit
    result = live_standings(year, month)
    with _cache_lock:
        if len(_cache) > 64:
            _cache.clear()
        _cache[key] = result
    return result


def standings_json(year: int, month: int) -> dict:
    """The stable JSON of `GET /api/standings` and `standings --json`."""
    result = standings(year, month)
    return {
        "month": result.label,
        "rulebook": result.rulebook_key,
        "status": str(month_status(year, month)),
        "units": [
            {
                "code": u.code, "name": u.name, "rank": u.rank, "score": u.score,
                "deductions": u.deductions, "bonus": u.bonus, "grade": str(u.grade), "flags": u.flag_codes,
            }
            for u in result.units
        ],
    }


def result_to_dict(result: MonthResult) -> dict:
    return {
        "year": result.year, "month": result.month, "rulebook_key": result.rulebook_key,
        "units": [
            {
                "code": u.code, "name": u.name, "deductions": u.deductions, "bonus": u.bonus,
                "score": u.score, "grade": str(u.grade), "rank": u.rank,
                "flags": [{"code": f.code, "reasons": list(f.reasons)} for f in u.flags],
                "items": [
                    {
                        "rule_code": i.rule_code, "occurred_on": i.occurred_on.isoformat(), "count": i.count,
                        "points": i.points, "incident_id": i.incident_id, "derived": i.derived,
                        "exempt": i.exempt,
                    }
                    for i in u.items
                ],
            }
            for u in result.units
        ],
    }


def result_from_dict(data: dict) -> MonthResult:
    return MonthResult(
        year=data["year"], month=data["month"], rulebook_key=data["rulebook_key"],
        units=tuple(
            UnitResult(
                code=u["code"], name=u["name"], deductions=u["deductions"], bonus=u["bonus"],
                score=u["score"], grade=Grade(u["grade"]), rank=u["rank"],
                flags=tuple(Flag(code=f["code"], reasons=tuple(f["reasons"])) for f in u["flags"]),
                items=tuple(
                    Item(
                        rule_code=i["rule_code"], occurred_on=date.fromisoformat(i["occurred_on"]),
                        count=i["count"], points=i["points"], incident_id=i["incident_id"],
                        derived=i["derived"], exempt=i["exempt"],
                    )
                    for i in u["items"]
                ),
            )
            for u in data["units"]
        ),
    )
