"""Notifications: the units' portal inbox, the header's unread count, the deadline reminders and the
bulletin's read receipts (issue 9 item 10). Today is Wednesday 2024-03-20 (conftest)."""

from __future__ import annotations

import uuid
from datetime import date, datetime

import pytest
from flask import g
from sqlalchemy import func, select

from models import BulletinRead, CalendarDay, Incident, IncidentStatus, Notification, NotificationRead, db
from services import detections, incidents, months
from services.clock import from_hall
from services.notifications import notify_due_deadlines, notify_unit
from tests.conftest import PASSWORD
from tests.html import parse


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def titles(unit_id: int | None = None) -> list[str]:
    query = select(Notification.title).order_by(Notification.id)
    if unit_id is not None:
        query = query.where(Notification.unit_id == unit_id)
    return list(db.session.scalars(query))


def sign_in(client, user) -> None:
    g.pop("_login_user", None)
    client.post("/logout")
    response = client.post("/login", data={"username": user.username, "password": PASSWORD})
    assert response.status_code == 302
    g.pop("_login_user", None)


@pytest.fixture
def hall(make):
    mine = make.unit("U01", name="市税务局")
    other = make.unit("U02", name="市社保中心")
    return {"mine": mine, "other": other}


# ------------------------------------------------------------------ notify_unit


def test_notify_unit_adds_a_row_and_a_key_makes_it_idempotent(app, make):
    unit = make.unit()
    assert notify_unit(unit.id, "notice", "整改通知书", "/portal/x")
    assert notify_unit(unit.id, "deadline", "整改期限将至", key="deadline:incident:1")
    assert not notify_unit(unit.id, "deadline", "整改期限将至", key="deadline:incident:1")
    db.session.commit()
    rows = db.session.scalars(select(Notification).order_by(Notification.id)).all()
    assert [(r.kind, r.title, r.link) for r in rows] == [
        ("notice", "整改通知书", "/portal/x"),
        ("deadline", "整改期限将至", None),
    ]
    with pytest.raises(ValueError):
        notify_unit(unit.id, "no-such-kind", "x")


# ------------------------------------------------------------------ what raises one


def test_a_confirmed_item_reaches_its_units_inbox_only(app, make, hall):
    incident = make.incident(hall["mine"], "D01", at=datetime(2024, 3, 5, 9, 0))
    [row] = db.session.scalars(select(Notification)).all()
    assert row.unit_id == hall["mine"].id and row.kind == "incident"
    assert row.title.startswith("新增扣分记录:D01 ") and row.title.endswith("(3月5日)")
    assert row.link == f"/portal/items/{incident.id}"
    assert titles(hall["other"].id) == []


def test_a_bonus_says_bonus(app, make, hall):
    make.incident(hall["mine"], "B01", at=datetime(2024, 3, 6, 9, 0))
    assert titles()[0].startswith("新增加分记录:B01 ")


def test_a_proposal_is_not_notified_until_it_is_confirmed(app, make, hall):
    proposal = incidents.create(
        hall["mine"],
        "D16",
        from_hall(datetime(2024, 3, 19, 9, 0)),
        status=IncidentStatus.PROPOSED,
        source="detect",
    )
    db.session.commit()
    assert count(Notification) == 0
    detections.confirm_many([proposal.id])
    db.session.commit()
    assert titles(hall["mine"].id) == [titles()[0]] and titles()[0].startswith("新增扣分记录:D16")
    assert db.session.scalar(select(Notification.link)) == f"/portal/items/{proposal.id}"


def test_a_dismissed_proposal_is_never_notified(app, make, hall):
    proposal = incidents.create(
        hall["mine"],
        "D16",
        from_hall(datetime(2024, 3, 19, 9, 0)),
        status=IncidentStatus.PROPOSED,
        source="detect",
    )
    detections.dismiss_many([proposal.id], "打卡机故障")
    db.session.commit()
    assert count(Notification) == 0


