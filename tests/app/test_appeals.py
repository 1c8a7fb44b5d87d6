"""Appeals (申诉, issue 9 item 2): the window in working days of the hall calendar, a unit appeals its own
confirmed deduction with a reason and photos, an admin upholds or voids once, the unit is told; the state
shows wherever the incident appears; a month with an undecided appeal is closed only when the admin says so;
the notice promises an appeal only where one is possible."""

from __future__ import annotations

import io
from datetime import date, datetime
from pathlib import Path

import pytest
from flask import g
from sqlalchemy import func, select

from models import Appeal, CalendarDay, Incident, Month, Notification, RequestFile, Role, db
from services import appeals, months
from services.clock import from_hall, to_hall
from tests import images
from tests.conftest import PASSWORD
from tests.html import parse

PNG = images.png()  # a real PNG: uploads are decoded


class Client:
    """A test client of its own user: the tests share one app context, so Flask-Login's user cached in `g`
    is dropped before and after each request (as tests/app/test_routes_matrix.py does)."""

    def __init__(self, app, user):
        self.client = app.test_client()
        response = self.open("/login", method="POST", data={"username": user.username, "password": PASSWORD})
        assert response.status_code == 302

    def open(self, *args, **kwargs):
        g.pop("_login_user", None)
        try:
            return self.client.open(*args, **kwargs)
        finally:
            g.pop("_login_user", None)

    def get(self, url, **kwargs):
        return self.open(url, method="GET", **kwargs)

    def post(self, url, **kwargs):
        return self.open(url, method="POST", **kwargs)


def sign_in(app, user) -> Client:
    return Client(app, user)


@pytest.fixture
def hall(app, make):
    mine = make.unit("U01", name="市税务局")
    theirs = make.unit("U02", name="市人社局")
    staff = make.staff(mine, "S001", name="李四")
    d01 = make.incident(mine, "D01", at=datetime(2024, 3, 19, 9, 0), staff=staff, public_text="迟到十分钟")
    return {
        "mine": mine,
        "theirs": theirs,
        "d01": d01,
        "bonus": make.incident(mine, "B01", at=datetime(2024, 3, 18, 9, 0), public_text="锦旗"),
        "other": make.incident(theirs, "D01", at=datetime(2024, 3, 19, 9, 0), public_text="他单位"),
        "unit": sign_in(app, make.user(Role.UNIT, username="unit-a", unit=mine)),
        "admin": sign_in(app, make.user(Role.ADMIN, username="admin-a")),
    }


def appeal_count() -> int:
    return db.session.scalar(select(func.count(Appeal.id)))


def post_appeal(client, incident_id, reason="当日经批准外出培训", files=((PNG, "请假单.png"),)):
    return client.post(
        f"/portal/items/{incident_id}/appeal",
        content_type="multipart/form-data",
        data={"reason": reason, "evidence": [(io.BytesIO(data), name) for data, name in files]},
    )


def test_the_window_counts_working_days_of_the_hall_calendar(app, hall):
    """Logged Wednesday 2024-03-20 with 3 working days: Mon 25th; with Thu 21st and Fri 22nd holidays, Wed
    27th; with Saturday 23rd a make-up working day as well, Tue 26th."""
    incident = hall["d01"]
    assert to_hall(incident.created_at).date() == date(2024, 3, 20)  # logged at the pinned HALL_NOW
    assert appeals.appeal_deadline(incident) == date(2024, 3, 25)
    db.session.add_all(
        [
            CalendarDay(day=date(2024, 3, 21), kind="holiday"),
            CalendarDay(day=date(2024, 3, 22), kind="holiday"),
        ]
    )
    db.session.commit()
    assert appeals.appeal_deadline(incident) == date(2024, 3, 27)
    db.session.add(CalendarDay(day=date(2024, 3, 23), kind="workday"))
    db.session.commit()
    assert appeals.appeal_deadline(incident) == date(2024, 3, 26)


