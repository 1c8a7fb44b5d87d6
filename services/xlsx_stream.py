"""A workbook written straight to its XML, for the one export too big for openpyxl: a year's detail tables
of every unit (200 sheets, a million cells). openpyxl builds an object per cell and styles each one by
name, which took half a minute; here a cell is a few characters of XML, written as its row ends.

It writes what services.xlsx writes and no more: the same named cell styles (xlsx.STYLES), numbers as
numbers, dates as dates, every text as an inline string (never a formula, whatever it starts with), a
bold title row merged across the columns, column widths, a frozen header row repeated on every printed
page, A4 fitted to the width. Rows are written in order, cells of a row from left to right.
"""

from __future__ import annotations

import zipfile
from datetime import date, datetime
from io import BytesIO
from typing import BinaryIO
from xml.sax.saxutils import escape

from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.utils import get_column_letter
from openpyxl.utils.datetime import to_excel

from services.xlsx import DATE_FORMAT, DATETIME_FORMAT

_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_PKG = "http://schemas.openxmlformats.org/package/2006/relationships"
# Fonts: 0 plain, 1 bold, 2 the title (bold 15). Fills: 0 none, 1 gray125 (required), 2 header, 3 total.
# Borders: 0 none, 1 thin box. Alignments as services.xlsx's CENTER, WRAP and LEFT.
_ALIGN = {
    "center": '<alignment horizontal="center" vertical="center" wrapText="1"/>',
    "wrap": '<alignment vertical="center" wrapText="1"/>',
    "left": '<alignment horizontal="left" vertical="center" wrapText="1"/>',
    "right": '<alignment horizontal="right"/>',
}
# name: (font, fill, border, alignment), as services.xlsx.STYLES
_STYLES = {
    "": (0, 0, 0, None),
    "hs-cell": (0, 0, 1, "center"),
    "hs-wrap": (0, 0, 1, "wrap"),
    "hs-head": (1, 2, 1, "center"),
    "hs-section": (1, 2, 1, "left"),
    "hs-total": (1, 3, 1, "center"),
    "hs-total-wrap": (1, 3, 1, "wrap"),
    "title": (2, 0, 0, "center"),
    "note": (0, 0, 0, "right"),
}
_FORMATS = {None: 0, "0": 1, DATE_FORMAT: 164, DATETIME_FORMAT: 165}
_KEPT_CELLS = 50_000  # distinct cells a book keeps for put_row (texts of at most a few kilobytes each)
_LETTERS = [""] + [get_column_letter(i) for i in range(1, 65)]  # put_row's columns (a row of 64 at most)


