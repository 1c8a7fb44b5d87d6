"""Imports: reading .csv (UTF-8, BOM, GB18030) and .xlsx, every kind of bad row in Chinese, all or nothing."""

from __future__ import annotations

import io
from datetime import date, datetime
from pathlib import Path

import openpyxl
import pytest
from sqlalchemy import func, select

from models import AuditLog, CalendarDay, ClockPunch, Incident, IncidentHistory, Posting, Staff, Unit, db
from services import imports, months
from services.clock import to_hall
from services.imports import ImportRejected, import_file, parse, read_table

DATA = Path(__file__).resolve().parent.parent / "data"


def data(name: str) -> bytes:
    return (DATA / name).read_bytes()


def counts() -> dict[str, int]:
    models = (Unit, Staff, Posting, Incident, IncidentHistory, ClockPunch, CalendarDay, AuditLog)
    return {m.__name__: db.session.scalar(select(func.count()).select_from(m)) for m in models}


def csv_bytes(text: str, encoding: str = "utf-8") -> bytes:
    return text.encode(encoding)


def rejected(kind: str, name: str, content: bytes) -> list[str]:
    """Import that must fail: returns the errors as text, and checks nothing was written."""
    before = counts()
    with pytest.raises(ImportRejected) as info:
        import_file(kind, name, content)
    db.session.rollback()
    assert counts() == before
    return [str(e) for e in info.value.errors]


@pytest.fixture
def hall(make):
    """Units U01 (windows 1, 2) and U02 (3, 4), staff S001 (W, U01 window 1), S002 (C, U01), S003 (W, U02)."""
    u1 = make.unit("U01", name="市税务局", windows="1;2")
    u2 = make.unit("U02", name="市社会保险事业服务中心", windows="3;4")
    make.staff(u1, "S001", "张三", "W", "1", start=date(2024, 1, 2))
    make.staff(u1, "S002", "李四", "C", None, start=date(2024, 1, 2))
    make.staff(u2, "S003", "王五", "W", "3", start=date(2024, 1, 2))
    return u1, u2


# ---------------------------------------------------------------- reading files


def test_utf8_bom_and_gb18030_read_the_same():
    plain = read_table("units.csv", data("units.csv"))
    gb = read_table("units.csv", data("units_gb18030.csv"))
    bom = read_table("u.csv", "\ufeff".encode() + data("units.csv"))
    assert plain == gb == bom
    assert plain.columns == ["code", "name", "windows", "display_order", "active"]
    assert plain[1]["name"] == "市社会保险事业服务中心"
    assert plain.row_numbers == [2, 3]


def test_blank_rows_keep_spreadsheet_numbers():
    table = read_table("x.csv", b"date,kind\n\n2024-04-04,holiday\n,\n2024-04-07,workday\n")
    assert table.row_numbers == [3, 5]


def test_xlsx_with_date_cells():
    table = read_table("incidents.xlsx", data("incidents.xlsx"))
    assert table[0]["occurred_at"] == datetime(2024, 3, 11, 9, 15)
    assert table.row_numbers == [2, 3, 4]


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("empty.csv", b"", "文件是空的"),
        ("blank.csv", b"  \n\n", "文件是空的"),
        ("binary.csv", None, "不是文本格式的 CSV"),
        ("corrupt.xlsx", None, "无法读取 Excel 文件"),
        ("broken.xlsx", b"this is not a workbook", "不是有效的 .xlsx"),
        ("old.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100, "不支持旧版 Excel"),
        ("notes.docx", b"hello", "不支持的文件类型 .docx"),
    ],
)
def test_unreadable_files_get_a_chinese_error(app, name, content, message):
    content = data(name) if content is None else content
    with pytest.raises(ImportRejected) as info:
        read_table(name, content)
    assert message in str(info.value.errors[0])
    assert str(info.value).startswith("导入失败,未写入任何数据")


def test_header_only_file_is_an_error(hall):
    errors = rejected("units", "u.csv", b"code,name,windows,display_order,active\n")
    assert errors == ["文件: 文件中没有数据行(只有表头)"]


# ---------------------------------------------------------------- columns


def test_missing_and_extra_columns(hall):
    errors = rejected("units", "u.csv", csv_bytes("code,name,windows,colour\nU09,某单位,1,red\n"))
    assert "第1行 colour: 多余的列 colour;单位只允许这些列:code,name,windows,display_order,active" in errors
    assert any(e.startswith("第1行 display_order: 缺少列 display_order") for e in errors)
    assert any(e.startswith("第1行 active: 缺少列 active") for e in errors)


def test_cells_beyond_the_header(hall):
    errors = rejected("calendar", "c.csv", b"date,kind\n2024-04-04,holiday,extra\n")
    assert errors == ["第2行本行比表头多出 1 个单元格"]


# ---------------------------------------------------------------- units


