"""Incidents from paper patrol sheets:
`occurred_at,unit_code,rule_code,staff_id,count,note,deadline,rectified_on,exempt`. Imported incidents are
confirmed.

- An incident's day keeps the bounds of every entry path (`services.bounds.incident_day_problem`): not in
  the future, not before the first rulebook, not in a closed month.
- Rows of an inactive unit import (the scoring ignores them; rulebook.md "their incidents are ignored"):
  the result says how many, as a note.
- A D15 row (a rule that is "linked") is linked to the same unit's violation at the same `occurred_at` when
  exactly one exists, in the file or already held; otherwise it is imported unlinked and listed as 待关联
  for an admin to link on the incident's correction page. It counts 10 × count either way.
- A row already held (same time, unit, rule, staff, count and note, not voided) is an error: importing the
  same sheet twice is refused.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from models import Incident, IncidentStatus, Staff, Unit, db
from scoring import RuleKind
from services.clock import from_hall, hall_now, to_hall, utc_now
from services.imports.cells import (
    MAX_TEXT,
    ParseResult,
    Rows,
    optional_date,
    parse_bool,
    parse_count,
    required,
    required_datetime,
)
from services.imports.reading import ImportRejected, RowError, cell_text

COLUMNS = (
    "occurred_at",
    "unit_code",
    "rule_code",
    "staff_id",
    "count",
    "note",
    "deadline",
    "rectified_on",
    "exempt",
)
LABEL = "扣加分记录"
EXAMPLE = ("2024-03-05 09:10", "SW01", "D01", "S0001", "1", "巡查发现迟到", "", "", "false")
_COLUMN_OF = {
    "rule_code": "rule_code",
    "count": "count",
    "deadline": "deadline",
    "exempt": "exempt",
    "staff_id": "staff_id",
    "window": "staff_id",
}


def _day_problems(today: date):
    """services.bounds.incident_day_problem for many rows: the first rulebook's day and each month's
    state read once, and the shared function asked for its message only for a day that has a problem."""
    from services.bounds import closed_month_problem, first_rulebook_day, incident_day_problem

    first = first_rulebook_day()
    closed: dict[tuple[int, int], bool] = {}
    days: dict[date, str | None] = {}

    def problem(day: date) -> str | None:
        if day not in days:
            month = (day.year, day.month)
            if month not in closed:
                closed[month] = closed_month_problem(day) is not None
            bad = day > today or (first is not None and day < first) or closed[month]
            days[day] = incident_day_problem(day, today=today) if bad else None
        return days[day]

    return problem


def read_rows(it: Rows) -> list[dict]:
    """Pure: each row's cells as values, with the checks that need nothing but the row."""
    records = []
    for number, row in it:
        at = it.cell(row, "occurred_at", required_datetime("发生时间"))
        unit_code = it.cell(row, "unit_code", lambda v: required(v, "单位代码", 32))
        rule_code = it.cell(row, "rule_code", lambda v: required(v, "规则编号", 16))
        staff_id = it.cell(row, "staff_id", cell_text) or None
        count = it.cell(row, "count", parse_count)
        note = it.cell(row, "note", cell_text, "")
        if note and len(note) > MAX_TEXT:
            it.error("note", note[:20], f"备注不能超过 {MAX_TEXT} 个字符")
        deadline = it.cell(row, "deadline", lambda v: optional_date(v, "整改期限"))
        rectified = it.cell(row, "rectified_on", lambda v: optional_date(v, "整改完成日期"))
        exempt = it.cell(row, "exempt", lambda v: parse_bool(v, False), False)
        if at is not None:
            if deadline and deadline < at.date():
                it.error("deadline", row.get("deadline"), "整改期限早于发生日期")
            if rectified and rectified < at.date():
                it.error("rectified_on", row.get("rectified_on"), "整改完成日期早于发生日期")
        records.append(
            {
                "row": number,
                "hall_at": at,
                "unit_code": unit_code,
                "rule_code": rule_code,
                "staff_id": staff_id,
                "count": count,
                "note": note,
                "deadline": deadline,
                "rectified_on": rectified,
                "exempt": exempt,
                "_raw": row,
                "_failed": set(it.failed_columns),
            }
        )
    return records


