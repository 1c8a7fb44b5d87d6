"""The staff roster: `staff_id,name,unit_code,category,window,start_date,end_date`.

A row is a posting (a span at a unit's window or back office). Against the roster already held:
- a new staff id creates the person and the posting;
- a row that matches a posting held changes nothing (re-importing a file changes nothing);
- the same posting (same unit, category and window) with a new end date ends it on that date;
- a new unit, window or category from a later start date ends the posting held then on the day before and
  opens the new one (the roster's "move"), as an HR roster lists the new posting without restating the old.
Overlaps the file cannot mean (a posting inside another one, two postings on one start date) are errors.
The roster keeps every posting, because D13 reads replacements from its whole history.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from models import Posting, Staff, Unit, db
from services.imports.cells import ParseResult, Rows, optional_date, required, required_date
from services.imports.reading import cell_text

COLUMNS = ("staff_id", "name", "unit_code", "category", "window", "start_date", "end_date")
LABEL = "人员名册"
EXAMPLE = ("S0001", "张三", "SW01", "W", "1", "2024-01-02", "")
_COLUMN_OF = {
    "unit": "unit_code",
    "category": "category",
    "window": "window",
    "start_date": "start_date",
    "end_date": "end_date",
}


def _span(start: date, end: date | None) -> str:
    return f"{start.isoformat()} 至 {end.isoformat() if end else '今'}"


def read_rows(it: Rows) -> list[dict]:
    """Pure: each row's cells as values; a staff id and start date appear once, with one name."""
    names: dict[str, tuple[str, int]] = {}
    keys: dict[tuple[str, date], int] = {}
    records = []
    for number, row in it:
        staff_id = it.cell(row, "staff_id", lambda v: required(v, "工号", 32))
        name = it.cell(row, "name", lambda v: required(v, "姓名", 60))
        unit_code = it.cell(row, "unit_code", lambda v: required(v, "单位代码", 32))
        category = cell_text(row.get("category")).upper()
        window = cell_text(row.get("window")) or None
        start = it.cell(row, "start_date", required_date("开始日期"))
        end = it.cell(row, "end_date", lambda v: optional_date(v, "结束日期"))
        if staff_id and name:
            if staff_id in names and names[staff_id][0] != name:
                first, at = names[staff_id]
                it.error("name", name, f"工号 {staff_id} 在第{at}行的姓名是 {first}")
            names.setdefault(staff_id, (name, number))
        if staff_id and start:
            key = (staff_id, start)
            if key in keys:
                it.error(
                    "start_date", row.get("start_date"), f"与第{keys[key]}行重复(同一工号、同一开始日期)"
                )
            else:
                keys[key] = number
        records.append(
            {
                "row": number,
                "staff_id": staff_id,
                "name": name,
                "unit_code": unit_code,
                "category": category,
                "window": window,
                "start_date": start,
                "end_date": end,
                "_ok": not it.row_failed,
                "_failed": set(it.failed_columns),
                "_raw": row,
            }
        )
    return records


@dataclass
class _Span:
    """A posting while the file is planned: one held (posting_id) or one the file adds (row)."""

    start: date
    end: date | None
    place: tuple[int, str, str | None]  # unit id, category, window
    unit_name: str
    posting_id: int | None = None
    row: int | None = None
    held_end: date | None = None
    record: dict | None = field(default=None, repr=False)

    def covers(self, day: date) -> bool:
        return self.start <= day <= (self.end or date.max)

    def meets(self, start: date, end: date | None) -> bool:
        return self.start <= (end or date.max) and start <= (self.end or date.max)

    def describe(self) -> str:
        if self.row is not None:
            return f"与第{self.row}行的岗位时间({_span(self.start, self.end)})重叠"
        return f"与已有岗位({self.unit_name},{_span(self.start, self.held_end)})时间重叠"


def parse(it: Rows, result: ParseResult) -> None:
    from services.roster import check_posting

    units = {u.code: u for u in db.session.scalars(select(Unit))}
    held = {
        s.staff_id: s
        for s in db.session.scalars(
            select(Staff).options(selectinload(Staff.postings).selectinload(Posting.unit))
        )
    }
    by_staff: dict[str, list[dict]] = {}
    for rec in read_rows(it):
        ok = rec.pop("_ok")
        raw, failed = rec.pop("_raw"), rec.pop("_failed")
        unit = units.get(rec["unit_code"]) if rec["unit_code"] else None
        if rec["unit_code"] and unit is None:
            it.error("unit_code", rec["unit_code"], f"单位代码 {rec['unit_code']} 不存在", rec["row"])
            ok = False
        for field_name, message in check_posting(
            unit, rec["category"], rec["window"], rec["start_date"], rec["end_date"]
        ):
            if field_name == "unit" or (field_name == "start_date" and rec["start_date"] is None):
                continue  # already reported
            column = _COLUMN_OF[field_name]
            it.error(column, raw.get(column), message, rec["row"])
            ok = False
        known = held.get(rec["staff_id"]) if rec["staff_id"] else None
        if known is not None and rec["name"] and known.name != rec["name"] and "name" not in failed:
            it.error(
                "name",
                rec["name"],
                f"工号 {rec['staff_id']} 已登记为{known.name},与本行姓名 {rec['name']} 不一致",
                rec["row"],
            )
            ok = False
        if ok:
            rec["unit"] = unit
            by_staff.setdefault(rec["staff_id"], []).append(rec)
    for staff_id, recs in by_staff.items():
        if _plan(it, held.get(staff_id), recs):
            result.records.extend(recs)
    result.records.sort(key=lambda r: r["row"])
    for rec in result.records:
        rec.pop("unit", None)


