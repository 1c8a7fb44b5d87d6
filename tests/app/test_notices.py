"""Notices that need an answer (issue 9 item 1): opened when a month closes, one per unit, month and flag;
read and answered in the portal by a deadline in working days (hall calendar); states for admins and
leaders on the dashboard and a filtered list; the letters to the discipline and leadership groups."""

from __future__ import annotations

import io
from datetime import date, datetime

import pytest
from PIL import Image
from sqlalchemy import func, select

from models import AuditLog, CalendarDay, Notification, Warning, db
from models.notice import Notice, NoticeAttachment
from services import months, notices
from services.audit import reset_acting_user, set_acting_user
from services.clock import from_hall
from services.rulebooks import rulebook_for_month
from tests import images
from tests.html import parse


def png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (4, 4), (200, 20, 20)).save(out, format="PNG")
    return out.getvalue()


@pytest.fixture
def hall(make):
    """February 2024: U01 has a D04b (notice_feedback) and a D14 (discipline_report); U02 has three D02c
    (notice_feedback by escalation); U03 nothing. Today is 2024-03-20 (a Wednesday)."""
    u1 = make.unit("U01", name="市税务局", display_order=1)
    u2 = make.unit("U02", name="市社保中心", display_order=2)
    u3 = make.unit("U03", name="市公安局", display_order=3)
    staff = make.staff(u1, "S001", name="李四", start=date(2024, 1, 1))
    d04b = make.incident(
        u1, "D04b", at=datetime(2024, 2, 6, 9, 30), staff=staff, window="1", public_text="屡劝不改玩手机"
    )
    d14 = make.incident(u1, "D14", at=datetime(2024, 2, 8, 10, 0), public_text="被市政府办公室点名批评")
    d02c = make.incident(u2, "D02c", at=datetime(2024, 2, 7, 9, 0), count=3)
    return {"u1": u1, "u2": u2, "u3": u3, "d04b": d04b, "d14": d14, "d02c": d02c}


def close(year: int, month: int) -> None:
    """Close and publish: a month's notices open when its results are announced."""
    months.close(year, month)
    months.publish(year, month)
    db.session.commit()


def all_notices() -> list[Notice]:
    return list(db.session.scalars(select(Notice).order_by(Notice.unit_id, Notice.flag)))


def unit_login(make, client, unit, username):
    from tests.conftest import PASSWORD

    user = make.user("unit", username=username, unit=unit)
    assert client.post("/login", data={"username": username, "password": PASSWORD}).status_code == 302
    return user


# ---------------------------------------------------------------- opening


def test_publishing_a_month_opens_one_notice_per_unit_and_flag_and_notifies(app, hall):
    assert all_notices() == []
    close(2024, 2)
    rows = all_notices()
    assert [(n.unit.code, n.flag) for n in rows] == [("U01", "notice_feedback"), ("U02", "notice_feedback")]
    u1, u2 = rows
    assert u1.reasons == [f"incident:{hall['d04b'].id}"]
    assert u2.reasons == [f"incident:{hall['d02c'].id}"]
    # Opened today (2024-03-20, Wed); 5 working days: 21, 22, 25, 26, 27.
    assert u1.opened_on == date(2024, 3, 20) and u1.deadline == date(2024, 3, 27)
    titles = db.session.scalars(
        select(Notification.title).where(Notification.kind == "notice", Notification.unit_id == hall["u1"].id)
    ).all()
    assert titles == ["2024年2月书面通报(书面通报并要求反馈),请于 2024-03-27 前反馈"]
    assert db.session.scalar(select(func.count()).where(AuditLog.action == "notice.open")) == 2

    # Idempotent: reopening and closing again opens nothing new and notifies no one again.
    months.reopen(2024, 2, "补录")
    close(2024, 2)
    assert [n.id for n in all_notices()] == [u1.id, u2.id]
    assert db.session.scalar(select(func.count(Notification.id)).where(Notification.kind == "notice")) == 2
    assert notices.open_notices_for_month(2024, 2) == []


def test_an_open_month_opens_no_notice(app, hall):
    assert notices.open_notices_for_month(2024, 2) == []
    assert notices.open_notices_for_month(2024, 3) == []
    assert all_notices() == []