def test_units_import_creates_then_updates(app):
    summary = import_file("units", "units.csv", data("units.csv"))
    db.session.commit()
    assert summary["created"] == 2
    unit = db.session.scalar(select(Unit).where(Unit.code == "U02"))
    assert unit.window_list == ["3", "4"] and unit.display_order == 2 and unit.active
    changed = "code,name,windows,display_order,active\nU02,市医疗保障事务服务中心,3;4;5,7,false\n"
    summary = import_file("units", "units.csv", changed.encode())
    db.session.commit()
    assert summary["updated"] == 1 and summary["created"] == 0
    db.session.refresh(unit)
    assert (unit.name, unit.windows, unit.display_order, unit.active) == (
        "市医疗保障事务服务中心",
        "3;4;5",
        7,
        False,
    )
    assert db.session.scalar(select(func.count(AuditLog.id)).where(AuditLog.action == "unit.update")) == 1
    assert imports.summary_text(summary) == "单位导入完成:共 1 行,更新 1"


def test_units_bad_rows(hall):
    text = (
        "code,name,windows,display_order,active\n"
        "U05,单位五,1,1,true\n"
        "U05,单位五重复,2,2,true\n"
        ",无代码,1,1,true\n"
        "U06,,1,1,true\n"
        "U07,单位七,1;1,x,maybe\n"
    )
    errors = rejected("units", "u.csv", text.encode())
    assert errors == [
        "第3行 code: 单位代码 U05 与第2行重复",
        "第4行 code: 请填写单位编码",
        "第5行 name: 请填写单位名称",
        "第6行 windows: 窗口号 1 重复",
        "第6行 display_order: 应为整数",
        "第6行 active: 应为 true 或 false",
    ]


def test_unit_window_with_staff_cannot_be_removed(hall):
    errors = rejected(
        "units", "u.csv", "code,name,windows,display_order,active\nU01,市税务局,2,1,true\n".encode()
    )
    assert errors == ["第2行 windows: 窗口 1 仍有在岗人员,不能从市税务局删除;请先调整人员岗位"]


# ---------------------------------------------------------------- staff


def test_staff_import_with_bom(app, make):
    make.unit("U01", windows="1;2")
    make.unit("U02", windows="3;4")
    summary = import_file("staff", "staff.csv", data("staff_bom.csv"))
    db.session.commit()
    assert summary == {
        "kind": "staff",
        "rows": 3,
        "staff_created": 3,
        "postings_added": 3,
        "postings_closed": 0,
        "unchanged": 0,
    }
    staff = db.session.scalar(select(Staff).where(Staff.staff_id == "S002"))
    assert staff.name == "李四" and staff.current.category == "C" and staff.current.window is None


def test_new_posting_for_known_staff_closes_the_open_one(hall):
    text = "staff_id,name,unit_code,category,window,start_date,end_date\nS001,张三,U02,W,4,2024-03-01,\n"
    summary = import_file("staff", "s.csv", text.encode())
    db.session.commit()
    assert summary["postings_closed"] == 1 and summary["postings_added"] == 1
    staff = db.session.scalar(select(Staff).where(Staff.staff_id == "S001"))
    assert [(p.unit.code, p.window, p.start_date, p.end_date) for p in staff.postings] == [
        ("U01", "1", date(2024, 1, 2), date(2024, 2, 29)),
        ("U02", "4", date(2024, 3, 1), None),
    ]


def test_staff_bad_rows(hall):
    text = (
        "staff_id,name,unit_code,category,window,start_date,end_date\n"
        "S010,赵六,U99,W,1,2024-02-01,\n"  # 2 unknown unit
        "S011,钱七,U01,X,1,2024-02-01,\n"  # 3 bad category
        "S012,孙八,U01,W,9,2024-02-01,\n"  # 4 window not of the unit
        "S013,周九,U01,W,1,2024-02-01,2024-01-01\n"  # 5 end before start
        "S014,吴十,U01,W,1,2024/02/30,\n"  # 6 no such date
        "S015,郑一,U01,W,1,2024-02-01,\n"
        "S015,郑一,U01,W,2,2024-02-01,\n"  # 8 duplicate key within the file
        "S001,张三,U01,W,1,2024-01-02,\n"  # 9 the posting held: changes nothing
        "S001,张冠李戴,U01,W,2,2024-02-05,\n"  # 10 name differs from the roster
        "S016,冯二,U01,W,1,2024-02-01,2024-02-20\n"
        "S016,冯二,U01,W,2,2024-02-10,\n"  # 12 overlaps row 11
        "S003,王五,U02,W,3,2023-12-01,2024-01-10\n"  # 13 overlaps S003's posting held
    )
    errors = rejected("staff", "s.csv", text.encode())
    assert errors == [
        "第2行 unit_code: 单位代码 U99 不存在",
        "第3行 category: 人员类别 X 无效,应为 W(值守窗口)或 C(综窗后场)",
        "第4行 window: 窗口 9 不属于市税务局(该单位窗口:1、2)",
        "第5行 end_date: 结束日期 2024-01-01 早于开始日期 2024-02-01",
        "第6行 start_date: 日期 2024/02/30 不存在",
        "第8行 start_date: 与第7行重复(同一工号、同一开始日期)",
        "第10行 name: 工号 S001 在第9行的姓名是 张三",
        "第12行 start_date: 与第11行的岗位时间(2024-02-01 至 2024-02-20)重叠",
        "第13行 start_date: 与已有岗位(市社会保险事业服务中心,2024-01-02 至 今)时间重叠",
    ]


# ---------------------------------------------------------------- incidents


