"""The detail tables' fast paths (issue 10, item 4): a year's sheet of a unit holds, month by month, the lines
of that month's own table (one layout, services.export_rows.detail_lines), and the streamed sheet's
put_row writes each cell as put writes it."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime

from flask_babel import lazy_gettext
from openpyxl import load_workbook
from openpyxl.cell.cell import MergedCell

from services import exports
from services.xlsx_stream import StreamBook


def test_put_row_writes_what_put_writes(app):
    values = [
        "3月",
        7,
        "D01",
        '迟到或早退\n=HYPERLINK("x") <b>&amp;\x07',
        date(2024, 3, 5),
        "",
        None,
        -15,
        True,
        2.5,
        datetime(2024, 3, 5, 1, 5, 30, tzinfo=UTC),
        lazy_gettext("无"),
        7,
        "3月",
    ]
    styles = ["hs-cell", "hs-total", "hs-cell", "hs-wrap", "hs-cell", "hs-cell", "hs-cell", "hs-total"] + [
        "hs-section"
    ] * 6
    with app.test_request_context():
        by_cell, by_row = StreamBook(), StreamBook()
        one, other = by_cell.sheet("a"), by_row.sheet("a")
        for row in (4, 5):  # the second time from what the book kept
            for column, (value, style) in enumerate(zip(values, styles, strict=True), start=1):
                one.put(row, column, value, style)
            other.put_row(row, values, styles)
        assert other.xml() == one.xml()
        assert by_row._styles() == by_cell._styles()
        assert other.last_column == one.last_column == 14
    text = one.xml()
    assert '<c r="D4" s="' in text and "&lt;b&gt;&amp;amp;" in text and "\x07" not in text
    assert '<c r="G4"' not in text  # None: no cell


def test_a_years_sheet_holds_each_months_own_table(app, make):
    """Derived D19b, exempt and public-text items, a capped bonus and the measures of an unqualified unit:
    each month's lines on the year's sheet are the month's own table, with the month in front."""
    unit = make.unit("U01", name="市税务局")
    make.unit("U02", name="市社保中心")
    person = make.staff(unit, "S001", name="李四", window="2")
    make.incident(
        unit, "D01", at=datetime(2024, 1, 5, 9, 5), staff=person, window="2", public_text="迟到 5 分钟"
    )
    make.incident(unit, "D19a", at=datetime(2024, 1, 8, 9, 0), deadline=date(2024, 1, 20))  # overdue: D19b
    make.incident(unit, "D06", at=datetime(2024, 2, 6, 9, 0), staff=person, window="2", exempt=True)
    for day in range(1, 6):
        make.incident(unit, "D08", at=datetime(2024, 2, day + 10, 9, 0), count=3)
    for day in (1, 2, 3):
        make.incident(unit, "B02c", at=datetime(2024, 3, day, 9, 0))
    with app.test_request_context():
        year = load_workbook(io.BytesIO(exports.details_xlsx(2024, [1, 2, 3])))["市税务局"]
        months = {
            m: load_workbook(io.BytesIO(exports.detail_table_xlsx("U01", 2024, m))).active for m in (1, 2, 3)
        }

    def look(cell):
        # the colour without its alpha (the streamed book writes FF, openpyxl 00: Excel shows both alike)
        return cell.font.bold, cell.fill.fgColor.rgb[-6:], cell.alignment.wrap_text, cell.border.left.style

    lines = [[c.value if c.value != "" else None for c in row] for row in year.iter_rows(min_row=4)]
    expected, styles, expected_styles = [], [], []
    for m, own in months.items():
        for row in own.iter_rows(min_row=4):
            expected.append([f"{m}月", *(c.value if c.value != "" else None for c in row)])
            # The year's sheet merges nothing: its cells keep their own style where the unit's table merged.
            kept = [c for c in row if not isinstance(c, MergedCell)]
            expected_styles.append([look(row[0]), *map(look, kept)])
    for line, own_row in zip(
        year.iter_rows(min_row=4),
        (r for own in months.values() for r in own.iter_rows(min_row=4)),
        strict=True,
    ):
        styles.append(
            [look(line[0])]
            + [look(c) for c, o in zip(line[1:], own_row, strict=True) if not isinstance(o, MergedCell)]
        )
    assert lines == expected  # a merged cell of a unit's own table reads None, as an empty text does
    assert styles == expected_styles
    texts = [str(v) for line in lines for v in line if v]
    assert any("逾期未整改,系统计算" in t for t in texts) and any("(免扣)" in t for t in texts)
    assert any(t.endswith("\n迟到 5 分钟") for t in texts) and any("每月加分不超过" in t for t in texts)
    assert any(line[1] == "处理措施" and line[3] for line in lines)
