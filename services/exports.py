"""Spreadsheet exports: a unit's monthly detail table (考核评分明细表) and a month's rankings, as .xlsx.

The numbers are the standings service's (the same as every page and the API); this module only lays them
out. Nothing here shows an incident's internal note: the detail table goes to the unit.
"""

from __future__ import annotations

from io import BytesIO
from urllib.parse import quote

from flask_babel import gettext as _
from openpyxl import Workbook
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet
from sqlalchemy import select

from models import Unit, db
from services import DomainError
from services.portal import ItemRow, unit_month
from services.standings import month_status, standings
from ui import FLAG_LABELS, GRADE_LABELS, STATUS_LABELS

XLSX_MIMETYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
THIN = Side(style="thin", color="999999")
BOX = Border(left=THIN, right=THIN, top=THIN, bottom=THIN)
HEADER_FILL = PatternFill("solid", fgColor="EDEFF2")
TOTAL_FILL = PatternFill("solid", fgColor="F7F7F8")
WRAP = Alignment(wrap_text=True, vertical="center")
CENTER = Alignment(horizontal="center", vertical="center", wrap_text=True)


def content_disposition(filename: str, ascii_name: str) -> str:
    """An attachment header: `ascii_name` for old clients, the UTF-8 `filename` by RFC 5987 / RFC 6266."""
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename, safe='')}"


def detail_filename(unit: Unit, year: int, month: int) -> str:
    return _("%(unit)s %(year)d年%(month)d月考核评分明细表.xlsx", unit=unit.name, year=year, month=month)


def detail_ascii_name(unit: Unit, year: int, month: int) -> str:
    code = "".join(c if c.isascii() and (c.isalnum() or c in "-_") else "_" for c in unit.code)
    return f"detail-{code}-{year:04d}-{month:02d}.xlsx"


def rankings_ascii_name(year: int, month: int) -> str:
    return f"rankings-{year:04d}-{month:02d}.xlsx"


def rankings_filename(year: int, month: int) -> str:
    return _("%(year)d年%(month)d月考核排名.xlsx", year=year, month=month)


def _widths(ws: Worksheet, widths: list[float]) -> None:
    # Excel counts width in Latin characters; a Chinese character takes about two.
    for i, w in enumerate(widths, start=1):
        ws.column_dimensions[get_column_letter(i)].width = w


def _print_setup(ws: Worksheet, header_row: int, landscape: bool = False) -> None:
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


def _title(ws: Worksheet, text: str, columns: int) -> None:
    ws.cell(row=1, column=1, value=text).font = Font(bold=True, size=15)
    ws.cell(row=1, column=1).alignment = CENTER
    ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=columns)
    ws.row_dimensions[1].height = 30


def _header(ws: Worksheet, row: int, names: list[str]) -> None:
    for col, name in enumerate(names, start=1):
        cell = ws.cell(row=row, column=col, value=name)
        cell.font = Font(bold=True)
        cell.fill = HEADER_FILL
        cell.alignment = CENTER
        cell.border = BOX


def _save(wb: Workbook) -> bytes:
    out = BytesIO()
    wb.save(out)
    return out.getvalue()


def _item_cells(n: int, item: ItemRow) -> list:
    what = item.title
    if item.derived:
        what = _("%(title)s(逾期未整改,系统计算)", title=item.title)
    elif item.exempt:
        what = _("%(title)s(免扣)", title=item.title)
    if item.public_text:
        what = f"{what}\n{item.public_text}"
    return [
        n,
        item.rule_code,
        what,
        item.occurred_on,
        item.window or "",
        item.staff_name or "",
        item.count,
        item.points,
    ]