def test_incidents_import_confirmed_with_history(hall):
    summary = import_file("incidents", "incidents.csv", data("incidents.csv"))
    db.session.commit()
    assert summary["created"] == 5
    rows = list(db.session.scalars(select(Incident).order_by(Incident.occurred_at)))
    assert {(i.status, i.source) for i in rows} == {("confirmed", "import")}
    assert [i.rule_code for i in rows] == ["B01", "D01", "D16", "D19a", "D06"]
    bonus, late, clock, d19a, d06 = rows
    assert bonus.count == 2 and late.count == 1 and late.window == "1" and late.staff.staff_id == "S001"
    assert clock.staff.staff_id == "S002" and d19a.deadline == date(2024, 3, 15) and d06.exempt
    assert db.session.scalar(select(func.count(IncidentHistory.id))) == 5
    assert (
        db.session.scalar(select(func.count(AuditLog.id)).where(AuditLog.action == "import.incidents")) == 1
    )


def test_same_incidents_file_twice_is_refused_naming_the_rows(hall):
    import_file("incidents", "incidents.csv", data("incidents.csv"))
    db.session.commit()
    errors = rejected("incidents", "incidents.csv", data("incidents.csv"))
    assert len(errors) == 5
    assert all(e.startswith(f"第{n}行与已有记录重复") for n, e in zip(range(2, 7), errors, strict=True))
    assert db.session.scalar(select(func.count(Incident.id))) == 5


def test_voided_incident_does_not_block_a_reimport(hall):
    from services import incidents

    import_file("incidents", "incidents.csv", data("incidents.csv"))
    db.session.commit()
    first = db.session.scalar(select(Incident).where(Incident.rule_code == "D01"))
    incidents.void(first, "录入有误")
    db.session.commit()
    one = (
        "occurred_at,unit_code,rule_code,staff_id,count,note,deadline,rectified_on,exempt\n"
        "2024-03-05 09:10,U01,D01,S001,,巡查发现迟到,,,\n"
    )
    assert import_file("incidents", "one.csv", one.encode())["created"] == 1


def test_every_kind_of_bad_incident_row(hall):
    make_closed_february()
    errors = rejected("incidents", "incidents_bad.csv", data("incidents_bad.csv"))
    assert errors == [
        "第3行 unit_code: 单位代码 U99 不存在",
        "第4行 rule_code: 规则编号 X99 不存在于规则版本 anshan-2023",
        "第5行 occurred_at: 时间 2024-13-05 09:10 不存在",
        "第6行 deadline: D19a 必须填写整改期限",
        "第7行 staff_id: D16 只适用于纳入综窗的后场工作人员,该人员类别为 W",
        "第8行 count: 次数(人数)应为不小于 1 的整数",
        "第9行 exempt: 应为 true 或 false",
        "第10行 occurred_at: 2024年2月已关账,不能登记或修改该月的记录;如确需修改,请先重新开放该月",
        "第11行 unit_code: 单位代码不能为空",
        "第12行与第2行重复",
    ]


def make_closed_february() -> None:
    months.close(2024, 2)
    db.session.commit()


@pytest.mark.parametrize(
    ("row", "expected"),
    [
        ("2024-03-05,U01,D01,,1,,,,", "第2行 occurred_at: 缺少时间,格式应为 YYYY-MM-DD HH:MM"),
        (
            "2024-03-05 9:1,U01,D01,,1,,,,",
            "第2行 occurred_at: 时间格式应为 YYYY-MM-DD HH:MM(如 2024-03-05 09:30)",
        ),
        (
            "2024-03-25 09:00,U01,D01,,1,,,,",
            "第2行 occurred_at: 日期 2024-03-25 晚于今天(2024-03-20),不能登记未来的记录",
        ),
        ("2024-03-20 10:30,U01,D01,,1,,,,", "第2行 occurred_at: 发生时间晚于当前时间"),
        (
            "2023-04-18 09:00,U01,D01,,1,,,,",
            "第2行 occurred_at: 日期 2023-04-18 早于考核细则的生效日期 2023-04-19",
        ),
        (",U01,D01,,1,,,,", "第2行 occurred_at: 发生时间不能为空"),
        ("2024-03-05 09:00,U01,,,1,,,,", "第2行 rule_code: 规则编号不能为空"),
        ("2024-03-05 09:00,U01,D19b,,1,,,,", "第2行 rule_code: D19b 由系统根据整改期限自动计算,不能手工录入"),
        ("2024-03-05 09:00,U01,D01,S999,1,,,,", "第2行 staff_id: 工号 S999 不在人员名册中"),
        (
            "2024-03-05 09:00,U01,D01,S003,1,,,,",
            "第2行 staff_id: 王五(S003)当日属于市社会保险事业服务中心,不属于市税务局",
        ),
        ("2024-03-05 09:00,U01,D01,,1.5,,,,", "第2行 count: 次数(人数)应为不小于 1 的整数"),
        ("2024-03-05 09:00,U01,D01,,abc,,,,", "第2行 count: 次数(人数)应为不小于 1 的整数"),
        ("2024-03-05 09:00,U01,D01,,1,,,,true", "第2行 exempt: D01 没有免扣情形,不能标记为免扣"),
        (
            "2024-03-05 09:00,U01,D19a,,1,,03/15/2024,,",
            "第2行 deadline: 整改期限格式应为 YYYY-MM-DD(如 2024-03-05)",
        ),
        ("2024-03-05 09:00,U01,D19a,,1,,2024-03-01,,", "第2行 deadline: 整改期限早于发生日期"),
    ],
)
def test_incident_row_errors(hall, row, expected):
    header = ",".join(imports.COLUMNS["incidents"])
    assert rejected("incidents", "i.csv", f"{header}\n{row}\n".encode()) == [expected]


