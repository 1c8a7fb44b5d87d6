"""Spreadsheet exports: a unit's monthly detail table (考核评分明细表) and a month's rankings, as .xlsx.

The numbers are the standings service's (the same as every page and the API); this module only lays them
out. Nothing here shows an incident's internal note: the detail table goes to the unit.
"""

from __future__ import annotations

from collections.abc import Callable
from io import BytesIO
from typing import BinaryIO
from urllib.parse import quote

from flask_babel import gettext as _
from openpyxl.worksheet.worksheet import Worksheet
from sqlalchemy import select

from models import Incident, Unit, db
from scoring import MonthResult, Rulebook
from services import DomainError
from services.export_rows import STYLES, DetailTexts, detail_lines, incident_details, write_year_detail
from services.gc_pause import pausing
from services.portal import UnitMonth, item_rows, month_rulebook, unit_month
from services.standings import month_rows, month_status, standings, standings_for
from services.xlsx import (
    XLSX_MIMETYPE,
    header,
    new_workbook,
    print_setup,
    put,
    sheet_title,
    table,
    title,
    to_bytes,
    widths,
)
from services.xlsx_stream import StreamBook
from ui import FLAG_LABELS, GRADE_LABELS, INCIDENT_STATUS_LABELS, STATUS_LABELS

__all__ = ["XLSX_MIMETYPE", "content_disposition"]

# The incidents of one month in one sheet: far above any month the hall has had (the list pages by 50).
INCIDENTS_LIMIT = 100_000
# `progress(done, total, message)`: how far an export is (services.export_jobs shows it on the job's page).
Progress = Callable[[int, int, str], None]


def _no_progress(done: int, total: int, message: str = "") -> None:
    return None


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


def _grade(grade) -> str:
    return str(GRADE_LABELS.get(str(grade), grade))


def _flags(codes) -> str:
    return "、".join(str(FLAG_LABELS.get(f, f)) for f in codes)


DETAIL_COLUMNS = ["序号", "规则", "事项", "日期", "窗口", "人员", "次数", "分值"]
DETAIL_WIDTHS = [7, 9, 44, 12, 8, 10, 7, 9]


def _detail_columns() -> list[str]:
    return [_(c) for c in DETAIL_COLUMNS]


def _write_detail(ws, row: int, view: UnitMonth, texts: DetailTexts | None = None) -> int:
    """The sections, subtotals, score, grade and rank of one unit's month from `row` on a unit's own
    (openpyxl) sheet, laid out by services.export_rows.detail_lines; returns the next row."""
    texts = texts or DetailTexts()
    width = len(DETAIL_COLUMNS)
    for kind, values, merged in detail_lines(view, texts):
        for col, (value, style) in enumerate(zip(values, STYLES[kind], strict=True), start=1):
            put(ws, row, col, value, style=style)
        if merged and kind == "section":
            ws.merge_cells(start_row=row, start_column=1, end_row=row, end_column=width)
        elif merged:  # a total: its label over two columns, its note over five
            ws.merge_cells(start_row=row, start_column=1, end_row=row, end_column=2)
            ws.merge_cells(start_row=row, start_column=3, end_row=row, end_column=7)
        row += 1
    return row


def _version_note(rulebook_key: str, status: str) -> str:
    return _(
        "规则版本:%(key)s    状态:%(status)s", key=rulebook_key, status=STATUS_LABELS.get(status, status)
    )


def detail_table_xlsx(unit_code: str, year: int, month: int) -> bytes:
    """考核评分明细表 (rulebook.md, Forms 1): every deduction and bonus item, subtotals, score, grade,
    rank. An unknown unit code raises DomainError."""
    unit = db.session.scalar(select(Unit).where(Unit.code == unit_code))
    if unit is None:
        raise DomainError(_("单位代码 %(code)s 不存在", code=unit_code))
    view = unit_month(unit, year, month)
    wb, ws = new_workbook()
    ws.title = _("考核评分明细表")
    _detail_sheet(ws, unit.name, view)
    return to_bytes(wb)


def _detail_sheet(ws: Worksheet, unit_name: str, view: UnitMonth) -> None:
    columns = _detail_columns()
    title(
        ws,
        _("%(unit)s %(year)d年%(month)d月 考核评分明细表", unit=unit_name, year=view.year, month=view.month),
        len(columns),
        _version_note(view.rulebook.key, view.status),
    )
    header(ws, 3, columns)
    _write_detail(ws, 4, view)
    widths(ws, DETAIL_WIDTHS)
    print_setup(ws, header_row=3)