def _plan(it: Rows, staff: Staff | None, recs: list[dict]) -> bool:
    """Decide what each row of one staff member does to their roster; False when a row cannot be meant.

    Each record gets `action` ("add" or "none") and `ends` ({posting id: new end date} of held postings).
    """
    spans = [
        _Span(
            p.start_date,
            p.end_date,
            (p.unit_id, p.category, p.window),
            p.unit.name,
            posting_id=p.id,
            held_end=p.end_date,
        )
        for p in (staff.postings if staff is not None else [])
    ]
    good = True
    for rec in sorted(recs, key=lambda r: r["start_date"]):
        start, end = rec["start_date"], rec["end_date"]
        place = (rec["unit"].id, rec["category"], rec["window"])
        rec["action"], rec["ends"] = "none", {}

        def fail(message: str, column: str = "start_date", rec=rec) -> None:
            it.error(column, rec[column], message, rec["row"])

        def later_clash(after: date, until: date | None, skip: _Span | None = None) -> _Span | None:
            return next(
                (s for s in spans if s is not skip and s.start > after and s.meets(after, until)), None
            )

        same_start = next((s for s in spans if s.start == start), None)
        covering = next((s for s in spans if s.start < start and s.covers(start)), None)
        if same_start is not None or (
            covering is not None and covering.place == place and covering.row is None
        ):
            target = same_start or covering
            if target.place != place:
                fail(
                    f"工号 {rec['staff_id']} 已有 {start.isoformat()} 开始的岗位({target.unit_name}),"
                    "与本行的单位、类别或窗口不同;同一开始日期只能有一个岗位"
                )
                good = False
            elif end is not None and end != target.end:
                clash = later_clash(target.start, end, skip=target)
                if clash is not None:
                    fail(clash.describe(), "end_date")
                    good = False
                else:
                    target.end = end  # a new end date ends (or moves the end of) the posting
                    if target.posting_id is not None:
                        rec["ends"][target.posting_id] = end
            continue
        if covering is not None:
            if covering.row is not None and covering.end is not None:
                fail(covering.describe())  # the file itself says both spans
                good = False
                continue
            # A new unit, window or category: the posting held that day ends the day before.
            covering.end = start - timedelta(days=1)
            if covering.posting_id is not None:
                rec["ends"][covering.posting_id] = covering.end
        clash = later_clash(start, end)
        if clash is not None:
            fail(clash.describe())
            good = False
            continue
        span = _Span(start, end, place, rec["unit"].name, row=rec["row"], record=rec)
        spans.append(span)
        spans.sort(key=lambda s: s.start)
        rec["action"] = "add"
    for span in spans:  # a row the file's next row ended
        if span.record is not None:
            span.record["end_date"] = span.end
    return good


def apply(records: list[dict], ticker) -> dict:
    from services.audit import record
    from services.roster import add_posting, staff_dict

    units = {u.code: u for u in db.session.scalars(select(Unit))}
    created = added = closed = unchanged = 0
    by_staff: dict[str, list[dict]] = {}
    for rec in records:
        by_staff.setdefault(rec["staff_id"], []).append(rec)
    for staff_id, recs in by_staff.items():
        staff = db.session.scalar(select(Staff).where(Staff.staff_id == staff_id))
        new = staff is None
        if new:
            staff = Staff(staff_id=staff_id, name=recs[0]["name"])
            db.session.add(staff)
            created += 1
        before = None if new else staff_dict(staff)
        ended = False
        for rec in sorted(recs, key=lambda r: r["start_date"]):  # first the ends, in the plan's order
            ticker.at(rec["row"])
            for posting_id, end in rec["ends"].items():
                db.session.get(Posting, posting_id).end_date = end
                closed += 1
                ended = True
        db.session.flush()
        adds = 0
        for rec in sorted(recs, key=lambda r: r["start_date"]):
            ticker.at(rec["row"])
            if rec["action"] == "add":
                add_posting(
                    staff,
                    units[rec["unit_code"]],
                    rec["category"],
                    rec["window"],
                    rec["start_date"],
                    rec["end_date"],
                    audit=False,
                )
                adds += 1
            elif not rec["ends"]:
                unchanged += 1
            ticker.step()
        added += adds
        if new or adds or ended:
            db.session.refresh(staff)
            action = (
                "staff.create"
                if new
                else "staff.move"
                if adds and ended
                else "staff.end"
                if ended
                else "staff.posting_add"
            )
            record(action, f"staff:{staff.staff_id}", before=before, after=staff_dict(staff))
    db.session.flush()
    return {
        "staff_created": created,
        "postings_added": added,
        "postings_closed": closed,
        "unchanged": unchanged,
    }
