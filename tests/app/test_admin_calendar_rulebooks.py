"""The working-day calendar grid (htmx toggles a day's cell), clock-in device outages, and the rulebook pages
with a new version made from an old one."""

from __future__ import annotations

from datetime import date

from sqlalchemy import func, select

from models import AuditLog, CalendarDay, ClockOutage, RulebookVersion, db
from services.rulebooks import as_rulebook, by_key, rulebook_for_month

HX = {"HX-Request": "true"}


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def test_calendar_grid_marks_weekdays_and_weekends(client, login):
    db.session.add(CalendarDay(day=date(2024, 4, 4), kind="holiday", note="清明节"))
    db.session.add(CalendarDay(day=date(2024, 4, 7), kind="workday", note="调休"))
    db.session.commit()
    login("admin")
    html = client.get("/admin/calendar?year=2024&month=4").get_data(as_text=True)
    assert "工作日历 2024年4月" in html
    # April 2024 starts on a Monday: the grid has no padding before it.
    assert html.index('id="day-2024-04-01"') < html.index('id="day-2024-04-02"')
    assert 'id="day-2024-03-31"' not in html
    cell = html[html.index('id="day-2024-04-04"') : html.index('id="day-2024-04-05"')]
    assert "节假日" in cell and "清明节" in cell and "恢复" in cell
    cell = html[html.index('id="day-2024-04-06"') : html.index('id="day-2024-04-07"')]
    assert "休息日" in cell and "设为调休上班" in cell
    cell = html[html.index('id="day-2024-04-07"') : html.index('id="day-2024-04-08"')]
    assert "调休上班" in cell and "mark-workday" in cell


def test_toggle_a_day_with_htmx(client, login):
    login("admin")
    response = client.post("/admin/calendar/days/2024-05-01", data={"note": "劳动节"}, headers=HX)
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert html.lstrip().startswith('<td id="day-2024-05-01"') and "节假日" in html and "劳动节" in html
    assert db.session.get(CalendarDay, date(2024, 5, 1)).kind == "holiday"
    response = client.post("/admin/calendar/days/2024-05-11", data={"note": ""}, headers=HX)
    assert "调休上班" in response.get_data(as_text=True)
    assert db.session.get(CalendarDay, date(2024, 5, 11)).kind == "workday"
    # A second click puts the day back to normal.
    html = client.post("/admin/calendar/days/2024-05-01", headers=HX).get_data(as_text=True)
    assert "工作日" in html and "设为节假日" in html
    assert db.session.get(CalendarDay, date(2024, 5, 1)) is None
    actions = list(
        db.session.scalars(
            select(AuditLog.action).where(AuditLog.action.like("calendar.%")).order_by(AuditLog.id)
        )
    )
    assert actions == ["calendar.set", "calendar.set", "calendar.clear"]


def test_toggle_without_javascript_redirects_back(client, login):
    login("admin")
    response = client.post("/admin/calendar/days/2024-05-01", data={"note": "劳动节"})
    assert response.status_code == 302 and "year=2024&month=5" in response.headers["Location"]


def test_bad_calendar_input(client, login):
    login("admin")
    response = client.post("/admin/calendar/days/2024-05-01", data={"note": "长" * 101}, headers=HX)
    assert response.status_code == 422 and "备注不能超过 100 个字符" in response.get_data(as_text=True)
    assert client.post("/admin/calendar/days/2024-02-30", headers=HX).status_code == 404
    assert client.post("/admin/calendar/days/yesterday").status_code == 404
    assert count(CalendarDay) == 0
    html = client.get("/admin/calendar?year=2024&month=13").get_data(as_text=True)
    assert "年份或月份无效" in html and "工作日历 2024年3月" in html


def test_outages(client, login):
    login("admin")
    data = {"start_at": "2024-03-11T08:00", "end_at": "2024-03-11T12:00", "note": "指纹机断电"}
    assert client.post("/admin/calendar/outages", data=data).status_code == 302
    outage = db.session.scalar(select(ClockOutage))
    assert outage.start_at.hour == 0 and outage.start_at.tzinfo is not None  # 08:00 hall time is 00:00 UTC
    html = client.get("/admin/calendar?year=2024&month=3").get_data(as_text=True)
    assert "2024-03-11 08:00" in html and "指纹机断电" in html
    for bad, message in [
        ({**data, "end_at": "2024-03-11T07:00"}, "故障结束时间必须晚于开始时间"),
        ({**data, "start_at": "not a time"}, "不是有效的日期与时间值"),
        ({**data, "end_at": ""}, "请填写结束时间"),
    ]:
        response = client.post("/admin/calendar/outages", data=bad)
        assert response.status_code == 422 and message in response.get_data(as_text=True)
    assert count(ClockOutage) == 1