def test_a_patrol_tap_undone_within_its_minute_takes_its_notification_back(client, login, make, hall):
    login("inspector")
    data = {
        "unit_id": hall["mine"].id,
        "window": "1",
        "rule_code": "D01",
        "date": "2024-03-20",
        "client_key": str(uuid.uuid4()),
    }
    assert client.post("/admin/patrol/tap", data=data, headers={"HX-Request": "true"}).status_code == 200
    make.incident(hall["mine"], "D02a", at=datetime(2024, 3, 19, 9, 0))  # another item: it stays
    tapped = db.session.scalar(select(Incident).where(Incident.rule_code == "D01"))
    assert len(titles(hall["mine"].id)) == 2
    response = client.post(
        "/admin/patrol/undo", data={"incident_id": tapped.id}, headers={"HX-Request": "true"}
    )
    assert response.status_code == 200
    [left] = titles(hall["mine"].id)
    assert left.startswith("新增扣分记录:D02a")


def test_publishing_a_month_notifies_every_active_unit(app, make, hall):
    make.unit("U03", name="已撤出单位", active=False)
    months.close(2024, 2)
    db.session.commit()
    assert count(Notification) == 0  # closing tells nobody: the bulletin is not issued yet
    months.publish(2024, 2)
    db.session.commit()
    rows = db.session.execute(
        select(Notification.unit_id, Notification.kind, Notification.title, Notification.link)
    ).all()
    assert sorted(rows) == sorted(
        [
            (u.id, "bulletin", "2024年2月考核通报已发布", "/portal/months/2024-02")
            for u in (hall["mine"], hall["other"])
        ]
    )


# ------------------------------------------------------------------ deadline reminders


def rectification(unit, deadline: date, **kwargs) -> Incident:
    from tests.conftest import Factory

    return Factory().incident(unit, "D19a", at=datetime(2024, 3, 4, 9, 0), deadline=deadline, **kwargs)


def deadline_titles() -> list[str]:
    return list(db.session.scalars(select(Notification.title).where(Notification.kind == "deadline")))


def test_a_deadline_two_working_days_away_is_reminded_once(app, make, hall):
    friday = rectification(hall["mine"], date(2024, 3, 22))  # Wed 20th + 2 working days
    rectification(hall["mine"], date(2024, 3, 25))  # Monday: three working days away
    rectification(hall["other"], date(2024, 3, 20))  # due today: too late to remind "two days before"
    rectification(hall["other"], date(2024, 3, 21), rectified_on=date(2024, 3, 8))  # already rectified
    assert notify_due_deadlines(date(2024, 3, 20)) == 1
    db.session.commit()
    assert deadline_titles() == ["整改期限将至:D19a 须于3月22日前整改完毕"]
    row = db.session.scalar(select(Notification).where(Notification.kind == "deadline"))
    assert row.unit_id == hall["mine"].id and row.link == f"/portal/items/{friday.id}"
    # Run again the same day, and the next day: still one reminder for that deadline.
    assert notify_due_deadlines(date(2024, 3, 20)) == 0
    assert notify_due_deadlines(date(2024, 3, 21)) == 1  # Thursday: Monday's deadline is now 2 days away
    db.session.commit()
    assert deadline_titles() == [
        "整改期限将至:D19a 须于3月22日前整改完毕",
        "整改期限将至:D19a 须于3月25日前整改完毕",
    ]


