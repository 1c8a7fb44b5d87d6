"""Rectification (整改, issue 9 item 3): the portal lists the unit's open items of the rulebook's
rectification rule with their deadlines; the unit reports one rectified with a date and photos; an admin
confirms the date (the incident's rectified_on, what the overdue rule reads) or rejects it with a reason,
once; extension requests (延期) exist only where the rulebook allows them."""

from __future__ import annotations

import io
from dataclasses import replace
from datetime import date, datetime

import pytest
from sqlalchemy import func, select

from models import Incident, Notification, RectificationReport, RequestFile, Role, db
from scoring import Rulebook
from services import rectifications, standings
from tests.app.test_appeals import PNG, sign_in
from tests.html import parse


@pytest.fixture
def hall(app, make):
    mine = make.unit("U01", name="市税务局")
    theirs = make.unit("U02", name="市人社局")
    return {
        "mine": mine,
        "theirs": theirs,
        # D19a plays the rulebook's rectification role in anshan-2023 (read from the rulebook, not here).
        "open": make.incident(
            mine,
            "D19a",
            at=datetime(2024, 3, 12, 9, 0),
            deadline=date(2024, 3, 19),
            public_text="未履行一次性告知",
        ),
        "later": make.incident(mine, "D19a", at=datetime(2024, 3, 18, 9, 0), deadline=date(2024, 3, 29)),
        "done": make.incident(
            mine,
            "D19a",
            at=datetime(2024, 3, 4, 9, 0),
            deadline=date(2024, 3, 8),
            rectified_on=date(2024, 3, 7),
        ),
        "plain": make.incident(mine, "D01", at=datetime(2024, 3, 12, 9, 0)),
        "other": make.incident(
            theirs,
            "D19a",
            at=datetime(2024, 3, 12, 9, 0),
            deadline=date(2024, 3, 25),
            public_text="他单位整改",
        ),
        "unit": sign_in(app, make.user(Role.UNIT, username="unit-a", unit=mine)),
        "admin": sign_in(app, make.user(Role.ADMIN, username="admin-a")),
    }


def report(client, incident_id, day="2024-03-19", text="已补充一次性告知单", files=((PNG, "告知单.png"),)):
    return client.post(
        f"/portal/items/{incident_id}/rectified",
        content_type="multipart/form-data",
        data={"rectified_on": day, "description": text, "evidence": [(io.BytesIO(d), n) for d, n in files]},
    )


def reports() -> int:
    return db.session.scalar(select(func.count(RectificationReport.id)))


def d19b_points(unit_code: str) -> int:
    standings._cache.clear()
    result = standings.standings(2024, 3).unit(unit_code)
    return sum(i.points for i in result.items if i.derived)


def test_the_portal_lists_open_rectifications_with_deadlines(app, hall):
    page = parse(hall["unit"].get("/portal/requests").text)
    rows = page.all("#open-rectifications tbody tr")
    assert [r.attrs["data-incident"] for r in rows] == [str(hall["open"].id), str(hall["later"].id)]
    assert "2024-03-19" in rows[0].text and "已逾期" in rows[0].text  # today is 2024-03-20
    assert "2024-03-29" in rows[1].text and "已逾期" not in rows[1].text
    assert "他单位整改" not in page.text
    # No extension in anshan-2023: no button.
    assert "申请延期" not in page.text_of("rectifications")