def test_a_flag_gone_after_a_reopen_withdraws_its_notice_and_a_flag_back_restores_it(app, hall):
    from services import incidents

    close(2024, 2)
    months.reopen(2024, 2, "核实旷工记录")
    incidents.void(hall["d02c"], "考勤系统故障,经核实未旷工")
    db.session.commit()
    close(2024, 2)
    states = {n.unit.code: notices.state_of(n) for n in all_notices()}
    assert states == {"U01": "unread", "U02": "withdrawn"}
    assert notices.state_counts() == {"unread": 1, "read": 0, "answered": 0, "overdue": 0}


def test_replace_staff_notice_lists_the_unqualified_months(app, make):
    unit = make.unit("U09", name="市不动产登记中心")
    for month in (1, 2):
        make.incident(unit, "D14", at=datetime(2024, month, 9, 9, 0), count=9)  # -45: unqualified
    close(2024, 1)
    close(2024, 2)
    replace = [n for n in all_notices() if n.flag == "replace_staff"]
    # The second unqualified month of the year raises it (the first never does, rulebook.md); the notice
    # lists every month that led to it.
    assert [(n.month, n.reasons) for n in replace] == [(2, ["month:2024-01", "month:2024-02"])]
    lines = [line.text for line in notices.notice_lines(replace[0])]
    assert lines == ["2024年1月考核结果为不合格", "2024年2月考核结果为不合格"]


# ---------------------------------------------------------------- deadlines


def test_deadline_counts_working_days_across_a_holiday_and_a_make_up_working_day(app, hall):
    # 21 and 22 (Thu, Fri) are holidays, Saturday 23 is a make-up working day: 23, 25, 26, 27, 28.
    db.session.add_all(
        [
            CalendarDay(day=date(2024, 3, 21), kind="holiday"),
            CalendarDay(day=date(2024, 3, 22), kind="holiday"),
            CalendarDay(day=date(2024, 3, 23), kind="workday"),
        ]
    )
    db.session.commit()
    close(2024, 2)
    assert {n.deadline for n in all_notices()} == {date(2024, 3, 28)}


def test_the_answer_days_are_a_rulebook_setting(app):
    from services.rulebooks import rulebook_for_month

    rulebook = rulebook_for_month(2024, 2)
    assert rulebook.settings.notice_answer_working_days == 5
    assert notices.answer_deadline(date(2024, 3, 20), rulebook, {}) == date(2024, 3, 27)


# ---------------------------------------------------------------- the unit's side


