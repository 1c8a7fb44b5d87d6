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

import json
from datetime import UTC, date
from json.encoder import encode_basestring_ascii as _quote
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from models import Incident, IncidentStatus, Staff, Unit, db
from scoring import RuleKind
from services.clock import hall_now, hall_tz, to_hall, utc_now
from services.imports.cells import (
    MAX_TEXT,
    Bad,
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


_UNSEEN = object()


def _memo(it: Rows, column: str, parse, default: Any = None, limit: int = 10_000):
    """`it.cell(row, column, parse, default)` for a column whose cells repeat (codes, rules, staff ids,
    counts, notes, empty cells): `parse` is a pure function of the cell, so a text (or empty) cell seen
    before in the column is not parsed again; an error is recorded each time, as it.cell does."""
    seen: dict = {}

    def cell(row) -> Any:
        value = row.get(column)
        if value is not None and type(value) is not str:  # 1, 1.0 and True are equal keys: not kept
            return it.cell(row, column, parse, default)
        parsed = seen.get(value, _UNSEEN)
        if parsed is _UNSEEN:
            try:
                parsed = parse(value)
            except Bad as bad:
                it.error(column, value, str(bad))
                return default
            if len(seen) < limit:
                seen[value] = parsed
        return parsed

    return cell


def read_rows(it: Rows) -> list[dict]:
    """Pure: each row's cells as values, with the checks that need nothing but the row."""
    records = []
    occurred = required_datetime("发生时间")
    unit_of = _memo(it, "unit_code", lambda v: required(v, "单位代码", 32))
    rule_of = _memo(it, "rule_code", lambda v: required(v, "规则编号", 16))
    staff_of = _memo(it, "staff_id", cell_text)
    count_of = _memo(it, "count", parse_count)
    note_of = _memo(it, "note", cell_text, "")
    deadline_of = _memo(it, "deadline", lambda v: optional_date(v, "整改期限"))
    rectified_of = _memo(it, "rectified_on", lambda v: optional_date(v, "整改完成日期"))
    exempt_of = _memo(it, "exempt", lambda v: parse_bool(v, False), False)
    for number, row in it:
        at = it.cell(row, "occurred_at", occurred)
        unit_code = unit_of(row)
        rule_code = rule_of(row)
        staff_id = staff_of(row) or None
        count = count_of(row)
        note = note_of(row)
        if note and len(note) > MAX_TEXT:
            it.error("note", note[:20], f"备注不能超过 {MAX_TEXT} 个字符")
        deadline = deadline_of(row)
        rectified = rectified_of(row)
        exempt = exempt_of(row)
        if at is not None and (deadline or rectified):
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
                "_failed": it.failed_columns,  # the row's own set (Rows starts a new one each row)
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
    unit_ids = {code: u.id for code, u in units.items()}  # read once: not through the ORM a row
    inactive_units = {code for code, u in units.items() if not u.active}
    staff_db = {
        s.staff_id: s for s in db.session.scalars(select(Staff).options(selectinload(Staff.postings)))
    }
    spans: dict[str, list[tuple]] = {}  # a staff member's postings as plain tuples, when first needed
    problems_of: dict[tuple, list] = {}  # rule_problems of the same values (a pure function of them)
    now = hall_now().replace(tzinfo=None)
    today = hall_today()
    tz = hall_tz()
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
            if staff is None:
                error(rec, "staff_id", rec["staff_id"], f"工号 {rec['staff_id']} 不在人员名册中")
            elif at is not None:
                postings = spans.get(rec["staff_id"])
                if postings is None:
                    postings = spans[rec["staff_id"]] = [
                        (p.start_date, p.end_date, p.unit_id, p.window, p.category, p) for p in staff.postings
                    ]
                day = at.date()
                posting = next((p for p in postings if p[0] <= day and (p[1] is None or day <= p[1])), None)
                if posting is None:  # as staff.posting_on(day)
                    who = f"{staff.name}({rec['staff_id']})"
                    error(rec, "staff_id", rec["staff_id"], f"{who}在 {at.date().isoformat()} 不在岗")
                elif unit is not None and posting[2] != unit_ids[unit_code]:
                    who = f"{staff.name}({rec['staff_id']})"
                    error(
                        rec,
                        "staff_id",
                        rec["staff_id"],
                        f"{who}当日属于{posting[5].unit.name},不属于{unit.name}",
                    )
                else:
                    window, category = posting[3], posting[4]
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
            asked = (
                month,
                rule_code,
                rec["count"] or 1,
                category,
                rec["deadline"],
                bool(rec["exempt"]),
                window,
            )
            asked += (unit_code if unit is not None else None,)
            problems = problems_of.get(asked)
            if problems is None:
                problems = problems_of[asked] = rule_problems(
                    rulebook,
                    rule_code,
                    count=rec["count"] or 1,
                    staff_category=category,
                    deadline=rec["deadline"],
                    exempt=bool(rec["exempt"]),
                    window=window,
                    unit=unit,
                )
            for field_name, message in problems:
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
        if unit_code in inactive_units:
            inactive[unit.name] = inactive.get(unit.name, 0) + 1
        rec.pop("_failed")
        rec.update(
            occurred_at=at.replace(tzinfo=tz).astimezone(UTC),  # from_hall(at)
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


_INCIDENT_COLUMNS = (
    "id", "unit_id", "staff_pk", "window", "rule_code", "occurred_at", "count", "note", "public_text",
    "deadline", "rectified_on", "exempt", "linked_id", "status", "source", "recorded_by_id", "created_at",
)  # fmt: skip
_HISTORY_COLUMNS = ("incident_id", "at", "by_id", "action", "reason", "snapshot")
_AUDIT_COLUMNS = ("at", "user_id", "action", "target", "before", "after")
_NOTIFICATION_COLUMNS = ("unit_id", "kind", "title", "link", "key", "created_at")


class _Rows:
    """The rows of one table as the database driver takes them, built before the write lock so that
    under it only the driver runs: SQLite's executemany, PostgreSQL's COPY (a bulk INSERT there costs the
    server a statement per row).

    The callers build each row's tuple themselves, in `columns` order, with the values already as the
    driver takes them: `processor(column)` is the column type's bind processor (UTC datetimes, SQLite's
    dates and booleans), and a JSON value is its text (`json_text`), the same text on both databases."""

    def __init__(self, table, columns: tuple[str, ...]):
        from sqlalchemy import insert

        dialect = db.session.get_bind().dialect
        self.table, self.columns = table, columns
        self.copy = dialect.name == "postgresql" and dialect.driver == "psycopg"  # the app's driver
        self.processors = {name: table.c[name].type._cached_bind_processor(dialect) for name in columns}
        quote = dialect.identifier_preparer.quote
        names = ", ".join(quote(name) for name in columns)
        if self.copy:
            self.sql = f"COPY {quote(table.name)} ({names}) FROM STDIN (FORMAT BINARY)"
        else:
            compiled = insert(table).compile(dialect=dialect, column_keys=list(columns))
            self.sql = str(compiled)
            if not compiled.positiontup:  # another PostgreSQL driver's %(name)s: %s, so rows stay tuples
                self.sql = (
                    f"INSERT INTO {quote(table.name)} ({names}) VALUES ({', '.join(['%s'] * len(columns))})"
                )
            elif tuple(compiled.positiontup) != columns:
                raise RuntimeError(f"unexpected parameter order {compiled.positiontup}")
        self.rows: list = []

    def processor(self, column: str):
        """The bind processor of `column`, or None when the driver takes the value as it is (not for a
        JSON column: its value is its `json_text`)."""
        return self.processors[column]

    def process(self, column: str, value):
        """`value` as the driver takes it for `column`: to compute once what many rows share."""
        proc = self.processor(column)
        return value if proc is None else proc(value)

    def write(self) -> None:
        connection = db.session.connection()
        if self.copy:
            raw = connection.connection.driver_connection
            with raw.cursor() as cursor:
                # Binary COPY (the server parses no text), each column given its own type.
                cursor.execute(
                    "SELECT attname, atttypid FROM pg_attribute WHERE attrelid = %s::regclass",
                    (self.table.name,),
                )
                # A JSON value is its text, and json's binary form is its text: sent as text.
                types = [
                    _PG_JSON_AS_TEXT.get(oid, oid) for oid in map(dict(cursor.fetchall()).get, self.columns)
                ]
                binary = _PG_JSONB not in types  # jsonb's binary form has a version byte: text COPY
                with cursor.copy(self.sql if binary else self.sql.replace(" (FORMAT BINARY)", "")) as copy:
                    if binary:
                        copy.set_types(types)
                    write_row = copy.write_row
                    for row in self.rows:
                        write_row(row)
            return
        for start in range(0, len(self.rows), CHUNK * 5):
            connection.exec_driver_sql(self.sql, self.rows[start : start + CHUNK * 5])


_PG_JSON_AS_TEXT, _PG_JSONB = {114: 25}, 3802  # the type oids of json (-> text) and jsonb


def json_text(value) -> str:
    """A JSON column's value as both databases store it here: json.dumps's text (SQLAlchemy's JSON type
    writes the same on SQLite; on PostgreSQL the `json` column keeps the text as given)."""
    return json.dumps(value)


def _build(records: list[dict], ids: list[int]) -> tuple[list[_Rows], dict]:
    """Every row the import writes (incidents, their history, audit rows and notifications), as
    services.incidents.create writes them one by one, and the summary."""
    from models import AuditLog, IncidentHistory
    from models.notification import Notification
    from services.audit import acting_user_id
    from services.notifications import item_link
    from services.rulebooks import rulebook_for_month

    units = {
        code: (pk, active) for code, pk, active in db.session.execute(select(Unit.code, Unit.id, Unit.active))
    }
    staff = {sid: pk for sid, pk in db.session.execute(select(Staff.staff_id, Staff.id))}
    user_id = acting_user_id()
    now = utc_now()
    titles: dict[tuple[int, int, str], str] = {}
    day_titles: dict[tuple[int, int, int, str], str] = {}  # one string per day and rule (memory)

    def title(at, rule_code: str) -> str:
        day = (at.year, at.month, at.day, rule_code)
        text = day_titles.get(day)
        if text is None:
            key = (at.year, at.month, rule_code)
            if key not in titles:
                rulebook = rulebook_for_month(at.year, at.month)
                rule = rulebook.rule(rule_code) if rule_code in rulebook.codes else None
                what = "加分" if rule is not None and rule.kind == RuleKind.BONUS else "扣分"
                titles[key] = (
                    f"新增{what}记录:{rule_code} {rule.title}" if rule else f"新增{what}记录:{key[2]}"
                )
            text = day_titles[day] = f"{titles[key]}({at.month}月{at.day}日)"[:200]
        return text

    incidents = _Rows(Incident.__table__, _INCIDENT_COLUMNS)
    history = _Rows(IncidentHistory.__table__, _HISTORY_COLUMNS)
    audit = _Rows(AuditLog.__table__, _AUDIT_COLUMNS)
    notes = _Rows(Notification.__table__, _NOTIFICATION_COLUMNS)
    # What every row shares, processed once: the time (the same on every row), the status, no "before".
    at = incidents.process("created_at", now)
    confirmed, no_before = IncidentStatus.CONFIRMED.value, json_text(None)
    occurred = incidents.processor("occurred_at") or _as_is
    day_of = incidents.processor("deadline") or _as_is
    rectified_day = incidents.processor("rectified_on") or _as_is
    flag = incidents.processor("exempt") or _as_is
    flags = {True: flag(True), False: flag(False)}
    add_incident, add_history = incidents.rows.append, history.rows.append
    add_audit, add_note = audit.rows.append, notes.rows.append
    made: dict[int, int] = {}  # file row -> incident id
    linked, pending = 0, []
    # Violations first, so that a D15 row can point at the violation written from the same file.
    ordered = [r for r in records if not r["needs_link"]] + [r for r in records if r["needs_link"]]
    for rec, pk in zip(ordered, ids, strict=True):
        made[rec["row"]] = pk
        link_id = None
        if rec["needs_link"]:
            link_id = made[rec["link_row"]] if rec["link_row"] is not None else rec["link_id"]
            if link_id is not None:
                linked += 1
            else:
                pending.append(pk)
        unit_id = units[rec["unit_code"]][0]
        staff_id, deadline, rectified = rec["staff_id"], rec["deadline"], rec["rectified_on"]
        add_incident(
            (
                pk,
                unit_id,
                staff[staff_id] if staff_id else None,
                rec["window"] or None,
                rec["rule_code"],
                occurred(rec["occurred_at"]),
                rec["count"],
                rec["note"] or "",
                "",
                None if deadline is None else day_of(deadline),
                None if rectified is None else rectified_day(rectified),
                flags[rec["exempt"]],
                link_id,
                confirmed,
                "import",
                user_id,
                at,
            )
        )
        shot = _snapshot_json(rec, link_id)  # one text for history and audit
        add_history((pk, at, user_id, "created", "", shot))
        add_audit((at, user_id, "incident.created", f"incident:{pk}", no_before, shot))
        add_note((unit_id, "incident", title(rec["hall_at"], rec["rule_code"]), item_link(pk), None, at))
    inactive = sum(1 for r in records if not units[r["unit_code"]][1])
    summary: dict = {"created": len(records)}
    if linked:
        summary["linked"] = linked
    if pending:
        summary["pending_link"] = len(pending)
        summary["pending_link_ids"] = sorted(pending)
    if inactive:
        summary["inactive_unit_rows"] = inactive
    return [incidents, history, audit, notes], summary


def apply(records: list[dict], ticker, since_id: int | None = None) -> dict:
    """Write the checked rows in one short transaction.

    Every row is built first, without any lock (the ids taken ahead, see _new_ids); then the write lock,
    the re-check of what came in since the file was checked, and the driver's bulk INSERTs, which is all
    a login or the desk form waits for on SQLite."""
    ids = _new_ids(len(records))
    tables, summary = _build(records, ids)
    _lock_and_recheck(records, since_id)
    if ids and not _ids_still_free(ids):  # SQLite: over ID_ROOM incidents logged meanwhile (rare)
        tables = None  # memory: the rows are built again
        ids = _new_ids(len(records))
        tables, summary = _build(records, ids)
    for done, rows in enumerate(tables):
        ticker.at(records[0]["row"] if records else 0)
        rows.write()
        ticker.advance(len(records) * (done + 1) // len(tables) - ticker.done)
    return summary


def _ids_still_free(ids: list[int]) -> bool:
    return (db.session.scalar(select(func.max(Incident.id))) or 0) < ids[0]


# SQLite: the import's ids start this far after the highest id, so that the desk and the patrol sheet can
# log incidents while the rows are built without the import having to build them again (a gap in the
# numbers, nothing else).
ID_ROOM = 1000


def _new_ids(n: int) -> list[int]:
    """`n` incident ids, taken before the rows are inserted so that their history, audit rows and links
    can name them in the same bulk INSERTs (RETURNING of many rows goes row by row on SQLite). PostgreSQL:
    from the id sequence; SQLite: after the highest id, checked again under the write lock
    (_ids_still_free)."""
    from sqlalchemy import text

    if db.engine.dialect.name == "postgresql":
        # The sequence's name looked up once (per row it took the server most of the time).
        sequence = db.session.scalar(text("SELECT pg_get_serial_sequence('incident', 'id')"))
        return list(
            db.session.scalars(
                text("SELECT nextval(CAST(:sequence AS regclass)) FROM generate_series(1, :n)"),
                {"sequence": sequence, "n": n},
            )
        )
    top = (db.session.scalar(select(func.max(Incident.id))) or 0) + ID_ROOM
    return list(range(top + 1, top + n + 1))


def _snapshot(rec: dict, linked_id: int | None) -> dict:
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
        "linked_id": linked_id,
        "status": IncidentStatus.CONFIRMED.value,
        "void_reason": None,
    }


def _as_is(value):
    return value


def _snapshot_json(rec: dict, linked_id: int | None) -> str:
    """json_text(_snapshot(rec, linked_id)), written out directly: the same text in a fraction of the time
    (json.dumps's own string quoting, ASCII only; the keys in _snapshot's order)."""
    at, staff, window, deadline, rectified = (
        rec["hall_at"], rec["staff_id"], rec["window"], rec["deadline"], rec["rectified_on"]
    )  # fmt: skip
    when = at.isoformat(" ")[:16] if at.year >= 1000 else at.strftime("%Y-%m-%d %H:%M")
    link = "null" if linked_id is None else repr(int(linked_id))
    return (
        f'{{"unit": {_quote(rec["unit_code"])}, "rule_code": {_quote(rec["rule_code"])}, '
        f'"occurred_at": "{when}", "count": {int(rec["count"])!r}, '
        f'"staff": {_quote(staff) if staff else "null"}, "window": {_quote(window) if window else "null"}, '
        f'"note": {_quote(rec["note"] or "")}, "public_text": "", '
        f'"deadline": {_quote(deadline.isoformat()) if deadline else "null"}, '
        f'"rectified_on": {_quote(rectified.isoformat()) if rectified else "null"}, '
        f'"exempt": {"true" if rec["exempt"] else "false"}, '
        f'"linked_id": {link}, '
        f'"status": "{IncidentStatus.CONFIRMED.value}", "void_reason": null}}'
    )
