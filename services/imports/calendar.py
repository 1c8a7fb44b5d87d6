"""The working-day calendar: `date,kind` (`holiday` or `workday`; the Chinese words an admin types too).
A day already held takes the file's kind.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import select

from models import CalendarDay, db
from services.imports.cells import ParseResult, Rows, required_date
from services.imports.reading import cell_text

COLUMNS = ("date", "kind")
LABEL = "工作日历"
EXAMPLE = ("2024-10-01", "holiday")


_KIND_ALIASES = {
    "holiday": "holiday",
    "节假日": "holiday",
    "假日": "holiday",
    "休息日": "holiday",
    "放假": "holiday",
    "workday": "workday",
    "工作日": "workday",
    "调休": "workday",
    "补班": "workday",
    "调休上班": "workday",
    "上班": "workday",
}


def parse(it: Rows, result: ParseResult) -> None:
    """Pure: the calendar needs nothing from the database to read its rows."""
    seen: dict[date, int] = {}
    for number, row in it:
        day = it.cell(row, "date", required_date("日期"))
        kind_text = cell_text(row.get("kind")).lower()
        kind = _KIND_ALIASES.get(kind_text)
        if kind is None:
            it.error("kind", row.get("kind"), "类型应为 holiday(放假)或 workday(调休上班)")
        if day is not None:
            if day in seen:
                it.error("date", row.get("date"), f"日期 {day.isoformat()} 与第{seen[day]}行重复")
            else:
                seen[day] = number
        if not it.row_failed:
            result.records.append({"row": number, "date": day, "kind": kind})


def apply(records: list[dict], ticker) -> dict:
    from services.audit import record

    existing = {d.day: d for d in db.session.scalars(select(CalendarDay))}
    created = updated = unchanged = 0
    for rec in records:
        ticker.at(rec["row"])
        row = existing.get(rec["date"])
        if row is None:
            db.session.add(CalendarDay(day=rec["date"], kind=rec["kind"], note=""))
            record("calendar.set", f"calendar:{rec['date'].isoformat()}", after={"kind": rec["kind"]})
            created += 1
        elif row.kind != rec["kind"]:
            record(
                "calendar.set",
                f"calendar:{rec['date'].isoformat()}",
                before={"kind": row.kind},
                after={"kind": rec["kind"]},
            )
            row.kind = rec["kind"]
            updated += 1
        else:
            unchanged += 1
        ticker.step()
    db.session.flush()
    return {"created": created, "updated": updated, "unchanged": unchanged}
