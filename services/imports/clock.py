"""Clock-in punches: `staff_id,punched_at` (`YYYY-MM-DD HH:MM` or `YYYY-MM-DD HH:MM:SS`, hall time).

Every punch is stored: D16 must see each one (rulebook.md "Extra punches are harmless": 08:24:40 then
08:25:00 meets the 08:25 window). Only a punch already held to the second (or twice in the file) is
skipped, so importing the same export again adds nothing. Punches of one person less than a minute apart
are stored and counted once in what the import says.

A fingerprint export holds guards and people who left: punches of staff ids the roster does not know are
listed with their counts and skipped, never a reason to refuse the file. Only malformed rows fail it.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import insert, select

from models import ClockPunch, Staff, db
from scoring.detect import within_a_minute
from services.clock import from_hall, hall_now, to_hall
from services.imports.cells import ParseResult, Rows, required, required_datetime

COLUMNS = ("staff_id", "punched_at")
LABEL = "打卡记录"
EXAMPLE = ("S0001", "2024-03-05 08:27")
_CHUNK = 1000


def read_rows(it: Rows, now: datetime) -> list[tuple[str, datetime, int]]:
    """Pure: (staff id, hall time, row) of every well-formed row; `now` is the hall's naive now."""
    punches = []
    for number, row in it:
        staff_id = it.cell(row, "staff_id", lambda v: required(v, "工号", 32))
        at = it.cell(row, "punched_at", required_datetime("打卡时间"))
        if at is not None and at > now:
            it.error("punched_at", row.get("punched_at"), "打卡时间晚于当前时间")
        if not it.row_failed:
            punches.append((staff_id, at, number))
    return punches


def parse(it: Rows, result: ParseResult) -> None:
    punches = read_rows(it, hall_now().replace(tzinfo=None))
    if not punches or it.errors:
        return
    ids = sorted({p[0] for p in punches})
    known: set[str] = set()
    for i in range(0, len(ids), 500):
        known.update(db.session.scalars(select(Staff.staff_id).where(Staff.staff_id.in_(ids[i : i + 500]))))
    unknown: dict[str, int] = {}
    for staff_id, _at, _row in punches:
        if staff_id not in known:
            unknown[staff_id] = unknown.get(staff_id, 0) + 1
    if unknown:
        result.notes["unknown_staff"] = dict(sorted(unknown.items()))
        result.notes["unknown_punches"] = sum(unknown.values())
    punches = [p for p in punches if p[0] in known]
    if not punches:
        return
    start = from_hall(min(p[1] for p in punches) - timedelta(minutes=1))
    end = from_hall(max(p[1] for p in punches) + timedelta(minutes=1))
    held: dict[str, set[datetime]] = {}
    for staff_id, at in db.session.execute(
        select(ClockPunch.staff_id, ClockPunch.punched_at).where(
            ClockPunch.punched_at >= start, ClockPunch.punched_at <= end
        )
    ):
        held.setdefault(staff_id, set()).add(to_hall(at).replace(tzinfo=None, microsecond=0))
    new: dict[str, set[datetime]] = {}
    for staff_id, at, number in punches:
        if at in held.get(staff_id, ()) or at in new.get(staff_id, ()):
            result.skipped += 1  # the very same punch is already held (or twice in the file)
            continue
        new.setdefault(staff_id, set()).add(at)
        result.records.append({"row": number, "staff_id": staff_id, "punched_at": from_hall(at)})
    close = sum(
        within_a_minute(held.get(staff_id, set()) | times) - within_a_minute(held.get(staff_id, set()))
        for staff_id, times in new.items()
    )
    if close:
        result.notes["within_a_minute"] = close


def apply(records: list[dict], ticker) -> dict:
    for i in range(0, len(records), _CHUNK):
        part = records[i : i + _CHUNK]
        db.session.execute(
            insert(ClockPunch), [{"staff_id": r["staff_id"], "punched_at": r["punched_at"]} for r in part]
        )
        for _ in part:
            ticker.step()
    db.session.flush()
    return {"created": len(records)}