def test_inactive_unit_rows_import_with_a_note_and_are_not_scored(hall, make):
    """rulebook.md: inactive units are not scored, "their incidents are ignored", so they are kept."""
    from services.standings import live_standings

    make.unit("U03", name="旧单位", active=False)
    header = ",".join(imports.COLUMNS["incidents"])
    text = (
        f"{header}\n2024-03-05 09:00,U03,D01,,1,,,,\n2024-03-06 09:00,U03,D03,,1,,,,\n"
        "2024-03-05 09:00,U01,d02C,,1,,,,\n"
    )
    result = parse("incidents", read_table("i.csv", text.encode()))
    assert result.ok and result.notes["inactive_unit_rows"] == 2
    assert imports.notes_text(result.notes) == ["属于已停用单位的记录已导入,但不参加考核:旧单位 2 行"]
    summary = import_file("incidents", "i.csv", text.encode())
    db.session.commit()
    assert summary["created"] == 3 and summary["inactive_unit_rows"] == 2
    assert "属于已停用单位的记录已导入,但不参加考核:旧单位 2 行" in imports.summary_text(summary)
    kept = db.session.scalars(select(Incident.rule_code).join(Unit).where(Unit.code == "U03")).all()
    assert sorted(kept) == ["D01", "D03"]
    assert db.session.scalar(select(Incident.rule_code).join(Unit).where(Unit.code == "U01")) == "D02c"
    standings = live_standings(2024, 3)
    assert [u.code for u in standings.units] == ["U02", "U01"]  # the inactive unit is not scored
    assert standings.unit("U01").deductions == 5


def test_incidents_from_xlsx(hall):
    summary = import_file("incidents", "incidents.xlsx", data("incidents.xlsx"))
    db.session.commit()
    assert summary["created"] == 3
    d19a = db.session.scalar(select(Incident).where(Incident.rule_code == "D19a"))
    assert d19a.deadline == date(2024, 3, 25) and d19a.rectified_on == date(2024, 3, 18) and d19a.count == 1
    assert db.session.scalar(select(Incident.count).where(Incident.rule_code == "B03")) == 2


def test_xlsx_gb_header_variants(hall):
    book = openpyxl.Workbook()
    book.active.append([" Date ", "KIND"])
    book.active.append([datetime(2024, 4, 4), "节假日"])
    book.active.append(["2024年4月7日", "调休上班"])
    out = io.BytesIO()
    book.save(out)
    summary = import_file("calendar", "cal.xlsx", out.getvalue())
    assert summary["created"] == 2
    assert db.session.get(CalendarDay, date(2024, 4, 7)).kind == "workday"


# ---------------------------------------------------------------- clock and calendar


def test_clock_keeps_every_punch_and_a_reimport_adds_nothing(hall):
    """08:27 and 08:27:30 are both stored (counted once in what is said); the same file again adds none."""
    summary = import_file("clock", "clock.csv", data("clock.csv"))
    db.session.commit()
    assert summary["created"] == 3 and summary["within_a_minute"] == 1 and "skipped" not in summary
    assert imports.summary_text(summary) == (
        "打卡记录导入完成:共 3 行,新增 3;1 条打卡与同一人前一次打卡相隔不足一分钟,已保存,计为一次"
    )
    again = import_file("clock", "clock.csv", data("clock.csv"))
    assert again["created"] == 0 and again["skipped"] == 3
    assert "3 条打卡与已有打卡完全相同,不重复保存" in imports.summary_text(again)
    stored = db.session.scalars(select(ClockPunch.punched_at).order_by(ClockPunch.punched_at)).all()
    assert [to_hall(at).strftime("%H:%M:%S") for at in stored] == ["08:27:00", "08:27:30", "16:58:10"]


def test_clock_punch_seconds_before_a_window_do_not_hide_the_one_inside(hall):
    """Issue 8.1: 08:24:40 then 08:25:00 meets 08:25–08:30; the old import kept only 08:24:40."""
    from services import detections

    text = "staff_id,punched_at\nS002,2024-03-05 08:24:40\nS002,2024-03-05 08:25:00\nS002,2024-03-05 16:57\n"
    import_file("clock", "c.csv", text.encode())
    db.session.commit()
    found, _unknown = detections.proposals(2024, 3, rules=("D16",))
    assert not [p for p in found if p.key.startswith("D16:S002:2024-03-05")]
    assert db.session.scalar(select(func.count(ClockPunch.id))) == 3


