"""Detections from the database: D16 with the calendar, leave and outages; D13 from the roster; reruns."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import pytest
from sqlalchemy import func, select

from models import CalendarDay, ClockOutage, ClockPunch, Incident, IncidentStatus, Leave, Staff, db
from services import DomainError, detections, months, roster
from services.clock import from_hall
from services.standings import standings_json

# Today is pinned to 2024-03-20 10:00: the morning window of the 20th is over, the evening one is not.
MISSING = {
    (date(2024, 3, 4), "am"),
    (date(2024, 3, 5), "am"),
    (date(2024, 3, 5), "pm"),
    (date(2024, 3, 6), "pm"),
}


def punch(staff_id: str, at: datetime) -> None:
    db.session.add(ClockPunch(staff_id=staff_id, punched_at=from_hall(at)))


@pytest.fixture
def clocked(make):
    """C staff S002 at U01; punches every weekday of March up to today, but for MISSING. The 8th (a Friday)
    is a holiday and the 9th (a Saturday) a make-up working day without punches."""
    unit = make.unit("U01", windows="1;2")
    make.staff(unit, "S001", category="W", window="1", start=date(2024, 1, 2))
    make.staff(unit, "S002", category="C", window=None, start=date(2024, 1, 2))
    db.session.add(CalendarDay(day=date(2024, 3, 8), kind="holiday", note=""))
    db.session.add(CalendarDay(day=date(2024, 3, 9), kind="workday", note=""))
    day = date(2024, 3, 1)
    while day <= date(2024, 3, 20):
        if day.weekday() < 5:
            for half, at in (("am", time(8, 27, 40)), ("pm", time(16, 58))):
                if (day, half) in MISSING:
                    continue
                punch("S002", datetime.combine(day, at))
                punch("S002", datetime.combine(day, at) + timedelta(seconds=15))  # pressed twice: harmless
        day += timedelta(days=1)
    # Late by a minute, to the minute: 17:01 misses; 08:30:59 is in time; a lunch punch is harmless.
    punch("S002", datetime(2024, 3, 6, 17, 1))
    punch("S002", datetime(2024, 3, 7, 12, 0))
    db.session.commit()
    return unit


def keys() -> list[str]:
    return sorted(
        db.session.scalars(select(Incident.detection_key).where(Incident.detection_key.is_not(None)))
    )


def test_d16_with_holiday_and_make_up_day(clocked):
    result = detections.run(2024, 3)
    db.session.commit()
    assert result == {
        "month": "2024-03",
        "proposed": 6,
        "existing": 0,
        "confirmed": 0,
        "unknown_staff": [],
        "skipped_inactive": 0,
    }
    assert keys() == [
        "D16:S002:2024-03-04:am",
        "D16:S002:2024-03-05:am",
        "D16:S002:2024-03-05:pm",
        "D16:S002:2024-03-06:pm",
        "D16:S002:2024-03-09:am",
        "D16:S002:2024-03-09:pm",
    ]
    first = detections.pending(2024, 3)[0]
    assert first.status == IncidentStatus.PROPOSED and first.source == "detect"
    assert first.staff.staff_id == "S002" and first.rule_code == "D16"
    assert first.detection_reason.startswith("2024-03-04 上午 08:25–08:30 无打卡记录")
    assert "当日打卡:16:58" in first.detection_reason
    assert [h.action for h in first.history] == ["proposed"]
    # Proposed incidents do not count.
    assert standings_json(2024, 3)["units"][0]["score"] == 100


def test_rerun_and_dismissed_never_come_back(clocked):
    detections.run(2024, 3)
    db.session.commit()
    detections.dismiss_many([detections.pending(2024, 3)[0].id], "设备故障,已核实")
    db.session.commit()
    again = detections.run(2024, 3)
    db.session.commit()
    assert (again["proposed"], again["existing"]) == (0, 6)
    assert db.session.scalar(select(func.count(Incident.id))) == 6
    assert len(detections.pending()) == 5


def test_confirm_makes_them_count(clocked):
    detections.run(2024, 3)
    db.session.commit()
    pending = detections.pending(2024, 3)
    done = detections.confirm_many([i.id for i in pending[:2]])
    db.session.commit()
    assert len(done) == 2
    unit = standings_json(2024, 3)["units"][0]
    assert (unit["deductions"], unit["score"]) == (10, 90)
    # Confirming again (someone else did it meanwhile) changes nothing.
    assert detections.confirm_many([pending[0].id]) == []
    with pytest.raises(DomainError, match="驳回检测结果必须填写原因"):
        detections.dismiss_many([pending[2].id], " ")
    with pytest.raises(DomainError, match="请至少选择一条"):
        detections.confirm_many([])


def test_run_with_confirm(clocked):
    result = detections.run(2024, 3, confirm=True)
    db.session.commit()
    assert result["confirmed"] == 6 and detections.pending() == []
    assert standings_json(2024, 3)["units"][0]["score"] == 70


def test_leave_outage_and_unknown_staff(clocked):
    staff = db.session.scalar(select(Staff).where(Staff.staff_id == "S002"))
    db.session.add(Leave(staff_pk=staff.id, start_date=date(2024, 3, 5), end_date=date(2024, 3, 5)))
    db.session.add(
        ClockOutage(
            start_at=from_hall(datetime(2024, 3, 4, 8, 0)), end_at=from_hall(datetime(2024, 3, 4, 9, 0))
        )
    )
    punch("X9", datetime(2024, 3, 4, 8, 26))
    db.session.commit()
    result = detections.run(2024, 3)
    assert result["unknown_staff"] == ["X9"]
    assert keys() == ["D16:S002:2024-03-06:pm", "D16:S002:2024-03-09:am", "D16:S002:2024-03-09:pm"]


def test_closed_month_is_refused(clocked):
    months.close(2024, 2)
    db.session.commit()
    with pytest.raises(DomainError, match="2024年2月已关账,不能运行检测"):
        detections.run(2024, 2)


def test_future_days_are_not_flagged(make):
    unit = make.unit("U01")
    make.staff(unit, "S002", category="C", window=None, start=date(2024, 3, 18))
    detections.run(2024, 3)
    # 18th and 19th: both windows; 20th: only the morning window is over at 10:00.
    assert keys() == [
        "D16:S002:2024-03-18:am",
        "D16:S002:2024-03-18:pm",
        "D16:S002:2024-03-19:am",
        "D16:S002:2024-03-19:pm",
        "D16:S002:2024-03-20:am",
    ]
    assert detections.run(2024, 4)["proposed"] == 0


def test_d13_week_from_the_roster(make):
    unit = make.unit("U01", name="不动产登记中心", windows="1;2;3")
    for n in (1, 2, 3):
        make.staff(unit, f"S00{n}", window=str(n), start=date(2024, 1, 2))
    for n, day in ((1, date(2024, 3, 11)), (2, date(2024, 3, 12)), (3, date(2024, 3, 13))):
        old = db.session.scalar(select(Staff).where(Staff.staff_id == f"S00{n}"))
        roster.end_staff(old, day - timedelta(days=1))
        roster.add_staff(f"N00{n}", f"新人{n}", unit, "W", str(n), day)
    db.session.commit()
    result = detections.run(2024, 3, confirm=True)
    db.session.commit()
    assert result["proposed"] == 1 and result["confirmed"] == 1
    incident = db.session.scalar(select(Incident))
    assert incident.detection_key == "D13:U01:2024-W11" and incident.rule_code == "D13"
    assert incident.detection_reason.startswith("2024年第11周(2024-03-11–2024-03-17)更换窗口人员 3 名")
    assert "2024-03-13 窗口 3:S003 → N003" in incident.detection_reason
    unit_row = standings_json(2024, 3)["units"][0]
    assert unit_row["score"] == 95 and unit_row["flags"] == ["discipline_report", "quarter_ineligible"]
    # Two replacements in a week are not an occurrence; D16 alone leaves D13 out.
    assert detections.run(2024, 3, rules=("D16",))["existing"] == 0
    with pytest.raises(DomainError, match="只有 D13 和 D16"):
        detections.run(2024, 3, rules=("D01",))


def test_inactive_units_get_no_proposals(make):
    unit = make.unit("U01", active=False)
    make.staff(unit, "S002", category="C", window=None, start=date(2024, 3, 18))
    result = detections.run(2024, 3)
    assert result["proposed"] == 0 and result["skipped_inactive"] == 5