def parse(it: Rows, result: ParseResult) -> None:
    from services.clock import hall_today
    from services.incidents import rule_problems
    from services.rulebooks import rulebook_for_month

    # Incidents written after this one are looked at again when the rows are written (_lock_and_recheck).
    since_id = db.session.scalar(select(func.max(Incident.id))) or 0
    result.state["since_id"] = since_id
    units = {u.code: u for u in db.session.scalars(select(Unit))}
    staff_db = {
        s.staff_id: s for s in db.session.scalars(select(Staff).options(selectinload(Staff.postings)))
    }
    now = hall_now().replace(tzinfo=None)
    today = hall_today()
    rulebooks: dict[tuple[int, int], Any] = {}
    spelled: dict[tuple[int, int], dict[str, str]] = {}  # a month's codes by their lower case
    rules_of: dict[tuple[int, int], dict[str, Any]] = {}
    day_problem = _day_problems(today)
    seen: dict[tuple, int] = {}
    parsed: list[dict] = []
    inactive: dict[str, int] = {}

    def error(rec: dict, column: str, value: Any, message: str) -> None:
        it.error(column, value, message, rec["row"])
        rec["_failed"].add(column)

    for rec in read_rows(it):
        row, failed = rec.pop("_raw"), rec["_failed"]
        at, unit_code, rule_code = rec["hall_at"], rec["unit_code"], rec["rule_code"]
        if at is not None:
            problem = day_problem(at.date())
            if problem:
                error(rec, "occurred_at", row.get("occurred_at"), problem)
            elif at > now:
                error(rec, "occurred_at", row.get("occurred_at"), "发生时间晚于当前时间")
        unit = units.get(unit_code) if unit_code else None
        if unit_code and unit is None:
            error(rec, "unit_code", unit_code, f"单位代码 {unit_code} 不存在")
        staff, window, category = None, None, None
        if rec["staff_id"]:
            staff = staff_db.get(rec["staff_id"])
            who = f"{staff.name}({rec['staff_id']})" if staff else ""
            if staff is None:
                error(rec, "staff_id", rec["staff_id"], f"工号 {rec['staff_id']} 不在人员名册中")
            elif at is not None:
                posting = staff.posting_on(at.date())
                if posting is None:
                    error(rec, "staff_id", rec["staff_id"], f"{who}在 {at.date().isoformat()} 不在岗")
                elif unit is not None and posting.unit_id != unit.id:
                    error(
                        rec,
                        "staff_id",
                        rec["staff_id"],
                        f"{who}当日属于{posting.unit.name},不属于{unit.name}",
                    )
                else:
                    window, category = posting.window, posting.category
        rule = None
        if rule_code and at is not None:
            month = (at.year, at.month)
            if month not in rulebooks:
                rulebooks[month] = rulebook_for_month(*month)
                spelled[month] = {r.code.lower(): r.code for r in rulebooks[month].rules}
                rules_of[month] = {r.code: r for r in rulebooks[month].rules}
            rulebook = rulebooks[month]
            # Codes are written as the rulebook writes them ("D02c"); "d02C" typed by hand means the same.
            rule_code = spelled[month].get(rule_code.lower(), rule_code)
            rec["rule_code"] = rule_code
            for field_name, message in rule_problems(
                rulebook,
                rule_code,
                count=rec["count"] or 1,
                staff_category=category,
                deadline=rec["deadline"],
                exempt=bool(rec["exempt"]),
                window=window,
                unit=unit,
            ):
                column = _COLUMN_OF.get(field_name, "rule_code")
                if column not in failed:  # a cell already reported is not reported twice
                    error(rec, column, row.get(column), message)
            rule = rules_of[month].get(rule_code)
        if failed:
            continue
        key = (at, unit_code, rule_code, rec["staff_id"], rec["count"], rec["note"])
        if key in seen:
            it.error("", "", f"与第{seen[key]}行重复", rec["row"])
            continue
        seen[key] = rec["row"]
        if not unit.active:
            inactive[unit.name] = inactive.get(unit.name, 0) + 1
        rec.pop("_failed")
        rec.update(
            occurred_at=from_hall(at),
            window=window,
            needs_link="linked" in rule.requires,
            is_violation=rule.kind == RuleKind.DEDUCTION and "linked" not in rule.requires,
        )
        parsed.append(rec)
    held = _existing_incidents(parsed)
    kept = []
    for rec in parsed:
        key = (rec["hall_at"], rec["unit_code"], rec["rule_code"], rec["staff_id"], rec["count"], rec["note"])
        if key in held:
            it.error("", "", f"与已有记录重复(记录编号 {held[key]})", rec["row"])
        else:
            kept.append(rec)
    _find_links(kept, rulebooks)
    result.records.extend(kept)
    if inactive:
        result.notes["inactive_unit_rows"] = sum(inactive.values())
        result.notes["inactive_units"] = inactive
    pending = [r["row"] for r in kept if r["needs_link"] and r["link_row"] is None and r["link_id"] is None]
    if pending:
        result.notes["pending_link_rows"] = pending