def test_a_holiday_pushes_the_window_and_a_make_up_working_day_pulls_it(app, make, hall):
    rectification(hall["mine"], date(2024, 3, 25))  # Monday
    # Wednesday 20th: Thursday and Friday are working days, so Monday is three away: no reminder.
    assert notify_due_deadlines(date(2024, 3, 20)) == 0
    # With Thursday a holiday, the second working day after Wednesday is Monday: reminded.
    db.session.add(CalendarDay(day=date(2024, 3, 21), kind="holiday", note="调休"))
    db.session.commit()
    assert notify_due_deadlines(date(2024, 3, 20)) == 1
    db.session.commit()

    rectification(hall["other"], date(2024, 3, 26))  # Tuesday
    # Friday 22nd: Monday and Tuesday are the next two working days: reminded on Friday.
    assert notify_due_deadlines(date(2024, 3, 22)) == 1
    db.session.commit()
    rectification(hall["other"], date(2024, 4, 1), public_text="下周一")  # Monday 1 April
    # Thursday 28th: Friday, then Monday; with Saturday a make-up working day, Friday and Saturday: not yet.
    db.session.add(CalendarDay(day=date(2024, 3, 30), kind="workday", note="补班"))
    db.session.commit()
    assert notify_due_deadlines(date(2024, 3, 28)) == 0
    assert notify_due_deadlines(date(2024, 3, 29)) == 1  # Friday: Saturday (make-up), Monday
    db.session.commit()


def test_a_changed_deadline_is_reminded_again(app, make, hall):
    incident = rectification(hall["mine"], date(2024, 3, 22))
    assert notify_due_deadlines(date(2024, 3, 20)) == 1
    incidents.correct(incident, {"deadline": date(2024, 3, 21)}, "期限提前")
    assert notify_due_deadlines(date(2024, 3, 20)) == 1
    db.session.commit()
    assert deadline_titles() == [
        "整改期限将至:D19a 须于3月22日前整改完毕",
        "整改期限将至:D19a 须于3月21日前整改完毕",
    ]


def test_a_rectification_reported_and_waiting_for_the_admin_is_not_reminded(app, make, hall):
    from models.appeal import RectificationReport, RequestStatus

    incident = rectification(hall["mine"], date(2024, 3, 22))
    report = RectificationReport(
        incident_id=incident.id, unit_id=hall["mine"].id, kind="report", rectified_on=date(2024, 3, 18)
    )
    db.session.add(report)
    db.session.commit()
    assert notify_due_deadlines(date(2024, 3, 20)) == 0
    report.status = RequestStatus.REJECTED  # turned down: the deadline stands, and is reminded
    db.session.commit()
    assert notify_due_deadlines(date(2024, 3, 20)) == 1


def test_a_notice_to_answer_is_reminded_until_answered_or_withdrawn(app, make, hall):
    from models.notice import Notice

    def notice(unit, flag, deadline, **kwargs):
        row = Notice(
            unit_id=unit.id,
            year=2024,
            month=2,
            flag=flag,
            reasons=[],
            opened_on=date(2024, 3, 1),
            deadline=deadline,
            **kwargs,
        )
        db.session.add(row)
        return row

    due = notice(hall["mine"], "notice_feedback", date(2024, 3, 22))
    notice(
        hall["mine"], "replace_staff", date(2024, 3, 22), answered_at=from_hall(datetime(2024, 3, 19, 9, 0))
    )
    notice(
        hall["other"], "notice_feedback", date(2024, 3, 22), withdrawn_at=from_hall(datetime(2024, 3, 19, 9))
    )
    notice(hall["other"], "replace_staff", date(2024, 3, 26))  # three working days away
    db.session.commit()
    assert notify_due_deadlines(date(2024, 3, 20)) == 1
    db.session.commit()
    row = db.session.scalar(select(Notification).where(Notification.kind == "deadline"))
    assert row.title == "书面通报反馈期限将至:2024年2月的通报须于3月22日前反馈"
    assert (row.unit_id, row.link) == (hall["mine"].id, f"/portal/notices/{due.id}")
    assert notify_due_deadlines(date(2024, 3, 21)) == 0  # Thursday: Tuesday is still three working days away
    assert notify_due_deadlines(date(2024, 3, 22)) == 1  # Friday: Monday, then Tuesday
    assert notify_due_deadlines(date(2024, 3, 22)) == 0


