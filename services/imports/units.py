"""Units: `code,name,windows,display_order,active`. A known code updates its unit, a new one creates it.

Every row goes through `services.units.unit_problems`, the unit form's own rules, and is written with
`save_unit`, the form's own service: a file cannot bring in a unit the form would refuse.
"""

from __future__ import annotations

from sqlalchemy import select

from models import Unit, db
from services.imports.cells import ParseResult, Rows, parse_bool, parse_int
from services.imports.reading import cell_text

COLUMNS = ("code", "name", "windows", "display_order", "active")
LABEL = "单位"
EXAMPLE = ("SW01", "市税务局", "1;2;3", "1", "true")


def read_rows(it: Rows) -> list[dict]:
    """Pure: each row's cells as values (the unit rules are checked in `check`)."""
    seen: dict[str, int] = {}
    records = []
    for number, row in it:
        code = cell_text(row.get("code"))
        order = it.cell(row, "display_order", parse_int, 0)
        active = it.cell(row, "active", lambda v: parse_bool(v, True), True)
        if code in seen:
            it.error("code", code, f"单位代码 {code} 与第{seen[code]}行重复")
        elif code:
            seen[code] = number
        records.append(
            {
                "row": number,
                "code": code,
                "name": cell_text(row.get("name")),
                "windows": cell_text(row.get("windows")),
                "display_order": order,
                "active": active,
                "_ok": not it.row_failed,
            }
        )
    return records


def parse(it: Rows, result: ParseResult) -> None:
    from services.units import unit_problems, window_problems

    existing = {u.code: u for u in db.session.scalars(select(Unit))}
    for rec in read_rows(it):
        ok = rec.pop("_ok")
        failed = {e.column for e in it.errors if e.row_number == rec["row"]}
        problems = unit_problems(
            existing.get(rec["code"]),
            code=rec["code"],
            name=rec["name"],
            windows=rec["windows"],
            display_order=rec["display_order"] if "display_order" not in failed else 0,
        )
        for column, message in problems:
            if column not in failed:
                it.error(column, rec[column], message, row_number=rec["row"])
                ok = False
        if ok:
            rec["windows"] = ";".join(window_problems(rec["windows"])[0])
            result.records.append(rec)


def apply(records: list[dict], ticker) -> dict:
    from services.calendar_admin import save_unit, unit_dict

    existing = {u.code: u for u in db.session.scalars(select(Unit))}
    created = updated = unchanged = 0
    for rec in records:
        ticker.at(rec["row"])
        unit = existing.get(rec["code"])
        before = unit_dict(unit) if unit is not None else None
        saved = save_unit(
            unit,
            code=rec["code"],
            name=rec["name"],
            windows=rec["windows"],
            display_order=rec["display_order"],
            active=rec["active"],
        )
        existing[saved.code] = saved
        if before is None:
            created += 1
        elif before == unit_dict(saved):
            unchanged += 1
        else:
            updated += 1
        ticker.step()
    db.session.flush()
    return {"created": created, "updated": updated, "unchanged": unchanged}