def test_appeal_after_the_window_is_refused_and_the_notice_promises_nothing(app, hall, monkeypatch):
    incident = hall["d01"]
    notice = parse(hall["unit"].get(f"/portal/items/{incident.id}/notice").text)
    assert notice.text_of("notice-appeal") == "如对本通知有异议,可在 2024-03-25 前通过系统提出申诉。"
    item = parse(hall["unit"].get(f"/portal/items/{incident.id}").text)
    assert "提出申诉" in item.text_of("appeal-button")

    monkeypatch.setitem(app.config, "HALL_TODAY", date(2024, 3, 26))
    response = post_appeal(hall["unit"], incident.id)
    assert response.status_code == 422
    assert "申诉期限已过(截至 2024-03-25)" in response.text
    assert appeal_count() == 0
    notice_html = hall["unit"].get(f"/portal/items/{incident.id}/notice").text
    assert 'id="notice-appeal"' not in notice_html and "申诉" not in parse(notice_html).text_of(
        "notice-" + str(incident.id)
    )
    late_item = hall["unit"].get(f"/portal/items/{incident.id}").text
    assert 'id="appeal-button"' not in late_item
    assert parse(late_item).text_of("appeal-why") == "申诉期限已过(截至 2024-03-25)"
    admin_notice = hall["admin"].get(f"/admin/incidents/{incident.id}/notice").text
    assert 'id="notice-appeal"' not in admin_notice


def test_a_bonus_is_not_appealed_and_its_notice_promises_nothing(app, hall):
    bonus = hall["bonus"]
    html = hall["unit"].get(f"/portal/items/{bonus.id}/notice").text
    assert "考核加分通知单" in html and 'id="notice-appeal"' not in html
    assert 'id="item-requests"' not in hall["unit"].get(f"/portal/items/{bonus.id}").text
    response = post_appeal(hall["unit"], bonus.id)
    assert response.status_code == 422 and "只能对已确认的扣分记录提出申诉" in response.text
    assert appeal_count() == 0


def test_unit_appeals_admin_voids_the_unit_reads_why(app, hall):
    incident = hall["d01"]
    response = post_appeal(hall["unit"], incident.id)
    assert response.status_code == 302
    appeal = db.session.scalar(select(Appeal))
    assert (appeal.reason, appeal.status, appeal.unit_id) == ("当日经批准外出培训", "open", hall["mine"].id)
    [photo] = appeal.files
    assert (
        photo.filename == "请假单.png"
        and Path(app.config["EVIDENCE_DIR"], photo.stored_name).read_bytes() == PNG
    )

    # The state shows on the portal (items, item page, notice) and on the admin list and detail.
    assert "申诉中" in parse(hall["unit"].get("/portal/months/2024-03").text).text_of("deduction-items")
    item = hall["unit"].get(f"/portal/items/{incident.id}").text
    assert "申诉中" in item and 'id="appeal-button"' not in item
    assert "申诉中" in hall["unit"].get(f"/portal/items/{incident.id}/notice").text
    listed = parse(hall["admin"].get("/admin/incidents?month=2024-03").text)
    assert "申诉中" in listed.text_of(f'tr[data-incident="{incident.id}"]')
    assert "当日经批准外出培训" in hall["admin"].get(f"/admin/incidents/{incident.id}").text

    page = parse(hall["admin"].get("/admin/requests").text)
    assert page.text_of("count-appeals") == "1"
    assert "当日经批准外出培训" in page.text_of(f"appeal-{appeal.id}")
    assert hall["admin"].get(f"/admin/requests/files/{photo.id}").data == PNG

    response = hall["admin"].post(
        f"/admin/requests/appeals/{appeal.id}/decide", data={"decision": "void", "reason": "请假手续齐全"}
    )
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(Incident, incident.id).status == "voided"
    assert db.session.get(Incident, incident.id).void_reason == "申诉成立:请假手续齐全"
    appeal = db.session.get(Appeal, appeal.id)
    assert (appeal.status, appeal.decision_reason) == ("voided", "请假手续齐全")
    note = db.session.scalar(select(Notification).where(Notification.kind == "appeal_decided"))
    assert note.unit_id == hall["mine"].id and "申诉成立" in note.title

    mine = parse(hall["unit"].get("/portal/requests").text)
    assert "请假手续齐全" in mine.text_of(f"appeal-{appeal.id}")
    assert f"/admin/requests/files/{photo.id}" in hall["unit"].get("/portal/requests").text
    assert "申诉成立" in mine.text_of(f"appeal-{appeal.id}")

    # Deciding twice is refused, and changes nothing.
    again = hall["admin"].post(
        f"/admin/requests/appeals/{appeal.id}/decide", data={"decision": "uphold", "reason": "改判"}
    )
    assert again.status_code == 422 and "该申诉已经处理,不能重复决定" in again.text
    db.session.expire_all()
    assert db.session.get(Appeal, appeal.id).status == "voided"
    assert (
        db.session.scalar(select(func.count(Notification.id)).where(Notification.kind == "appeal_decided"))
        == 1
    )


