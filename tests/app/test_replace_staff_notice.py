"""The replace_staff notice (要求更换相关人员) lists every unqualified month of the year that led to it, an
earlier month still open included (rulebook.md: every earlier month of the year counts, closed or not),
on the admin's notice page, the written notice and the unit's notice page."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from models import db
from models.notice import Notice
from services import months, notices
from tests.conftest import PASSWORD
from tests.html import parse


def publish(year: int, month: int) -> None:
    months.close(year, month)
    months.publish(year, month)
    db.session.commit()


def test_the_notice_lists_every_unqualified_month_of_the_year(app, client, make):
    unit = make.unit("U09", name="市不动产登记中心", display_order=1)
    steady = make.unit("U10", name="市公安局", display_order=2)
    for month in (1, 2):
        make.incident(unit, "D14", at=datetime(2024, month, 9, 9, 0), count=9)  # -45: unqualified
    make.incident(steady, "D14", at=datetime(2024, 2, 9, 9, 0), count=9)  # one unqualified month only
    make.incident(unit, "D14", at=datetime(2023, 12, 9, 9, 0), count=9)  # last year: a new year starts at 0
    publish(2024, 2)  # January is still open: it counts all the same

    [notice] = db.session.scalars(select(Notice).where(Notice.flag == "replace_staff")).all()
    assert notice.unit_id == unit.id and notice.reasons == ["month:2024-01", "month:2024-02"]
    expected = ["2024年1月考核结果为不合格", "2024年2月考核结果为不合格"]
    assert [line.text for line in notices.notice_lines(notice)] == expected

    admin = make.user("admin", username="admin-r")
    assert client.post("/login", data={"username": admin.username, "password": PASSWORD}).status_code == 302
    page = parse(client.get(f"/admin/notices/{notice.id}").text)
    assert [li.text for li in page.all("#notice-reasons li")] == expected
    document = parse(client.get(f"/admin/notices/{notice.id}/document").text).text_of("doc-body")
    assert all(text in document for text in expected) and "2023年12月" not in document

    make.user("unit", username="unit-r", unit=unit)
    portal = app.test_client()
    assert portal.post("/login", data={"username": "unit-r", "password": PASSWORD}).status_code == 302
    mine = portal.get(f"/portal/notices/{notice.id}").text
    assert all(text in parse(mine).text for text in expected)


def test_a_republished_month_updates_the_months_listed(app, make):
    unit = make.unit("U09", name="市不动产登记中心")
    jan = make.incident(unit, "D14", at=datetime(2024, 1, 9, 9, 0), count=9)
    make.incident(unit, "D14", at=datetime(2024, 2, 9, 9, 0), count=9)
    publish(2024, 2)
    [notice] = db.session.scalars(select(Notice).where(Notice.flag == "replace_staff")).all()
    assert notice.reasons == ["month:2024-01", "month:2024-02"]
    # January turns out qualified after all: February is no longer a repeat, the notice is withdrawn.
    from services import incidents

    incidents.void(jan, "录错")
    months.reopen(2024, 2, "一月记录作废,重新计算")
    db.session.commit()
    publish(2024, 2)
    db.session.refresh(notice)
    assert notice.withdrawn_at is not None
