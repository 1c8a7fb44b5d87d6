"""Imports of units, the staff roster, incidents, clock-in punches and the calendar from .csv or .xlsx.

All or nothing: `read_table` reads the file, `parse` turns every row into values and collects every problem
as a `RowError` (numbered as the spreadsheet numbers its rows: the header is row 1), and `apply` writes only
an error-free result. `import_file` does the three and raises `ImportRejected` when anything is wrong, with
nothing written. The columns are product.md's, exactly; an extra or missing column is an error.

CSV files may be UTF-8, UTF-8 with a BOM, or GB18030 (what Chinese Excel saves as "CSV(逗号分隔)").
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import PurePath
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import selectinload

from models import CalendarDay, ClockPunch, Incident, IncidentStatus, Posting, Staff, Unit, db, split_windows
from services import DomainError
from services.audit import record
from services.clock import from_hall, hall_now, to_hall

COLUMNS: dict[str, tuple[str, ...]] = {
    "units": ("code", "name", "windows", "display_order", "active"),
    "staff": ("staff_id", "name", "unit_code", "category", "window", "start_date", "end_date"),
    "incidents": (
        "occurred_at",
        "unit_code",
        "rule_code",
        "staff_id",
        "count",
        "note",
        "deadline",
        "rectified_on",
        "exempt",
    ),
    "clock": ("staff_id", "punched_at"),
    "calendar": ("date", "kind"),
}
KINDS = tuple(COLUMNS)
KIND_LABELS = {
    "units": "单位",
    "staff": "人员名册",
    "incidents": "扣加分记录",
    "clock": "打卡记录",
    "calendar": "工作日历",
}
# One example row per kind, for the downloadable templates.
EXAMPLES = {
    "units": ("SW01", "市税务局", "1;2;3", "1", "true"),
    "staff": ("S0001", "张三", "SW01", "W", "1", "2024-01-02", ""),
    "incidents": ("2024-03-05 09:10", "SW01", "D01", "S0001", "1", "巡查发现迟到", "", "", "false"),
    "clock": ("S0001", "2024-03-05 08:27"),
    "calendar": ("2024-10-01", "holiday"),
}
PROGRESS_EVERY = 200
MAX_TEXT = 2000

Progress = Callable[[int, int], Any]


# ---------------------------------------------------------------- results and errors


@dataclass(frozen=True)
class RowError:
    """One problem: row as the spreadsheet numbers it (header = 1; 0 = the file as a whole)."""

    row_number: int
    column: str
    value: str
    message: str

    def __str__(self) -> str:
        where = f"第{self.row_number}行" if self.row_number else "文件"
        if self.column:
            return f"{where} {self.column}: {self.message}"
        return f"{where}{self.message}" if self.row_number else f"{where}: {self.message}"


@dataclass
class ParseResult:
    kind: str
    records: list[dict] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    skipped: int = 0  # rows that need no write (clock punches already held, within a minute)

    @property
    def ok(self) -> bool:
        return not self.errors


class ImportRejected(DomainError):
    """The file was refused; `errors` lists every problem. Nothing was written."""

    def __init__(self, errors: Iterable[RowError]):
        self.errors = list(errors)
        shown = ";".join(str(e) for e in self.errors[:5])
        more = f"……共 {len(self.errors)} 处问题" if len(self.errors) > 5 else ""
        super().__init__(f"导入失败,未写入任何数据:{shown}{more}")


class Table(list):
    """The rows of a file as dicts (header names as keys), with the header and each row's number."""

    def __init__(
        self,
        rows: Iterable[dict] = (),
        columns: list[str] | None = None,
        row_numbers: list[int] | None = None,
    ):
        super().__init__(rows)
        self.columns = columns or []
        self.row_numbers = row_numbers or []


def _file_error(message: str) -> ImportRejected:
    return ImportRejected([RowError(0, "", "", message)])


# ---------------------------------------------------------------- reading files


def read_table(filename: str, data: bytes) -> Table:
    """The rows of a .csv or .xlsx file. A file that cannot be read raises ImportRejected (Chinese)."""
    suffix = PurePath(filename or "").suffix.lower()
    if not data or not data.strip():
        raise _file_error("文件是空的")
    if data[:4] == b"\xd0\xcf\x11\xe0":
        raise _file_error("不支持旧版 Excel(.xls)文件,请在 Excel 中另存为 .xlsx 或 CSV 后再导入")
    if data[:4] == b"PK\x03\x04":  # a zip: an .xlsx, whatever its name says
        return _read_xlsx(data)
    if suffix in (".xlsx", ".xlsm"):
        raise _file_error("文件不是有效的 .xlsx 工作簿(可能已损坏),请在 Excel 中重新保存后再导入")
    if suffix not in (".csv", ".txt", ""):
        raise _file_error(f"不支持的文件类型 {suffix},请导入 .csv 或 .xlsx 文件")
    return _read_csv(_decode(data))