def detail_table_xlsx(unit_code: str, year: int, month: int) -> bytes:
    """考核评分明细表 (rulebook.md, Forms 1): every deduction and bonus item, subtotals, score, grade,
    rank. An unknown unit code raises DomainError."""
    unit = db.session.scalar(select(Unit).where(Unit.code == unit_code))
    if unit is None:
        raise DomainError(_("单位代码 %(code)s 不存在", code=unit_code))
    view = unit_month(unit, year, month)
    columns = [_("序号"), _("规则"), _("事项"), _("日期"), _("窗口"), _("人员"), _("次数"), _("分值")]
    wb = Workbook()
    ws = wb.active
    ws.title = _("考核评分明细表")
    _title(
        ws,
        _("%(unit)s %(year)d年%(month)d月 考核评分明细表", unit=unit.name, year=year, month=month),
        len(columns),
    )
    status = STATUS_LABELS.get(view.status, view.status)
    ws.cell(
        row=2, column=1, value=_("规则版本:%(key)s    状态:%(status)s", key=view.rulebook.key, status=status)
    )
    ws.merge_cells(start_row=2, start_column=1, end_row=2, end_column=len(columns))
    ws.cell(row=2, column=1).alignment = Alignment(horizontal="right")
    _header(ws, 3, columns)
    row = 4
    result = view.result

    def put(values: list, *, bold: bool = False, fill: PatternFill | None = None, merge_to: int = 0) -> None:
        nonlocal row
        for col, value in enumerate(values, start=1):
            cell = ws.cell(row=row, column=col, value=value)
            cell.border = BOX
            cell.alignment = CENTER if col != 3 else WRAP
            if isinstance(value, int) and not isinstance(value, bool):
                cell.number_format = "0"
            if bold:
                cell.font = Font(bold=True)
            if fill:
                cell.fill = fill
        if merge_to:
            ws.merge_cells(start_row=row, start_column=1, end_row=row, end_column=merge_to)
            ws.cell(row=row, column=1).alignment = Alignment(horizontal="left", vertical="center")
        row += 1

    def section(heading: str, items: list[ItemRow]) -> None:
        put([heading] + [""] * (len(columns) - 1), bold=True, fill=HEADER_FILL, merge_to=len(columns))
        if not items:
            put(["", "", _("无"), "", "", "", "", ""])
        for n, item in enumerate(items, start=1):
            put(_item_cells(n, item))

    def total(label: str, value, note: str = "") -> None:
        put([label, "", note, "", "", "", "", value], bold=True, fill=TOTAL_FILL)
        ws.merge_cells(start_row=row - 1, start_column=1, end_row=row - 1, end_column=2)
        ws.merge_cells(start_row=row - 1, start_column=3, end_row=row - 1, end_column=7)

    if result is None:
        put([_("本单位该月未参加考核(单位已停用)")] + [""] * (len(columns) - 1), merge_to=len(columns))
    else:
        settings = view.rulebook.settings
        section(_("一、扣分项目"), view.deduction_items)
        total(
            _("扣分小计"),
            -result.deductions,
            _("扣完为止") if result.deductions > settings.base_score else "",
        )
        section(_("二、加分项目"), view.bonus_items)
        total(
            _("加分小计"),
            result.bonus,
            _("每月加分不超过 %(cap)d 分", cap=settings.bonus_cap) if view.bonus_capped else "",
        )
        total(_("基础分"), settings.base_score)
        total(_("得分"), result.score)
        total(_("等级"), str(GRADE_LABELS.get(str(result.grade), result.grade)))
        total(
            _("排名"),
            result.rank,
            _("第 %(rank)d 名 / 共 %(total)d 个单位", rank=result.rank, total=view.total_units),
        )
        if result.flags:
            total(_("处理措施"), "", "、".join(str(FLAG_LABELS.get(f, f)) for f in result.flag_codes))
    _widths(ws, [7, 9, 44, 12, 8, 10, 7, 9])
    _print_setup(ws, header_row=3)
    return _save(wb)


def rankings_xlsx(year: int, month: int) -> bytes:
    """The month's rankings of every active unit: rank, unit, deductions, bonus, score, grade, flags."""
    result = standings(year, month)
    status = str(month_status(year, month))
    columns = [_("名次"), _("单位代码"), _("单位"), _("扣分"), _("加分"), _("得分"), _("等级"), _("处理措施")]
    wb = Workbook()
    ws = wb.active
    ws.title = _("考核排名")
    _title(ws, _("%(year)d年%(month)d月 派驻单位考核排名", year=year, month=month), len(columns))
    ws.cell(
        row=2,
        column=1,
        value=_(
            "规则版本:%(key)s    状态:%(status)s",
            key=result.rulebook_key,
            status=STATUS_LABELS.get(status, status),
        ),
    )
    ws.merge_cells(start_row=2, start_column=1, end_row=2, end_column=len(columns))
    ws.cell(row=2, column=1).alignment = Alignment(horizontal="right")
    _header(ws, 3, columns)
    for r, u in enumerate(result.units, start=4):
        values = [
            u.rank,
            u.code,
            u.name,
            u.deductions,
            u.bonus,
            u.score,
            str(GRADE_LABELS.get(str(u.grade), u.grade)),
            "、".join(str(FLAG_LABELS.get(f, f)) for f in u.flag_codes),
        ]
        for col, value in enumerate(values, start=1):
            cell = ws.cell(row=r, column=col, value=value)
            cell.border = BOX
            cell.alignment = WRAP if col in (3, 8) else CENTER
    _widths(ws, [7, 12, 30, 8, 8, 8, 9, 36])
    _print_setup(ws, header_row=3, landscape=True)
    return _save(wb)