class Sheet:
    def __init__(self, book: StreamBook, name: str):
        self.book, self.name = book, name
        self.parts: list[str] = []
        self.row, self.cells = 0, []
        self.heights: dict[int, float] = {}
        self.merges: list[str] = []
        self.widths: list[float] = []
        self.header_row = 0
        self.landscape = False
        self.last_column = 1

    def put(self, row: int, column: int, value, style: str = "") -> None:
        """One cell, as services.xlsx.put writes it (an aware datetime in hall time, ints with format 0)."""
        if row != self.row:
            self._end_row()
            self.row = row
        if value is None:
            return
        ref = f"{get_column_letter(column)}{row}"
        self.last_column = max(self.last_column, column)
        if isinstance(value, bool):
            self.cells.append(f'<c r="{ref}" s="{self.book.xf(style, None)}" t="b"><v>{int(value)}</v></c>')
        elif isinstance(value, (int, float)):
            fmt = "0" if isinstance(value, int) else None
            self.cells.append(f'<c r="{ref}" s="{self.book.xf(style, fmt)}"><v>{value}</v></c>')
        elif isinstance(value, (datetime, date)):
            if isinstance(value, datetime):
                if value.tzinfo is not None:
                    from services.clock import to_hall

                    value = to_hall(value).replace(tzinfo=None)
                value, fmt = value.replace(second=0, microsecond=0), DATETIME_FORMAT
            else:
                fmt = DATE_FORMAT
            self.cells.append(f'<c r="{ref}" s="{self.book.xf(style, fmt)}"><v>{to_excel(value)}</v></c>')
        else:
            text = escape(ILLEGAL_CHARACTERS_RE.sub("", str(value)))
            self.cells.append(
                f'<c r="{ref}" s="{self.book.xf(style, None)}" t="inlineStr">'
                f'<is><t xml:space="preserve">{text}</t></is></c>'
            )

    def put_row(self, row: int, values: list, styles: list[str]) -> None:
        """A row's cells from column 1 (`styles[i]` the style of `values[i]`), each as `put` writes it: a
        text, an int or a date is written from what the book keeps of the same value and style (a year's
        detail tables repeat them over a million cells), anything else by `put`."""
        if row != self.row:
            self._end_row()
            self.row = row
        kept, xf, cells, last = self.book._cells, self.book.xf, self.cells, self.last_column
        for column, value, style in zip(range(1, len(values) + 1), values, styles, strict=True):
            kind = type(value)
            if kind is str or kind is int or kind is date:
                tail = kept.get((kind, value, style))
                if tail is None:
                    if kind is str:
                        text = escape(ILLEGAL_CHARACTERS_RE.sub("", value))
                        tail = f' s="{xf(style, None)}" t="inlineStr"><is><t xml:space="preserve">{text}'
                        tail += "</t></is></c>"
                    elif kind is int:
                        tail = f' s="{xf(style, "0")}"><v>{value}</v></c>'
                    else:
                        tail = f' s="{xf(style, DATE_FORMAT)}"><v>{to_excel(value)}</v></c>'
                    if len(kept) < _KEPT_CELLS:
                        kept[(kind, value, style)] = tail
                letter = _LETTERS[column] if column < len(_LETTERS) else get_column_letter(column)
                cells.append(f'<c r="{letter}{row}"{tail}')
                last = column
            else:
                self.put(row, column, value, style)
        self.last_column = max(self.last_column, last)

    def _end_row(self) -> None:
        if self.row:
            height = self.heights.get(self.row)
            extra = f' ht="{height}" customHeight="1"' if height else ""
            self.parts.append(f'<row r="{self.row}"{extra}>{"".join(self.cells)}</row>')
        self.cells = []

    def title(self, text: str, columns: int) -> None:
        """Row 1: the sheet's title across `columns`, as services.xlsx.title."""
        self.heights[1] = 30
        self.put(1, 1, text, "title")
        self.merges.append(f"A1:{get_column_letter(max(columns, 1))}1")

    def header(self, row: int, names: list[str]) -> None:
        for column, name in enumerate(names, start=1):
            self.put(row, column, name, "hs-head")

    def xml(self) -> str:
        self._end_row()
        self.row = 0
        frozen = self.header_row + 1
        view = (
            f'<pane ySplit="{self.header_row}" topLeftCell="A{frozen}" activePane="bottomLeft"'
            ' state="frozen"/>'
            if self.header_row
            else ""
        )
        cols = "".join(
            f'<col min="{i}" max="{i}" width="{w}" customWidth="1"/>'
            for i, w in enumerate(self.widths, start=1)
        )
        merges = "".join(f'<mergeCell ref="{m}"/>' for m in self.merges)
        return (
            f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
            f'<worksheet xmlns="{_MAIN}" xmlns:r="{_REL}">'
            '<sheetPr><pageSetUpPr fitToPage="1"/></sheetPr>'
            f'<sheetViews><sheetView workbookViewId="0">{view}</sheetView></sheetViews>'
            '<sheetFormatPr defaultRowHeight="15"/>'
            + (f"<cols>{cols}</cols>" if cols else "")
            + f"<sheetData>{''.join(self.parts)}</sheetData>"
            + (f'<mergeCells count="{len(self.merges)}">{merges}</mergeCells>' if merges else "")
            + '<printOptions horizontalCentered="1"/>'
            '<pageMargins left="0.5" right="0.5" top="0.6" bottom="0.6" header="0.3" footer="0.3"/>'
            f'<pageSetup paperSize="9" orientation="{"landscape" if self.landscape else "portrait"}"'
            ' fitToWidth="1" fitToHeight="0"/></worksheet>'
        )