def test_the_cli_command_reminds_once_and_refuses_a_bad_day(app, runner, make, hall):
    rectification(hall["mine"], date(2024, 3, 22))
    result = runner.invoke(args=["notify-deadlines"])
    assert result.exit_code == 0, result.output
    assert "2024-03-20:发出期限提醒 1 条" in result.output
    again = runner.invoke(args=["notify-deadlines", "--day", "2024-03-20"])
    assert "发出期限提醒 0 条" in again.output
    assert len(deadline_titles()) == 1
    bad = runner.invoke(args=["notify-deadlines", "--day", "2024-02-30"])
    assert bad.exit_code != 0 and "日期 2024-02-30 无效" in bad.output
    assert len(deadline_titles()) == 1


# ------------------------------------------------------------------ the inbox


def test_the_header_counts_unread_and_the_inbox_lists_newest_first(client, login, make, hall):
    user = login("unit", unit=hall["mine"])
    page = parse(client.get("/portal/").get_data(as_text=True))
    assert page.all("#inbox-unread") == []  # nothing unread: no badge
    assert page.text_of("inbox-nav") == "消息"

    first = make.incident(hall["mine"], "D01", at=datetime(2024, 3, 5, 9, 0))
    make.incident(hall["other"], "D02a", at=datetime(2024, 3, 5, 9, 0))
    notify_unit(hall["mine"].id, "appeal_decided", "申诉已处理:维持", "/portal/")
    db.session.commit()

    page = parse(client.get("/portal/").get_data(as_text=True))
    assert page.text_of("inbox-unread") == "2"
    html = client.get("/portal/inbox").get_data(as_text=True)
    inbox = parse(html)
    rows = inbox.all("#inbox-list li")
    assert [r.text for r in rows][0].endswith("申诉已处理:维持")
    assert "申诉结果" in rows[0].text and "未读" in rows[0].text
    assert "D01" in rows[1].text and "D02a" not in html  # the other unit's item is not here
    assert "共 2 条,未读 2 条" in inbox.text_of("inbox")

    # Opening one marks it read for this user and goes on to what it is about.
    item_id = db.session.scalar(
        select(Notification.id).where(Notification.link == f"/portal/items/{first.id}")
    )
    response = client.get(f"/portal/inbox/{item_id}")
    assert response.status_code == 302 and response.headers["Location"] == f"/portal/items/{first.id}"
    inbox = parse(client.get("/portal/inbox").get_data(as_text=True))
    assert inbox.text_of("inbox-unread") == "1"
    assert "共 2 条,未读 1 条" in inbox.text_of("inbox")
    read_row = inbox.one("#inbox-list li.read")
    assert "D01" in read_row.text and "未读" not in read_row.text
    assert db.session.scalar(select(NotificationRead.user_id)) == user.id


def test_read_state_is_per_user_and_read_all_marks_the_rest(client, make, hall):
    first = make.user("unit", username="unit-a", unit=hall["mine"])
    second = make.user("unit", username="unit-b", unit=hall["mine"])
    for i in range(3):
        notify_unit(hall["mine"].id, "notice", f"书面通报{i}")
    db.session.commit()
    sign_in(client, first)
    response = client.post("/portal/inbox/read-all", follow_redirects=True)
    page = parse(response.get_data(as_text=True))
    assert "已将 3 条消息标为已读" in response.get_data(as_text=True)
    assert page.all("#inbox-unread") == [] and len(page.all("#inbox-list li.read")) == 3
    again = client.post("/portal/inbox/read-all", follow_redirects=True).get_data(as_text=True)
    assert "没有未读消息" in again and count(NotificationRead) == 3

    sign_in(client, second)
    page = parse(client.get("/portal/inbox").get_data(as_text=True))
    assert page.text_of("inbox-unread") == "3" and len(page.all("#inbox-list li.unread")) == 3


