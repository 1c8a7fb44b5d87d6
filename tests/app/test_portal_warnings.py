"""Warnings in the portal (issue 9 item 5): a unit sees the warnings (提醒) given to it, its windows and its
staff, newest first, a page at a time; never another unit's."""

from __future__ import annotations

from datetime import date, datetime

from models import Warning, db
from services.audit import record
from services.clock import from_hall
from tests.html import parse


def warn(unit, at: datetime, text: str, rule_code="D05b", staff=None, window=None) -> Warning:
    row = Warning(
        unit=unit, staff=staff, window=window, rule_code=rule_code, given_at=from_hall(at), text=text
    )
    db.session.add(row)
    db.session.flush()
    record("warning.create", f"warning:{row.id}")  # as every write of the app (kept pages follow it)
    db.session.commit()
    return row


def test_a_unit_sees_its_own_warnings_with_window_and_staff(client, login, make):
    own = make.unit("U01", name="市税务局")
    other = make.unit("U02", name="市社保中心")
    staff = make.staff(own, "S001", name="王五", window="3", start=date(2024, 1, 1))
    warn(own, datetime(2024, 3, 4, 9, 0), "请佩戴工牌", staff=staff, window="3")
    warn(own, datetime(2024, 3, 6, 10, 30), "窗口桌面摆放私人物品,请整理", rule_code="D04b", window="2")
    warn(own, datetime(2024, 2, 20, 15, 0), "全体窗口人员注意着装", rule_code=None)
    warn(other, datetime(2024, 3, 5, 9, 0), "社保中心的提醒")
    login("unit", unit=own)

    response = client.get("/portal/warnings")
    assert response.status_code == 200
    page = parse(response.text)
    rows = page.all("tr.warning-row")
    assert [r.one(".w-text").text for r in rows] == [
        "窗口桌面摆放私人物品,请整理",
        "请佩戴工牌",
        "全体窗口人员注意着装",
    ]
    assert [r.one(".w-window").text for r in rows] == ["2", "3", "—"]
    assert [r.one(".w-staff").text for r in rows] == ["本单位", "王五", "本单位"]
    text = page.text_of("warnings")
    assert "共 3 条" in text and "D05b" in text and "不佩戴工牌" in text and "2024-03-04 09:00" in text
    assert "社保中心的提醒" not in response.text
    # The portal's menu leads there.
    assert 'href="/portal/warnings"' in client.get("/portal/").text


def test_no_warnings_and_pages(client, login, make):
    unit = make.unit("U01", name="市税务局")
    login("unit", unit=unit)
    assert parse(client.get("/portal/warnings").text).text_of("no-warnings") == "本单位没有提醒记录。"
    for day in range(1, 32):
        warn(unit, datetime(2024, 1, day, 9, 0), f"第{day}次提醒")
    first = parse(client.get("/portal/warnings").text)
    assert len(first.all("tr.warning-row")) == 30
    assert first.all("tr.warning-row")[0].one(".w-text").text == "第31次提醒"
    second = parse(client.get("/portal/warnings?page=2").text)
    assert [r.one(".w-text").text for r in second.all("tr.warning-row")] == ["第1次提醒"]
    assert client.get("/portal/warnings?page=abc").status_code == 200  # a bad page number shows the first


def test_staff_and_other_roles_do_not_use_the_portal_page(client, login, make):
    make.unit("U01")
    login("admin")
    assert client.get("/portal/warnings").status_code == 403