def test_clock_unknown_staff_are_listed_with_counts_and_skipped(hall):
    text = (
        "staff_id,punched_at\nS002,2024-03-04 08:27\nX1,2024-03-04 08:28\nX2,2024-03-04 08:29:59\n"
        "X1,2024-03-04 16:57\nS002,2024-03-04 16:58\n"
    )
    result = parse("clock", read_table("c.csv", text.encode()))
    assert result.ok and result.notes["unknown_staff"] == {"X1": 2, "X2": 1}
    summary = import_file("clock", "c.csv", text.encode())
    db.session.commit()
    assert summary["created"] == 2 and summary["unknown_staff"] == {"X1": 2, "X2": 1}
    assert "人员名册中没有的工号,其打卡已跳过:X1(2 条)、X2(1 条)" in imports.summary_text(summary)
    assert db.session.scalars(select(ClockPunch.staff_id)).all() == ["S002", "S002"]
    log = db.session.scalar(select(AuditLog).where(AuditLog.action == "import.clock"))
    assert log.after["unknown_staff"] == {"X1": 2, "X2": 1} and "kind" not in log.after


def test_clock_malformed_rows_still_fail_the_file(hall):
    text = (
        "staff_id,punched_at\nS002,2024-03-04 08:27\nX1,2024-03-04 08:28\n,2024-03-04 08:29\n"
        "S002,\nS002,8:30\n"
    )
    errors = rejected("clock", "c.csv", text.encode())
    assert errors == [
        "第4行 staff_id: 工号不能为空",
        "第5行 punched_at: 打卡时间不能为空",
        "第6行 punched_at: 时间格式应为 YYYY-MM-DD HH:MM(如 2024-03-05 09:30)",
    ]


def test_calendar_import_updates_existing_days(app):
    db.session.add(CalendarDay(day=date(2024, 4, 4), kind="workday", note=""))
    db.session.commit()
    summary = import_file("calendar", "calendar.csv", data("calendar.csv"))
    db.session.commit()
    assert (summary["created"], summary["updated"]) == (1, 1)
    assert db.session.get(CalendarDay, date(2024, 4, 4)).kind == "holiday"


def test_calendar_bad_rows(app):
    errors = rejected(
        "calendar", "c.csv", b"date,kind\n2024-04-04,holiday\n2024-04-04,workday\n2024-04-05,party\n"
    )
    assert errors == [
        "第3行 date: 日期 2024-04-04 与第2行重复",
        "第4行 kind: 类型应为 holiday(放假)或 workday(调休上班)",
    ]


# ---------------------------------------------------------------- progress and the parse API


def test_progress_every_200_rows(app):
    lines = ["date,kind"] + [
        f"{date.fromordinal(date(2030, 1, 1).toordinal() + i).isoformat()},holiday" for i in range(450)
    ]
    calls = []
    import_file("calendar", "big.csv", "\n".join(lines).encode(), progress=lambda d, t: calls.append((d, t)))
    assert calls == [(200, 450), (400, 450), (450, 450)]


def test_parse_is_usable_on_plain_dicts(hall):
    result = parse(
        "calendar", [{"date": "2024-05-01", "kind": "holiday"}, {"date": "bad", "kind": "holiday"}]
    )
    assert not result.ok and result.records == []
    assert [str(e) for e in result.errors] == ["第3行 date: 日期格式应为 YYYY-MM-DD(如 2024-03-05)"]


def test_template_has_the_exact_header():
    for kind, columns in imports.COLUMNS.items():
        text = imports.template_csv(kind).decode("utf-8-sig")
        assert text.splitlines()[0] == ",".join(columns)


def test_unknown_kind(app):
    from services import DomainError

    with pytest.raises(DomainError, match="未知的导入类型"):
        import_file("people", "x.csv", b"a\n1\n")


# ---------------------------------------------------------------- D15 (issue 8.3)

HEADER = ",".join(imports.COLUMNS["incidents"])


def d15_points(unit_code: str = "U01") -> int:
    from services.standings import live_standings

    result = live_standings(2024, 3).unit(unit_code)
    return sum(-i.points for i in result.items if i.rule_code == "D15")


def test_d15_links_to_the_violation_in_the_same_file(hall):
    text = (
        f"{HEADER}\n2024-03-05 10:20,U01,D15,,2,迎检时玩手机,,,\n2024-03-05 10:20,U01,D04a,S001,1,玩手机,,,\n"
        "2024-03-05 10:20,U02,D03,,1,另一单位,,,\n"
    )
    result = parse("incidents", read_table("i.csv", text.encode()))
    assert result.ok and "pending_link_rows" not in result.notes
    summary = import_file("incidents", "i.csv", text.encode())
    db.session.commit()
    assert summary["linked"] == 1 and "pending_link" not in summary
    d15 = db.session.scalar(select(Incident).where(Incident.rule_code == "D15"))
    assert d15.linked.rule_code == "D04a" and d15.linked.unit.code == "U01" and d15.count == 2
    assert d15_points() == 20


def test_d15_links_to_a_violation_already_held(hall, make):
    violation = make.incident(hall[0], "D03", at=datetime(2024, 3, 6, 9, 30))
    text = f"{HEADER}\n2024-03-06 09:30,U01,D15,,1,,,,\n"
    summary = import_file("incidents", "i.csv", text.encode())
    db.session.commit()
    assert summary["linked"] == 1
    d15 = db.session.scalar(select(Incident).where(Incident.rule_code == "D15"))
    assert d15.linked_id == violation.id and d15.status == "confirmed"