def test_report_then_confirm_sets_rectified_on_and_removes_the_overdue_item(app, hall):
    incident = hall["open"]
    assert d19b_points("U01") == -5  # the deadline 2024-03-19 has passed, nothing rectified
    assert report(hall["unit"], incident.id).status_code == 302
    row = db.session.scalar(select(RectificationReport))
    assert (row.kind, row.rectified_on, row.status) == ("report", date(2024, 3, 19), "open")
    assert [f.filename for f in row.files] == ["告知单.png"]
    assert "已报告 2024-03-19,待确认" in parse(hall["unit"].get("/portal/requests").text).text_of(
        "open-rectifications"
    )

    page = parse(hall["admin"].get("/admin/requests").text)
    assert page.text_of("count-reports") == "1" and "已补充一次性告知单" in page.text_of(
        f"rectification-{row.id}"
    )
    # The admin confirms the date the unit gave (the form's date box holds it).
    ok = hall["admin"].post(
        f"/admin/requests/rectifications/{row.id}/decide",
        data={"decision": "confirm", "rectified_on": "2024-03-19", "reason": ""},
    )
    assert ok.status_code == 302
    db.session.expire_all()
    assert db.session.get(Incident, incident.id).rectified_on == date(2024, 3, 19)
    assert db.session.get(RectificationReport, row.id).confirmed_on == date(2024, 3, 19)
    assert d19b_points("U01") == 0  # rectified on the deadline day is in time
    history = db.session.get(Incident, incident.id).history[-1]
    assert history.action == "corrected" and history.snapshot["rectified_on"] == "2024-03-19"
    note = db.session.scalar(select(Notification).where(Notification.kind == "rectification_confirmed"))
    assert note.unit_id == hall["mine"].id and "2024-03-19" in note.title
    listed = parse(hall["unit"].get("/portal/requests").text)
    assert not listed.all("#open-rectifications tbody tr") or str(incident.id) not in [
        r.attrs["data-incident"] for r in listed.all("#open-rectifications tbody tr")
    ]
    assert "确认整改完成日期 2024-03-19" in listed.text_of(f"rectification-{row.id}")

    again = hall["admin"].post(
        f"/admin/requests/rectifications/{row.id}/decide", data={"decision": "reject", "reason": "重复"}
    )
    assert again.status_code == 422 and "该申请已经处理,不能重复决定" in again.text
    db.session.expire_all()
    assert db.session.get(RectificationReport, row.id).status == "confirmed"


def test_the_admin_may_confirm_another_date_and_a_late_one_still_counts(app, hall):
    incident = hall["open"]
    assert report(hall["unit"], incident.id, day="2024-03-19").status_code == 302
    row = db.session.scalar(select(RectificationReport))
    hall["admin"].post(
        f"/admin/requests/rectifications/{row.id}/decide",
        data={"decision": "confirm", "rectified_on": "2024-03-20", "reason": "现场核实当日完成"},
    )
    db.session.expire_all()
    assert db.session.get(Incident, incident.id).rectified_on == date(2024, 3, 20)
    assert d19b_points("U01") == -5  # after the deadline: the overdue rule still counts


def test_reject_keeps_the_item_open_and_the_unit_reads_why(app, hall):
    assert report(hall["unit"], hall["open"].id).status_code == 302
    row = db.session.scalar(select(RectificationReport))
    empty = hall["admin"].post(
        f"/admin/requests/rectifications/{row.id}/decide", data={"decision": "reject", "reason": ""}
    )
    assert empty.status_code == 422 and "请填写退回理由" in empty.text
    db.session.expire_all()
    assert db.session.get(RectificationReport, row.id).status == "open"
    ok = hall["admin"].post(
        f"/admin/requests/rectifications/{row.id}/decide",
        data={"decision": "reject", "reason": "照片看不清,请重拍"},
    )
    assert ok.status_code == 302
    db.session.expire_all()
    assert db.session.get(Incident, hall["open"].id).rectified_on is None
    page = parse(hall["unit"].get("/portal/requests").text)
    assert "照片看不清,请重拍" in page.text_of(f"rectification-{row.id}")
    assert "报告整改完成" in page.text_of("open-rectifications")  # it may report again