def test_unit_reads_and_answers_with_attachments(app, client, make, hall):
    close(2024, 2)
    [notice, _other] = all_notices()
    unit_login(make, client, hall["u1"], "tax")

    listing = parse(client.get("/portal/notices").text)
    assert listing.text_of(f"tr[data-notice='{notice.id}'] .notice-state") == "未读"
    intro = listing.text_of("notices-intro")
    assert "发布该月考核通报时" in intro and "关账" not in intro
    assert "市社保中心" not in client.get("/portal/notices").text

    page = parse(client.get(f"/portal/notices/{notice.id}").text)
    assert page.text_of("notice-flag") == "书面通报并要求反馈"
    assert "2024-03-27" in page.text_of("notice-deadline")
    reasons = page.text_of("notice-reasons")
    assert "D04b" in reasons and "屡劝不改玩手机" in reasons and "李四" in reasons
    assert "D14" not in reasons  # the D14 raised another flag, not this notice's
    # The answer's file picker is the portal's own (a Chinese button and hint, as the request forms'),
    # never the browser's bare "Choose Files".
    picker = page.one("#answer-form .file-picker")
    assert picker.one("input[type=file]").attrs.get("name") == "files"
    assert "选择图片或 PDF" in picker.text and "10 MB" in picker.text

    assert client.post(f"/portal/notices/{notice.id}/read").status_code == 302
    db.session.expire_all()
    assert notices.state_of(notice) == "read" and notice.read_at is not None
    client.post(f"/portal/notices/{notice.id}/read")  # twice: nothing more
    assert db.session.scalar(select(func.count()).where(AuditLog.action == "notice.read")) == 1

    response = client.post(
        f"/portal/notices/{notice.id}/answer",
        data={
            "text": "已对李四批评教育并调整岗位",
            "files": [(io.BytesIO(png()), "整改照片.png"), (io.BytesIO(images.PDF), "整改报告.pdf")],
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 302
    db.session.expire_all()
    assert notices.state_of(notice) == "answered" and notice.answered_late is False
    assert [a.filename for a in notice.attachments] == ["整改照片.png", "整改报告.pdf"]
    assert [a.content_type for a in notice.attachments] == ["image/png", "application/pdf"]
    shown = parse(client.get(f"/portal/notices/{notice.id}").text)
    assert shown.text_of("answer-text") == "已对李四批评教育并调整岗位"
    assert not shown.has("#answer-form")
    file = client.get(f"/portal/notices/attachments/{notice.attachments[0].id}")
    assert file.status_code == 200 and file.data == png()

    # Answering twice is refused, in Chinese, and changes nothing.
    again = client.post(f"/portal/notices/{notice.id}/answer", data={"text": "再次反馈"})
    assert again.status_code == 422 and "该通报已经反馈,不能重复提交" in again.text
    db.session.expire_all()
    assert notice.answer_text == "已对李四批评教育并调整岗位"


def test_an_answer_after_the_deadline_is_accepted_and_marked_late(app, client, make, hall):
    close(2024, 2)
    [notice, _other] = all_notices()
    app.config.update(HALL_TODAY=date(2024, 3, 28), HALL_NOW=datetime(2024, 3, 28, 10, 0))
    try:
        assert notices.state_of(notice) == "overdue"
        assert notices.state_counts() == {"unread": 0, "read": 0, "answered": 0, "overdue": 2}
        unit_login(make, client, hall["u1"], "tax")
        page = client.get(f"/portal/notices/{notice.id}").text
        assert "逾期未反馈" in page and "已超过反馈期限,仍可提交" in page
        client.post(f"/portal/notices/{notice.id}/answer", data={"text": "迟到的反馈"})
        db.session.expire_all()
        assert notices.state_of(notice) == "answered" and notice.answered_late is True
        assert "逾期反馈" in parse(client.get("/portal/notices").text).text_of(
            f"tr[data-notice='{notice.id}'] .notice-state"
        )
    finally:
        app.config.update(HALL_TODAY=date(2024, 3, 20), HALL_NOW=datetime(2024, 3, 20, 10, 0))


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"text": "   "}, "请填写反馈内容"),
        ({"text": "x" * 5001}, "反馈内容不能超过 5000 字"),
        (
            {"text": "反馈", "files": [(io.BytesIO(b"MZ\x90\x00 not a picture"), "virus.exe")]},
            "不是 JPEG、PNG、HEIC 图片或 PDF",
        ),
        ({"text": "反馈", "files": [(io.BytesIO(b""), "empty.png")]}, "是空的"),
    ],
)
def test_bad_answers_are_refused_in_chinese_and_write_nothing(app, client, make, hall, data, message):
    close(2024, 2)
    [notice, _other] = all_notices()
    unit_login(make, client, hall["u1"], "tax")
    before = db.session.scalar(select(func.count(AuditLog.id)))
    response = client.post(
        f"/portal/notices/{notice.id}/answer", data=data, content_type="multipart/form-data"
    )
    assert response.status_code == 422 and message in response.text
    db.session.expire_all()
    assert notice.answered_at is None and notice.answer_text is None and notice.read_at is None
    assert db.session.scalar(select(func.count(NoticeAttachment.id))) == 0
    assert db.session.scalar(select(func.count(AuditLog.id))) == before


def test_an_oversized_attachment_is_refused(app, client, make, hall):
    close(2024, 2)
    [notice, _other] = all_notices()
    unit_login(make, client, hall["u1"], "tax")
    limit = app.config["EVIDENCE_MAX_BYTES"]
    big = b"%PDF-1.4" + b"0" * limit
    response = client.post(
        f"/portal/notices/{notice.id}/answer",
        data={"text": "反馈", "files": [(io.BytesIO(big), "big.pdf")]},
        content_type="multipart/form-data",
    )
    assert response.status_code in (413, 422)
    db.session.expire_all()
    assert notice.answered_at is None
    assert db.session.scalar(select(func.count(NoticeAttachment.id))) == 0


