"""Imports of units, the staff roster, incidents, clock-in punches and the calendar from .csv or .xlsx.

All or nothing: `read_table` reads the file (`reading`: csv/xlsx and their encodings), `parse` turns every
row into values and collects every problem as a `RowError` (numbered as the spreadsheet numbers its rows:
the header is row 1), and `apply` writes only an error-free result. `import_file` does the three and raises
`ImportRejected` when anything is wrong, with nothing written. The columns are product.md's, exactly; an
extra or missing column is an error.

One module per kind (`units`, `staff`, `incidents`, `clock`, `calendar`), each with its columns, a pure
`read_rows` (cells to values), `parse` (the checks against what is held) and `apply` (the writes, through
the same services as the admin pages). What a file holds that imports but is worth saying (unknown clock
ids, rows of inactive units, D15 rows waiting to be linked) comes back as notes in the summary.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from typing import Any

from models import db
from services import DomainError
from services.audit import record
from services.gc_pause import pausing
from services.imports import calendar, clock, incidents, staff, units
from services.imports.cells import MAX_TEXT, ParseResult, Rows, check_columns
from services.imports.reading import ImportRejected, RowError, Table, read_table

__all__ = [
    "COLUMNS",
    "EXAMPLES",
    "KINDS",
    "KIND_LABELS",
    "MAX_TEXT",
    "ImportRejected",
    "ParseResult",
    "RowError",
    "SUMMARY_LABELS",
    "Table",
    "apply",
    "import_file",
    "notes_text",
    "parse",
    "read_table",
    "summary_text",
    "template_csv",
]

_MODULES = {"units": units, "staff": staff, "incidents": incidents, "clock": clock, "calendar": calendar}
COLUMNS: dict[str, tuple[str, ...]] = {kind: m.COLUMNS for kind, m in _MODULES.items()}
KINDS = tuple(COLUMNS)
KIND_LABELS = {kind: m.LABEL for kind, m in _MODULES.items()}
# One example row per kind, for the downloadable templates.
EXAMPLES = {kind: m.EXAMPLE for kind, m in _MODULES.items()}
PROGRESS_EVERY = 200

# The summary's keys in Chinese, in the order the one-line summary says them. The audit log shows the same
# keys through ui.FIELD_LABELS (which holds these labels too).
SUMMARY_LABELS = {
    "rows": "行数",
    "created": "新增",
    "updated": "更新",
    "unchanged": "未变",
    "staff_created": "新增人员",
    "postings_added": "新增岗位记录",
    "postings_closed": "结束原岗位",
    "skipped": "跳过已有的相同打卡",
    "within_a_minute": "与前一次打卡相隔不足一分钟(计为一次)",
    "unknown_punches": "未知工号的打卡(已跳过)",
    "unknown_staff": "未知工号",
    "linked": "D15 已关联违规记录",
    "pending_link": "D15 待关联",
    "pending_link_ids": "待关联记录编号",
    "pending_link_rows": "待关联的行",
    "inactive_unit_rows": "属于已停用单位的行(已导入,不计分)",
    "inactive_units": "已停用单位",
}

Progress = Callable[[int, int], Any]


def _module(kind: str):
    if kind not in _MODULES:
        raise DomainError(f"未知的导入类型 {kind},应为:{'、'.join(KINDS)}")
    return _MODULES[kind]


@pausing
def parse(kind: str, rows: list[dict]) -> ParseResult:
    """Every row as values, or every problem as a RowError. Reads the database (units, staff, rules,
    existing rows) but writes nothing."""
    module = _module(kind)
    result = ParseResult(kind)
    result.errors = check_columns(module.COLUMNS, module.LABEL, rows)
    if result.errors:
        return result
    if not rows:
        result.errors.append(RowError(0, "", "", "文件中没有数据行(只有表头)"))
        return result
    it = Rows(rows)
    for number, row in zip(it.numbers, rows, strict=True):
        if row.get(None):
            it.errors.append(RowError(number, "", "", f"本行比表头多出 {len(row[None])} 个单元格"))
    module.parse(it, result)
    order = module.COLUMNS
    result.errors = sorted(
        it.errors, key=lambda e: (e.row_number, order.index(e.column) if e.column in order else -1)
    )
    if result.errors:
        result.records, result.notes = [], {}
    return result


class _Ticker:
    def __init__(self, total: int, progress: Progress | None):
        self.total, self.progress, self.done, self.row = total, progress, 0, 0

    def at(self, row: int) -> None:
        self.row = row  # the row being written, named if a service refuses it

    def step(self) -> None:
        self.done += 1
        if self.progress and self.done % PROGRESS_EVERY == 0:
            self.progress(self.done, self.total)

    def advance(self, rows: int) -> None:
        """`rows` more written at once (a bulk insert): always reported."""
        self.done += rows
        if self.progress:
            self.progress(self.done, self.total)

    def finish(self) -> None:
        if self.progress:
            self.progress(self.total, self.total)


def apply(
    kind: str,
    records: list[dict],
    progress: Progress | None = None,
    notes: dict | None = None,
    state: dict | None = None,
) -> dict:
    """Write an error-free parse result; returns a summary. Services flush, the caller commits once.

    A domain rule broken while writing (raised by a service) rolls the session back and raises
    ImportRejected, so nothing of the file stays.
    """
    module = _module(kind)
    ticker = _Ticker(len(records), progress)
    try:
        written = module.apply(records, ticker, **(state or {}))
    except ImportRejected:
        db.session.rollback()
        raise
    except DomainError as error:
        db.session.rollback()
        raise ImportRejected([RowError(ticker.row, "", "", str(error))]) from error
    ticker.finish()
    summary = {"kind": kind, "rows": len(records), **(notes or {}), **written}
    # The audit row says the kind through its action (import.units …); its keys are labelled in Chinese.
    record(f"import.{kind}", f"import:{kind}", after={k: v for k, v in summary.items() if k != "kind"})
    db.session.flush()
    return summary


@pausing  # a million objects that live until the rows are written: no collector walking them (gc_pause)
def import_file(kind: str, filename: str, data: bytes, progress: Progress | None = None) -> dict:
    """Read, parse and write one file; raises ImportRejected (nothing written) when anything is wrong."""
    _module(kind)
    rows = read_table(filename, data)
    result = parse(kind, rows)
    if result.errors:
        raise ImportRejected(result.errors)
    notes = dict(result.notes)
    if result.skipped:
        notes["skipped"] = result.skipped
    notes["rows"] = len(rows)  # the file's rows, also those that needed no write
    del rows  # the checked records are all the writing needs: the file's cells can go (memory)
    return apply(kind, result.records, progress, notes, result.state)


def notes_text(notes: dict) -> list[str]:
    """The notes of a parse or an import, as Chinese sentences (the preview and the result say them)."""
    lines = []
    if notes.get("unknown_staff"):
        listed = "、".join(f"{sid}({n} 条)" for sid, n in notes["unknown_staff"].items())
        lines.append(f"人员名册中没有的工号,其打卡已跳过:{listed}")
    if notes.get("within_a_minute"):
        lines.append(f"{notes['within_a_minute']} 条打卡与同一人前一次打卡相隔不足一分钟,已保存,计为一次")
    if notes.get("skipped"):
        lines.append(f"{notes['skipped']} 条打卡与已有打卡完全相同,不重复保存")
    if notes.get("inactive_units"):
        listed = "、".join(f"{name} {n} 行" for name, n in notes["inactive_units"].items())
        lines.append(f"属于已停用单位的记录已导入,但不参加考核:{listed}")
    elif notes.get("inactive_unit_rows"):
        lines.append(f"{notes['inactive_unit_rows']} 行属于已停用单位,已导入,但不参加考核")
    if notes.get("pending_link_rows"):
        rows = "、".join(f"第{n}行" for n in notes["pending_link_rows"])
        lines.append(
            f"D15 待关联:{rows}没有唯一的同单位、同一时间的违规记录,不关联导入,请在记录的更正页面关联"
        )
    elif notes.get("pending_link"):
        lines.append(f"D15 待关联 {notes['pending_link']} 条:请在记录的更正页面关联所加扣的违规记录")
    return lines


def summary_text(summary: dict, notes: bool = True) -> str:
    """A one-line Chinese summary of `import_file`'s result (CLI and the import page), with its notes
    unless `notes` is false (the page lists them below)."""
    kind = summary.get("kind", "")
    parts = [f"{KIND_LABELS.get(kind, kind)}导入完成:共 {summary.get('rows', 0)} 行"]
    for key in ("created", "updated", "unchanged", "staff_created", "postings_added", "postings_closed"):
        if summary.get(key):
            parts.append(f"{SUMMARY_LABELS[key]} {summary[key]}")
    text = ",".join(parts)
    lines = notes_text(summary) if notes else []
    return text + (";" + ";".join(lines) if lines else "")


def template_csv(kind: str) -> bytes:
    """A CSV template with the exact header and one example row (UTF-8 with BOM, so Excel reads it)."""
    from services.xlsx import csv_cell

    if kind not in COLUMNS:
        raise DomainError(f"未知的导入类型 {kind}")
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(COLUMNS[kind])
    writer.writerow([csv_cell(v) for v in EXAMPLES[kind]])  # never a text a spreadsheet would run
    return out.getvalue().encode("utf-8-sig")