def test_the_inbox_pages_in_the_database(client, login, hall):
    login("unit", unit=hall["mine"])
    for i in range(25):
        notify_unit(hall["mine"].id, "notice", f"第{i:02d}条")
    db.session.commit()
    first = parse(client.get("/portal/inbox").get_data(as_text=True))
    rows = first.all("#inbox-list li")
    assert len(rows) == 20 and rows[0].text.endswith("第24条") and rows[-1].text.endswith("第05条")
    second = parse(client.get("/portal/inbox?page=2").get_data(as_text=True))
    assert [r.text[-4:] for r in second.all("#inbox-list li")] == [f"第{i:02d}条" for i in range(4, -1, -1)]
    # A page that is not a number is the first; one past the end says so; none of them is a 500.
    assert len(parse(client.get("/portal/inbox?page=abc").get_data(as_text=True)).all("#inbox-list li")) == 20
    for page in ("3", "99999999999999999999999", "-4"):
        response = client.get(f"/portal/inbox?page={page}")
        assert response.status_code == 200
    assert "没有这一页" in client.get("/portal/inbox?page=99999999999999999999999").get_data(as_text=True)


def test_an_empty_inbox_says_what_will_arrive(client, login, hall):
    login("unit", unit=hall["mine"])
    page = parse(client.get("/portal/inbox").get_data(as_text=True))
    assert "暂无消息" in page.text_of("inbox-empty")


def test_another_units_notification_is_404_and_stays_unread(client, login, make, hall):
    login("unit", unit=hall["mine"])
    make.incident(hall["other"], "D01")
    theirs = db.session.scalar(select(Notification.id))
    response = client.get(f"/portal/inbox/{theirs}")
    assert response.status_code == 404
    assert count(NotificationRead) == 0
    assert client.get("/portal/inbox/99999999999999999999").status_code == 404


def test_a_link_off_the_site_is_not_followed(client, login, hall):
    login("unit", unit=hall["mine"])
    notify_unit(hall["mine"].id, "notice", "外部链接", "//evil.example/x")
    db.session.commit()
    row_id = db.session.scalar(select(Notification.id))
    response = client.get(f"/portal/inbox/{row_id}")
    assert response.headers["Location"] == "/portal/inbox"


def test_staff_have_no_inbox_badge(client, login, hall):
    login("admin")
    html = client.get("/admin/").get_data(as_text=True)
    assert 'id="inbox-nav"' not in html
    assert client.get("/portal/inbox").status_code == 403


# ------------------------------------------------------------------ bulletin read receipts


def published(hall, make):
    make.incident(hall["mine"], "D01", at=datetime(2024, 2, 5, 9, 0))
    months.close(2024, 2)
    months.publish(2024, 2)
    db.session.commit()


def test_opening_the_bulletin_is_the_units_receipt(client, login, make, hall):
    published(hall, make)
    user = login("unit", unit=hall["mine"])
    assert client.get("/portal/months/2024-02").status_code == 200
    client.get("/portal/months/2024-02")  # a second opening changes nothing
    [receipt] = db.session.scalars(select(BulletinRead)).all()
    assert (receipt.unit_id, receipt.user_id) == (hall["mine"].id, user.id)
    # The month under way (live, not a bulletin) leaves no receipt.
    client.get("/portal/months/2024-03")
    assert count(BulletinRead) == 1


def test_opening_the_bulletin_document_is_a_receipt_too(client, login, make, hall):
    published(hall, make)
    login("unit", unit=hall["mine"])
    response = client.get("/portal/months/2024-02/bulletin")
    assert response.status_code == 200 and "市税务局" in response.get_data(as_text=True)
    assert db.session.scalar(select(BulletinRead.unit_id)) == hall["mine"].id


def test_admins_and_leaders_see_which_units_have_not_read_it(client, login, make, hall):
    published(hall, make)
    make.user("unit", username="unit-other", unit=hall["other"])
    login("unit", unit=hall["mine"], username="unit-mine")
    client.get("/portal/months/2024-02")

    login("leader")
    html = client.get("/admin/months/2024-02/receipts").get_data(as_text=True)
    page = parse(html)
    assert "共 2 个单位,已读 1 个,未读 1 个" in page.text_of("receipts-summary")
    assert page.text_of("receipts-unread") == "市社保中心"
    read = page.one("#receipts-table tr[data-unit=U01]")
    assert "已读" in read.text and "unit-mine" in read.text and "2024-03-20 10:00" in read.text
    assert "未读" in page.one("#receipts-table tr[data-unit=U02]").text

    months_page = client.get("/admin/months").get_data(as_text=True)
    assert "/admin/months/2024-02/receipts" in months_page
    bulletin = parse(client.get("/admin/months/2024-02/bulletin").get_data(as_text=True))
    assert bulletin.one("#bulletin-receipts").attrs["href"] == "/admin/months/2024-02/receipts"


