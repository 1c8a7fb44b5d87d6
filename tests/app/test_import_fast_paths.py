"""The incident import's fast paths (issue 10, item 4) give what the plain ways gave: the .xlsx sheet read
through expat events, the cells of a column parsed once per distinct text, the snapshot's JSON written out
directly, and the rows written in bulk (PostgreSQL: binary COPY) as services.incidents writes them."""

from __future__ import annotations

import io
import json
import zipfile
from datetime import date, datetime

import openpyxl
import pytest
from sqlalchemy import select

from models import AuditLog, Incident, IncidentHistory, Staff, db
from models.notification import Notification
from services import incidents as incident_service
from services.imports import ImportRejected, import_file, read_table
from services.imports.incidents import _snapshot, _snapshot_json

HEADER = "occurred_at,unit_code,rule_code,staff_id,count,note,deadline,rectified_on,exempt"
MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"


def with_sheet(sheet_xml: str) -> bytes:
    """A workbook made by openpyxl whose first sheet's XML is replaced by `sheet_xml`."""
    wb = openpyxl.Workbook()
    wb.active.append(["x"])
    plain = io.BytesIO()
    wb.save(plain)
    out = io.BytesIO()
    with zipfile.ZipFile(plain) as zin, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zout:
        for item in zin.infolist():
            body = zin.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                body = sheet_xml.encode()
            zout.writestr(item, body)
    return out.getvalue()


def test_the_sheet_reader_takes_each_cell_as_excel_writes_it():
    """Rich text and its phonetic runs, CDATA, character and declared entities, formulas with their cached
    value, cells and rows without a reference, a second <v>, and the cell types str, e, b and d."""
    rows = [
        '<row><c t="inlineStr"><is><t>code</t></is></c>'
        '<c t="inlineStr"><is><r><t>na</t></r><r><t xml:space="preserve">me </t></r>'
        "<rPh><t>x</t></rPh></is></c>"
        '<c t="str"><v>windows</v></c><c><v>7</v></c></row>',
        '<row r="5"><c r="A5" t="str"><f>B1</f><v>U1&amp;&lt;&hall;</v></c><c r="C5" t="e"><v>#N/A</v></c>'
        '<c t="b"><v>1</v></c><c t="b"><v>false</v></c><c t="d"><v>2025-03-01T09:30:00</v></c></row>',
        '<row><c t="n"><v></v></c><c t="n"/><c><v>1.5E3</v></c><c><v>-2</v></c></row>',
        '<row r="9"><c r="B9" t="inlineStr"><is><t><![CDATA[<b>&</b>]]>&#20013;&#x6587;</t></is></c>'
        '<c r="D9" t="str"><v>  </v></c></row>',
        '<!-- a comment --><row r="10"><c r="A10"><v>3</v><v>4</v></c></row>',
    ]
    sheet = (
        '<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE worksheet [<!ENTITY hall "大厅">]>\n'
        f'<worksheet xmlns="{MAIN}"><sheetData>' + "\n".join(rows) + "</sheetData></worksheet>"
    )
    table = read_table("t.xlsx", with_sheet(sheet))
    assert table.columns == ["code", "name x", "windows", "7"]
    assert table.row_numbers == [5, 6, 9, 10]
    assert [[r[c] for c in table.columns] for r in table] == [
        ["U1&<大厅", None, "#N/A", True],
        [None, None, 1500.0, -2],
        [None, "<b>&</b>中文", None, "  "],
        [3, None, None, None],
    ]
    assert table[0][None] == [False, datetime(2025, 3, 1, 9, 30)]  # the cells beyond the header
    assert type(table[2]["7"]) is str and type(table[1]["windows"]) is float


def test_a_sheet_with_a_namespace_prefix_and_a_broken_sheet():
    prefixed = f"""<?xml version="1.0"?><x:worksheet xmlns:x="{MAIN}"><x:sheetData>
<x:row r="1"><x:c r="A1" t="inlineStr"><x:is><x:t>code</x:t></x:is></x:c></x:row>
<x:row r="2"><x:c r="A2"><x:v>5</x:v></x:c></x:row></x:sheetData></x:worksheet>"""
    table = read_table("p.xlsx", with_sheet(prefixed))
    assert [dict(r) for r in table] == [{"code": 5}]
    broken = f'<?xml version="1.0"?><worksheet xmlns="{MAIN}"><sheetData><row r="1"><c r="A1"><v>1</v></c>'
    with pytest.raises(ImportRejected) as info:
        read_table("b.xlsx", with_sheet(broken + "</sheetData></worksheet>"))
    assert [str(e) for e in info.value.errors] == ["文件: 无法读取 Excel 文件:文件已损坏或不是 .xlsx 工作簿"]