def test_uphold_keeps_the_incident_and_one_appeal_per_incident(app, hall):
    incident = hall["d01"]
    assert post_appeal(hall["unit"], incident.id, files=()).status_code == 302
    second = post_appeal(hall["unit"], incident.id)
    assert second.status_code == 422 and "该记录已有申诉正在处理" in second.text
    assert appeal_count() == 1
    appeal = db.session.scalar(select(Appeal))
    empty = hall["admin"].post(
        f"/admin/requests/appeals/{appeal.id}/decide", data={"decision": "uphold", "reason": " "}
    )
    assert empty.status_code == 422 and "请填写处理理由" in empty.text
    db.session.expire_all()
    assert db.session.get(Appeal, appeal.id).status == "open"
    ok = hall["admin"].post(
        f"/admin/requests/appeals/{appeal.id}/decide",
        data={"decision": "uphold", "reason": "照片显示确系迟到"},
    )
    assert ok.status_code == 302
    db.session.expire_all()
    assert db.session.get(Incident, incident.id).status == "confirmed"
    assert "申诉未获支持" in hall["unit"].get(f"/portal/items/{incident.id}").text
    assert "照片显示确系迟到" in hall["unit"].get(f"/portal/items/{incident.id}").text
    third = post_appeal(hall["unit"], incident.id)
    assert third.status_code == 422 and "已有处理结果" in third.text
    # Nor does its notice promise another appeal; it shows the decision instead.
    for who, url in (("unit", "/portal/items/{}/notice"), ("admin", "/admin/incidents/{}/notice")):
        notice_html = hall[who].get(url.format(incident.id)).text
        assert 'id="notice-appeal"' not in notice_html and "申诉未获支持" in notice_html


@pytest.mark.parametrize(
    "reason, files, message",
    [
        ("   ", ((PNG, "a.png"),), "请填写申诉理由"),
        ("理由", ((b"hello, not a photo", "a.png"),), "不是 JPEG、PNG 或 HEIC 图片"),
        ("理由", ((PNG + b"\x00" * 2000, "big.png"),), "超过"),
    ],
)
def test_bad_input_is_a_chinese_message_and_writes_nothing(app, hall, monkeypatch, reason, files, message):
    monkeypatch.setitem(app.config, "EVIDENCE_MAX_BYTES", 1024)
    before = sorted(Path(app.config["EVIDENCE_DIR"]).glob("*"))
    response = post_appeal(hall["unit"], hall["d01"].id, reason=reason, files=files)
    assert response.status_code == 422 and message in response.text
    assert appeal_count() == 0 and db.session.scalar(select(func.count(RequestFile.id))) == 0
    assert sorted(Path(app.config["EVIDENCE_DIR"]).glob("*")) == before


def test_another_units_incident_and_appeal_are_404(app, hall, make):
    other = hall["other"]
    assert hall["unit"].get(f"/portal/items/{other.id}/appeal").status_code == 404
    assert post_appeal(hall["unit"], other.id).status_code == 404
    assert appeal_count() == 0
    # Their appeal's photo is not served to us either.
    them = sign_in(app, make.user(Role.UNIT, username="unit-b", unit=hall["theirs"]))
    assert post_appeal(them, other.id).status_code == 302
    photo = db.session.scalar(select(RequestFile))
    assert hall["unit"].get(f"/admin/requests/files/{photo.id}").status_code == 404
    assert them.get(f"/admin/requests/files/{photo.id}").data == PNG
    assert "他单位" not in hall["unit"].get("/portal/requests").text
    # A unit user may not decide.
    appeal = db.session.scalar(select(Appeal))
    assert (
        them.post(
            f"/admin/requests/appeals/{appeal.id}/decide", data={"decision": "void", "reason": "x"}
        ).status_code
        == 403
    )


def test_a_closed_month_is_not_appealed(app, hall, make):
    feb = make.incident(hall["mine"], "D03", at=datetime(2024, 2, 28, 9, 0))
    months.close(2024, 2)
    db.session.commit()
    response = post_appeal(hall["unit"], feb.id)
    assert response.status_code == 422 and "所在月份已关账" in response.text
    assert appeal_count() == 0


