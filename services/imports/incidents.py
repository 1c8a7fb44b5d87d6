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

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from models import Incident, IncidentStatus, Staff, Unit, db
from scoring import RuleKind
from services.clock import from_hall, hall_now, to_hall
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
from services.imports.reading import cell_text

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
    from services.bounds import incident_day_problem
    from services.clock import hall_today
    from services.incidents import rule_problems
    from services.rulebooks import rulebook_for_month

    units = {u.code: u for u in db.session.scalars(select(Unit))}
    staff_db = {
        s.staff_id: s for s in db.session.scalars(select(Staff).options(selectinload(Staff.postings)))
    }
    now = hall_now().replace(tzinfo=None)
    today = hall_today()
    rulebooks: dict[tuple[int, int], Any] = {}
    day_problems: dict[date, str | None] = {}
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
            day = at.date()
            if day not in day_problems:
                day_problems[day] = incident_day_problem(day, today=today)
            if day_problems[day]:
                error(rec, "occurred_at", row.get("occurred_at"), day_problems[day])
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
            rulebook = rulebooks[month]
            # Codes are written as the rulebook writes them ("D02c"); "d02C" typed by hand means the same.
            rule_code = next((c for c in rulebook.codes if c.lower() == rule_code.lower()), rule_code)
            rec["rule_code"] = rule_code
            for field_name, message in rule_problems(
                rulebook,
                rule_code,
                count=rec["count"] or 1,
                staff_category=category,
                deadline=rec["deadline"],
                exempt=bool(rec["exempt"]),
                unit=unit,
            ):
                column = _COLUMN_OF.get(field_name, "rule_code")
                if column not in failed:  # a cell already reported is not reported twice
                    error(rec, column, row.get(column), message)
            if rule_code in rulebook.codes:
                rule = rulebook.rule(rule_code)
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


def _existing_incidents(parsed: list[dict]) -> dict[tuple, int]:
    """Incidents already held (not voided) in the file's time span, keyed like the file's rows."""
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
        )
    )
    return {
        (to_hall(at).replace(tzinfo=None), code, rule, staff_id, count, note or ""): pk
        for pk, at, code, rule, staff_id, count, note in rows
    }


def apply(records: list[dict], ticker) -> dict:
    from services import incidents

    units = {u.code: u for u in db.session.scalars(select(Unit))}
    staff = {s.staff_id: s for s in db.session.scalars(select(Staff))}
    made: dict[int, Incident] = {}
    linked, pending = 0, []
    # Violations first, so that a D15 row can point at the violation written from the same file.
    for rec in sorted(records, key=lambda r: (r["needs_link"], r["row"])):
        ticker.at(rec["row"])
        link = None
        if rec["needs_link"]:
            if rec["link_row"] is not None:
                link = made[rec["link_row"]]
            elif rec["link_id"] is not None:
                link = db.session.get(Incident, rec["link_id"])
        made[rec["row"]] = incidents.create(
            units[rec["unit_code"]],
            rec["rule_code"],
            rec["occurred_at"],
            count=rec["count"],
            staff=staff.get(rec["staff_id"]) if rec["staff_id"] else None,
            window=rec["window"],
            note=rec["note"],
            deadline=rec["deadline"],
            rectified_on=rec["rectified_on"],
            exempt=rec["exempt"],
            linked=link,
            status=IncidentStatus.CONFIRMED,
            source="import",
        )
        if rec["needs_link"]:
            if link is not None:
                linked += 1
            else:
                pending.append(made[rec["row"]].id)
        ticker.step()
    inactive = sum(1 for r in records if not units[r["unit_code"]].active)
    summary: dict = {"created": len(records)}
    if linked:
        summary["linked"] = linked
    if pending:
        summary["pending_link"] = len(pending)
        summary["pending_link_ids"] = sorted(pending)
    if inactive:
        summary["inactive_unit_rows"] = inactive
    return summary