def _find_links(records: list[dict], rulebooks: dict) -> None:
    """A D15 row's violation: the one deduction of the same unit at the same minute, in the file or held."""
    for rec in records:
        rec["link_row"] = rec["link_id"] = None
    linking = [r for r in records if r["needs_link"]]
    if not linking:
        return
    in_file: dict[tuple, list[int]] = {}
    for r in records:
        if r["is_violation"]:
            in_file.setdefault((r["unit_code"], r["hall_at"]), []).append(r["row"])
    start = min(r["occurred_at"] for r in linking)
    end = max(r["occurred_at"] for r in linking)
    held: dict[tuple, list[int]] = {}
    for pk, at, code, rule_code in db.session.execute(
        select(Incident.id, Incident.occurred_at, Unit.code, Incident.rule_code)
        .join(Unit, Unit.id == Incident.unit_id)
        .where(
            Incident.occurred_at >= start,
            Incident.occurred_at <= end,
            Incident.status == IncidentStatus.CONFIRMED,
        )
    ):
        hall_at = to_hall(at).replace(tzinfo=None)
        rulebook = rulebooks.get((hall_at.year, hall_at.month))
        rule = rulebook.rule(rule_code) if rulebook and rule_code in rulebook.codes else None
        if rule is not None and rule.kind == RuleKind.DEDUCTION and "linked" not in rule.requires:
            held.setdefault((code, hall_at), []).append(pk)
    for rec in linking:
        key = (rec["unit_code"], rec["hall_at"])
        rows, ids = in_file.get(key, []), held.get(key, [])
        if len(rows) + len(ids) == 1:
            rec["link_row"] = rows[0] if rows else None
            rec["link_id"] = ids[0] if ids else None


def _existing_incidents(parsed: list[dict], since_id: int = 0) -> dict[tuple, int]:
    """Incidents already held (not voided) in the file's time span, keyed like the file's rows; with
    `since_id`, only those written after it."""
    if not parsed:
        return {}
    start = min(r["occurred_at"] for r in parsed)
    end = max(r["occurred_at"] for r in parsed)
    rows = db.session.execute(
        select(
            Incident.id,
            Incident.occurred_at,
            Unit.code,
            Incident.rule_code,
            Staff.staff_id,
            Incident.count,
            Incident.note,
        )
        .join(Unit, Unit.id == Incident.unit_id)
        .outerjoin(Staff, Staff.id == Incident.staff_pk)
        .where(
            Incident.occurred_at >= start,
            Incident.occurred_at <= end,
            Incident.status != IncidentStatus.VOIDED,
            Incident.id > since_id,
        )
    )
    return {
        (to_hall(at).replace(tzinfo=None), code, rule, staff_id, count, note or ""): pk
        for pk, at, code, rule, staff_id, count, note in rows
    }