class StreamBook:
    def __init__(self):
        self.sheets: list[Sheet] = []
        self._xfs: dict[tuple[str, str | None], int] = {}
        self._cells: dict[tuple, str] = {}  # (type, value, style) -> a cell's XML after its reference
        self.xf("", None)  # xf 0: the default style

    def sheet(self, name: str) -> Sheet:
        sheet = Sheet(self, name)
        self.sheets.append(sheet)
        return sheet

    def xf(self, style: str, fmt: str | None) -> int:
        key = (style or "", fmt)
        if key not in self._xfs:
            self._xfs[key] = len(self._xfs)
        return self._xfs[key]

    def _styles(self) -> str:
        xfs = []
        for (style, fmt), _n in sorted(self._xfs.items(), key=lambda item: item[1]):
            font, fill, border, align = _STYLES[style]
            inner = _ALIGN[align] if align else ""
            xfs.append(
                f'<xf numFmtId="{_FORMATS[fmt]}" fontId="{font}" fillId="{fill}" borderId="{border}" xfId="0"'
                ' applyNumberFormat="1" applyFont="1" applyFill="1" applyBorder="1"'
                f' applyAlignment="1">{inner}</xf>'
            )
        side = '<{0} style="thin"><color rgb="FF999999"/></{0}>'
        box = "".join(side.format(s) for s in ("left", "right", "top", "bottom"))
        return (
            f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<styleSheet xmlns="{_MAIN}">'
            f'<numFmts count="2"><numFmt numFmtId="164" formatCode="{DATE_FORMAT}"/>'
            f'<numFmt numFmtId="165" formatCode="{DATETIME_FORMAT}"/></numFmts>'
            '<fonts count="3"><font><sz val="11"/><name val="Calibri"/></font>'
            '<font><b/><sz val="11"/><name val="Calibri"/></font>'
            '<font><b/><sz val="15"/><name val="Calibri"/></font></fonts>'
            '<fills count="4"><fill><patternFill patternType="none"/></fill>'
            '<fill><patternFill patternType="gray125"/></fill>'
            '<fill><patternFill patternType="solid"><fgColor rgb="FFEDEFF2"/></patternFill></fill>'
            '<fill><patternFill patternType="solid"><fgColor rgb="FFF7F7F8"/></patternFill></fill></fills>'
            f'<borders count="2"><border/><border>{box}<diagonal/></border></borders>'
            '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
            f'<cellXfs count="{len(xfs)}">{"".join(xfs)}</cellXfs>'
            '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>'
            "</styleSheet>"
        )

    def to_bytes(self) -> bytes:
        out = BytesIO()
        self.save(out)
        return out.getvalue()

    def save(self, out: BinaryIO) -> None:
        """Write the workbook to a binary file (an export job's file: the zip is never all in memory)."""
        if not self.sheets:
            self.sheet("Sheet")
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
            n = len(self.sheets)
            sheets_ct = "".join(
                f'<Override PartName="/xl/worksheets/sheet{i}.xml" ContentType="application/'
                'vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
                for i in range(1, n + 1)
            )
            archive.writestr(
                "[Content_Types].xml",
                '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
                '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
                '<Default Extension="rels" ContentType="application/'
                'vnd.openxmlformats-package.relationships+xml"/>'
                '<Default Extension="xml" ContentType="application/xml"/>'
                '<Override PartName="/xl/workbook.xml" ContentType="application/'
                'vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
                '<Override PartName="/xl/styles.xml" ContentType="application/'
                'vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>' + sheets_ct + "</Types>",
            )
            archive.writestr(
                "_rels/.rels",
                f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<Relationships xmlns="{_PKG}">'
                '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
                'relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>',
            )
            names, defined = [], []
            for i, sheet in enumerate(self.sheets, start=1):
                quoted = escape(sheet.name.replace("'", "''"), {'"': "&quot;"})
                names.append(
                    f'<sheet name="{escape(sheet.name, {chr(34): "&quot;"})}" sheetId="{i}" r:id="rId{i}"/>'
                )
                if sheet.header_row:
                    h = sheet.header_row
                    defined.append(
                        f'<definedName name="_xlnm.Print_Titles" localSheetId="{i - 1}">'
                        f"'{quoted}'!${h}:${h}</definedName>"
                    )
                archive.writestr(f"xl/worksheets/sheet{i}.xml", sheet.xml())
                sheet.parts = []  # written: its rows can go
            archive.writestr(
                "xl/workbook.xml",
                f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<workbook xmlns="{_MAIN}" '
                f'xmlns:r="{_REL}"><bookViews><workbookView/></bookViews><sheets>{"".join(names)}</sheets>'
                + (f"<definedNames>{''.join(defined)}</definedNames>" if defined else "")
                + "</workbook>",
            )
            rels = "".join(
                f'<Relationship Id="rId{i}" Type="{_REL}/worksheet" Target="worksheets/sheet{i}.xml"/>'
                for i in range(1, n + 1)
            )
            rels += f'<Relationship Id="rId{n + 1}" Type="{_REL}/styles" Target="styles.xml"/>'
            archive.writestr(
                "xl/_rels/workbook.xml.rels",
                f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<Relationships xmlns="{_PKG}">'
                f"{rels}</Relationships>",
            )
            archive.writestr("xl/styles.xml", self._styles())