def _decode(data: bytes) -> str:
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):  # Excel's "Unicode text" is UTF-16
        try:
            text = data.decode("utf-16")
        except UnicodeDecodeError as error:
            raise _file_error("文件编码无法识别,请保存为 UTF-8 或 GB18030 编码的 CSV") from error
    else:
        if b"\x00" in data:
            raise _file_error(
                "文件不是文本格式的 CSV(可能是二进制文件被改了扩展名),请导入 .csv 或 .xlsx 文件"
            )
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            try:
                text = data.decode("gb18030")
            except UnicodeDecodeError as error:
                raise _file_error(
                    "文件编码无法识别,请保存为 UTF-8 或 GB18030(Excel 的“CSV(逗号分隔)”)"
                ) from error
    controls = sum(1 for ch in text if unicodedata.category(ch) == "Cc" and ch not in "\t\r\n")
    if controls:
        raise _file_error("文件不是文本格式的 CSV(含有控制字符,可能是二进制文件被改了扩展名)")
    return text


def _read_csv(text: str) -> Table:
    first_line = text.split("\n", 1)[0]
    delimiter = "\t" if "\t" in first_line and "," not in first_line else ","
    try:
        records = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))
    except csv.Error as error:
        raise _file_error(f"CSV 格式有误:{error}") from error
    return _table(records)


def _read_xlsx(data: bytes) -> Table:
    import openpyxl

    try:
        workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as error:  # openpyxl raises many kinds (BadZipFile, KeyError, XML errors) for bad files
        raise _file_error("无法读取 Excel 文件:文件已损坏或不是 .xlsx 工作簿") from error
    try:
        sheet = workbook.worksheets[0] if workbook.worksheets else None
        if sheet is None:
            raise _file_error("Excel 文件中没有工作表")
        # Some programs write a wrong sheet size into the file; read every row whatever it claims.
        sheet.reset_dimensions()
        records = [list(row) for row in sheet.iter_rows(values_only=True)]
    except ImportRejected:
        raise
    except (zipfile.BadZipFile, KeyError, ValueError, TypeError, OSError) as error:
        raise _file_error("无法读取 Excel 文件:文件已损坏或不是 .xlsx 工作簿") from error
    finally:
        workbook.close()
    return _table(records)


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _table(records: list[list[Any]]) -> Table:
    """Header = the first non-empty row; data rows keep their spreadsheet numbers; blank rows are skipped."""
    header_at = next((i for i, r in enumerate(records) if any(not _blank(v) for v in r)), None)
    if header_at is None:
        raise _file_error("文件是空的")
    header = [_text(v).lstrip("\ufeff").strip().lower() for v in records[header_at]]
    while header and not header[-1]:
        header.pop()
    rows, numbers = [], []
    for index in range(header_at + 1, len(records)):
        values = records[index]
        if all(_blank(v) for v in values):
            continue
        row: dict[Any, Any] = {
            name: (values[i] if i < len(values) else None) for i, name in enumerate(header)
        }
        extra = [v for v in values[len(header) :] if not _blank(v)]
        if extra:
            row[None] = extra  # like csv.DictReader's restkey: cells beyond the header
        rows.append(row)
        numbers.append(index + 1)
    return Table(rows, columns=header, row_numbers=numbers)


# ---------------------------------------------------------------- cell values


class _Bad(ValueError):
    """A cell's value is wrong; the message is Chinese."""


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S" if value.second else "%Y-%m-%d %H:%M")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, time):
        return value.strftime("%H:%M")
    return str(value).strip()


