"""Cell values and the row walk every kind shares: parsing one cell or recording its Chinese error, the
header check, and the result of parsing a file. Pure: no database.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any

from services.imports.reading import RowError, blank, cell_text

MAX_TEXT = 2000


@dataclass
class ParseResult:
    kind: str
    records: list[dict] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    skipped: int = 0  # rows that need no write (clock punches already held)
    # What the file holds that is imported but worth saying (a note, not an error), as summary keys:
    # unknown staff ids of a clock file with their punch counts, rows of inactive units, D15 rows to link.
    notes: dict = field(default_factory=dict)
    # What the kind's `apply` needs from its `parse` (its keyword arguments), e.g. the last incident id
    # seen when the file was checked, so that the writing re-checks only what came in since.
    state: dict = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.errors


class Bad(ValueError):
    """A cell's value is wrong; the message is Chinese."""


_DATE_RE = re.compile(r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?(?:\s+0{1,2}:00(?::00)?)?$")
_DATETIME_RE = re.compile(r"^(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})(?:\s+|T)(\d{1,2}):(\d{2})(?::(\d{2}))?$")


def parse_date(value: Any, column_label: str = "日期") -> date:
    if isinstance(value, datetime):
        if value.time() != time(0, 0):
            raise Bad(f"{column_label}应为日期(YYYY-MM-DD),不能带时间")
        return value.date()
    if isinstance(value, date):
        return value
    text = cell_text(value)
    match = _DATE_RE.match(text)
    if not match:
        raise Bad(f"{column_label}格式应为 YYYY-MM-DD(如 2024-03-05)")
    try:
        return date(int(match[1]), int(match[2]), int(match[3]))
    except ValueError as error:
        raise Bad(f"日期 {text} 不存在") from error


def optional_date(value: Any, column_label: str = "日期") -> date | None:
    return None if blank(value) else parse_date(value, column_label)


def parse_datetime(value: Any) -> datetime:
    """A naive hall-time datetime, to the second (Excel cells and "YYYY-MM-DD HH:MM[:SS]" text)."""
    if isinstance(value, datetime):
        return value.replace(tzinfo=None, microsecond=0)
    if isinstance(value, date):
        raise Bad("缺少时间,格式应为 YYYY-MM-DD HH:MM")
    text = cell_text(value)
    match = _DATETIME_RE.match(text)
    if not match:
        if _DATE_RE.match(text):
            raise Bad("缺少时间,格式应为 YYYY-MM-DD HH:MM")
        raise Bad("时间格式应为 YYYY-MM-DD HH:MM(如 2024-03-05 09:30)")
    try:
        return datetime(
            int(match[1]), int(match[2]), int(match[3]), int(match[4]), int(match[5]), int(match[6] or 0)
        )
    except ValueError as error:
        raise Bad(f"时间 {text} 不存在") from error


_TRUE = {"true", "1", "是", "yes", "y", "t"}
_FALSE = {"false", "0", "否", "no", "n", "f"}


def parse_bool(value: Any, default: bool) -> bool:
    if isinstance(value, bool):
        return value
    text = cell_text(value).lower()
    if not text:
        return default
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise Bad("应为 true 或 false")


def parse_count(value: Any) -> int:
    if blank(value):
        return 1
    if isinstance(value, bool):
        raise Bad("次数(人数)应为不小于 1 的整数")
    if isinstance(value, float):
        if not value.is_integer():
            raise Bad("次数(人数)应为不小于 1 的整数")
        value = int(value)
    text = cell_text(value)
    if not re.fullmatch(r"\d+", text) or int(text) < 1:
        raise Bad("次数(人数)应为不小于 1 的整数")
    if int(text) > 1000:
        raise Bad("次数(人数)过大(不能超过 1000)")
    return int(text)


def parse_int(value: Any, default: int = 0) -> int:
    if blank(value):
        return default
    if isinstance(value, float) and value.is_integer():
        return int(value)
    text = cell_text(value)
    if isinstance(value, bool) or not re.fullmatch(r"-?\d{1,9}", text):
        raise Bad("应为整数")
    return int(text)


def required(value: Any, label: str, max_length: int) -> str:
    text = cell_text(value)
    if not text:
        raise Bad(f"{label}不能为空")
    if len(text) > max_length:
        raise Bad(f"{label}不能超过 {max_length} 个字符")
    return text


class Rows:
    """Iterates (row_number, row) and collects errors; `cell` parses one cell or records its error."""

    def __init__(self, rows: list[dict]):
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
            RowError(
                row_number if row_number is not None else self.current, column, cell_text(value), message
            )
        )
        if row_number is None:
            self.row_failed = True
            self.failed_columns.add(column)

    def cell(self, row: dict, column: str, parse: Callable[[Any], Any], default: Any = None) -> Any:
        value = row.get(column)
        try:
            return parse(value)
        except Bad as bad:
            self.error(column, value, str(bad))
            return default


def check_columns(expected: tuple[str, ...], label: str, rows: list[dict]) -> list[RowError]:
    """The header must hold exactly `expected` (product.md's columns); every difference is an error."""
    columns = list(getattr(rows, "columns", None) or (list(rows[0].keys()) if rows else []))
    columns = [c for c in columns if c is not None]
    errors: list[RowError] = []
    allowed = ",".join(expected)
    if not columns:
        return [RowError(1, "", "", f"缺少表头行,应为:{allowed}")]
    seen: set[str] = set()
    for position, name in enumerate(columns, start=1):
        if not name:
            errors.append(RowError(1, f"第{position}列", "", f"表头为空;{label}的列应为:{allowed}"))
        elif name in seen:
            errors.append(RowError(1, name, name, "表头中该列重复"))
        elif name not in expected:
            errors.append(RowError(1, name, name, f"多余的列 {name};{label}只允许这些列:{allowed}"))
        seen.add(name)
    for name in expected:
        if name not in seen:
            errors.append(RowError(1, name, "", f"缺少列 {name};{label}的列应为:{allowed}"))
    return errors


def raise_empty(label: str) -> Any:
    raise Bad(f"{label}不能为空")


def required_date(label: str) -> Callable[[Any], date]:
    return lambda v: parse_date(v, label) if not blank(v) else raise_empty(label)


def required_datetime(label: str) -> Callable[[Any], datetime]:
    return lambda v: parse_datetime(v) if not blank(v) else raise_empty(label)