@pytest.mark.parametrize(
    "others",
    [
        pytest.param("", id="no-violation"),
        pytest.param("2024-03-05 10:20,U01,D03,,1,,,,\n2024-03-05 10:20,U01,D04a,S001,1,,,,\n", id="two"),
        pytest.param("2024-03-05 10:21,U01,D03,,1,,,,\n2024-03-05 10:20,U01,B01,,1,,,,\n", id="other-time"),
    ],
)
def test_d15_without_exactly_one_violation_imports_unlinked_and_waits(hall, others):
    text = f"{HEADER}\n{others}2024-03-05 10:20,U01,D15,,1,,,,\n"
    last_row = text.count("\n")
    result = parse("incidents", read_table("i.csv", text.encode()))
    assert result.ok and result.notes["pending_link_rows"] == [last_row]
    assert imports.notes_text(result.notes) == [
        f"D15 待关联:第{last_row}行没有唯一的同单位、同一时间的违规记录,不关联导入,请在记录的更正页面关联"
    ]
    summary = import_file("incidents", "i.csv", text.encode())
    db.session.commit()
    d15 = db.session.scalar(select(Incident).where(Incident.rule_code == "D15"))
    assert d15.linked_id is None and d15.status == "confirmed"
    assert summary["pending_link"] == 1 and summary["pending_link_ids"] == [d15.id]
    assert f"D15 待关联:第{last_row}行" in imports.summary_text(summary)
    assert d15_points() == 10  # counts 10 × count, linked or not


# ---------------------------------------------------------------- units: the form's rules (issue 8.13)


@pytest.mark.parametrize(
    ("row", "expected"),
    [
        ("U05,单位五,1;<b>,1,true", "第2行 windows: 窗口号 <b> 无效:只能是不超过 10 位的数字、字母或汉字"),
        ("U05,单位五,1;12345678901,1,true", "第2行 windows: 窗口号 12345678901 无效"),
        ("U05,单位五,1,-1,true", "第2行 display_order: 显示顺序须为 0 至 9999 的整数"),
        ("U05,单位五,1,10000,true", "第2行 display_order: 显示顺序须为 0 至 9999 的整数"),
        ("U 05,单位五,1,1,true", "第2行 code: 单位编码不能包含空格"),
    ],
)
def test_units_import_refuses_what_the_unit_form_refuses(hall, row, expected):
    header = ",".join(imports.COLUMNS["units"])
    errors = rejected("units", "u.csv", f"{header}\n{row}\n".encode())
    assert len(errors) == 1 and errors[0].startswith(expected)


def test_units_import_and_the_form_share_one_check(hall):
    """services.units.unit_problems is what both call: same input, same answer."""
    from services.units import unit_problems

    problems = unit_problems(None, code="U09", name="某单位", windows="1;<b>", display_order=1)
    assert problems == [("windows", "窗口号 <b> 无效:只能是不超过 10 位的数字、字母或汉字")]
    # Removing a window someone holds is refused for the form too (the import always refused it).
    problems = unit_problems(hall[0], code="U01", name="市税务局", windows="2", display_order=1)
    assert problems == [("windows", "窗口 1 仍有在岗人员,不能从市税务局删除;请先调整人员岗位")]


# ---------------------------------------------------------------- incident dates (issue 8.8)


def test_incident_dates_keep_the_bounds_of_every_entry_path(hall):
    from services.bounds import incident_day_problem

    make_closed_february()
    rows = ["2024-03-21 09:00", "2023-04-18 09:00", "2024-02-05 09:00", "0001-01-01 09:00"]
    text = HEADER + "\n" + "".join(f"{at},U01,D01,,1,,,,\n" for at in rows)
    errors = rejected("incidents", "i.csv", text.encode())
    expected = [
        f"第{n}行 occurred_at: {incident_day_problem(datetime.fromisoformat(at).date())}"
        for n, at in enumerate(rows, start=2)
    ]
    assert errors == expected
    assert "0001-01-01 早于考核细则的生效日期" in errors[3]


# ---------------------------------------------------------------- limits (issue 10, item 4)

UNITS_HEADER = "code,name,windows,display_order,active\n"


def xlsx_bytes(rows: list[list]) -> bytes:
    wb = openpyxl.Workbook()
    ws = wb.active
    for row in rows:
        ws.append(row)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def declaring(data: bytes, part: str, size: int) -> bytes:
    """The same .xlsx with `part`'s uncompressed size in the zip's directory set to `size`, as a zip bomb
    declares it (the bytes themselves stay small)."""
    import struct

    raw = bytearray(data)
    name = part.encode()
    at = raw.find(b"PK\x01\x02")
    while at != -1:
        length = struct.unpack_from("<H", raw, at + 28)[0]
        if raw[at + 46 : at + 46 + length] == name:
            struct.pack_into("<I", raw, at + 24, size)
            return bytes(raw)
        at = raw.find(b"PK\x01\x02", at + 4)
    raise AssertionError(f"no {part} in the workbook")


def test_an_xlsx_declaring_gigabytes_is_refused_before_it_is_opened(hall):
    small = xlsx_bytes([UNITS_HEADER.strip().split(","), ["U09", "新单位", "1", 1, "true"]])
    bomb = declaring(small, "xl/worksheets/sheet1.xml", 4 * 2**30 - 1)
    assert len(bomb) < 10_000
    errors = rejected("units", "bomb.xlsx", bomb)
    assert errors == ["文件: Excel 文件解压后过大(超过 512 MB),请拆分成几个文件,或另存为 CSV 后再导入"]