# Rows written per statement: each chunk is a few multi-row INSERTs (within SQLite's parameter limit).
CHUNK = 2000
# PostgreSQL: two incident imports write one after the other (each re-checks what the other wrote).
_PG_LOCK = 727_010


def _lock_and_recheck(records: list[dict], since_id: int | None) -> None:
    """Take the write lock first, then look again at what was written since the file was checked.

    The file was checked without any lock held (the desk and the hall screens kept working); between that
    and now another import or the desk may have written the same incident, or a month may have closed.
    On SQLite an empty UPDATE takes the write lock, so nothing can come in between this check and the
    writes; on PostgreSQL an advisory lock makes incident imports take turns.
    """
    from sqlalchemy import text

    from services.clock import hall_today

    if db.engine.dialect.name == "postgresql":
        db.session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK})
    else:
        db.session.execute(text("UPDATE incident SET id = id WHERE 0"))
    problems: list[RowError] = []
    day_problem = _day_problems(hall_today())
    for rec in records:
        problem = day_problem(rec["hall_at"].date())
        if problem:
            problems.append(RowError(rec["row"], "occurred_at", cell_text(rec["hall_at"]), problem))
    held = _existing_incidents(records, since_id or 0)
    for rec in records:
        key = (rec["hall_at"], rec["unit_code"], rec["rule_code"], rec["staff_id"], rec["count"], rec["note"])
        if key in held:
            problems.append(RowError(rec["row"], "", "", f"与已有记录重复(记录编号 {held[key]})"))
    if problems:
        raise ImportRejected(sorted(problems, key=lambda e: e.row_number))