@pytest.mark.parametrize(
    "day, text, files, message",
    [
        ("", "已整改", ((PNG, "a.png"),), "请填写整改完成日期"),
        ("2024-03-21", "已整改", ((PNG, "a.png"),), "整改完成日期不能晚于今天"),
        ("2024-03-11", "已整改", ((PNG, "a.png"),), "整改完成日期早于发生日期"),
        ("2024-3-x", "已整改", ((PNG, "a.png"),), "日期格式应为 YYYY-MM-DD"),
        ("2024-03-19", "  ", ((PNG, "a.png"),), "请填写整改情况"),
        ("2024-03-19", "已整改", (), "请上传至少一张证明材料的照片"),
        ("2024-03-19", "已整改", ((b"%PDF-1.7 not a photo", "a.pdf"),), "不是 JPEG、PNG 或 HEIC 图片"),
    ],
)
def test_bad_reports_are_refused_in_chinese_and_write_nothing(app, hall, day, text, files, message):
    response = report(hall["unit"], hall["open"].id, day=day, text=text, files=files)
    assert response.status_code == 422 and message in response.text
    assert reports() == 0 and db.session.scalar(select(func.count(RequestFile.id))) == 0


def test_only_open_rectifications_of_ones_own_unit(app, hall):
    assert report(hall["unit"], hall["other"].id).status_code == 404
    plain = report(hall["unit"], hall["plain"].id)
    assert plain.status_code == 422 and "该记录不是限期整改的记录" in plain.text
    done = report(hall["unit"], hall["done"].id)
    assert done.status_code == 422 and "已确认整改完成" in done.text
    assert report(hall["unit"], hall["later"].id, day="2024-03-20").status_code == 302
    twice = report(hall["unit"], hall["later"].id, day="2024-03-20")
    assert twice.status_code == 422 and "已报告整改,请等待管理员确认" in twice.text
    assert reports() == 1


def test_no_extension_where_the_rulebook_does_not_allow_it(app, hall):
    incident = hall["later"]
    assert 'id="extension-button"' not in hall["unit"].get(f"/portal/items/{incident.id}").text
    refused = hall["unit"].post(
        f"/portal/items/{incident.id}/extension", data={"deadline": "2024-04-10", "reason": "材料待上级审批"}
    )
    assert refused.status_code == 409 and "现行考核细则不允许申请延长整改期限" in refused.text
    assert reports() == 0


@pytest.fixture
def extensions_on(monkeypatch):
    """A rulebook version that allows extensions (the shipped one does not)."""
    original = rectifications.current_rulebook

    def allowing() -> Rulebook:
        rb = original()
        return replace(rb, settings=replace(rb.settings, rectification_extension_allowed=True))

    monkeypatch.setattr(rectifications, "current_rulebook", allowing)


def test_extension_requested_and_granted_moves_the_deadline(app, hall, extensions_on):
    incident = hall["later"]
    assert 'id="extension-button"' in hall["unit"].get(f"/portal/items/{incident.id}").text
    bad = hall["unit"].post(
        f"/portal/items/{incident.id}/extension", data={"deadline": "2024-03-28", "reason": "x"}
    )
    assert bad.status_code == 422 and "新整改期限须晚于原期限 2024-03-29" in bad.text
    empty = hall["unit"].post(
        f"/portal/items/{incident.id}/extension", data={"deadline": "2024-04-10", "reason": ""}
    )
    assert empty.status_code == 422 and "请填写申请延期的理由" in empty.text
    assert reports() == 0
    ok = hall["unit"].post(
        f"/portal/items/{incident.id}/extension", data={"deadline": "2024-04-10", "reason": "材料待上级审批"}
    )
    assert ok.status_code == 302
    row = db.session.scalar(select(RectificationReport))
    assert (row.kind, row.requested_deadline) == ("extension", date(2024, 4, 10))
    # One open request at a time: the button is gone and the form says why (the same check as the service).
    assert 'id="extension-button"' not in hall["unit"].get(f"/portal/items/{incident.id}").text
    assert "该记录已有延期申请正在处理" in hall["unit"].get(f"/portal/items/{incident.id}/extension").text
    # An overdue item offers no extension button either.
    assert 'id="extension-button"' not in hall["unit"].get(f"/portal/items/{hall['open'].id}").text
    overdue = hall["unit"].post(
        f"/portal/items/{hall['open'].id}/extension", data={"deadline": "2024-04-10", "reason": "晚了"}
    )
    assert overdue.status_code == 422 and "整改期限已过" in overdue.text

    assert (
        hall["admin"]
        .post(
            f"/admin/requests/rectifications/{row.id}/decide", data={"decision": "confirm", "reason": "同意"}
        )
        .status_code
        == 302
    )
    db.session.expire_all()
    assert db.session.get(Incident, incident.id).deadline == date(2024, 4, 10)
    assert "延期申请已同意" in db.session.scalar(
        select(Notification.title).where(Notification.kind == "rectification_confirmed")
    )