def test_a_part_read_whole_beyond_its_limit_is_refused(hall):
    """Styles (and shared strings, 32 MB) are read whole by openpyxl: each has its own, smaller limit."""
    small = xlsx_bytes([UNITS_HEADER.strip().split(","), ["U09", "新单位", "1", 1, "true"]])
    errors = rejected("units", "bomb.xlsx", declaring(small, "xl/styles.xml", 100 * 2**20))
    assert errors == ["文件: Excel 文件解压后过大(超过 8 MB),请拆分成几个文件,或另存为 CSV 后再导入"]


def test_a_real_highly_compressed_sheet_beyond_the_limit_is_refused(hall, monkeypatch):
    from services.imports import reading

    monkeypatch.setattr(reading, "MAX_UNCOMPRESSED", 2**20)  # 1 MB, so the test stays small and quick
    rows = [UNITS_HEADER.strip().split(",")] + [[f"U{n:05d}", "单位", "1", n, "true"] for n in range(20_000)]
    data = xlsx_bytes(rows)
    assert len(data) < 2**20  # compressed it fits; expanded it does not
    errors = rejected("units", "big.xlsx", data)
    assert errors == ["文件: Excel 文件解压后过大(超过 1 MB),请拆分成几个文件,或另存为 CSV 后再导入"]


def test_a_cell_far_to_the_right_is_refused_without_padding_the_row(hall):
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(UNITS_HEADER.strip().split(","))
    ws.append(["U09", "新单位", "1", 1, "true"])
    ws.cell(row=3, column=16_384, value="x")  # column XFD, the last Excel has
    out = io.BytesIO()
    wb.save(out)
    errors = rejected("units", "wide.xlsx", out.getvalue())
    assert errors == ["文件: 第3行超过 64 列,请只保留导入所需的列"]


def test_a_csv_row_with_too_many_cells_is_refused(hall):
    errors = rejected("units", "wide.csv", (UNITS_HEADER + "U09,新单位,1,1,true" + ",x" * 80 + "\n").encode())
    assert errors == ["文件: 第2行超过 64 列,请只保留导入所需的列"]


@pytest.mark.parametrize("name", ["many.csv", "many.xlsx"])
def test_too_many_rows_are_refused_and_nothing_is_written(hall, monkeypatch, name):
    from services.imports import reading

    monkeypatch.setattr(reading, "MAX_ROWS", 3)
    rows = [[f"U{n:02d}", f"单位{n}", "1", n, "true"] for n in range(10, 14)]
    if name.endswith(".csv"):
        data = (UNITS_HEADER + "".join(",".join(map(str, r)) + "\n" for r in rows)).encode()
    else:
        data = xlsx_bytes([UNITS_HEADER.strip().split(","), *rows])
    assert rejected("units", name, data) == ["文件: 文件超过 3 行数据,请拆分成几个文件分别导入"]
    monkeypatch.setattr(reading, "MAX_ROWS", 4)
    assert import_file("units", name, data)["created"] == 4  # at the limit it imports


def test_blank_rows_and_blank_cells_do_not_count_against_the_limits(hall, monkeypatch):
    from services.imports import reading

    monkeypatch.setattr(reading, "MAX_ROWS", 1)
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(UNITS_HEADER.strip().split(","))
    ws.append(["U09", "新单位", "1", 1, "true"])
    ws.cell(row=50_000, column=3).number_format = "0.00"  # a formatted, empty cell far down
    out = io.BytesIO()
    wb.save(out)
    table = read_table("u.xlsx", out.getvalue())
    assert [dict(r) for r in table] == [
        {"code": "U09", "name": "新单位", "windows": "1", "display_order": 1, "active": "true"}
    ]


# ---------------------------------------------------------------- encodings (issue 10, item 14)

TRADITIONAL = UNITS_HEADER + "U09,臺北市稅務局服務櫃檯,1;2,1,true\nU10,國稅局綜合窗口,3,2,true\n"
JAPANESE = UNITS_HEADER + "U09,東京都税務署の窓口,1,1,true\nU10,ハローワーク相談窓口,2,2,true\n"


def test_a_big5_csv_is_refused_not_imported_garbled(hall):
    data = TRADITIONAL.encode("big5")
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")
    errors = rejected("units", "big5.csv", data)
    assert len(errors) == 1
    assert "文件编码无法识别(看起来是繁体中文 Big5 编码,只支持 UTF-8 和 GB18030)" in errors[0]
    assert "CSV UTF-8(逗号分隔)" in errors[0]


def test_a_shift_jis_csv_is_refused_not_imported_garbled(hall):
    errors = rejected("units", "sjis.csv", JAPANESE.encode("shift_jis"))
    assert len(errors) == 1
    assert "文件编码无法识别(看起来是日文 Shift-JIS 编码,只支持 UTF-8 和 GB18030)" in errors[0]


