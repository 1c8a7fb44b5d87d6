"""Reading an import file: .csv (UTF-8, UTF-8 with a BOM, GB18030 as Chinese Excel saves it, or Excel's
UTF-16 "Unicode text") or .xlsx, into a `Table` of rows keyed by the header's names, each with its
spreadsheet row number. A file that cannot be read raises `ImportRejected` with a Chinese message.

Shared by every kind; knows nothing of units, staff or incidents.
"""

from __future__ import annotations

import csv
import io
import unicodedata
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time
from pathlib import PurePath
from typing import Any

from services import DomainError


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


def file_error(message: str) -> ImportRejected:
    return ImportRejected([RowError(0, "", "", message)])


def read_table(filename: str, data: bytes) -> Table:
    """The rows of a .csv or .xlsx file. A file that cannot be read raises ImportRejected (Chinese)."""
    suffix = PurePath(filename or "").suffix.lower()
    if not data or not data.strip():
        raise file_error("文件是空的")
    if data[:4] == b"\xd0\xcf\x11\xe0":
        raise file_error("不支持旧版 Excel(.xls)文件,请在 Excel 中另存为 .xlsx 或 CSV 后再导入")
    if data[:4] == b"PK\x03\x04":  # a zip: an .xlsx, whatever its name says
        return _read_xlsx(data)
    if suffix in (".xlsx", ".xlsm"):
        raise file_error("文件不是有效的 .xlsx 工作簿(可能已损坏),请在 Excel 中重新保存后再导入")
    if suffix not in (".csv", ".txt", ""):
        raise file_error(f"不支持的文件类型 {suffix},请导入 .csv 或 .xlsx 文件")
    return _read_csv(_decode(data))


def _decode(data: bytes) -> str:
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):  # Excel's "Unicode text" is UTF-16
        try:
            text = data.decode("utf-16")
        except UnicodeDecodeError as error:
            raise file_error("文件编码无法识别,请保存为 UTF-8 或 GB18030 编码的 CSV") from error
    else:
        if b"\x00" in data:
            raise file_error("文件不是文本格式的 CSV(可能是二进制文件被改了扩展名),请导入 .csv 或 .xlsx 文件")
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            try:
                text = data.decode("gb18030")
            except UnicodeDecodeError as error:
                raise file_error(
                    "文件编码无法识别,请保存为 UTF-8 或 GB18030(Excel 的“CSV(逗号分隔)”)"
                ) from error
    controls = sum(1 for ch in text if unicodedata.category(ch) == "Cc" and ch not in "\t\r\n")
    if controls:
        raise file_error("文件不是文本格式的 CSV(含有控制字符,可能是二进制文件被改了扩展名)")
    return text


def _read_csv(text: str) -> Table:
    first_line = text.split("\n", 1)[0]
    delimiter = "\t" if "\t" in first_line and "," not in first_line else ","
    try:
        records = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))
    except csv.Error as error:
        raise file_error(f"CSV 格式有误:{error}") from error
    return _table(records)


def _read_xlsx(data: bytes) -> Table:
    import openpyxl

    try:
        workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as error:  # openpyxl raises many kinds (BadZipFile, KeyError, XML errors) for bad files
        raise file_error("无法读取 Excel 文件:文件已损坏或不是 .xlsx 工作簿") from error
    try:
        sheet = workbook.worksheets[0] if workbook.worksheets else None
        if sheet is None:
            raise file_error("Excel 文件中没有工作表")
        # Some programs write a wrong sheet size into the file; read every row whatever it claims.
        sheet.reset_dimensions()
        records = [list(row) for row in sheet.iter_rows(values_only=True)]
    except ImportRejected:
        raise
    except (zipfile.BadZipFile, KeyError, ValueError, TypeError, OSError) as error:
        raise file_error("无法读取 Excel 文件:文件已损坏或不是 .xlsx 工作簿") from error
    finally:
        workbook.close()
    return _table(records)


def blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _table(records: list[list[Any]]) -> Table:
    """Header = the first non-empty row; data rows keep their spreadsheet numbers; blank rows are skipped."""
    header_at = next((i for i, r in enumerate(records) if any(not blank(v) for v in r)), None)
    if header_at is None:
        raise file_error("文件是空的")
    header = [cell_text(v).lstrip("\ufeff").strip().lower() for v in records[header_at]]
    while header and not header[-1]:
        header.pop()
    rows, numbers = [], []
    for index in range(header_at + 1, len(records)):
        values = records[index]
        if all(blank(v) for v in values):
            continue
        row: dict[Any, Any] = {
            name: (values[i] if i < len(values) else None) for i, name in enumerate(header)
        }
        extra = [v for v in values[len(header) :] if not blank(v)]
        if extra:
            row[None] = extra  # like csv.DictReader's restkey: cells beyond the header
        rows.append(row)
        numbers.append(index + 1)
    return Table(rows, columns=header, row_numbers=numbers)


def cell_text(value: Any) -> str:
    """A cell as text: numbers without ".0", dates as ISO, booleans true/false, stripped."""
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
