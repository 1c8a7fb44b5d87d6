"""The roster service: adding, moving and ending staff, with the history D13 reads."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func, select

from models import AuditLog, Posting, Staff, db
from scoring import RosterEntry
from services import DomainError, roster


def audit(action: str) -> int:
    return db.session.scalar(select(func.count(AuditLog.id)).where(AuditLog.action == action))


def test_add_staff_and_roster_entries(make):
    unit = make.unit("U01", windows="1;2")
    staff = roster.add_staff("S001", "张三", unit, "w", "2", date(2024, 1, 2))
    roster.add_staff("S002", "李四", unit, "C", "", date(2024, 1, 5), date(2024, 2, 1))
    db.session.commit()
    assert staff.current.category == "W" and staff.current.window == "2"
    assert roster.roster_entries() == [
        RosterEntry("S001", "U01", "W", "2", date(2024, 1, 2), None),
        RosterEntry("S002", "U01", "C", None, date(2024, 1, 5), date(2024, 2, 1)),
    ]
    assert audit("staff.create") == 2


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("S9", "王五", "X", "1", date(2024, 1, 1), None), "人员类别 X 无效,应为 W(值守窗口)或 C(综窗后场)"),
        (("S9", "王五", "W", "7", date(2024, 1, 1), None), "窗口 7 不属于测试单位U01(该单位窗口:1、2)"),
        (
            ("S9", "王五", "W", "1", date(2024, 2, 1), date(2024, 1, 1)),
            "结束日期 2024-01-01 早于开始日期 2024-02-01",
        ),
        (("S001", "王五", "W", "1", date(2024, 1, 1), None), "工号 S001 已存在"),
        (("", "王五", "W", "1", date(2024, 1, 1), None), "请填写工号"),
        (("S9", " ", "W", "1", date(2024, 1, 1), None), "请填写姓名"),
    ],
)
def test_add_staff_refuses_bad_input(make, args, message):
    unit = make.unit("U01", windows="1;2")
    make.staff(unit, "S001")
    staff_id, name, category, window, start, end = args
    with pytest.raises(DomainError) as info:
        roster.add_staff(staff_id, name, unit, category, window, start, end)
    assert message in str(info.value)
    db.session.rollback()
    assert db.session.scalar(select(func.count(Staff.id))) == 1


def test_move_staff_ends_the_day_before(make):
    u1 = make.unit("U01", windows="1;2")
    u2 = make.unit("U02", windows="3")
    staff = make.staff(u1, "S001", window="1", start=date(2024, 1, 2))
    posting = roster.move_staff(staff, u2, "3", "W", date(2024, 3, 1))
    db.session.commit()
    assert [(p.unit.code, p.window, p.start_date, p.end_date) for p in staff.postings] == [
        ("U01", "1", date(2024, 1, 2), date(2024, 2, 29)),
        ("U02", "3", date(2024, 3, 1), None),
    ]
    assert posting.unit_id == u2.id and audit("staff.move") == 1
    log = db.session.scalar(select(AuditLog).where(AuditLog.action == "staff.move"))
    assert (
        log.before["postings"][0]["end_date"] is None and log.after["postings"][0]["end_date"] == "2024-02-29"
    )


def test_move_staff_refusals_leave_the_roster_alone(make):
    u1 = make.unit("U01", windows="1;2")
    staff = make.staff(u1, "S001", window="1", start=date(2024, 1, 2))
    with pytest.raises(DomainError, match="调岗日期必须晚于该岗位的开始日期"):
        roster.move_staff(staff, u1, "2", "W", date(2024, 1, 2))
    with pytest.raises(DomainError, match="窗口 9 不属于"):
        roster.move_staff(staff, u1, "9", "W", date(2024, 2, 1))
    db.session.rollback()
    assert [(p.start_date, p.end_date) for p in db.session.scalars(select(Posting))] == [
        (date(2024, 1, 2), None)
    ]


def test_end_staff(make):
    unit = make.unit("U01")
    staff = make.staff(unit, "S001", start=date(2024, 1, 2))
    with pytest.raises(DomainError, match="离岗日期 2024-01-01 早于当前岗位的开始日期 2024-01-02"):
        roster.end_staff(staff, date(2024, 1, 1))
    roster.end_staff(staff, date(2024, 3, 10))
    db.session.commit()
    assert staff.current.end_date == date(2024, 3, 10)
    with pytest.raises(DomainError, match="没有在岗的岗位"):
        roster.end_staff(staff, date(2024, 3, 12))


def test_overlapping_postings_are_refused(make):
    unit = make.unit("U01", windows="1;2")
    staff = make.staff(unit, "S001", start=date(2024, 1, 2), end=date(2024, 2, 15))
    with pytest.raises(DomainError, match="时间重叠"):
        roster.add_posting(staff, unit, "W", "2", date(2024, 2, 1))
    roster.add_posting(staff, unit, "W", "2", date(2024, 2, 16))
    assert len(staff.postings) == 2


# ------------------------------------------------------------ roster updates from a staff file (issue 8.5)

STAFF_HEADER = "staff_id,name,unit_code,category,window,start_date,end_date\n"


def spans(staff_id: str) -> list[tuple]:
    staff = roster.get_staff(staff_id)
    db.session.refresh(staff)
    return [(p.unit.code, p.category, p.window, p.start_date, p.end_date) for p in staff.postings]


def import_staff(text: str) -> dict:
    from services.imports import import_file

    summary = import_file("staff", "staff.csv", (STAFF_HEADER + text).encode())
    db.session.commit()
    return summary


@pytest.fixture
def two_units(make):
    u1 = make.unit("U01", windows="1;2;3;4")
    u2 = make.unit("U02", windows="5")
    make.staff(u1, "S001", "张三", "W", "1", start=date(2024, 1, 2))
    make.staff(u1, "S002", "李四", "W", "2", start=date(2024, 1, 2))
    return u1, u2


def test_a_new_end_date_ends_the_posting(two_units):
    summary = import_staff("S001,张三,U01,W,1,2024-01-02,2024-03-10\n")
    assert summary["postings_closed"] == 1 and summary["postings_added"] == 0
    assert spans("S001") == [("U01", "W", "1", date(2024, 1, 2), date(2024, 3, 10))]
    log = db.session.scalar(select(AuditLog).where(AuditLog.action == "staff.end"))
    assert (
        log.before["postings"][0]["end_date"] is None and log.after["postings"][0]["end_date"] == "2024-03-10"
    )


@pytest.mark.parametrize(
    ("row", "expected"),
    [
        pytest.param("S001,张三,U02,W,5,2024-03-01,\n", ("U02", "W", "5"), id="new-unit"),
        pytest.param("S001,张三,U01,W,3,2024-03-01,\n", ("U01", "W", "3"), id="new-window"),
        pytest.param("S001,张三,U01,C,,2024-03-01,\n", ("U01", "C", None), id="to-back-office"),
    ],
)
def test_a_new_unit_or_window_ends_the_old_posting_the_day_before(two_units, row, expected):
    summary = import_staff(row)
    assert summary["postings_closed"] == 1 and summary["postings_added"] == 1
    assert spans("S001") == [
        ("U01", "W", "1", date(2024, 1, 2), date(2024, 2, 29)),
        (*expected, date(2024, 3, 1), None),
    ]
    assert audit("staff.move") == 1


def test_reimporting_the_same_file_changes_nothing(two_units):
    text = (
        "S001,张三,U01,W,1,2024-01-02,\n"  # as held
        "S002,李四,U01,W,3,2024-03-04,\n"  # a move
        "S003,王五,U01,W,2,2024-03-04,2024-03-31\n"  # a newcomer
    )
    first = import_staff(text)
    assert (
        first["staff_created"],
        first["postings_added"],
        first["postings_closed"],
        first["unchanged"],
    ) == (
        1,
        2,
        1,
        1,
    )
    held = {s: spans(s) for s in ("S001", "S002", "S003")}
    audits = db.session.scalar(select(func.count(AuditLog.id)).where(AuditLog.action.like("staff.%")))
    again = import_staff(text)
    assert (
        again["staff_created"],
        again["postings_added"],
        again["postings_closed"],
        again["unchanged"],
    ) == (
        0,
        0,
        0,
        3,
    )
    assert {s: spans(s) for s in ("S001", "S002", "S003")} == held
    assert db.session.scalar(select(func.count(AuditLog.id)).where(AuditLog.action.like("staff.%"))) == audits
    assert db.session.scalar(select(func.count(Posting.id))) == 4


def test_a_posting_inside_a_later_one_is_refused(two_units):
    from services.imports import ImportRejected, import_file

    import_staff("S001,张三,U02,W,5,2024-03-01,\n")
    with pytest.raises(ImportRejected) as info:
        import_file("staff", "s.csv", (STAFF_HEADER + "S001,张三,U01,W,2,2024-02-01,\n").encode())
    db.session.rollback()
    assert [str(e) for e in info.value.errors] == [
        "第2行 start_date: 与已有岗位(测试单位U02,2024-03-01 至 今)时间重叠"
    ]
    with pytest.raises(ImportRejected) as info:
        import_file("staff", "s.csv", (STAFF_HEADER + "S001,张三,U01,W,2,2024-03-01,\n").encode())
    db.session.rollback()
    assert "同一开始日期只能有一个岗位" in str(info.value.errors[0])


def test_d13_reads_the_roster_a_file_updated(two_units, make):
    """Three window handovers in one ISO week, all from one file: one D13 proposal (rulebook.md D13)."""
    from services import detections

    u1 = two_units[0]
    make.staff(u1, "S003", "王五", "W", "3", start=date(2024, 1, 2))
    summary = import_staff(
        "S001,张三,U01,W,1,2024-01-02,2024-03-04\n"  # leaves window 1 (a new end date)
        "S101,赵一,U01,W,1,2024-03-05,\n"
        "S002,李四,U02,W,5,2024-03-06,\n"  # moves away: window 2's posting ends on 03-05
        "S102,钱二,U01,W,2,2024-03-06,\n"
        "S003,王五,U01,W,3,2024-01-02,2024-03-06\n"
        "S103,孙三,U01,W,3,2024-03-07,\n"
    )
    assert summary["postings_closed"] == 3 and summary["staff_created"] == 3
    found, _unknown = detections.proposals(2024, 3, rules=("D13",))
    assert [(p.key, p.occurred_at.date()) for p in found] == [("D13:U01:2024-W10", date(2024, 3, 7))]
    assert "更换窗口人员 3 名" in found[0].reason
