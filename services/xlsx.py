"""Writing spreadsheets safely: the one place every .xlsx (and .csv) the app writes puts its cells.

- Text stays text. openpyxl turns a string starting with "=" into a formula, and a spreadsheet runs a cell
  starting with "=", "+", "-" or "@" typed into it (CSV injection): `put` stores every string as a string
  (data_type "s"), so a note typed as "=1+1" opens as the text "=1+1"; `csv_cell` prefixes such a text with
  an apostrophe, as Excel itself does, because a CSV has no types.
- Numbers as numbers (points are ints), dates as dates with a number format (an aware datetime in hall
  time: Excel has no time zones).
- Chinese headers in bold, a frozen header row, column widths, A4 print setup.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from io import BytesIO

from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE, Cell
from openpyxl.styles import Alignment, Border, Font, NamedStyle, PatternFill, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

XLSX_MIMETYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
DATE_FORMAT = "yyyy-mm-dd"
DATETIME_FORMAT = "yyyy-mm-dd hh:mm"
THIN = Side(style="thin", color="999999")
BOX = Border(left=THIN, right=THIN, top=THIN, bottom=THIN)
HEADER_FILL = PatternFill("solid", fgColor="EDEFF2")
TOTAL_FILL = PatternFill("solid", fgColor="F7F7F8")
WRAP = Alignment(wrap_text=True, vertical="center")
CENTER = Alignment(horizontal="center", vertical="center", wrap_text=True)
LEFT = Alignment(horizontal="left", vertical="center", wrap_text=True)
BOLD = Font(bold=True)
# The cell styles of every sheet, as named styles: setting a cell's border, font and fill one by one makes
# openpyxl hash each style object per cell (a year of detail tables took 20 s); a named style is one lookup.
STYLES = {
    "hs-cell": {"border": BOX, "alignment": CENTER},
    "hs-wrap": {"border": BOX, "alignment": WRAP},
    "hs-head": {"border": BOX, "alignment": CENTER, "font": BOLD, "fill": HEADER_FILL},
    "hs-section": {"border": BOX, "alignment": LEFT, "font": BOLD, "fill": HEADER_FILL},
    "hs-total": {"border": BOX, "alignment": CENTER, "font": BOLD, "fill": TOTAL_FILL},
    "hs-total-wrap": {"border": BOX, "alignment": WRAP, "font": BOLD, "fill": TOTAL_FILL},
}

# What a spreadsheet reads as the start of a formula (OWASP "CSV injection"; tab and CR too).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
# Excel refuses these in a sheet name; a name is at most 31 characters.
_SHEET_BAD = re.compile(r"[\[\]:*?/\\]")
SHEET_NAME_MAX = 31


def put(
    ws: Worksheet, row: int, column: int, value, number_format: str | None = None, style: str | None = None
) -> Cell:
    """Write one cell: a string always as a string (never a formula), an aware datetime in hall time;
    `style`: one of STYLES."""
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            from services.clock import to_hall

            value = to_hall(value).replace(tzinfo=None)
        value = value.replace(second=0, microsecond=0)
        number_format = number_format or DATETIME_FORMAT
    elif isinstance(value, date):
        number_format = number_format or DATE_FORMAT
    elif isinstance(value, str):
        value = ILLEGAL_CHARACTERS_RE.sub("", value)  # control characters: openpyxl refuses them
    elif value is not None and not isinstance(value, (int, float)):
        value = str(value)  # lazy strings (babel), enums
    cell = ws.cell(row=row, column=column, value=value)
    if style:
        use_style(cell, style)
    if isinstance(value, str):
        cell.data_type = "s"  # openpyxl made "=…" a formula: it stays the text typed
    if isinstance(value, int) and not isinstance(value, bool) and number_format is None:
        number_format = "0"
    if number_format:
        cell.number_format = number_format
    return cell


def use_style(cell: Cell, name: str) -> None:
    wb = cell.parent.parent
    if name not in wb.named_styles:
        wb.add_named_style(NamedStyle(name=name, **STYLES[name]))
    cell.style = name


def csv_cell(value) -> str:
    """A value as CSV text: a text a spreadsheet would run as a formula gets an apostrophe in front."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_START) else text


def sheet_title(name: str, taken: set[str] | None = None) -> str:
    """`name` as a sheet name: no []:*?/\\, at most 31 characters, not empty, no apostrophe at either end,
    and unique (case-insensitive, as Excel compares them) among `taken`, which it is added to."""
    text = _SHEET_BAD.sub("_", name or "").strip().strip("'").strip() or "Sheet"
    text = text[:SHEET_NAME_MAX]
    taken = taken if taken is not None else set()
    candidate, n = text, 1
    while candidate.casefold() in taken:
        n += 1
        suffix = f"({n})"
        candidate = text[: SHEET_NAME_MAX - len(suffix)] + suffix
    taken.add(candidate.casefold())
    return candidate


def widths(ws: Worksheet, columns: list[float]) -> None:
    # Excel counts width in Latin characters; a Chinese character takes about two.
    for i, w in enumerate(columns, start=1):
        ws.column_dimensions[get_column_letter(i)].width = w


def print_setup(ws: Worksheet, header_row: int, landscape: bool = False) -> None:
    """A4, fit to the page's width, the header row repeated on every printed page and frozen on screen."""
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.orientation = ws.ORIENTATION_LANDSCAPE if landscape else ws.ORIENTATION_PORTRAIT
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.print_options.horizontalCentered = True
    ws.page_margins.left = ws.page_margins.right = 0.5
    ws.page_margins.top = ws.page_margins.bottom = 0.6
    ws.print_title_rows = f"{header_row}:{header_row}"
    ws.freeze_panes = ws.cell(row=header_row + 1, column=1)


def title(ws: Worksheet, text: str, columns: int, note: str = "") -> None:
    """Row 1: the sheet's title across `columns`; row 2: `note` at the right (version, status…)."""
    cell = put(ws, 1, 1, text)
    cell.font = Font(bold=True, size=15)
    cell.alignment = CENTER
    ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=max(columns, 1))
    ws.row_dimensions[1].height = 30
    if note:
        put(ws, 2, 1, note).alignment = Alignment(horizontal="right")
        ws.merge_cells(start_row=2, start_column=1, end_row=2, end_column=max(columns, 1))


def header(ws: Worksheet, row: int, names: list[str]) -> None:
    for col, name in enumerate(names, start=1):
        put(ws, row, col, name, style="hs-head")


def table(
    ws: Worksheet,
    columns: list[str],
    rows,
    *,
    column_widths: list[float],
    header_row: int = 3,
    wrap: tuple[int, ...] = (),
    landscape: bool = False,
) -> int:
    """The header at `header_row`, then `rows` (lists of values) boxed below it; returns the next free row."""
    header(ws, header_row, columns)
    r = header_row + 1
    for values in rows:
        for col, value in enumerate(values, start=1):
            put(ws, r, col, value, style="hs-wrap" if col in wrap else "hs-cell")
        r += 1
    widths(ws, column_widths)
    print_setup(ws, header_row=header_row, landscape=landscape)
    return r


def new_workbook() -> tuple[Workbook, Worksheet]:
    wb = Workbook()
    return wb, wb.active


def to_bytes(wb: Workbook) -> bytes:
    out = BytesIO()
    wb.save(out)
    return out.getvalue()
