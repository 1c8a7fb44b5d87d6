"""The month lifecycle pages: close (admin), publish (admin, leader), reopen with a reason (admin), each
audited; the printable bulletin, marked 实时 while the month is open."""

from __future__ import annotations

import re
from datetime import datetime

import pytest
from flask import g
from sqlalchemy import select

from models import AuditLog, Month, MonthStatus, db
from services.standings import month_row, standings_json
from tests.html import text_of


@pytest.fixture
def hall(make):
    u1 = make.unit("U01", name="市税务局")
    make.unit("U02", name="市社保中心")
    make.incident(u1, "D02c", at=datetime(2024, 2, 5, 9, 0), count=3)
    return u1


def actions() -> list[str]:
    return list(
        db.session.scalars(
            select(AuditLog.action).where(AuditLog.action.like("month.%")).order_by(AuditLog.id)
        )
    )


def test_month_list_starts_at_the_first_month_with_data_and_actions_by_role(client, login, hall):
    login("admin")
    html = client.get("/admin/months").get_data(as_text=True)
    labels = re.findall(r'<tr id="month-(\d{4}-\d{2})"', html)
    assert labels == ["2024-03", "2024-02"]
    assert "/admin/months/2024-02/close" in html and "data-confirm=" in html
    assert "anshan-2023" in html


def test_close_publish_reopen(client, login, make, hall):
    login("admin")
    response = client.post("/admin/months/2024-02/close")
    assert response.status_code == 302
    row = month_row(2024, 2)
    assert row.status == MonthStatus.CLOSED and row.snapshot and row.rulebook_key == "anshan-2023"
    assert "2024-02 已关账,成绩已冻结" in client.get(response.headers["Location"]).get_data(as_text=True)
    # Closing twice is refused with the service's message.
    response = client.post("/admin/months/2024-02/close")
    assert response.status_code == 422 and "2024-02 已经关账" in response.get_data(as_text=True)

    leader = make.user("leader", username="boss")
    client.post("/logout")
    client.post("/login", data={"username": leader.username, "password": "test-password-1"})
    html = client.get("/admin/months").get_data(as_text=True)
    assert "/admin/months/2024-02/publish" in html and "/admin/months/2024-03/close" not in html
    assert client.post("/admin/months/2024-03/close").status_code == 403
    assert client.post("/admin/months/2024-02/reopen", data={"reason": "x"}).status_code == 403
    assert client.post("/admin/months/2024-02/publish").status_code == 302
    assert month_row(2024, 2).status == MonthStatus.PUBLISHED
    assert standings_json(2024, 2)["status"] == "published"

    client.post("/logout")
    login("admin", username="admin2")
    response = client.post("/admin/months/2024-02/reopen", data={"reason": "  "})
    assert response.status_code == 422 and "请填写重新开放的原因" in response.get_data(as_text=True)
    assert month_row(2024, 2).status == MonthStatus.PUBLISHED
    response = client.post("/admin/months/2024-02/reopen", data={"reason": "单位申诉成立,需更正"})
    assert response.status_code == 302
    assert month_row(2024, 2).status == MonthStatus.OPEN
    assert actions() == ["month.close", "month.publish", "month.reopen"]
    reopen = db.session.scalar(select(AuditLog).where(AuditLog.action == "month.reopen"))
    assert reopen.after["reason"] == "单位申诉成立,需更正"


def test_publish_an_open_month_is_refused(client, login, hall):
    login("admin")
    response = client.post("/admin/months/2024-02/publish")
    assert response.status_code == 422 and "只能发布已关账的月份" in response.get_data(as_text=True)
    assert db.session.scalar(select(Month)) is None


BAD_MONTH_URLS = [
    "/admin/months/2024-13/close",
    "/admin/months/abc/publish",
    "/admin/months/2024-1/reopen",
    "/admin/months/99/bulletin",
]


def test_bad_month_in_the_address_is_404(client, login, hall):
    login("admin")
    for url in BAD_MONTH_URLS:
        method = client.get if url.endswith("bulletin") else client.post
        assert method(url).status_code == 404, url
    assert db.session.scalar(select(Month)) is None