def test_rulebook_pages_read_every_rule_and_setting(client, login):
    login("inspector")
    html = client.get("/admin/rulebooks").get_data(as_text=True)
    assert "anshan-2023" in html and "2023-04-19" in html and "现行" in html
    assert "以此为基础新建版本" not in html
    html = client.get("/admin/rulebooks/anshan-2023").get_data(as_text=True)
    assert "修改细则从不改变过去" in html
    rulebook = rulebook_for_month(2024, 3)
    for rule in rulebook.rules:
        assert f'id="rule-{rule.code}"' in html
    assert "值守窗口纪律" in html and "加分项目" in html
    assert "书面通报并要求反馈" in html and "取消当季评优资格" in html
    assert "每月加分上限" in html and "08:25-08:30" in html and "08:30-11:30;13:00-17:00" in html
    # The rule roles are read from the rulebook, and the settings about a role name its rule.
    assert "限期整改的规则" in html and "D19a 未按要求进驻事项" in html
    assert "每月旷工次数超过此数,书面通报(D02c)" in html
    assert client.get("/admin/rulebooks/no-such").status_code == 404
    assert client.get("/admin/rulebooks/anshan-2023/new").status_code == 403


def new_version_form(**changes) -> dict:
    rulebook = rulebook_for_month(2024, 3)
    data = {"key": "anshan-2024", "title": "2024年修订版", "effective_from": "2024-04-01"}
    for rule in rulebook.rules:
        data[f"points_{rule.code}"] = str(rule.points)
        data[f"flags_{rule.code}"] = list(rule.flags)
    settings = rulebook.settings
    data.update(
        {
            "setting_base_score": "100",
            "setting_bonus_cap": "20",
            "setting_excellent_above": "90",
            "setting_good_from": "80",
            "setting_qualified_from": "60",
            "setting_replace_staff_min_unqualified": "2",
            "setting_d02c_escalation_above": "2",
            "setting_d02c_escalation_flag": "notice_feedback",
            "setting_d13_week_above": "2",
            "setting_d13_month_above": "3",
            "setting_clock_in_morning": "08:25-08:30",
            "setting_clock_in_evening": "16:55-17:00",
            "setting_hall_hours": "08:30-11:30;13:00-17:00",
            "setting_appeal_working_days": str(settings.appeal_working_days),
            "setting_notice_answer_working_days": str(settings.notice_answer_working_days),
            "setting_unqualified_flag": "quarter_ineligible",
        }
    )
    data.update(changes)
    return data


def test_new_version_from_the_current_one(client, login):
    login("admin")
    form = client.get("/admin/rulebooks/anshan-2023/new").get_data(as_text=True)
    assert 'name="points_D01" ' in form and 'value="2"' in form and "修改细则从不改变过去" in form
    assert 'value="2024-04-01"' in form and "最早可选 2024-04-01" in form
    assert 'name="setting_escalation_rule"' not in form  # roles are the base's, not typed
    data = new_version_form(
        points_D01="3",
        flags_D01=["notice_feedback"],
        setting_bonus_cap="15",
        setting_clock_in_morning="08:20-08:30",
    )
    response = client.post("/admin/rulebooks/anshan-2023/new", data=data)
    assert response.status_code == 302, response.get_data(as_text=True)
    new = as_rulebook(by_key("anshan-2024"))
    assert new.rule("D01").points == 3 and new.rule("D01").flags == ("notice_feedback",)
    assert (
        new.rule("D02c").points == 5 and new.rule("D01").text == rulebook_for_month(2024, 3).rule("D01").text
    )
    assert new.settings.bonus_cap == 15 and new.settings.clock_in_morning == ("08:20", "08:30")
    assert new.effective_from == date(2024, 4, 1)
    # March keeps the old version; April takes the new one.
    assert (
        rulebook_for_month(2024, 3).key == "anshan-2023" and rulebook_for_month(2024, 4).key == "anshan-2024"
    )
    assert db.session.scalar(select(AuditLog.action).order_by(AuditLog.id.desc())) == "rulebook.publish"
    html = client.get("/admin/rulebooks").get_data(as_text=True)
    assert "待生效" in html and "anshan-2024" in html


BAD_VERSIONS = [
    ({"key": "anshan-2023"}, "该版本号已存在"),
    ({"key": "空 格"}, "版本号只能用字母、数字"),
    ({"effective_from": "2023-01-01"}, "最早 2024-04-01"),
    ({"effective_from": "2024-03-01"}, "最早 2024-04-01"),
    ({"effective_from": "2024-04-02"}, "新版本只能从以后某个月的1日起生效"),
    ({"effective_from": "2024-02-31"}, "不是有效的日期值"),
    ({"points_D01": "-1"}, "分值须为 0 至 100 的整数"),
    ({"points_D01": "2.5"}, "不是有效的整数"),
    ({"points_D01": ""}, "请填写分值"),
    ({"flags_D01": ["no_such_flag"]}, "不是有效的选择"),
    ({"setting_clock_in_morning": "8点25"}, "时间段格式应为 HH:MM-HH:MM"),
    ({"setting_clock_in_morning": "08:30-08:25"}, "时间段的开始不能晚于结束"),
    ({"setting_hall_hours": ""}, "请填写时间段"),
    ({"setting_good_from": "95"}, "必须依次不减"),
    ({"setting_unqualified_flag": "x"}, "不是有效的选择"),
    ({"title": ""}, "请填写标题"),
]


def test_bad_new_version(client, login):
    login("admin")
    for changes, message in BAD_VERSIONS:
        response = client.post("/admin/rulebooks/anshan-2023/new", data=new_version_form(**changes))
        assert response.status_code == 422, changes
        assert message in response.get_data(as_text=True), changes
    assert count(RulebookVersion) == 1