def test_a_unit_never_reaches_another_units_notice(app, client, make, hall):
    close(2024, 2)
    [own, other] = all_notices()
    set_token = set_acting_user(None)
    try:
        notices.answer(other, "社保中心的反馈", notices.read_attachments([]))
    finally:
        reset_acting_user(set_token)
    db.session.commit()
    unit_login(make, client, hall["u1"], "tax")
    for url in (f"/portal/notices/{other.id}",):
        response = client.get(url)
        assert response.status_code == 404 and "社保中心的反馈" not in response.text
    assert client.post(f"/portal/notices/{other.id}/read").status_code == 404
    assert client.post(f"/portal/notices/{other.id}/answer", data={"text": "冒名反馈"}).status_code == 404
    db.session.expire_all()
    assert other.read_at is not None and other.answer_text == "社保中心的反馈"
    assert own.read_at is None
    # Admin pages are not for unit users.
    assert client.get("/admin/notices").status_code == 403


# ---------------------------------------------------------------- admins and leaders


def test_admin_list_filters_and_dashboard_cards(app, client, login, hall):
    close(2024, 2)
    [u1_notice, u2_notice] = all_notices()
    u1_notice.read_at = u1_notice.created_at
    db.session.commit()
    login("leader")
    page = parse(client.get("/admin/notices").text)
    # Notices open when a month is published (not at its closing): the page says so.
    assert "月份发布时" in page.text_of("notices-intro") and "关账" not in page.text_of("notices-intro")
    assert page.text_of("[data-state='unread'] .count") == "1"
    assert page.text_of("[data-state='read'] .count") == "1"
    assert page.text_of("notice-total") == "共 2 份"
    table = page.text_of("notice-table")
    assert "市税务局" in table and "市社保中心" in table and "U01" not in table

    only_unread = parse(client.get("/admin/notices?state=unread").text).text_of("notice-table")
    assert "市社保中心" in only_unread and "市税务局" not in only_unread
    by_unit = parse(client.get(f"/admin/notices?unit_id={hall['u1'].id}&month=2024-02").text)
    assert by_unit.text_of("notice-total") == "共 1 份"
    assert parse(client.get("/admin/notices?month=2024-01").text).text_of("notice-total") == "共 0 份"

    bad = client.get("/admin/notices?state=nonsense&month=2024-13")
    assert bad.status_code == 422 and "筛选条件无效" in bad.text and "月份格式应为" in bad.text

    detail = parse(client.get(f"/admin/notices/{u1_notice.id}").text)
    assert "D04b" in detail.text_of("notice-reasons") and "已读" in detail.text_of("notice-state")

    board = parse(client.get("/admin/").text)
    assert board.text_of("#notice-cards [data-state='unread'] .stat") == "1"
    assert board.text_of("#notice-cards [data-state='read'] .stat") == "1"
    assert board.text_of("#notice-cards [data-state='answered'] .stat") == "0"


def test_admin_list_is_paginated_in_sql(app, client, login, make):
    for i in range(35):
        unit = make.unit(f"P{i:02d}", name=f"单位{i:02d}", display_order=i)
        make.incident(unit, "D04b", at=datetime(2024, 2, 6, 9, 0))
    close(2024, 2)
    login("admin")
    first = parse(client.get("/admin/notices").text)
    assert len(first.all("tr[data-notice]")) == 30 and "第 1 / 2 页" in first.text_of("notice-total")
    second = parse(client.get("/admin/notices?page=2").text)
    assert [n.text for n in second.all("tr[data-notice] .n-unit")] == [f"单位{i:02d}" for i in range(30, 35)]