def test_bulletin_open_then_published(client, login, hall):
    login("admin")
    html = client.get("/admin/months/2024-02/bulletin").get_data(as_text=True)
    assert "2024年2月派驻单位考核通报" in html and "实时数据,尚未关账,仅供参考" in html
    assert 'id="bulletin"' in html
    data = standings_json(2024, 2)
    tax = next(u for u in data["units"] if u["code"] == "U01")
    assert tax["score"] == 85 and "85" in html and "良好" in html and "书面通报并要求反馈" in html
    client.post("/admin/months/2024-02/close")
    client.post("/admin/months/2024-02/publish")
    html = client.get("/admin/months/2024-02/bulletin").get_data(as_text=True)
    assert "实时数据" not in html and "已发布" in html and "发布日期" in html


def test_month_list_without_data_shows_only_the_current_month(client, login):
    login("admin")
    html = client.get("/admin/months").get_data(as_text=True)
    assert re.findall(r'<tr id="month-(\d{4}-\d{2})"', html) == ["2024-03"]
    assert "/admin/months/2024-02/close" not in html and "2023-" not in html
    dashboard = client.get("/admin/").get_data(as_text=True)
    assert "2024-02 尚未关账" not in dashboard and "没有待关账的月份" in dashboard


def test_month_list_reaches_back_to_an_old_month_row(client, login, make):
    from services import months

    make.unit("U01")
    months.close(2023, 11)
    db.session.commit()
    login("admin")
    html = client.get("/admin/months").get_data(as_text=True)
    labels = re.findall(r'<tr id="month-(\d{4}-\d{2})"', html)
    assert labels[0] == "2024-03" and labels[-1] == "2023-11" and len(labels) == 5


# Today is 2024-03-20 (conftest); the first rulebook took effect on 2023-04-19.
OUT_OF_RANGE = [
    ("2024-03", "2024年3月尚未结束,不能关账"),
    ("2099-01", "2099年1月尚未结束,不能关账"),
    ("9999-12", "月份 9999-12 无效"),
    ("2023-03", "2023年3月早于考核细则的生效日期 2023-04-19,不能关账"),
    ("0001-01", "早于考核细则的生效日期 2023-04-19,不能关账"),
]


@pytest.mark.parametrize(("month", "message"), OUT_OF_RANGE)
def test_close_and_publish_refuse_a_month_not_ended_or_before_the_first_rulebook(
    client, login, hall, month, message
):
    """services.months refuses, with services.bounds' message: nothing frozen, nothing on the hall screen."""
    login("leader", username="boss")
    response = client.post(f"/admin/months/{month}/publish")
    assert response.status_code == 422
    assert message.replace("关账", "发布") in text_of(response.get_data(as_text=True), "flash")
    client.post("/logout")
    g.pop("_login_user", None)  # the tests share one app context (see test_admin_users_audit)
    login("admin")
    response = client.post(f"/admin/months/{month}/close")
    assert response.status_code == 422
    assert message in text_of(response.get_data(as_text=True), "flash")
    response = client.post(f"/admin/months/{month}/reopen", data={"reason": "误操作"})
    assert response.status_code == 422
    assert "该月尚未关账,无需重新开放" in text_of(response.get_data(as_text=True), "flash")
    # The month under way has its live bulletin; a month not begun or before the rulebook has none.
    assert client.get(f"/admin/months/{month}/bulletin").status_code == (200 if month == "2024-03" else 404)
    assert db.session.scalar(select(Month)) is None and actions() == []
    assert "正式结果" not in client.get("/kiosk/").get_data(as_text=True)


@pytest.mark.parametrize("month", ["9999-12", "0001-01", "2099-01"])
def test_month_arguments_out_of_range_are_a_message_on_the_month_pages(client, login, hall, month):
    login("admin")
    for page in ("/admin/standings", "/admin/detections"):
        response = client.get(f"{page}?month={month}")
        assert response.status_code == 200, page
        assert "没有考核结果,已显示本月" in text_of(response.get_data(as_text=True), "flash"), page


def test_the_month_under_way_offers_no_close_button(client, login, hall):
    login("admin")
    html = client.get("/admin/months").get_data(as_text=True)
    assert "/admin/months/2024-02/close" in html and "/admin/months/2024-03/close" not in html
    assert "本月结束后可关账" in text_of(html, "month-2024-03")


@pytest.mark.parametrize("month", ["9999-12", "0001-01", "2099-01"])
def test_a_unit_standings_address_out_of_range_is_404(client, login, hall, month):
    login("admin")
    response = client.get(f"/admin/standings/{month}/units/{hall.id}")
    assert response.status_code == 404 and "您要找的页面或记录不存在" in response.get_data(as_text=True)