def test_a_closed_months_item_cannot_be_confirmed_until_reopened(app, hall, make):
    from services import months

    feb = make.incident(hall["mine"], "D19a", at=datetime(2024, 2, 20, 9, 0), deadline=date(2024, 3, 5))
    months.close(2024, 2)
    db.session.commit()
    assert report(hall["unit"], feb.id, day="2024-03-04").status_code == 302
    row = db.session.scalar(select(RectificationReport))
    refused = hall["admin"].post(
        f"/admin/requests/rectifications/{row.id}/decide", data={"decision": "confirm", "reason": ""}
    )
    assert refused.status_code == 422 and "已关账" in refused.text
    db.session.expire_all()
    assert db.session.get(RectificationReport, row.id).status == "open"
    assert db.session.get(Incident, feb.id).rectified_on is None


def test_the_extension_setting_is_a_boolean_with_a_default():
    from scoring import (
        RulebookError,
        default_rulebook_path,
        load_rulebook,
        rulebook_from_dict,
        rulebook_to_dict,
    )

    data = rulebook_to_dict(load_rulebook(default_rulebook_path()))
    assert data["settings"]["rectification_extension_allowed"] is False
    data["settings"]["rectification_extension_allowed"] = "yes"
    with pytest.raises(RulebookError, match="rectification_extension_allowed 必须是 true 或 false"):
        rulebook_from_dict(data)
    del data["settings"]["rectification_extension_allowed"]  # an older stored version: off
    assert rulebook_from_dict(data).settings.rectification_extension_allowed is False


def test_a_new_rulebook_version_can_turn_extensions_on(app, make, login, client):
    """The new-version form shows the setting as a checkbox and stores it (checked -> true)."""
    login("admin")
    page = client.get("/admin/rulebooks/anshan-2023/new").text
    assert 'name="setting_rectification_extension_allowed"' in page and "允许单位申请延长整改期限" in page


def test_reports_and_extension_requests_are_opened_by_one_helper(app, hall, extensions_on, monkeypatch):
    """A report and an extension request are the same open row of the unit, by the acting user, now."""
    from models import RequestStatus, User

    made = []
    real = rectifications._new_request

    def spy(*args, **day):
        made.append((args[2], sorted(day)))
        return real(*args, **day)

    monkeypatch.setattr(rectifications, "_new_request", spy)
    assert report(hall["unit"], hall["open"].id).status_code == 302
    ok = hall["unit"].post(
        f"/portal/items/{hall['later'].id}/extension",
        data={"deadline": "2024-04-10", "reason": "材料待上级审批"},
    )
    assert ok.status_code == 302
    assert made == [("report", ["rectified_on"]), ("extension", ["requested_deadline"])]
    unit_user = db.session.scalar(select(User).where(User.username == "unit-a"))
    rows = db.session.scalars(select(RectificationReport).order_by(RectificationReport.id)).all()
    assert [(r.kind, r.incident_id, r.description) for r in rows] == [
        ("report", hall["open"].id, "已补充一次性告知单"),
        ("extension", hall["later"].id, "材料待上级审批"),
    ]
    for row in rows:
        assert row.status == RequestStatus.OPEN and row.unit_id == hall["mine"].id
        assert row.submitted_by_id == unit_user.id and row.submitted_at is not None
    assert (rows[0].rectified_on, rows[1].requested_deadline) == (date(2024, 3, 19), date(2024, 4, 10))