@pausing  # a year's items and rows: a million objects alive until the file is written (gc_pause)
def _unit_months(
    results: dict[tuple[int, int], MonthResult], statuses: dict[tuple[int, int], str]
) -> dict[tuple[int, int], dict[str, UnitMonth]]:
    """Every unit's UnitMonth of each month, the items' incidents and staff read by ranges of ids in a few
    queries in all (services.portal reads them unit by unit: fine for one table, not for every unit of a
    year)."""
    ids = {
        i.incident_id
        for result in results.values()
        for u in result.units
        for i in u.items
        if i.incident_id is not None
    }
    incidents, staff = incident_details(ids)  # plain rows of what item_rows reads
    out: dict[tuple[int, int], dict[str, UnitMonth]] = {}
    rulebooks: dict[str, Rulebook] = {}
    for key, result in results.items():
        rulebook = rulebooks.get(result.rulebook_key) or month_rulebook(result)
        rulebooks[result.rulebook_key] = rulebook
        out[key] = {
            u.code: UnitMonth(
                year=key[0],
                month=key[1],
                status=statuses[key],
                result=u,
                total_units=len(result.units),
                rulebook=rulebook,
                items=item_rows(u, rulebook, incidents, staff),
            )
            for u in result.units
        }
    return out


def details_filename(year: int, month: int | None) -> str:
    if month is None:
        return _("%(year)d年各单位考核评分明细表.xlsx", year=year)
    return _("%(year)d年%(month)d月各单位考核评分明细表.xlsx", year=year, month=month)


def details_ascii_name(year: int, month: int | None) -> str:
    return f"details-{year:04d}.xlsx" if month is None else f"details-{year:04d}-{month:02d}.xlsx"


def details_xlsx(year: int, months: list[int]) -> bytes:
    """考核评分明细表 of every unit, one sheet each (named after the unit): for one month, the unit's table
    as the portal gives it; for several (a year), the months one below the other with a 月份 column."""
    out = BytesIO()
    write_details_xlsx(out, year, months)
    return out.getvalue()


def write_details_xlsx(out: BinaryIO, year: int, months: list[int], progress: Progress | None = None) -> int:
    """`details_xlsx` written to a binary file, with its progress (a sheet per unit); returns the units."""
    progress = progress or _no_progress
    progress(0, 0, _("正在计算各单位成绩"))
    keys = [(year, m) for m in months]
    rows = month_rows(keys)
    results = standings_for(keys, rows)
    statuses = {k: str(rows[k].status if k in rows else "open") for k in keys}
    views = _unit_months(results, statuses)
    names: dict[str, str] = {}
    for key in keys:
        for u in results[key].units:
            names[u.code] = u.name
    order = {
        code: (o, code) for code, o in db.session.execute(select(Unit.code, Unit.display_order)).tuples()
    }
    taken: set[str] = set()
    codes = sorted(names, key=lambda c: order.get(c, (10**9, c)))
    if len(keys) > 1:
        _year_details(year, keys, codes, names, views, progress).save(out)
        return len(codes)
    wb, first_ws = new_workbook()
    if not codes:
        first_ws.title = _("考核评分明细表")
        title(first_ws, _("没有参加考核的单位"), len(DETAIL_COLUMNS))
    message = _("正在写入各单位明细表")
    for n, code in enumerate(codes):
        ws = first_ws if n == 0 else wb.create_sheet()
        ws.title = sheet_title(names[code], taken)
        _detail_sheet(ws, names[code], views[keys[0]][code])
        progress(n + 1, len(codes), message)
    wb.save(out)
    return len(codes)


@pausing
def _year_details(
    year: int, keys: list, codes: list[str], names: dict, views: dict, progress: Progress
) -> StreamBook:
    """Several months of every unit, one sheet each, the months one below the other with a 月份 column:
    written by services.xlsx_stream (a year of a large hall is a million cells)."""
    book = StreamBook()
    taken: set[str] = set()
    if not codes:
        sheet = book.sheet(sheet_title(_("考核评分明细表"), taken))
        sheet.title(_("没有参加考核的单位"), len(DETAIL_COLUMNS))
    columns = [_("月份"), *_detail_columns()]
    message = _("正在写入各单位明细表")
    texts = DetailTexts()
    leads = {key: _("%(m)d月", m=key[1]) for key in keys}
    for n, code in enumerate(codes, start=1):
        ws = book.sheet(sheet_title(names[code], taken))
        ws.title(_("%(unit)s %(year)d年 考核评分明细表", unit=names[code], year=year), len(columns))
        ws.header(3, columns)
        row = 4
        for key in keys:
            view = views[key].get(code)
            if view is None:
                continue  # not scored that month (inactive then)
            row = write_year_detail(ws, row, view, leads[key], texts)
        ws.widths = [7, *DETAIL_WIDTHS]
        ws.header_row = 3
        progress(n, len(codes), message)
    return book