def test_a_month_with_an_undecided_appeal_closes_only_when_the_admin_says_so(app, hall, make, runner):
    feb = make.incident(hall["mine"], "D03", at=datetime(2024, 2, 28, 9, 0))
    assert post_appeal(hall["unit"], feb.id).status_code == 302

    page = parse(hall["admin"].get("/admin/months").text)
    assert page.text_of("despite-2024-02") == "仍然关账(有 1 条未处理的申诉)"
    refused = hall["admin"].post("/admin/months/2024-02/close")
    assert refused.status_code == 422 and "还有 1 条申诉未处理,不能关账" in refused.text
    assert db.session.scalar(select(Month).where(Month.month == 2)) is None or months.is_open(2024, 2)

    result = runner.invoke(args=["close-month", "2024-02"])
    assert result.exit_code != 0 and "还有 1 条申诉未处理" in result.output
    assert months.is_open(2024, 2)

    closed = hall["admin"].post("/admin/months/2024-02/close", data={"despite_open_appeals": "1"})
    assert closed.status_code == 302
    db.session.expire_all()
    assert not months.is_open(2024, 2)


def test_the_cli_flag_closes_despite_open_appeals(app, hall, make, runner):
    feb = make.incident(hall["mine"], "D03", at=datetime(2024, 2, 28, 9, 0))
    assert post_appeal(hall["unit"], feb.id).status_code == 302
    result = runner.invoke(args=["close-month", "2024-02", "--despite-open-appeals"])
    assert result.exit_code == 0, result.output
    db.session.expire_all()
    assert not months.is_open(2024, 2)


def test_an_appeal_of_a_voided_incident_is_refused(app, hall):
    from services import incidents

    incidents.void(hall["d01"], "录错")
    db.session.commit()
    response = post_appeal(hall["unit"], hall["d01"].id)
    assert response.status_code in (404, 422)
    assert appeal_count() == 0


def test_appeal_time_is_counted_from_the_day_it_was_logged(app, hall):
    """An incident that happened on the 1st but was logged on the 20th: the window runs from the 20th."""
    from services import incidents

    late = incidents.create(hall["mine"], "D03", from_hall(datetime(2024, 3, 1, 9, 0)))
    db.session.commit()
    assert appeals.appeal_deadline(late) == date(2024, 3, 25)


def test_the_dashboard_counts_what_waits(app, hall):
    assert "没有待处理的申诉、整改报告或加分申请" in parse(hall["admin"].get("/admin/").text).text_of(
        "request-counts"
    )
    assert post_appeal(hall["unit"], hall["d01"].id).status_code == 302
    line = parse(hall["admin"].get("/admin/").text).text_of("request-counts")
    assert "1 件单位申请待处理" in line and "申诉 1 · 整改报告 0 · 加分申请 0" in line


def test_the_demo_hall_shows_requests_decided_both_ways_and_waiting(app, runner):
    from models import BonusClaim, RectificationReport

    result = runner.invoke(args=["demo", "--if-empty"])
    assert result.exit_code == 0, result.output
    statuses = sorted(a.status for a in db.session.scalars(select(Appeal)))
    assert statuses == ["open", "upheld", "voided"]
    voided = db.session.scalar(select(Appeal).where(Appeal.status == "voided"))
    assert voided.incident.status == "voided" and voided.decision_reason
    reports = sorted(r.status for r in db.session.scalars(select(RectificationReport)))
    assert reports == ["confirmed", "open", "rejected"]
    confirmed = db.session.scalar(
        select(RectificationReport).where(RectificationReport.status == "confirmed")
    )
    assert confirmed.incident.rectified_on == confirmed.confirmed_on
    claims = sorted(c.status for c in db.session.scalars(select(BonusClaim)))
    assert claims == ["approved", "open", "rejected"]
    kinds = {n.kind for n in db.session.scalars(select(Notification))}
    assert {"appeal_decided", "rectification_confirmed", "claim_decided"} <= kinds


def test_the_audit_log_reads_the_requests_in_chinese(app, hall):
    assert post_appeal(hall["unit"], hall["d01"].id).status_code == 302
    appeal = db.session.scalar(select(Appeal))
    hall["admin"].post(
        f"/admin/requests/appeals/{appeal.id}/decide", data={"decision": "uphold", "reason": "维持"}
    )
    page = hall["admin"].get("/admin/audit")
    assert page.status_code == 200
    assert "提出申诉" in page.text and "处理申诉" in page.text and "申诉" in page.text