@pytest.mark.parametrize("codec", ["big5", "shift_jis", "cp950", "cp932"])
def test_longer_big5_and_shift_jis_files_are_refused(hall, codec):
    """A longer sheet of traditional Chinese or Japanese names, written by Python's codecs."""
    text = TRADITIONAL if codec in ("big5", "cp950") else JAPANESE
    body = text.split("\n", 1)[1]
    many = text + body.replace("U09", "U11").replace("U10", "U12") * 3
    errors = rejected("units", "other.csv", many.encode(codec))
    assert errors[0].startswith("文件: 文件编码无法识别")


def test_gb18030_from_chinese_excel_still_imports_with_rare_name_characters(hall):
    """Chinese Excel's "CSV (逗号分隔)" is GB18030: common characters, full-width punctuation, and now and
    then a rare character of a name (堃, 喆, 昇) or a traditional one."""
    text = (
        "staff_id,name,unit_code,category,window,start_date,end_date\n"
        "S101,王堃,U01,W,2,2024-03-01,\n"
        "S102,李喆,U01,C,,2024-03-01,\n"
        "S103,陈昇(借调),U02,W,4,2024-03-01,\n"
        "S104,欧阳娜娜,U02,W,3,2024-03-01,\n"
    )
    data = text.encode("gb18030")
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")
    assert import_file("staff", "staff.csv", data)["staff_created"] == 4
    db.session.commit()
    names = set(db.session.scalars(select(Staff.name).where(Staff.staff_id.in_(["S101", "S102", "S103"]))))
    assert names == {"王堃", "李喆", "陈昇(借调)"}


def test_gb18030_incidents_with_chinese_notes_import(hall):
    text = (
        "occurred_at,unit_code,rule_code,staff_id,count,note,deadline,rectified_on,exempt\n"
        "2024-03-05 09:10,U01,D01,S001,,巡查发现迟到,“早上九点”未到岗,,\n"
    ).replace(",“早上九点”未到岗,,", ",,,")
    summary = import_file("incidents", "i.csv", text.encode("gb18030"))
    assert summary["created"] == 1
    assert db.session.scalar(select(Incident.note)) == "巡查发现迟到"


# ---------------------------------------------------------------- writing in one short transaction


def test_a_duplicate_written_between_the_check_and_the_write_is_refused(hall):
    """The file is checked without a lock; what another import wrote meanwhile is checked again when the
    rows are written, and the second import writes nothing."""
    one = (
        "occurred_at,unit_code,rule_code,staff_id,count,note,deadline,rectified_on,exempt\n"
        "2024-03-05 09:10,U01,D01,S001,,巡查发现迟到,,,\n"
        "2024-03-06 09:10,U02,D08,,,,,,\n"
    ).encode()
    first, second = parse("incidents", read_table("a.csv", one)), parse("incidents", read_table("b.csv", one))
    assert first.ok and second.ok
    imports.apply("incidents", first.records, state=first.state)
    db.session.commit()
    before = counts()
    with pytest.raises(ImportRejected) as info:
        imports.apply("incidents", second.records, state=second.state)
    db.session.rollback()
    assert counts() == before
    held = db.session.scalar(select(Incident.id).where(Incident.rule_code == "D01"))
    assert [str(e) for e in info.value.errors] == [
        f"第2行与已有记录重复(记录编号 {held})",
        f"第3行与已有记录重复(记录编号 {held + 1})",
    ]


def test_bulk_written_incidents_are_what_the_desk_writes(hall):
    """History, audit row and the unit's notification of each imported incident, as services.incidents
    writes them for the desk, and a D15 row linked to the violation of the same file."""
    from models import Notification

    text = (
        "occurred_at,unit_code,rule_code,staff_id,count,note,deadline,rectified_on,exempt\n"
        "2024-03-05 09:10,U01,D01,S001,2,巡查发现迟到,,,\n"
        "2024-03-05 09:10,U01,D15,,,,,,\n"
        "2024-03-07 10:00,U02,B01,,,,,,\n"
    )
    summary = import_file("incidents", "i.csv", text.encode())
    db.session.commit()
    assert summary["created"] == 3 and summary["linked"] == 1
    d01, d15, b01 = db.session.scalars(select(Incident).order_by(Incident.occurred_at, Incident.rule_code))
    assert d15.linked_id == d01.id and d01.recorded_by_id is None and d01.source == "import"
    assert (d01.staff.staff_id, d01.window, d01.count, to_hall(d01.occurred_at).hour) == ("S001", "1", 2, 9)
    history = db.session.scalar(select(IncidentHistory).where(IncidentHistory.incident_id == d01.id))
    from services.incidents import snapshot

    assert history.action == "created" and history.snapshot == snapshot(d01)
    assert (
        db.session.scalar(select(IncidentHistory.snapshot).where(IncidentHistory.incident_id == d15.id))[
            "linked_id"
        ]
        == d01.id
    )
    audit = db.session.scalar(select(AuditLog).where(AuditLog.target == f"incident:{b01.id}"))
    assert audit.action == "incident.created" and audit.after == snapshot(b01)
    titles = dict(db.session.execute(select(Notification.link, Notification.title)).all())
    assert (
        titles[f"/portal/items/{d01.id}"].startswith("新增扣分记录:D01 ")
        and "3月5日" in titles[f"/portal/items/{d01.id}"]
    )
    assert titles[f"/portal/items/{b01.id}"].startswith("新增加分记录:B01 ")
