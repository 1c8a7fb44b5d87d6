"""Reading an import file: .csv (UTF-8, UTF-8 with a BOM, GB18030 as Chinese Excel saves it, or Excel's
UTF-16 "Unicode text") or .xlsx, into a `Table` of rows keyed by the header's names, each with its
spreadsheet row number. A file that cannot be read raises `ImportRejected` with a Chinese message.

Shared by every kind; knows nothing of units, staff or incidents.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time
from pathlib import PurePath
from typing import Any

from services import DomainError
from services.gc_pause import pausing


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


# Limits of what an import reads, checked before anything is held in memory: a file within them is read
# row by row in a few tens of megabytes; one beyond them is refused with a Chinese message, nothing written.
MAX_ROWS = 200_000  # data rows (a year of a large hall's incidents is about 100,000)
MAX_COLUMNS = 64  # cells in a row (every kind has at most 9 columns)
MAX_UNCOMPRESSED = 512 * 1024 * 1024  # an .xlsx's declared uncompressed size, all parts together
MAX_SHARED_STRINGS = 32 * 1024 * 1024  # the texts of the cells, read whole by openpyxl
MAX_PART = 8 * 1024 * 1024  # any other part read whole (styles, the workbook); sheets are streamed
MAX_ZIP_ENTRIES = 1000
_XLSX_SHEET_PREFIX = "xl/worksheets/"


@pausing
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


_ENCODING_HELP = "请在 Excel 中另存为“CSV UTF-8(逗号分隔)”或“CSV(逗号分隔)”(GB18030)后再导入"


# Control characters (Unicode category Cc) but tab, CR and LF: a binary file, not a CSV.
_CONTROLS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


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
            text = _decode_gb18030(data)
    if _CONTROLS.search(text):
        raise file_error("文件不是文本格式的 CSV(含有控制字符,可能是二进制文件被改了扩展名)")
    return text


def _decode_gb18030(data: bytes) -> str:
    """GB18030 as Chinese Excel saves it; refuses a file in another encoding rather than import it garbled.

    GB18030 maps almost every byte pair to some character, so a Big5 or Shift-JIS file usually "decodes":
    into kana, Greek, box drawing, private-use and rare extension characters instead of the common Chinese
    characters (GB2312) and punctuation a Chinese sheet is made of. Too many of those and the file is not
    GB18030.
    """
    try:
        text = data.decode("gb18030")
    except UnicodeDecodeError:
        text = None
    if text is not None and _plausible_chinese(text):
        return text
    guess = _other_encoding(data)
    named = f"看起来是{guess}编码," if guess else ""
    raise file_error(f"文件编码无法识别({named}只支持 UTF-8 和 GB18030),{_ENCODING_HELP}")


_ASCII = re.compile("[\x00-\x7f]+")


def _plausible_chinese(text: str) -> bool:
    """Whether GB18030-decoded text reads as a Chinese sheet. Measured on Python's codecs: a Big5 sheet of
    traditional names comes out half kana, Greek, box drawing or private-use characters; a Shift-JIS one
    comes out all rare characters (outside GB2312); a sheet of simplified names saved by Excel has a few
    rare characters at most (王堃, 李喆)."""
    counts = Counter(_ASCII.sub("", text))  # the characters beyond ASCII
    total = sum(counts.values())
    rare = strange = 0
    for ch, n in counts.items():
        kind = _kind(ch)
        if kind == "rare":
            rare += n
        elif kind == "strange":
            strange += n
    return strange <= max(1, total // 10) and rare + strange <= max(2, total // 3)


def _kind(ch: str) -> str:
    """ "usual": what a Chinese sheet is made of (a GB2312 character, CJK punctuation, full-width forms);
    "rare": a Chinese character outside GB2312 (rare or traditional); "strange": anything else, such as
    kana, Greek, Cyrillic, pinyin, box drawing (GB2312 rows 4 to 9, where Big5's common characters land) or
    private use."""
    code = ord(ch)
    if 0x3000 <= code <= 0x303F or 0xFF00 <= code <= 0xFFEF or 0x2010 <= code <= 0x2027:
        return "usual"  # 、。《》「」, full-width forms, — … “ ”
    try:
        encoded = ch.encode("gb2312")
    except UnicodeEncodeError:
        return "rare" if 0x3400 <= code <= 0x9FFF or 0xF900 <= code <= 0xFAFF else "strange"
    return "strange" if len(encoded) == 2 and 0xA4 <= encoded[0] <= 0xA9 else "usual"


def _other_encoding(data: bytes) -> str:
    """What the file probably is, to say so: Shift-JIS (Japanese, with kana) or Big5 (traditional)."""
    for codec, label in (("big5", "繁体中文 Big5 "), ("shift_jis", "日文 Shift-JIS ")):
        try:
            text = data.decode(codec)
        except UnicodeDecodeError:
            continue
        chars = [ch for ch in text if ch >= "\x80"]
        if not chars:
            continue
        kana = sum(1 for ch in chars if 0x3040 <= ord(ch) <= 0x30FF or 0xFF66 <= ord(ch) <= 0xFF9F)
        cjk = sum(1 for ch in chars if 0x4E00 <= ord(ch) <= 0x9FFF or 0x3000 <= ord(ch) <= 0x303F)
        if codec == "shift_jis" and kana and kana + cjk >= 0.8 * len(chars):
            return label
        if codec == "big5" and cjk >= 0.8 * len(chars):
            return label
    return ""


def _read_csv(text: str) -> Table:
    first_line = text.split("\n", 1)[0]
    delimiter = "\t" if "\t" in first_line and "," not in first_line else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        return _table(enumerate(reader, start=1))
    except csv.Error as error:
        raise file_error(f"CSV 格式有误:{error}") from error


def _read_xlsx(data: bytes) -> Table:
    from openpyxl.reader.excel import ExcelReader
    from openpyxl.styles.stylesheet import apply_stylesheet

    _check_zip(data)
    broken = "无法读取 Excel 文件:文件已损坏或不是 .xlsx 工作簿"
    try:
        # openpyxl's reader, part by part: its load_workbook also reads every sheet once through to learn
        # its size when the sheet does not say it (openpyxl's own files), holding every row it passes.
        reader = ExcelReader(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as error:
        raise file_error(broken) from error
    try:
        reader.read_manifest()
        reader.read_strings()
        reader.read_workbook()
        apply_stylesheet(reader.archive, reader.wb)
        sheets = [
            rel.target
            for _sheet, rel in reader.parser.find_sheets()
            if rel.target in reader.valid_files and "chartsheet" not in rel.Type
        ]
        if not sheets:
            raise file_error("Excel 文件中没有工作表")
        with reader.archive.open(sheets[0]) as source:  # the first sheet's XML, streamed
            return _table(_sheet_rows(source, reader.shared_strings, reader.wb))
    except ImportRejected:
        raise
    except Exception as error:  # openpyxl raises many kinds (BadZipFile, KeyError, XML errors) for bad files
        raise file_error(broken) from error
    finally:
        reader.archive.close()


def _check_zip(data: bytes) -> None:
    """Refuse a workbook that would expand beyond the limits, from the sizes its zip declares (Python's
    zipfile stops at the declared size, so a part cannot grow past it unnoticed)."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            entries = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as error:
        raise file_error("无法读取 Excel 文件:文件已损坏或不是 .xlsx 工作簿") from error
    too_big = "Excel 文件解压后过大(超过 {} MB),请拆分成几个文件,或另存为 CSV 后再导入"
    if len(entries) > MAX_ZIP_ENTRIES:
        raise file_error(f"Excel 文件包含的部件过多(超过 {MAX_ZIP_ENTRIES} 个),不像是普通的工作簿,未导入")
    if sum(e.file_size for e in entries) > MAX_UNCOMPRESSED:
        raise file_error(too_big.format(MAX_UNCOMPRESSED // 2**20))
    for entry in entries:
        if entry.filename.startswith(_XLSX_SHEET_PREFIX):
            continue
        limit = MAX_SHARED_STRINGS if entry.filename.endswith("sharedStrings.xml") else MAX_PART
        if entry.file_size > limit:
            raise file_error(too_big.format(limit // 2**20))


_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main}"  # expat's names: namespace}local
_ROW, _CELL, _VALUE, _TEXT = (f"{_NS}{t}" for t in ("row", "c", "v", "t"))
_DIGITS = "0123456789"


def _sheet_rows(source, strings: list, workbook, block: int = 1 << 16):
    """(spreadsheet row number, cell values) of each row of the sheet's XML, a block of the XML at a time.

    openpyxl's own reader pads every row to its widest cell and fills every missing row, and holds a whole
    row element before it looks at it: a sheet of a few hundred kilobytes can claim a cell in the last of
    16,384 columns or a row 1,048,576 down. Here expat's events are handled as they come (no element is
    built: ElementTree's iterparse took three times as long for the same), each cell is read and dropped as
    it ends, and a row wider than MAX_COLUMNS stops the reading. A cell's value is the text of its first
    `<v>` child, or for an inline string (t="inlineStr") the texts of all its `<t>` elements.
    """
    from xml.parsers.expat import ParserCreate

    from openpyxl.utils.cell import column_index_from_string
    from openpyxl.utils.datetime import from_excel, from_ISO8601

    dates, durations, epoch = workbook._date_formats, workbook._timedelta_formats, workbook.epoch
    done: list[tuple[int, list]] = []  # the rows ended in the block just parsed
    number, values, column = 0, [], 0
    cell: dict | None = None  # the open cell's attributes
    depth = 0  # of the element open inside the cell (1: a child of the cell)
    first_value: str | None = None  # the text of the cell's first <v> child
    inline: list[str] = []  # the texts of the cell's <t> elements
    taking: list[str] | None = None  # where the open <v> or <t> puts its text, until its end or a child
    seen_value = False

    def start(name: str, attrs: dict) -> None:
        nonlocal number, values, column, cell, depth, first_value, taking, seen_value
        if cell is not None:
            depth += 1
            taking = None  # an element's text is what comes before its first child
            if name == _TEXT:
                taking = inline
            elif name == _VALUE and depth == 1 and not seen_value:
                seen_value, taking = True, []
                first_value = taking  # type: ignore[assignment]
        elif name == _CELL:
            cell, depth, taking, seen_value = attrs, 0, None, False
            first_value = None
            inline.clear()
        elif name == _ROW:
            number = int(attrs.get("r") or number + 1)
            values, column = [], 0

    def text(data: str) -> None:
        if taking is not None:
            taking.append(data)

    def end(name: str) -> None:
        nonlocal column, cell, depth, taking
        if cell is None:
            if name == _ROW:
                done.append((number, values))
            return
        if depth:
            depth -= 1
            taking = None
            return
        attrs, cell, taking = cell, None, None
        ref = attrs.get("r")
        column = column_index_from_string(ref.rstrip(_DIGITS)) if ref else column + 1
        if column > MAX_COLUMNS:
            raise file_error(f"第{number}行超过 {MAX_COLUMNS} 列,请只保留导入所需的列")
        kind = attrs.get("t", "n")
        if kind == "inlineStr":
            value = "".join(inline) or None
        else:
            value = "".join(first_value) if first_value else None  # type: ignore[arg-type]
            value = value or None
            if value is not None:
                if kind == "n":
                    value = float(value) if "." in value or "E" in value or "e" in value else int(value)
                    style = int(attrs.get("s", 0))
                    if style in dates:
                        try:
                            value = from_excel(value, epoch, timedelta=style in durations)
                        except (OverflowError, ValueError):
                            value = "#VALUE!"
                elif kind == "s":
                    value = strings[int(value)]
                elif kind == "b":
                    value = value not in ("0", "false")
                elif kind == "d":
                    value = from_ISO8601(value)
        if value is not None:
            values.extend([None] * (column - 1 - len(values)))
            values.append(value)

    parser = ParserCreate(namespace_separator="}")
    parser.buffer_text = True
    parser.StartElementHandler, parser.EndElementHandler, parser.CharacterDataHandler = start, end, text
    while chunk := source.read(block):
        parser.Parse(chunk, False)
        yield from done
        done.clear()
    parser.Parse(b"", True)
    yield from done


def blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


class Row(Mapping):
    """One data row: the header's names to the cells, light enough for 100,000 of them (a tuple of values
    and the header's index shared by every row). `row[None]` holds the cells beyond the header, like
    csv.DictReader's restkey."""

    __slots__ = ("_index", "_values", "_extra")

    def __init__(self, index: dict, values: tuple, extra: list | None = None):
        self._index, self._values, self._extra = index, values, extra

    def get(self, name, default=None):  # Mapping's, without its exception (once per cell of an import)
        if name is None:
            return default if self._extra is None else self._extra
        position = self._index.get(name)
        if position is None:
            return default
        return self._values[position] if position < len(self._values) else None

    def __getitem__(self, name):
        if name is None:
            if self._extra is None:
                raise KeyError(name)
            return self._extra
        position = self._index[name]
        return self._values[position] if position < len(self._values) else None

    def __iter__(self):
        yield from self._index
        if self._extra is not None:
            yield None

    def __len__(self) -> int:
        return len(self._index) + (self._extra is not None)

    def __repr__(self) -> str:
        return repr(dict(self))


def _table(records: Iterable[tuple[int, list[Any]]]) -> Table:
    """Header = the first non-empty row; data rows keep their spreadsheet numbers; blank rows are skipped.
    At most MAX_ROWS data rows and MAX_COLUMNS cells a row, checked as the rows come."""
    header = None
    rows, numbers = [], []
    strings: dict[str, str] = {}  # one object per distinct text (codes, rules, empty cells)
    keep = strings.setdefault
    for number, values in records:
        if len(values) > MAX_COLUMNS:
            raise file_error(f"第{number}行超过 {MAX_COLUMNS} 列,请只保留导入所需的列")
        try:  # a row of texts (every CSV row): blank when their joined text is
            texts = "".join(values)
        except TypeError:
            texts = None
        if texts is None:
            for v in values:  # all(blank(v) for v in values), without a call a cell
                if v is not None and (not isinstance(v, str) or v.strip()):
                    break
            else:
                continue
        elif not texts.strip():
            continue
        if header is None:
            header = [cell_text(v).lstrip("\ufeff").strip().lower() for v in values]
            while header and not header[-1]:
                header.pop()
            index = {name: i for i, name in enumerate(header)}
            width = len(header)
            continue
        if len(rows) >= MAX_ROWS:
            raise file_error(f"文件超过 {MAX_ROWS:,} 行数据,请拆分成几个文件分别导入")
        if texts is None:
            kept = tuple([keep(v, v) if type(v) is str else v for v in values])
        else:  # texts only
            kept = tuple(map(keep, values, values))
        if len(kept) > width:
            rows.append(Row(index, kept[:width], [v for v in kept[width:] if not blank(v)] or None))
        else:
            rows.append(Row(index, kept))
        numbers.append(number)
    if header is None:
        raise file_error("文件是空的")
    return Table(rows, columns=header, row_numbers=numbers)


def cell_text(value: Any) -> str:
    """A cell as text: numbers without ".0", dates as ISO, booleans true/false, stripped."""
    if type(value) is str:  # most cells: first, and without str() (the same text)
        return value.strip()
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