def test_the_snapshot_text_is_json_dumps_of_the_snapshot():
    texts = ["", "巡查\t发现\n第二行", 'q"\\uote', "😀\u2028\x7f", "=SUM(1)", None]
    for n, text in enumerate(texts * 3):
        rec = {
            "hall_at": datetime(2024 + n % 2, 1 + n % 12, 1 + n, n % 24, (7 * n) % 60, n % 60),
            "unit_code": ["U01", '单位"1'][n % 2],
            "rule_code": "D15" if n % 3 else "D19a",
            "staff_id": text,
            "window": texts[(n + 1) % len(texts)],
            "note": text,
            "deadline": date(2024, 5, n + 1) if n % 2 else None,
            "rectified_on": date(2024, 6, n + 1) if n % 3 == 0 else None,
            "count": 1 + n * 61,
            "exempt": n % 2 == 0,
        }
        for link in (None, n, 2**40):
            assert _snapshot_json(rec, link) == json.dumps(_snapshot(rec, link))


@pytest.fixture
def hall(make):
    u1 = make.unit("U01", name="市税务局", windows="1;2")
    make.staff(u1, "S001", "张三", "W", "1", start=date(2024, 1, 2))
    return u1


def test_each_row_with_a_repeated_bad_cell_is_named(hall):
    """A column's cells are parsed once per distinct text: a bad text repeated is still every row's error."""
    rows = "".join(f"2024-03-0{day} 09:00,U01,D01,S001,0,,,,maybe\n" for day in (4, 5, 6))
    with pytest.raises(ImportRejected) as info:
        import_file("incidents", "i.csv", f"{HEADER}\n{rows}".encode())
    assert [str(e) for e in info.value.errors] == [
        message
        for row in (2, 3, 4)
        for message in (
            f"第{row}行 count: 次数(人数)应为不小于 1 的整数",
            f"第{row}行 exempt: 应为 true 或 false",
        )
    ]


def test_a_true_cell_is_not_taken_for_the_count_1(hall):
    """In an .xlsx, 1 and TRUE are equal keys in Python: the count 1 is a count, the cell TRUE is not."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(HEADER.split(","))
    ws.append(["2024-03-04 09:00", "U01", "D01", "S001", 1, "", None, None, None])
    ws.append(["2024-03-05 09:00", "U01", "D01", "S001", True, "", None, None, None])
    out = io.BytesIO()
    wb.save(out)
    with pytest.raises(ImportRejected) as info:
        import_file("incidents", "i.xlsx", out.getvalue())
    assert [str(e) for e in info.value.errors] == ["第3行 count: 次数(人数)应为不小于 1 的整数"]


def test_bulk_written_rows_are_what_the_incident_service_writes(hall):
    """Texts with tabs, line breaks, backslashes, quotes and emoji survive the bulk write (PostgreSQL's
    COPY escapes them): the history and audit rows hold services.incidents.snapshot of the incident read
    back, and the unit's message names the rule and day."""
    notes = ["a\tb", "第一行\n第二行", "back\\slash \\N", 'say "hi"', "😀 表扬", ""]
    lines = [f'2024-03-{10 + n} 09:0{n},U01,D01,S001,{n + 1},"{note.replace(chr(34), chr(34) * 2)}",,,'
             for n, note in enumerate(notes)]  # fmt: skip
    lines.append("2024-03-18 10:00,U01,D19a,,1,,2024-03-25,2024-03-20,")
    summary = import_file("incidents", "i.csv", (f"{HEADER}\n" + "\n".join(lines) + "\n").encode())
    db.session.commit()
    assert summary["created"] == 7
    imported = db.session.scalars(select(Incident).order_by(Incident.occurred_at)).all()
    assert [i.note for i in imported] == [*notes, ""]
    assert [i.count for i in imported] == [1, 2, 3, 4, 5, 6, 1]
    staff = db.session.scalar(select(Staff).where(Staff.staff_id == "S001"))
    assert [i.staff_pk for i in imported[:6]] == [staff.id] * 6 and imported[6].staff_pk is None
    assert (imported[6].deadline, imported[6].rectified_on) == (date(2024, 3, 25), date(2024, 3, 20))
    for incident in imported:
        expected = incident_service.snapshot(incident)
        history = db.session.scalars(
            select(IncidentHistory).where(IncidentHistory.incident_id == incident.id)
        )
        assert [(h.action, h.snapshot) for h in history] == [("created", expected)]
        audit = db.session.scalar(select(AuditLog).where(AuditLog.target == f"incident:{incident.id}"))
        assert (audit.action, audit.before, audit.after) == ("incident.created", None, expected)
        message = db.session.scalar(
            select(Notification).where(Notification.link == f"/portal/items/{incident.id}")
        )
        assert message.unit_id == hall.id and message.title.startswith(f"新增扣分记录:{incident.rule_code} ")
        assert message.title.endswith(f"(3月{int(expected['occurred_at'][8:10])}日)")