def apply(records: list[dict], ticker, since_id: int | None = None) -> dict:
    """Write the checked rows in one short transaction: bulk INSERTs of the incidents, their history
    (created), their audit rows (incident.created) and the units' notifications, as
    services.incidents.create writes them one by one (the same rows, a hundred times faster)."""
    from sqlalchemy import insert

    from models import AuditLog, IncidentHistory
    from models.notification import Notification
    from services.audit import acting_user_id
    from services.notifications import item_link
    from services.rulebooks import rulebook_for_month

    _lock_and_recheck(records, since_id)
    units = {
        code: (pk, active) for code, pk, active in db.session.execute(select(Unit.code, Unit.id, Unit.active))
    }
    staff = {sid: pk for sid, pk in db.session.execute(select(Staff.staff_id, Staff.id))}
    user_id = acting_user_id()
    now = utc_now()
    titles: dict[tuple[int, int, str], str] = {}

    def title(rec: dict) -> str:
        at = rec["hall_at"]
        key = (at.year, at.month, rec["rule_code"])
        if key not in titles:
            rulebook = rulebook_for_month(at.year, at.month)
            rule = rulebook.rule(rec["rule_code"]) if rec["rule_code"] in rulebook.codes else None
            what = "加分" if rule is not None and rule.kind == RuleKind.BONUS else "扣分"
            titles[key] = (
                f"新增{what}记录:{rec['rule_code']} {rule.title}" if rule else f"新增{what}记录:{key[2]}"
            )
        return f"{titles[key]}({at.month}月{at.day}日)"[:200]

    made: dict[int, int] = {}  # file row -> incident id
    linked, pending = 0, []
    incident_table = Incident.__table__
    # Violations first, so that a D15 row can point at the violation written from the same file.
    plain = [r for r in records if not r["needs_link"]]
    links = [r for r in records if r["needs_link"]]
    ids = iter(_new_ids(len(records)))
    for group in (plain, links):
        for start in range(0, len(group), CHUNK):
            chunk = group[start : start + CHUNK]
            ticker.at(chunk[0]["row"])
            params = []
            for rec in chunk:
                made[rec["row"]] = pk = next(ids)
                link_id = None
                if rec["needs_link"]:
                    link_id = made[rec["link_row"]] if rec["link_row"] is not None else rec["link_id"]
                    rec["linked_id"] = link_id
                params.append(
                    {
                        "id": pk,
                        "unit_id": units[rec["unit_code"]][0],
                        "staff_pk": staff[rec["staff_id"]] if rec["staff_id"] else None,
                        "window": rec["window"] or None,
                        "rule_code": rec["rule_code"],
                        "occurred_at": rec["occurred_at"],
                        "count": rec["count"],
                        "note": rec["note"] or "",
                        "public_text": "",
                        "deadline": rec["deadline"],
                        "rectified_on": rec["rectified_on"],
                        "exempt": rec["exempt"],
                        "linked_id": link_id,
                        "status": IncidentStatus.CONFIRMED.value,
                        "source": "import",
                        "recorded_by_id": user_id,
                        "created_at": now,
                    }
                )
            db.session.execute(insert(incident_table), params)
            history, audit, notes = [], [], []
            for rec, values in zip(chunk, params, strict=True):
                pk = values["id"]
                shot = _snapshot(rec)
                history.append(
                    {
                        "incident_id": pk,
                        "at": now,
                        "by_id": user_id,
                        "action": "created",
                        "reason": "",
                        "snapshot": shot,
                    }
                )
                audit.append(
                    {
                        "at": now,
                        "user_id": user_id,
                        "action": "incident.created",
                        "target": f"incident:{pk}",
                        "before": None,
                        "after": shot,
                    }
                )
                notes.append(
                    {
                        "unit_id": units[rec["unit_code"]][0],
                        "kind": "incident",
                        "title": title(rec),
                        "link": item_link(pk),
                        "key": None,
                        "created_at": now,
                    }
                )
                if rec["needs_link"]:
                    if rec["linked_id"] is not None:
                        linked += 1
                    else:
                        pending.append(pk)
            db.session.execute(insert(IncidentHistory.__table__), history)
            db.session.execute(insert(AuditLog.__table__), audit)
            db.session.execute(insert(Notification.__table__), notes)
            ticker.advance(len(chunk))
    inactive = sum(1 for r in records if not units[r["unit_code"]][1])
    summary: dict = {"created": len(records)}
    if linked:
        summary["linked"] = linked
    if pending:
        summary["pending_link"] = len(pending)
        summary["pending_link_ids"] = sorted(pending)
    if inactive:
        summary["inactive_unit_rows"] = inactive
    return summary


def _new_ids(n: int) -> list[int]:
    """`n` incident ids, taken before the rows are inserted so that their history, audit rows and links
    can name them in the same bulk INSERTs (RETURNING of many rows goes row by row on SQLite). PostgreSQL:
    from the id sequence; SQLite: after the highest id, safe under the write lock _lock_and_recheck took."""
    from sqlalchemy import text

    if db.engine.dialect.name == "postgresql":
        return list(
            db.session.scalars(
                text("SELECT nextval(pg_get_serial_sequence('incident', 'id')) FROM generate_series(1, :n)"),
                {"n": n},
            )
        )
    top = db.session.scalar(select(func.max(Incident.id))) or 0
    return list(range(top + 1, top + n + 1))


def _snapshot(rec: dict) -> dict:
    """services.incidents.snapshot of the incident this row becomes (its history and audit rows)."""
    return {
        "unit": rec["unit_code"],
        "rule_code": rec["rule_code"],
        "occurred_at": rec["hall_at"].strftime("%Y-%m-%d %H:%M"),
        "count": rec["count"],
        "staff": rec["staff_id"] or None,
        "window": rec["window"] or None,
        "note": rec["note"] or "",
        "public_text": "",
        "deadline": rec["deadline"].isoformat() if rec["deadline"] else None,
        "rectified_on": rec["rectified_on"].isoformat() if rec["rectified_on"] else None,
        "exempt": rec["exempt"],
        "linked_id": rec.get("linked_id"),
        "status": IncidentStatus.CONFIRMED.value,
        "void_reason": None,
    }