def test_receipts_of_a_month_not_published_and_of_a_republished_month(client, login, make, hall):
    published(hall, make)
    login("unit", unit=hall["mine"])
    client.get("/portal/months/2024-02")
    assert count(BulletinRead) == 1
    months.reopen(2024, 2, "更正一条记录")
    db.session.commit()
    login("admin")
    page = parse(client.get("/admin/months/2024-02/receipts").get_data(as_text=True))
    assert "尚未发布" in page.text_of("receipts-unpublished")
    assert client.get("/admin/months/2024-13/receipts").status_code == 404
    months.close(2024, 2)
    months.publish(2024, 2)  # published again: the units are told again and read it afresh
    db.session.commit()
    assert count(BulletinRead) == 0
    assert titles(hall["mine"].id).count("2024年2月考核通报已发布") == 2


def test_an_inspector_cannot_see_receipts(client, login, make, hall):
    published(hall, make)
    login("inspector")
    assert client.get("/admin/months/2024-02/receipts").status_code == 403
    bulletin = client.get("/admin/months/2024-02/bulletin").get_data(as_text=True)
    assert "考核通报" in bulletin and "bulletin-receipts" not in bulletin


# ------------------------------------------------------------------ the demo hall


def test_the_demo_hall_shows_inboxes_and_receipts(runner, client, app):
    from models import Month, Unit, User

    result = runner.invoke(args=["demo", "--if-empty"])
    assert result.exit_code == 0, result.output
    unit1 = db.session.scalar(select(User).where(User.username == "unit1"))
    unit2 = db.session.scalar(select(User).where(User.username == "unit2"))
    latest = db.session.scalar(
        select(Month).where(Month.status == "published").order_by(Month.year.desc(), Month.month.desc())
    )
    # Every notification dated when its event happened: the latest bulletin at its publication.
    bulletin = db.session.scalar(
        select(Notification).where(
            Notification.unit_id == unit1.unit_id, Notification.link == f"/portal/months/{latest.label}"
        )
    )
    assert bulletin.created_at == latest.published_at
    # A notice's message names the deadline the notice itself shows (the demo dates notices back).
    from models.notice import Notice

    notice_messages = list(db.session.scalars(select(Notification).where(Notification.kind == "notice")))
    assert notice_messages
    for message in notice_messages:
        notice = db.session.get(Notice, int(message.link.rsplit("/", 1)[1]))
        assert f"请于 {notice.deadline.isoformat()} 前反馈" in message.title
        assert message.created_at == notice.created_at

    client.post("/login", data={"username": "unit1", "password": "unit123"})
    page = parse(client.get("/portal/inbox").get_data(as_text=True))
    assert int(page.text_of("inbox-unread")) > 0
    assert page.all("#inbox-list li.read") or page.all("#inbox-list li.unread")
    kinds = {li.attrs.get("data-kind") for li in page.all("#inbox-list li")}
    assert kinds  # newest first: whatever happened last in the demo's story

    client.post("/logout")
    client.post("/login", data={"username": "leader", "password": "leader123"})
    receipts = parse(client.get(f"/admin/months/{latest.label}/receipts").get_data(as_text=True))
    unit2_name = db.session.get(Unit, unit2.unit_id).name
    assert unit2_name in receipts.text_of("receipts-unread")
    assert (
        "已读"
        in receipts.one(f"#receipts-table tr[data-unit={db.session.get(Unit, unit1.unit_id).code}]").text
    )