def test_letters_to_the_discipline_and_leadership_groups(app, client, login, make, hall):
    # A D19a with a missed deadline: the derived D19b raises leadership_report.
    make.incident(
        hall["u2"],
        "D19a",
        at=datetime(2024, 2, 2, 9, 0),
        deadline=date(2024, 2, 9),
        public_text="整改窗口标识",
    )
    close(2024, 2)
    login("admin")
    listing = parse(client.get("/admin/letters").text)
    assert listing.has("tr[data-letter='letter:discipline_report:2024-02']")
    assert listing.has("tr[data-letter='letter:leadership_report:2024-02']")
    # The list reads the flags from month_unit_result; a month restored without those rows, from its snapshot.
    from sqlalchemy import delete

    from models import MonthUnitResult

    assert db.session.scalar(select(MonthUnitResult.flags).where(MonthUnitResult.flags.contains("report")))
    db.session.execute(delete(MonthUnitResult))
    db.session.commit()
    again = parse(client.get("/admin/letters").text)
    assert again.has("tr[data-letter='letter:discipline_report:2024-02']")
    assert again.has("tr[data-letter='letter:leadership_report:2024-02']")

    page = client.get("/admin/letters/2024-02/discipline_report")
    assert page.status_code == 200
    doc = parse(page.text)
    assert doc.text_of("doc-addressee") == "市纪委监委驻市商务局纪检监察组:"
    body = doc.text_of("doc-body")
    assert "市税务局" in body and "被市政府办公室点名批评" in body and "U01" not in body
    assert "市社保中心" not in body
    number = doc.text_of("doc-number")
    assert number.endswith("〔2024〕2号")  # 1号 is the month's bulletin, numbered when it was published
    again = parse(client.get("/admin/letters/2024-02/discipline_report").text)
    assert again.text_of("doc-number") == number  # a number is given once

    leadership = parse(client.get("/admin/letters/2024-02/leadership_report").text)
    assert leadership.text_of("doc-addressee") == "市营商环境建设领导小组:"
    assert "市社保中心" in leadership.text_of("doc-body")
    assert "限期内未完成整改" in leadership.text_of("doc-body")
    assert "2024-02-02 登记限期整改,整改期限 2024-02-09" in leadership.text_of("doc-body")

    assert client.get("/admin/letters/2024-03/discipline_report").status_code == 404  # open month
    assert client.get("/admin/letters/2024-02/quarter_ineligible").status_code == 404
    assert client.get("/admin/letters/2024-99/discipline_report").status_code == 404


def test_letter_and_notice_as_pdf(app, client, login, hall):
    close(2024, 2)
    login("admin")
    response = client.get("/admin/letters/2024-02/discipline_report?format=pdf")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    assert response.data.startswith(b"%PDF")
    [notice, _other] = all_notices()
    document = parse(client.get(f"/admin/notices/{notice.id}/document").text)
    assert document.text_of("doc-addressee") == "市税务局:"
    assert "屡劝不改玩手机" in document.text_of("doc-body") and "窗口 1 李四" in document.text_of("doc-body")
    # The notice and the letters cite the measures in force (the rulebook's title), never an invented name.
    measures = f"《{rulebook_for_month(2024, 2).title}》"
    assert measures in document.text_of("doc-body") and "考核管理办法" not in document.text_of("doc-body")
    letter = parse(client.get("/admin/letters/2024-02/discipline_report").text)
    assert measures in letter.text_of("doc-body") and "考核管理办法" not in letter.text_of("doc-body")
    pdf = client.get(f"/admin/notices/{notice.id}/document?format=pdf")
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")


def test_the_demo_gives_the_login_units_answered_and_waiting_notices(app, make):
    first, second = make.unit("SW01", name="市税务局"), make.unit("SB01", name="市社保中心")
    make.user("unit", username="unit1", unit=first)
    make.user("unit", username="unit2", unit=second)
    past = [(2023, 11), (2023, 12), (2024, 1), (2024, 2)]
    assert notices.load_demo_incidents(past) == 4
    for (year, month), closed_on in zip(
        past, [(2023, 12, 4), (2024, 1, 3), (2024, 2, 5), (2024, 3, 4)], strict=True
    ):
        # published early in the next month, as the demo backdates it
        months.close(year, month)
        months.publish(year, month).published_at = from_hall(datetime(*closed_on, 16, 30))
    notices.load_demo()
    db.session.commit()
    story = {(n.unit.name, n.month): (notices.state_of(n), n.answered_late) for n in all_notices()}
    assert story == {
        ("市税务局", 11): ("answered", False),
        ("市税务局", 1): ("overdue", False),
        ("市社保中心", 12): ("answered", True),
        ("市社保中心", 2): ("overdue", False),
    }
    # The D04b ("屡劝不改") came after reminders, which unit1 reads on its warnings page.
    assert db.session.scalar(select(func.count(Warning.id)).where(Warning.unit_id == first.id)) == 4
    answered = [n for n in all_notices() if n.answered_at is not None]
    assert all(n.answered_by.username in ("unit1", "unit2") and n.answer_text for n in answered)