def rankings_xlsx(year: int, month: int) -> bytes:
    """The month's rankings of every active unit: rank, unit, deductions, bonus, score, grade, flags."""
    result = standings(year, month)
    status = str(month_status(year, month))
    columns = [_("名次"), _("单位代码"), _("单位"), _("扣分"), _("加分"), _("得分"), _("等级"), _("处理措施")]
    wb, ws = new_workbook()
    ws.title = _("考核排名")
    title(
        ws,
        _("%(year)d年%(month)d月 派驻单位考核排名", year=year, month=month),
        len(columns),
        _version_note(result.rulebook_key, status),
    )
    table(
        ws,
        columns,
        (
            [u.rank, u.code, u.name, u.deductions, u.bonus, u.score, _grade(u.grade), _flags(u.flag_codes)]
            for u in result.units
        ),
        column_widths=[7, 12, 30, 8, 8, 8, 9, 36],
        wrap=(3, 8),
        landscape=True,
    )
    return to_bytes(wb)


# ---------------------------------------------------------------- incidents with the list's filters


def incidents_filename(year: int, month: int) -> str:
    return _("%(year)d年%(month)d月扣加分记录.xlsx", year=year, month=month)


def incidents_ascii_name(year: int, month: int) -> str:
    return f"incidents-{year:04d}-{month:02d}.xlsx"


def incidents_xlsx(listed, rulebook: Rulebook, year: int, month: int, filters_text: str = "") -> bytes:
    """The incidents list as a sheet: `listed` is `services.incident_list.list_page` with every row on one
    page (the list's own query and filters), points from the scoring as on the list."""
    columns = [
        _("编号"),
        _("时间"),
        _("单位"),
        _("规则"),
        _("事项"),
        _("窗口"),
        _("人员"),
        _("次数"),
        _("分值"),
        _("状态"),
        _("整改期限"),
        _("整改日期"),
        _("通知单内容"),
        _("内部备注"),
        _("证据"),
        _("登记人"),
    ]
    rules = {r.code: r for r in rulebook.rules}
    wb, ws = new_workbook()
    ws.title = _("扣加分记录")
    note = _("共 %(n)d 条", n=listed.total) + (f"    {filters_text}" if filters_text else "")
    title(ws, _("%(year)d年%(month)d月 扣加分记录", year=year, month=month), len(columns), note)

    def cells(i: Incident) -> list:
        rule = rules.get(i.rule_code)
        counted = i.status == "confirmed"
        what = rule.title if rule else ""
        if i.exempt:
            what = _("%(title)s(免扣)", title=what)
        return [
            i.id,
            i.occurred_at,
            i.unit.name,
            i.rule_code,
            what,
            i.window or "",
            i.staff.name if i.staff else "",
            i.count or 1,
            listed.points.get(i.id) if counted else None,
            str(INCIDENT_STATUS_LABELS.get(i.status, i.status)),
            i.deadline,
            i.rectified_on,
            i.public_text or "",
            i.note or "",
            listed.evidence.get(i.id, 0),
            i.recorded_by.label if i.recorded_by else "",
        ]

    table(
        ws,
        columns,
        (cells(i) for i in listed.rows),
        column_widths=[8, 17, 24, 8, 30, 7, 10, 7, 7, 9, 12, 12, 30, 30, 6, 10],
        wrap=(3, 5, 13, 14),
        landscape=True,
    )
    return to_bytes(wb)


# ---------------------------------------------------------------- tallies


def tallies_filename(year: int) -> str:
    return _("%(year)d年人员与窗口扣分统计.xlsx", year=year)


def tallies_ascii_name(year: int) -> str:
    return f"tallies-{year:04d}.xlsx"


