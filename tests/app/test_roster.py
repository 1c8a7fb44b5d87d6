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