def test_a_closed_month_opens_no_notice_until_it_is_published(app, hall):
    """A unit learns nothing of a closed month before its bulletin: no notice, no message, no deadline."""
    months.close(2024, 2)
    db.session.commit()
    assert all_notices() == []
    assert db.session.scalar(select(func.count(Notification.id)).where(Notification.kind == "notice")) == 0
    months.publish(2024, 2)
    db.session.commit()
    assert [(n.unit.code, n.opened_on) for n in all_notices()] == [
        ("U01", date(2024, 3, 20)),
        ("U02", date(2024, 3, 20)),
    ]


def test_the_unit_and_the_hall_get_an_attachment_and_its_badge_the_same_way(app, client, login, make, hall):
    """The portal sends a notice's file as the hall does (stored_files.send_stored) and shows its badges."""
    from admin import notices as admin_notices
    from portal import notices as portal_notices

    close(2024, 2)
    [notice, _other] = all_notices()
    unit_login(make, client, hall["u1"], "tax")
    client.post(
        f"/portal/notices/{notice.id}/answer",
        data={"text": "已整改", "files": [(io.BytesIO(images.PDF), "整改报告.pdf")]},
        content_type="multipart/form-data",
    )
    [attachment] = db.session.scalars(select(NoticeAttachment)).all()
    listing = parse(client.get("/portal/notices").text)
    assert listing.text_of(f"tr[data-notice='{notice.id}'] .notice-state") == "已反馈"
    mine = client.get(f"/portal/notices/attachments/{attachment.id}")
    client.post("/logout")
    login("admin")
    theirs = client.get(f"/admin/notices/attachments/{attachment.id}")
    for response in (mine, theirs):
        assert response.status_code == 200 and response.data == images.PDF
        assert response.mimetype == "application/pdf"
        assert response.headers["Cache-Control"] == "private, max-age=3600"
        assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert portal_notices.BADGES is admin_notices.BADGES
    assert portal_notices.state_labels()["read"] == "已读,待反馈"  # the unit's own wording stays


def test_the_notice_and_incident_lists_share_one_pager(app, client, login, make):
    """templates/_macros/pager.html: numbered links keeping the filters, swapped in place by htmx."""
    from types import SimpleNamespace

    listed = SimpleNamespace(pages=9, page=5, pager=lambda: [1, None, 2, 3, 4, 5, 6, 7, 8, 9])
    with app.test_request_context():
        macro = app.jinja_env.get_template("_macros/pager.html").module.pager
        nav = parse(str(macro(listed, "admin.incident_list", {"unit": "U01"}, "#incident-table")))
    assert nav.text_of(".current") == "5" and nav.one(".current").get("aria-current") == "page"
    link = [a for a in nav.all("a") if a.text == "9"][0]
    assert link.get("href") == link.get("hx-get") == "/admin/incidents?page=9&unit=U01"
    assert (link.get("hx-target"), link.get("hx-swap"), link.get("hx-push-url")) == (
        "#incident-table",
        "outerHTML",
        "true",
    )
    assert nav.texts(".muted") == ["…"]

    for i in range(35):
        unit = make.unit(f"P{i:02d}", name=f"单位{i:02d}", display_order=i)
        make.incident(unit, "D04b", at=datetime(2024, 2, 6, 9, 0))
    close(2024, 2)
    login("admin")
    page = parse(client.get("/admin/notices?state=unread", headers={"HX-Request": "true"}).text)
    [two] = [a for a in page.all("nav.pager a") if a.text == "2"]
    assert (
        two.get("hx-get") == "/admin/notices?page=2&state=unread" and two.get("hx-target") == "#notice-table"
    )


def test_the_written_notice_is_dated_the_day_it_was_sent_not_the_day_it_is_printed(app, client, login, hall):
    close(2024, 2)
    notice = all_notices()[0]
    notice.opened_on = date(2024, 3, 4)  # sent earlier; printed for the first time today (2024-03-20)
    db.session.commit()
    login("admin")
    page = parse(client.get(f"/admin/notices/{notice.id}/document").text)
    assert page.text_of("doc-date") == "二〇二四年三月四日"