def _tally_sheet(ws: Worksheet, heading: str, first: str, rows, year: int) -> None:
    columns = [first, _("单位"), *[_("%(m)d月", m=m) for m in range(1, 13)], _("合计扣分"), _("条数")]
    title(ws, heading, len(columns), _("已确认的扣分,分值为正数;已关账月份取关账时的结果"))
    table(
        ws,
        columns,
        ([r.label, r.unit_name, *[r.by_month.get(m) for m in range(1, 13)], r.total, r.items] for r in rows),
        column_widths=[22, 24, *[6] * 12, 9, 7],
        wrap=(1, 2),
        landscape=True,
    )


def tallies_xlsx(year: int) -> bytes:
    """The tallies page's two tables (by staff member, by window), one sheet each."""
    from services.dashboard import tallies

    by_staff, by_window = tallies(year)
    wb, ws = new_workbook()
    ws.title = _("按人员")
    _tally_sheet(ws, _("%(year)d年 人员扣分统计", year=year), _("人员"), by_staff, year)
    _tally_sheet(
        wb.create_sheet(_("按窗口")), _("%(year)d年 窗口扣分统计", year=year), _("窗口"), by_window, year
    )
    return to_bytes(wb)


# ---------------------------------------------------------------- the yearly summary


def year_filename(year: int) -> str:
    return _("%(year)d年度考核汇总.xlsx", year=year)


def year_ascii_name(year: int) -> str:
    return f"year-{year:04d}.xlsx"


def year_flags_text(unit) -> str:
    """A unit's flags of the year: "书面通报并要求反馈 2 个月、…"."""
    return "、".join(_("%(flag)s %(n)d 个月", flag=FLAG_LABELS.get(f, f), n=n) for f, n in unit.flag_list)


def year_xlsx(summary) -> bytes:
    """The yearly summary (`services.yearly.summary`): every unit's months (score, grade, rank), its
    grades and flags over the year, and the per-staff and per-window tallies."""
    from services.yearly import GRADES

    year = summary.year
    months = summary.months
    extra = summary.extra_columns() if hasattr(summary, "extra_columns") else []
    lead = [_("单位代码"), _("单位")]
    tail = [*[_grade(g) + _("(月数)") for g in GRADES], _("年度扣分"), _("处理措施"), *[c for c, _f in extra]]
    width = len(lead) + 3 * len(months) + len(tail)
    wb, ws = new_workbook()
    ws.title = _("年度汇总")
    open_note = (
        _(
            "其中 %(months)s 尚未关账,为实时结果",
            months="、".join(_("%(m)d月", m=m) for m in summary.open_months),
        )
        if summary.open_months
        else _("各月均已关账")
    )
    title(ws, _("%(year)d年度 派驻单位考核汇总", year=year), width, open_note)
    # Two header rows: the month over its three columns, then 得分 / 等级 / 名次.
    header(ws, 3, lead + [_("%(m)d月", m=m) for m in months for _k in range(3)] + tail)
    header(ws, 4, lead + [c for _m in months for c in (_("得分"), _("等级"), _("名次"))] + tail)
    for col in range(1, width + 1):
        if col <= len(lead) or col > len(lead) + 3 * len(months):
            ws.merge_cells(start_row=3, start_column=col, end_row=4, end_column=col)
    for n in range(len(months)):
        start = len(lead) + 1 + 3 * n
        ws.merge_cells(start_row=3, start_column=start, end_row=3, end_column=start + 2)
    row = 5
    for unit in summary.units:
        values = [unit.code, unit.name]
        for m in months:
            r = unit.months.get(m)
            values += [r.score, _grade(r.grade), r.rank] if r else [None, "", None]
        values += [unit.grade_months(g) for g in GRADES]
        values += [unit.deductions, year_flags_text(unit)]
        values += [fn(unit) for _c, fn in extra]
        for col, value in enumerate(values, start=1):
            put(ws, row, col, value, style="hs-wrap" if col in (2, width - len(extra)) else "hs-cell")
        row += 1
    widths(ws, [10, 24, *[6, 6, 5] * len(months), *[8] * len(GRADES), 9, 36, *[9] * len(extra)])
    print_setup(ws, header_row=4, landscape=True)
    ws.print_title_rows = "3:4"
    ws.freeze_panes = ws.cell(row=5, column=len(lead) + 1)
    _tally_sheet(
        wb.create_sheet(_("人员扣分")),
        _("%(year)d年 人员扣分统计", year=year),
        _("人员"),
        summary.by_staff,
        year,
    )
    _tally_sheet(
        wb.create_sheet(_("窗口扣分")),
        _("%(year)d年 窗口扣分统计", year=year),
        _("窗口"),
        summary.by_window,
        year,
    )
    return to_bytes(wb)