_DATE_RE = re.compile(r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?(?:\s+0{1,2}:00(?::00)?)?$")
_DATETIME_RE = re.compile(r"^(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})(?:\s+|T)(\d{1,2}):(\d{2})(?::(\d{2}))?$")


def _date(value: Any, column_label: str = "日期") -> date:
    if isinstance(value, datetime):
        if value.time() != time(0, 0):
            raise _Bad(f"{column_label}应为日期(YYYY-MM-DD),不能带时间")
        return value.date()
    if isinstance(value, date):
        return value
    text = _text(value)
    match = _DATE_RE.match(text)
    if not match:
        raise _Bad(f"{column_label}格式应为 YYYY-MM-DD(如 2024-03-05)")
    try:
        return date(int(match[1]), int(match[2]), int(match[3]))
    except ValueError as error:
        raise _Bad(f"日期 {text} 不存在") from error


def _optional_date(value: Any, column_label: str = "日期") -> date | None:
    return None if _blank(value) else _date(value, column_label)


def _datetime(value: Any) -> datetime:
    """A naive hall-time datetime, to the second (Excel cells and "YYYY-MM-DD HH:MM[:SS]" text)."""
    if isinstance(value, datetime):
        return value.replace(tzinfo=None, microsecond=0)
    if isinstance(value, date):
        raise _Bad("缺少时间,格式应为 YYYY-MM-DD HH:MM")
    text = _text(value)
    match = _DATETIME_RE.match(text)
    if not match:
        if _DATE_RE.match(text):
            raise _Bad("缺少时间,格式应为 YYYY-MM-DD HH:MM")
        raise _Bad("时间格式应为 YYYY-MM-DD HH:MM(如 2024-03-05 09:30)")
    try:
        return datetime(
            int(match[1]), int(match[2]), int(match[3]), int(match[4]), int(match[5]), int(match[6] or 0)
        )
    except ValueError as error:
        raise _Bad(f"时间 {text} 不存在") from error


_TRUE = {"true", "1", "是", "yes", "y", "t"}
_FALSE = {"false", "0", "否", "no", "n", "f"}


def _bool(value: Any, default: bool) -> bool:
    if isinstance(value, bool):
        return value
    text = _text(value).lower()
    if not text:
        return default
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise _Bad("应为 true 或 false")


def _count(value: Any) -> int:
    if _blank(value):
        return 1
    if isinstance(value, bool):
        raise _Bad("次数(人数)应为不小于 1 的整数")
    if isinstance(value, float):
        if not value.is_integer():
            raise _Bad("次数(人数)应为不小于 1 的整数")
        value = int(value)
    text = _text(value)
    if not re.fullmatch(r"\d+", text) or int(text) < 1:
        raise _Bad("次数(人数)应为不小于 1 的整数")
    if int(text) > 1000:
        raise _Bad("次数(人数)过大(不能超过 1000)")
    return int(text)


def _int(value: Any, default: int = 0) -> int:
    if _blank(value):
        return default
    if isinstance(value, float) and value.is_integer():
        return int(value)
    text = _text(value)
    if isinstance(value, bool) or not re.fullmatch(r"-?\d{1,9}", text):
        raise _Bad("应为整数")
    return int(text)


def _required(value: Any, label: str, max_length: int) -> str:
    text = _text(value)
    if not text:
        raise _Bad(f"{label}不能为空")
    if len(text) > max_length:
        raise _Bad(f"{label}不能超过 {max_length} 个字符")
    return text


# ---------------------------------------------------------------- parsing


class _Rows:
    """Iterates (row_number, row) and collects errors; `cell` parses one cell or records its error."""

    def __init__(self, kind: str, rows: list[dict]):
        self.kind = kind
        self.rows = rows
        numbers = getattr(rows, "row_numbers", None)
        self.numbers = numbers if numbers and len(numbers) == len(rows) else [i + 2 for i in range(len(rows))]
        self.errors: list[RowError] = []
        self.row_failed = False
        self.failed_columns: set[str] = set()
        self.current = 0

    def __iter__(self):
        for number, row in zip(self.numbers, self.rows, strict=True):
            self.current, self.row_failed, self.failed_columns = number, False, set()
            yield number, row

    def error(self, column: str, value: Any, message: str, row_number: int | None = None) -> None:
        self.errors.append(
            RowError(row_number if row_number is not None else self.current, column, _text(value), message)
        )
        if row_number is None:
            self.row_failed = True
            self.failed_columns.add(column)

    def cell(self, row: dict, column: str, parse: Callable[[Any], Any], default: Any = None) -> Any:
        value = row.get(column)
        try:
            return parse(value)
        except _Bad as bad:
            self.error(column, value, str(bad))
            return default


def _check_columns(kind: str, rows: list[dict]) -> list[RowError]:
    expected = COLUMNS[kind]
    columns = list(getattr(rows, "columns", None) or (list(rows[0].keys()) if rows else []))
    columns = [c for c in columns if c is not None]
    errors: list[RowError] = []
    allowed = ",".join(expected)
    if not columns:
        return [RowError(1, "", "", f"缺少表头行,应为:{allowed}")]
    seen: set[str] = set()
    for position, name in enumerate(columns, start=1):
        if not name:
            errors.append(
                RowError(1, f"第{position}列", "", f"表头为空;{KIND_LABELS[kind]}的列应为:{allowed}")
            )
        elif name in seen:
            errors.append(RowError(1, name, name, "表头中该列重复"))
        elif name not in expected:
            errors.append(
                RowError(1, name, name, f"多余的列 {name};{KIND_LABELS[kind]}只允许这些列:{allowed}")
            )
        seen.add(name)
    for name in expected:
        if name not in seen:
            errors.append(RowError(1, name, "", f"缺少列 {name};{KIND_LABELS[kind]}的列应为:{allowed}"))
    return errors


def parse(kind: str, rows: list[dict]) -> ParseResult:
    """Every row as values, or every problem as a RowError. Reads the database (units, staff, rules,
    existing rows) but writes nothing."""
    if kind not in COLUMNS:
        raise DomainError(f"未知的导入类型 {kind},应为:{'、'.join(KINDS)}")
    result = ParseResult(kind)
    result.errors = _check_columns(kind, rows)
    if result.errors:
        return result
    if not rows:
        result.errors.append(RowError(0, "", "", "文件中没有数据行(只有表头)"))
        return result
    it = _Rows(kind, rows)
    for number, row in zip(it.numbers, rows, strict=True):
        if row.get(None):
            it.errors.append(RowError(number, "", "", f"本行比表头多出 {len(row[None])} 个单元格"))
    {
        "units": _parse_units,
        "staff": _parse_staff,
        "incidents": _parse_incidents,
        "clock": _parse_clock,
        "calendar": _parse_calendar,
    }[kind](it, result)
    result.errors = sorted(
        it.errors,
        key=lambda e: (e.row_number, COLUMNS[kind].index(e.column) if e.column in COLUMNS[kind] else -1),
    )
    if result.errors:
        result.records = []
    return result


def _parse_units(it: _Rows, result: ParseResult) -> None:
    existing = {u.code: u for u in db.session.scalars(select(Unit))}
    seen: dict[str, int] = {}
    for number, row in it:
        code = it.cell(row, "code", lambda v: _required(v, "单位代码", 32))
        if code and re.search(r"\s", code):
            it.error("code", code, "单位代码不能包含空格")
        name = it.cell(row, "name", lambda v: _required(v, "单位名称", 120))
        windows = it.cell(row, "windows", lambda v: split_windows(_text(v)), [])
        duplicates = sorted({w for w in windows if windows.count(w) > 1})
        if duplicates:
            it.error("windows", row.get("windows"), f"窗口编号 {'、'.join(duplicates)} 重复")
        if len(";".join(windows)) > 400:
            it.error("windows", row.get("windows"), "窗口列表过长")
        order = it.cell(row, "display_order", _int, 0)
        active = it.cell(row, "active", lambda v: _bool(v, True), True)
        if code in seen:
            it.error("code", code, f"单位代码 {code} 与第{seen[code]}行重复")
        elif code:
            seen[code] = number
        if code in existing and not it.row_failed:
            unit = existing[code]
            removed = [w for w in unit.window_list if w not in windows]
            busy = _staffed_windows(unit, removed)
            if busy:
                it.error(
                    "windows",
                    row.get("windows"),
                    f"窗口 {'、'.join(busy)} 仍有在岗人员,不能从{unit.name}删除;请先调整人员岗位",
                )
        if not it.row_failed:
            result.records.append(
                {
                    "row": number,
                    "code": code,
                    "name": name,
                    "windows": ";".join(windows),
                    "display_order": order,
                    "active": active,
                }
            )


def _staffed_windows(unit: Unit, windows: list[str]) -> list[str]:
    if not windows:
        return []
    today = hall_now().date()
    rows = db.session.scalars(
        select(Posting.window).where(
            Posting.unit_id == unit.id,
            Posting.window.in_(windows),
            (Posting.end_date.is_(None)) | (Posting.end_date >= today),
        )
    )
    return sorted(set(rows))


def _span(start: date, end: date | None) -> str:
    return f"{start.isoformat()} 至 {end.isoformat() if end else '今'}"


def _overlaps(a_start: date, a_end: date | None, b_start: date, b_end: date | None) -> bool:
    return a_start <= (b_end or date.max) and b_start <= (a_end or date.max)


def _parse_staff(it: _Rows, result: ParseResult) -> None:
    from services.roster import check_posting

    units = {u.code: u for u in db.session.scalars(select(Unit))}
    staff_db = {
        s.staff_id: s for s in db.session.scalars(select(Staff).options(selectinload(Staff.postings)))
    }
    names: dict[str, tuple[str, int]] = {}
    keys: dict[tuple[str, date], int] = {}
    parsed: list[dict] = []
    column_of = {
        "unit": "unit_code",
        "category": "category",
        "window": "window",
        "start_date": "start_date",
        "end_date": "end_date",
    }
    for number, row in it:
        staff_id = it.cell(row, "staff_id", lambda v: _required(v, "工号", 32))
        name = it.cell(row, "name", lambda v: _required(v, "姓名", 60))
        unit_code = it.cell(row, "unit_code", lambda v: _required(v, "单位代码", 32))
        unit = units.get(unit_code) if unit_code else None
        if unit_code and unit is None:
            it.error("unit_code", unit_code, f"单位代码 {unit_code} 不存在")
        category = it.cell(row, "category", lambda v: _text(v).upper())
        window = it.cell(row, "window", _text) or None
        start = it.cell(
            row, "start_date", lambda v: _date(v, "开始日期") if not _blank(v) else _raise_empty("开始日期")
        )
        end = it.cell(row, "end_date", lambda v: _optional_date(v, "结束日期"))
        for field_name, message in check_posting(unit, category or "", window, start, end):
            if field_name == "unit" or (field_name == "start_date" and start is None):
                continue  # already reported above
            column = column_of[field_name]
            it.error(column, row.get(column), message)
        if staff_id and name:
            known = staff_db.get(staff_id)
            if known is not None and known.name != name:
                it.error("name", name, f"工号 {staff_id} 已登记为{known.name},与本行姓名 {name} 不一致")
            elif staff_id in names and names[staff_id][0] != name:
                it.error(
                    "name", name, f"工号 {staff_id} 在第{names[staff_id][1]}行的姓名是 {names[staff_id][0]}"
                )
            names.setdefault(staff_id, (name, number))
        if staff_id and start:
            key = (staff_id, start)
            if key in keys:
                it.error(
                    "start_date", row.get("start_date"), f"与第{keys[key]}行重复(同一工号、同一开始日期)"
                )
            else:
                keys[key] = number
            known = staff_db.get(staff_id)
            if known is not None and any(p.start_date == start for p in known.postings):
                it.error(
                    "start_date",
                    row.get("start_date"),
                    f"工号 {staff_id} 已有 {start.isoformat()} 开始的岗位记录(重复导入?)",
                )
        if not it.row_failed:
            parsed.append(
                {
                    "row": number,
                    "staff_id": staff_id,
                    "name": name,
                    "unit_code": unit_code,
                    "category": category,
                    "window": window,
                    "start_date": start,
                    "end_date": end,
                }
            )

    # Overlaps, per staff member: within the file, and against the history already held. A posting held
    # open-ended in the database is closed the day before the first new one (the roster's "move"), as an
    # HR roster lists the new posting without restating the old one.
    by_staff: dict[str, list[dict]] = {}
    for rec in parsed:
        by_staff.setdefault(rec["staff_id"], []).append(rec)
    for staff_id, recs in by_staff.items():
        recs.sort(key=lambda r: r["start_date"])
        bad = False
        for i, rec in enumerate(recs):
            for other in recs[:i]:
                if _overlaps(rec["start_date"], rec["end_date"], other["start_date"], other["end_date"]):
                    span = _span(other["start_date"], other["end_date"])
                    it.error(
                        "start_date",
                        rec["start_date"],
                        f"与第{other['row']}行的岗位时间({span})重叠",
                        row_number=rec["row"],
                    )
                    bad = True
                    break
        known = staff_db.get(staff_id)
        close: tuple[Posting, date] | None = None
        if known is not None:
            open_ended = [p for p in known.postings if p.end_date is None]
            if open_ended and open_ended[-1].start_date < recs[0]["start_date"]:
                close = (open_ended[-1], recs[0]["start_date"] - timedelta(days=1))
            for rec in recs:
                for p in known.postings:
                    p_end = close[1] if close and p is close[0] else p.end_date
                    if p.start_date != rec["start_date"] and _overlaps(
                        rec["start_date"], rec["end_date"], p.start_date, p_end
                    ):
                        it.error(
                            "start_date",
                            rec["start_date"],
                            f"与已有岗位({p.unit.name},{_span(p.start_date, p.end_date)})时间重叠",
                            row_number=rec["row"],
                        )
                        bad = True
                        break
        if not bad:
            if close:
                recs[0]["close_posting_id"] = close[0].id
            result.records.extend(recs)
    result.records.sort(key=lambda r: r["row"])


def _raise_empty(label: str) -> Any:
    raise _Bad(f"{label}不能为空")


def _parse_incidents(it: _Rows, result: ParseResult) -> None:
    from services.incidents import rule_problems
    from services.months import is_open
    from services.rulebooks import rulebook_for_month

    units = {u.code: u for u in db.session.scalars(select(Unit))}
    staff_db = {
        s.staff_id: s for s in db.session.scalars(select(Staff).options(selectinload(Staff.postings)))
    }
    now = hall_now().replace(tzinfo=None)
    rulebooks: dict[tuple[int, int], Any] = {}
    open_months: dict[tuple[int, int], bool] = {}
    seen: dict[tuple, int] = {}
    parsed: list[dict] = []
    column_of = {
        "rule_code": "rule_code",
        "count": "count",
        "deadline": "deadline",
        "exempt": "exempt",
        "staff_id": "staff_id",
        "window": "staff_id",
    }
    for number, row in it:
        at = it.cell(
            row, "occurred_at", lambda v: _datetime(v) if not _blank(v) else _raise_empty("发生时间")
        )
        if at is not None and at > now:
            it.error("occurred_at", row.get("occurred_at"), "发生时间晚于当前时间")
        unit_code = it.cell(row, "unit_code", lambda v: _required(v, "单位代码", 32))
        unit = units.get(unit_code) if unit_code else None
        if unit_code and unit is None:
            it.error("unit_code", unit_code, f"单位代码 {unit_code} 不存在")
        elif unit is not None and not unit.active:
            it.error("unit_code", unit_code, f"单位 {unit.name} 已停用,不参加考核")
        rule_code = it.cell(row, "rule_code", lambda v: _required(v, "规则编号", 16))
        staff_id = it.cell(row, "staff_id", _text) or None
        count = it.cell(row, "count", _count)
        note = it.cell(row, "note", _text, "")
        if note and len(note) > MAX_TEXT:
            it.error("note", note[:20], f"备注不能超过 {MAX_TEXT} 个字符")
        deadline = it.cell(row, "deadline", lambda v: _optional_date(v, "整改期限"))
        rectified = it.cell(row, "rectified_on", lambda v: _optional_date(v, "整改完成日期"))
        exempt = it.cell(row, "exempt", lambda v: _bool(v, False), False)
        staff, window, category = None, None, None
        if staff_id:
            staff = staff_db.get(staff_id)
            if staff is None:
                it.error("staff_id", staff_id, f"工号 {staff_id} 不在人员名册中")
            elif at is not None:
                posting = staff.posting_on(at.date())
                if posting is None:
                    it.error(
                        "staff_id", staff_id, f"{staff.name}({staff_id})在 {at.date().isoformat()} 不在岗"
                    )
                elif unit is not None and posting.unit_id != unit.id:
                    it.error(
                        "staff_id",
                        staff_id,
                        f"{staff.name}({staff_id})当日属于{posting.unit.name},不属于{unit.name}",
                    )
                else:
                    window, category = posting.window, posting.category
        if at is not None:
            month = (at.year, at.month)
            if month not in open_months:
                open_months[month] = is_open(*month)
            if not open_months[month]:
                it.error(
                    "occurred_at",
                    row.get("occurred_at"),
                    f"{at.year}年{at.month}月已关账,不能导入该月的记录;如确需导入,请先重新开放该月",
                )
            if deadline and deadline < at.date():
                it.error("deadline", row.get("deadline"), "整改期限早于发生日期")
            if rectified and rectified < at.date():
                it.error("rectified_on", row.get("rectified_on"), "整改完成日期早于发生日期")
            if rule_code:
                if month not in rulebooks:
                    rulebooks[month] = rulebook_for_month(*month)
                rulebook = rulebooks[month]
                # Codes are written as the rulebook writes them ("D02c"); "d02C" typed by hand means the same.
                rule_code = next((c for c in rulebook.codes if c.lower() == rule_code.lower()), rule_code)
                for field_name, message in rule_problems(
                    rulebook,
                    rule_code,
                    count=count or 1,
                    staff_category=category,
                    deadline=deadline,
                    exempt=bool(exempt),
                    unit=unit,
                ):
                    column = column_of.get(field_name, "rule_code")
                    if column not in it.failed_columns:  # a cell already reported is not reported twice
                        it.error(column, row.get(column), message)
                if rule_code in rulebook.codes and "linked" in rulebook.rule(rule_code).requires:
                    it.error(
                        "rule_code",
                        rule_code,
                        f"{rule_code} 须与所加扣的违规记录关联,不能批量导入,请在系统中登记",
                    )
        if not it.row_failed:
            key = (at, unit_code, rule_code, staff_id, count, note)
            if key in seen:
                it.error("", "", f"与第{seen[key]}行重复")
                continue
            seen[key] = number
            parsed.append(
                {
                    "row": number,
                    "occurred_at": from_hall(at),
                    "hall_at": at,
                    "unit_code": unit_code,
                    "rule_code": rule_code,
                    "staff_id": staff_id,
                    "window": window,
                    "count": count,
                    "note": note,
                    "deadline": deadline,
                    "rectified_on": rectified,
                    "exempt": exempt,
                }
            )
    held = _existing_incidents(parsed)
    for rec in parsed:
        key = (rec["hall_at"], rec["unit_code"], rec["rule_code"], rec["staff_id"], rec["count"], rec["note"])
        if key in held:
            it.error("", "", f"与已有记录重复(记录编号 {held[key]})", row_number=rec["row"])
        else:
            result.records.append(rec)


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


def _parse_clock(it: _Rows, result: ParseResult) -> None:
    known = set(db.session.scalars(select(Staff.staff_id)))
    now = hall_now().replace(tzinfo=None)
    punches: list[tuple[str, datetime, int]] = []
    for number, row in it:
        staff_id = it.cell(row, "staff_id", lambda v: _required(v, "工号", 32))
        at = it.cell(row, "punched_at", lambda v: _datetime(v) if not _blank(v) else _raise_empty("打卡时间"))
        if staff_id and staff_id not in known:
            it.error("staff_id", staff_id, f"工号 {staff_id} 不在人员名册中(未知的打卡工号)")
        if at is not None and at > now:
            it.error("punched_at", row.get("punched_at"), "打卡时间晚于当前时间")
        if not it.row_failed:
            punches.append((staff_id, at, number))
    if not punches or it.errors:
        return
    # Clock-in hygiene: punches of one person less than a minute apart count once (the first is kept),
    # also against punches already held, so importing the same export twice adds nothing.
    start = from_hall(min(p[1] for p in punches) - timedelta(minutes=1))
    end = from_hall(max(p[1] for p in punches) + timedelta(minutes=1))
    held: dict[str, list[datetime]] = {}
    for staff_id, at in db.session.execute(
        select(ClockPunch.staff_id, ClockPunch.punched_at).where(
            ClockPunch.punched_at >= start, ClockPunch.punched_at <= end
        )
    ):
        held.setdefault(staff_id, []).append(to_hall(at).replace(tzinfo=None))
    by_staff: dict[str, list[tuple[datetime, int]]] = {}
    for staff_id, at, number in punches:
        by_staff.setdefault(staff_id, []).append((at, number))
    minute = timedelta(minutes=1)
    for staff_id, items in by_staff.items():
        kept = sorted(held.get(staff_id, []))
        for at, number in sorted(items):
            if any(abs(at - k) < minute for k in kept):
                result.skipped += 1
                continue
            kept.append(at)
            result.records.append({"row": number, "staff_id": staff_id, "punched_at": from_hall(at)})
    result.records.sort(key=lambda r: r["row"])


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


def _parse_calendar(it: _Rows, result: ParseResult) -> None:
    seen: dict[date, int] = {}
    for number, row in it:
        day = it.cell(row, "date", lambda v: _date(v) if not _blank(v) else _raise_empty("日期"))
        kind_text = _text(row.get("kind")).lower()
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


# ---------------------------------------------------------------- writing


def apply(kind: str, records: list[dict], progress: Progress | None = None) -> dict:
    """Write an error-free parse result; returns a summary. Services flush, the caller commits once.

    A domain rule broken while writing (raised by a service) rolls the session back and raises
    ImportRejected, so nothing of the file stays.
    """
    if kind not in COLUMNS:
        raise DomainError(f"未知的导入类型 {kind}")
    writer = {
        "units": _apply_units,
        "staff": _apply_staff,
        "incidents": _apply_incidents,
        "clock": _apply_clock,
        "calendar": _apply_calendar,
    }[kind]
    ticker = _Ticker(len(records), progress)
    try:
        summary = writer(records, ticker)
    except DomainError as error:
        db.session.rollback()
        row = ticker.row
        raise ImportRejected([RowError(row, "", "", str(error))]) from error
    ticker.finish()
    summary = {"kind": kind, "rows": len(records), **summary}
    record(f"import.{kind}", f"import:{kind}", after=summary)
    db.session.flush()
    return summary


class _Ticker:
    def __init__(self, total: int, progress: Progress | None):
        self.total, self.progress, self.done, self.row = total, progress, 0, 0

    def at(self, row: int) -> None:
        self.row = row  # the row being written, named if a service refuses it

    def step(self) -> None:
        self.done += 1
        if self.progress and self.done % PROGRESS_EVERY == 0:
            self.progress(self.done, self.total)

    def finish(self) -> None:
        if self.progress:
            self.progress(self.total, self.total)


def _unit_dict(unit: Unit) -> dict:
    return {
        "code": unit.code,
        "name": unit.name,
        "windows": unit.windows,
        "display_order": unit.display_order,
        "active": unit.active,
    }


def _apply_units(records: list[dict], ticker: _Ticker) -> dict:
    existing = {u.code: u for u in db.session.scalars(select(Unit))}
    created = updated = unchanged = 0
    for rec in records:
        ticker.at(rec["row"])
        values = {k: rec[k] for k in ("code", "name", "windows", "display_order", "active")}
        unit = existing.get(rec["code"])
        if unit is None:
            unit = Unit(**values)
            db.session.add(unit)
            db.session.flush()
            record("unit.create", f"unit:{unit.code}", after=_unit_dict(unit))
            created += 1
        else:
            before = _unit_dict(unit)
            if before == values:
                unchanged += 1
            else:
                for k, v in values.items():
                    setattr(unit, k, v)
                record("unit.update", f"unit:{unit.code}", before=before, after=_unit_dict(unit))
                updated += 1
        ticker.step()
    db.session.flush()
    return {"created": created, "updated": updated, "unchanged": unchanged}


def _apply_staff(records: list[dict], ticker: _Ticker) -> dict:
    from services.roster import add_posting, staff_dict

    units = {u.code: u for u in db.session.scalars(select(Unit))}
    created = added = closed = 0
    for rec in records:
        ticker.at(rec["row"])
        staff = db.session.scalar(select(Staff).where(Staff.staff_id == rec["staff_id"]))
        new = staff is None
        if new:
            staff = Staff(staff_id=rec["staff_id"], name=rec["name"])
            db.session.add(staff)
            created += 1
        before = None if new else staff_dict(staff)
        if rec.get("close_posting_id"):
            posting = db.session.get(Posting, rec["close_posting_id"])
            posting.end_date = rec["start_date"] - timedelta(days=1)
            closed += 1
        add_posting(
            staff,
            units[rec["unit_code"]],
            rec["category"],
            rec["window"],
            rec["start_date"],
            rec["end_date"],
            audit=False,
        )
        added += 1
        record(
            "staff.create" if new else "staff.posting_add",
            f"staff:{staff.staff_id}",
            before=before,
            after=staff_dict(staff),
        )
        ticker.step()
    db.session.flush()
    return {"staff_created": created, "postings_added": added, "postings_closed": closed}


def _apply_incidents(records: list[dict], ticker: _Ticker) -> dict:
    from services import incidents

    units = {u.code: u for u in db.session.scalars(select(Unit))}
    staff = {s.staff_id: s for s in db.session.scalars(select(Staff))}
    for rec in records:
        ticker.at(rec["row"])
        incidents.create(
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
            status=IncidentStatus.CONFIRMED,
            source="import",
        )
        ticker.step()
    return {"created": len(records)}


def _apply_clock(records: list[dict], ticker: _Ticker) -> dict:
    chunk = 1000
    for i in range(0, len(records), chunk):
        part = records[i : i + chunk]
        db.session.execute(
            insert(ClockPunch), [{"staff_id": r["staff_id"], "punched_at": r["punched_at"]} for r in part]
        )
        for _ in part:
            ticker.step()
    db.session.flush()
    return {"created": len(records)}


def _apply_calendar(records: list[dict], ticker: _Ticker) -> dict:
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


# ---------------------------------------------------------------- the whole import


def import_file(kind: str, filename: str, data: bytes, progress: Progress | None = None) -> dict:
    """Read, parse and write one file; raises ImportRejected (nothing written) when anything is wrong."""
    if kind not in COLUMNS:
        raise DomainError(f"未知的导入类型 {kind},应为:{'、'.join(KINDS)}")
    rows = read_table(filename, data)
    result = parse(kind, rows)
    if result.errors:
        raise ImportRejected(result.errors)
    summary = apply(kind, result.records, progress)
    if result.skipped:
        summary["skipped"] = result.skipped
    return summary


def summary_text(summary: dict) -> str:
    """A one-line Chinese summary of `apply`'s result (CLI and the import page)."""
    kind = summary.get("kind", "")
    parts = [f"{KIND_LABELS.get(kind, kind)}导入完成:共 {summary.get('rows', 0)} 行"]
    labels = {
        "created": "新增",
        "updated": "更新",
        "unchanged": "未变",
        "staff_created": "新增人员",
        "postings_added": "新增岗位记录",
        "postings_closed": "结束原岗位",
        "skipped": "跳过重复打卡",
    }
    for key, label in labels.items():
        if summary.get(key):
            parts.append(f"{label} {summary[key]}")
    return ",".join(parts)


def template_csv(kind: str) -> bytes:
    """A CSV template with the exact header and one example row (UTF-8 with BOM, so Excel reads it)."""
    if kind not in COLUMNS:
        raise DomainError(f"未知的导入类型 {kind}")
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(COLUMNS[kind])
    writer.writerow(EXAMPLES[kind])
    return out.getvalue().encode("utf-8-sig")
