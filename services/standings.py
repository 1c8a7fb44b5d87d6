"""Standings: the one service every page, export, API and CLI call for a month's results.

Open months are scored live from confirmed incidents; closed and published months come from the
snapshot stored when they were closed, so they never move.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from threading import Lock

from sqlalchemy import String, func, select, text, type_coerce

from models import AuditLog, Incident, IncidentStatus, Month, MonthStatus, Unit, db
from scoring import Flag, Grade, IncidentIn, Item, MonthResult, UnitIn, UnitResult, score_month
from scoring.calendar import month_bounds
from services.clock import hall_today, hall_tz, month_utc_range
from services.rulebooks import rulebook_for_month

_cache: dict[tuple, MonthResult] = {}
_cache_lock = Lock()


def month_row(year: int, month: int) -> Month | None:
    return db.session.scalar(select(Month).where(Month.year == year, Month.month == month))


def month_status(year: int, month: int) -> str:
    row = month_row(year, month)
    return row.status if row else MonthStatus.OPEN


def check_month_in_range(year: int, month: int) -> None:
    """Refuse a month that has not begun, or one before the first rulebook took effect: its "standings"
    would be an invented ranking of every unit at 100."""
    from services import DomainError
    from services.rulebooks import versions

    today = hall_today()
    if (year, month) > (today.year, today.month):
        raise DomainError(f"{year:04d}-{month:02d} 尚未开始,没有考核结果")
    first = min((v.effective_from for v in versions()), default=None)
    if first and (year, month) < (first.year, first.month):
        raise DomainError(f"{year:04d}-{month:02d} 早于考核细则的生效日期 {first.isoformat()},没有考核结果")


def active_units() -> list[UnitIn]:
    rows = db.session.execute(
        select(Unit.code, Unit.name, Unit.display_order).where(Unit.active.is_(True)).order_by(Unit.code)
    )
    return [UnitIn(code=c, name=n, display_order=o) for c, n, o in rows]


def incidents_for_month(year: int, month: int) -> list[IncidentIn]:
    """Confirmed incidents dated in the month, plus the rectification rule's (D19a) whose overdue rule's
    item (D19b) may land in it."""
    start, end = month_utc_range(year, month)
    first, last = month_bounds(year, month)
    # occurred_at is read as the database gives it (SQLite: text) and turned into a hall date below:
    # building an aware datetime per row is most of the time of a month with thousands of incidents.
    columns = (
        Incident.id,
        Unit.code,
        Incident.rule_code,
        type_coerce(Incident.occurred_at, String),
        Incident.count,
        Incident.exempt,
        Incident.deadline,
        Incident.rectified_on,
    )
    base = select(*columns).join(Unit, Unit.id == Incident.unit_id).where(Unit.active.is_(True))
    # Two queries rather than one with OR, so each can use its own index (status+occurred_at; rule_code):
    # with the OR the database scans every confirmed incident of every month. The D19a query checks the
    # status in Python, or SQLite (without statistics) would pick the status index and scan them all.
    dated = db.session.execute(
        base.where(
            Incident.status == IncidentStatus.CONFIRMED,
            Incident.occurred_at >= start,
            Incident.occurred_at < end,
        )
    ).all()
    # The rulebook scoring this month says which rule carries a deadline (D19a in 2023).
    rectification = rulebook_for_month(year, month).role_code("rectification_rule")
    overdue = [
        row[:-1]
        for row in db.session.execute(
            base.add_columns(Incident.status).where(
                Incident.rule_code == (rectification or ""),  # "": this rulebook has no such rule
                Incident.deadline >= first - timedelta(days=1),
                Incident.deadline <= last - timedelta(days=1),
            )
        )
        if row[-1] == IncidentStatus.CONFIRMED
    ]
    out: dict[int, IncidentIn] = {}
    for rows, day_of in ((dated, _hall_day(start, end)), (overdue, _stored_hall_day)):
        for i, code, rule, at, count, exempt, deadline, rectified in rows:
            if i not in out:
                out[i] = IncidentIn(
                    id=i,
                    unit_code=code,
                    rule_code=rule,
                    occurred_on=day_of(at),
                    count=count or 1,
                    exempt=bool(exempt),
                    deadline=deadline,
                    rectified_on=rectified,
                )
    return list(out.values())


def _stored_hall_day(stored: str | datetime) -> date:
    """A stored UTC timestamp (SQLite text or a naive datetime) -> its hall date."""
    at = datetime.fromisoformat(stored) if isinstance(stored, str) else stored
    return (at if at.tzinfo else at.replace(tzinfo=UTC)).astimezone(hall_tz()).date()


def _hall_day(start: datetime, end: datetime):
    """Stored UTC timestamps in [start, end) -> hall dates, with one fixed offset when the month has no
    daylight-saving change (always, for China), else per row."""
    tz = hall_tz()
    offset = start.astimezone(tz).utcoffset()
    if offset != (end - timedelta(microseconds=1)).astimezone(tz).utcoffset():
        return _stored_hall_day
    minutes = int(offset.total_seconds()) // 60
    cache: dict[tuple[str, int], date] = {}

    def day(stored: str | datetime) -> date:
        if isinstance(stored, str) and len(stored) >= 16 and stored[13] == ":":
            shift = (int(stored[11:13]) * 60 + int(stored[14:16]) + minutes) // 1440
            key = (stored[:10], shift)
            hit = cache.get(key)
            if hit is None:
                hit = cache[key] = date.fromisoformat(stored[:10]) + timedelta(days=shift)
            return hit
        if isinstance(stored, str):
            return _stored_hall_day(stored)
        return (stored.replace(tzinfo=None) + offset).date()

    return day


def _score_live(
    year: int, month: int, today: date, earlier_unqualified: dict[str, int] | None
) -> MonthResult:
    return score_month(
        rulebook_for_month(year, month),
        active_units(),
        incidents_for_month(year, month),
        year,
        month,
        today,
        earlier_unqualified,
    )


def _earlier_unqualified(year: int, month: int, today: date) -> dict[str, int]:
    """Unqualified months of the same year before this one, per unit (replace_staff reads it)."""
    counts: dict[str, int] = {}
    statuses = db.session.execute(
        select(Month.month, Month.status).where(Month.year == year, Month.month < month)
    ).all()
    grades = _snapshot_grades(year, sorted(m for m, status in statuses if status != MonthStatus.OPEN))
    for m in range(1, month):
        pairs = grades.get(m)
        if pairs is None:
            earlier = _frozen(year, m) or _score_live(year, m, today, None)
            pairs = [(unit.code, str(unit.grade)) for unit in earlier.units]
        for code, grade in pairs:
            if grade == Grade.UNQUALIFIED:
                counts[code] = counts.get(code, 0) + 1
    return counts


# The grades of frozen months, keyed by the month row's version: a frozen month changes only when it is
# reopened and closed again, and reading big snapshots is the slowest part of a live ranking.
_grades_cache: dict[tuple, list[tuple[str, str]]] = {}

# Per dialect: the version of each month row, and (unit code, grade) read by the database's own JSON
# functions, which is far cheaper than decoding whole snapshots (every item of every unit) in Python.
# SQLite has no row version, so the snapshot text itself is fingerprinted (hashing is cheaper than parsing);
# PostgreSQL's `xmin` (the transaction that last wrote the row) changes at every close or reopen.
_GRADE_SQL = {
    "sqlite": (
        "SELECT month, snapshot FROM month WHERE year = :year AND month IN ({})",
        "SELECT month.month, json_extract(u.value, '$.code'), json_extract(u.value, '$.grade') "
        "FROM month, json_each(month.snapshot, '$.units') AS u "
        "WHERE month.year = :year AND month.month IN ({})",
    ),
    "postgresql": (
        "SELECT month, CAST(xmin AS text) FROM month WHERE year = :year AND month IN ({})",
        "SELECT m.month, u.code, u.grade FROM month AS m, "
        "json_to_recordset(CAST(m.snapshot AS json) -> 'units') AS u(code text, grade text) "
        "WHERE m.year = :year AND m.month IN ({})",
    ),
}


def _snapshot_grades(year: int, frozen_months: list[int]) -> dict[int, list[tuple[str, str]]]:
    """(unit code, grade) of each frozen month's snapshot. Months it cannot read this way are left out;
    the caller falls back to the full snapshot."""
    sql = _GRADE_SQL.get(db.engine.dialect.name)
    if not frozen_months or sql is None:
        return {}
    url = db.engine.url.render_as_string()
    keys = {}
    for m, version in _month_query(sql[0], year, frozen_months):
        if version is not None:  # a 64-bit hash of the text: equal only for the same snapshot
            keys[m] = (url, year, m, len(version), hash(version))
    with _cache_lock:
        grades = {m: _grades_cache[key] for m, key in keys.items() if key in _grades_cache}
    missing = [m for m in frozen_months if m not in grades]
    if missing:
        fresh: dict[int, list[tuple[str, str]]] = {}
        for m, code, grade in _month_query(sql[1], year, missing):
            fresh.setdefault(m, []).append((code, grade))
        with _cache_lock:
            if len(_grades_cache) > 512:
                _grades_cache.clear()
            for m, pairs in fresh.items():
                if m in keys:
                    _grades_cache[keys[m]] = pairs
        grades.update(fresh)
    return grades


def _month_query(sql: str, year: int, months: list[int]):
    params = {"year": year, **{f"m{i}": m for i, m in enumerate(months)}}
    return db.session.execute(text(sql.format(", ".join(f":m{i}" for i in range(len(months))))), params)


def _frozen(year: int, month: int) -> MonthResult | None:
    row = month_row(year, month)
    if row and row.status != MonthStatus.OPEN and row.snapshot:
        return result_from_dict(row.snapshot)
    return None


def live_standings(year: int, month: int) -> MonthResult:
    """Score the month from the database now, whatever its status (used to freeze it at closing)."""
    today = hall_today()
    return _score_live(year, month, today, _earlier_unqualified(year, month, today))


_UNREAD = object()


def standings(year: int, month: int, *, row: Month | None = _UNREAD) -> MonthResult:  # type: ignore[assignment]
    """The month's results: frozen if closed or published, else live (cached until the next change).

    `row`: the month's row (or None: it has none) when the caller has read it already, saving a query.
    """
    if row is _UNREAD:
        row = month_row(year, month)
    if row is not None and row.status != MonthStatus.OPEN and row.snapshot:
        return result_from_dict(row.snapshot)
    # The newest audit row's id and time: ids alone repeat after a restore of an older backup.
    marker = tuple(db.session.execute(select(func.max(AuditLog.id), func.max(AuditLog.at))).one())
    key = (db.engine.url.render_as_string(), year, month, hall_today(), marker)
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


def month_rows(months: list[tuple[int, int]]) -> dict[tuple[int, int], Month]:
    """The Month rows of these (year, month) keys, in one query (a month without a row is left out)."""
    if not months:
        return {}
    years = sorted({y for y, _m in months})
    wanted = set(months)
    rows = db.session.scalars(select(Month).where(Month.year.between(years[0], years[-1])))
    return {(r.year, r.month): r for r in rows if (r.year, r.month) in wanted}


def standings_for(
    months: list[tuple[int, int]], rows: dict[tuple[int, int], Month] | None = None
) -> dict[tuple[int, int], MonthResult]:
    """`standings` of several months: the frozen ones from their rows read in one query (or the `rows`
    of `month_rows` the caller already has), the open ones live (cached like `standings`)."""
    rows = month_rows(months) if rows is None else rows
    out: dict[tuple[int, int], MonthResult] = {}
    for key in months:
        out[key] = standings(*key, row=rows.get(key))
    return out


def standings_json(year: int, month: int) -> dict:
    """The stable JSON of `GET /api/standings` and `standings --json`."""
    result = standings(year, month)
    return {
        "month": result.label,
        "rulebook": result.rulebook_key,
        "status": str(month_status(year, month)),
        "units": [
            {
                "code": u.code,
                "name": u.name,
                "rank": u.rank,
                "score": u.score,
                "deductions": u.deductions,
                "bonus": u.bonus,
                "grade": str(u.grade),
                "flags": u.flag_codes,
            }
            for u in result.units
        ],
    }


def result_to_dict(result: MonthResult) -> dict:
    return {
        "year": result.year,
        "month": result.month,
        "rulebook_key": result.rulebook_key,
        "units": [
            {
                "code": u.code,
                "name": u.name,
                "deductions": u.deductions,
                "bonus": u.bonus,
                "score": u.score,
                "grade": str(u.grade),
                "rank": u.rank,
                "flags": [{"code": f.code, "reasons": list(f.reasons)} for f in u.flags],
                "items": [
                    {
                        "rule_code": i.rule_code,
                        "occurred_on": i.occurred_on.isoformat(),
                        "count": i.count,
                        "points": i.points,
                        "incident_id": i.incident_id,
                        "derived": i.derived,
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
        year=data["year"],
        month=data["month"],
        rulebook_key=data["rulebook_key"],
        units=tuple(
            UnitResult(
                code=u["code"],
                name=u["name"],
                deductions=u["deductions"],
                bonus=u["bonus"],
                score=u["score"],
                grade=Grade(u["grade"]),
                rank=u["rank"],
                flags=tuple(Flag(code=f["code"], reasons=tuple(f["reasons"])) for f in u["flags"]),
                items=tuple(
                    Item(
                        rule_code=i["rule_code"],
                        occurred_on=date.fromisoformat(i["occurred_on"]),
                        count=i["count"],
                        points=i["points"],
                        incident_id=i["incident_id"],
                        derived=i["derived"],
                        exempt=i["exempt"],
                    )
                    for i in u["items"]
                ),
            )
            for u in data["units"]
        ),
    )
