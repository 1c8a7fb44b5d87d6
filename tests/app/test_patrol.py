"""The patrol sheet: windows × patrol items, a tap logs, a re-sent tap counts once, undo within a minute."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select

from models import Incident, IncidentStatus, db
from services import months
from services.clock import from_hall

HX = {"HX-Request": "true"}


@pytest.fixture
def hall(make):
    u1 = make.unit("U01", name="市税务局", windows="1;2", display_order=2)
    u2 = make.unit("U02", name="市人社局", windows="5", display_order=1)
    make.unit("U03", name="无窗口单位", windows="", display_order=3)
    make.unit("U09", name="已撤出单位", windows="9", display_order=0, active=False)
    return {"u1": u1, "u2": u2}


def tap(client, unit, window="1", rule="D01", key=None, day="2024-03-20", **extra):
    data = {
        "unit_id": unit.id,
        "window": window,
        "rule_code": rule,
        "client_key": key or str(uuid.uuid4()),
        "date": day,
        **extra,
    }
    return client.post("/admin/patrol/tap", data=data, headers=HX)


def incident_count() -> int:
    return db.session.scalar(select(func.count(Incident.id)))


def test_sheet_has_windows_as_rows_and_patrol_items_as_columns(client, login, make, hall):
    make.incident(hall["u1"], "D03", at=datetime(2024, 3, 20, 9, 0), window="2")
    make.incident(hall["u1"], "D03", at=datetime(2024, 3, 20, 9, 30), window="2")
    make.incident(hall["u1"], "D03", at=datetime(2024, 3, 19, 9, 0), window="2")  # yesterday: not counted
    login("inspector")
    response = client.get("/admin/patrol")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    # Grouped by unit in display order: 市人社局 (1) before 市税务局 (2);
    # inactive and windowless units absent.
    assert (
        html.index("市人社局") < html.index("市税务局")
        and "已撤出单位" not in html
        and "无窗口单位" not in html
    )
    assert html.count('class="row-head"') == 3
    heads = [
        c
        for c in (
            "D01",
            "D02a",
            "D02b",
            "D02c",
            "D03",
            "D04a",
            "D04b",
            "D05a",
            "D05b",
            "D05c",
            "D06",
            "D07a",
            "D07b",
        )
    ]
    assert html.count('class="rule-col"') == len(heads) and "D08" not in html.split("<tbody>")[0]
    assert f'data-cell="{hall["u1"].id}|2|D03"' in html
    cell = html.split(f'data-cell="{hall["u1"].id}|2|D03"')[1].split("</td>")[0]
    assert '<span class="n">2</span>' in cell
    assert "打印空白表" in html and "data-patrol-tap" in html and "patrol-unsent" in html


def test_tap_logs_the_incident_for_that_window_at_the_time_of_the_round(client, login, hall):
    user = login("inspector")
    response = tap(client, hall["u1"], "2", "D04a")
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "<html" not in html
    assert "已记录 · 撤销" in html and '<span class="n">1</span>' in html
    incident = db.session.scalar(select(Incident))
    assert (incident.unit_id, incident.window, incident.rule_code, incident.count) == (
        hall["u1"].id,
        "2",
        "D04a",
        1,
    )
    assert incident.source == "patrol" and incident.recorded_by_id == user.id and incident.exempt is False
    assert incident.occurred_at == from_hall(datetime(2024, 3, 20, 10, 0))  # HALL_NOW
    assert incident.status == IncidentStatus.CONFIRMED and incident.history[0].action == "created"
    # The sheet shows it (and the undo) on reload.
    sheet = client.get("/admin/patrol").get_data(as_text=True)
    cell = sheet.split(f'data-cell="{hall["u1"].id}|2|D04a"')[1].split("</td>")[0]
    assert '<span class="n">1</span>' in cell and "已记录 · 撤销" in cell


def test_d06_from_the_patrol_sheet_is_logged_without_exemption(client, login, hall):
    login("inspector")
    assert tap(client, hall["u1"], "1", "D06").status_code == 200
    assert db.session.scalar(select(Incident)).exempt is False


def test_a_resent_tap_is_stored_once(client, login, hall):
    login("inspector")
    key = str(uuid.uuid4())
    first = tap(client, hall["u1"], key=key)
    again = tap(client, hall["u1"], key=key)
    assert first.status_code == again.status_code == 200
    assert incident_count() == 1
    assert '<span class="n">1</span>' in again.get_data(as_text=True)


def test_second_tap_within_a_minute_undoes(client, login, hall):
    login("inspector")
    tap(client, hall["u1"])
    incident = db.session.scalar(select(Incident))
    response = client.post("/admin/patrol/undo", data={"incident_id": incident.id}, headers=HX)
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "已撤销" in html and '<span class="n"></span>' in html
    db.session.expire_all()
    incident = db.session.get(Incident, incident.id)
    assert incident.status == IncidentStatus.VOIDED and incident.void_reason == "巡查撤销"


def test_undo_after_a_minute_is_refused(client, login, hall):
    login("inspector")
    tap(client, hall["u1"])
    incident = db.session.scalar(select(Incident))
    incident.created_at = incident.created_at - timedelta(seconds=61)
    db.session.commit()
    response = client.post("/admin/patrol/undo", data={"incident_id": incident.id}, headers=HX)
    assert response.status_code == 422 and "已超过一分钟" in response.get_data(as_text=True)
    assert response.headers["HX-Retarget"] == "#flash"
    db.session.expire_all()
    assert db.session.get(Incident, incident.id).status == IncidentStatus.CONFIRMED
    sheet = client.get("/admin/patrol").get_data(as_text=True)
    assert "已记录 · 撤销" not in sheet


def test_undo_of_someone_elses_tap_is_refused(client, login, make, hall):
    login("inspector", username="first")
    tap(client, hall["u1"])
    incident = db.session.scalar(select(Incident))
    client.post("/logout")
    login("admin", username="second")
    response = client.post("/admin/patrol/undo", data={"incident_id": incident.id}, headers=HX)
    assert response.status_code == 422 and "只能撤销本人" in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Incident, incident.id).status == IncidentStatus.CONFIRMED


def test_desk_incidents_cannot_be_undone_from_the_sheet(client, login, make, hall):
    login("admin")
    incident = make.incident(hall["u1"], "D01", window="1")
    response = client.post("/admin/patrol/undo", data={"incident_id": incident.id}, headers=HX)
    assert response.status_code == 422 and "只能撤销本人在巡查表上的记录" in response.get_data(as_text=True)


@pytest.mark.parametrize(
    "case, message",
    [
        ("not a patrol item", "D08 不是巡查表上的项目"),
        ("unknown rule", "D99 不是巡查表上的项目"),
        ("window of another unit", "窗口 5 不属于市税务局"),
        ("future day", "不能登记未来日期的巡查记录"),
        ("bad date", "请填写正确的日期"),
        ("no key", "缺少记录标识"),
        ("bad key", "巡查记录缺少有效的标识"),
        ("unknown unit", "单位不存在"),
        ("closed month", "2024年2月已关账"),
    ],
)
def test_bad_taps_are_refused_in_chinese_and_write_nothing(client, login, hall, case, message):
    if case == "closed month":
        months.close(2024, 2)
        db.session.commit()
    login("inspector")
    unit = hall["u1"]
    kwargs = {
        "not a patrol item": {"rule": "D08"},
        "unknown rule": {"rule": "D99"},
        "window of another unit": {"window": "5"},
        "future day": {"day": "2024-03-21"},
        "bad date": {"day": "2024-02-30"},
        "no key": {"key": ""},
        "bad key": {"key": "<script>"},
        "unknown unit": {},
        "closed month": {"day": "2024-02-20"},
    }[case]
    if case == "unknown unit":
        response = client.post(
            "/admin/patrol/tap",
            headers=HX,
            data={
                "unit_id": 99999,
                "window": "1",
                "rule_code": "D01",
                "client_key": str(uuid.uuid4()),
                "date": "2024-03-20",
            },
        )
    elif case == "no key":
        response = client.post(
            "/admin/patrol/tap",
            headers=HX,
            data={
                "unit_id": unit.id,
                "window": "1",
                "rule_code": "D01",
                "client_key": "",
                "date": "2024-03-20",
            },
        )
    else:
        response = tap(client, unit, **kwargs)
    assert response.status_code == 422, case
    assert message in response.get_data(as_text=True), case
    assert incident_count() == 0


def test_a_tap_queued_before_midnight_keeps_its_day_and_time(client, login, hall):
    login("inspector")
    response = tap(client, hall["u1"], day="2024-03-19", time="16:58:30")
    assert response.status_code == 200
    incident = db.session.scalar(select(Incident))
    assert incident.occurred_at == from_hall(datetime(2024, 3, 19, 16, 58, 30))


def test_past_days_are_read_only(client, login, make, hall):
    make.incident(hall["u1"], "D01", at=datetime(2024, 3, 18, 9, 0), window="1")
    login("inspector")
    html = client.get("/admin/patrol", query_string={"date": "2024-03-18"}).get_data(as_text=True)
    assert "data-patrol-tap" not in html and "只读" in html
    cell = html.split(f'data-cell="{hall["u1"].id}|1|D01"')[1].split("</td>")[0]
    assert '<span class="n">1</span>' in cell
    bad = client.get("/admin/patrol", query_string={"date": "yesterday"})
    assert bad.status_code == 422 and "日期格式应为 YYYY-MM-DD" in bad.get_data(as_text=True)


def test_blank_sheet_is_printable(client, login, hall):
    login("inspector")
    response = client.get("/admin/patrol/blank")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "日常巡查扣分表" in html and "巡查人" in html and "css/print.css" in html
    assert html.count('class="b-rule"') == 13 and html.count("<tr class=") + html.count("<tr>") >= 4
    assert "市人社局" in html and "市税务局" in html and "data-print-page" in html


@pytest.mark.parametrize(
    "role, allowed", [("admin", True), ("inspector", True), ("leader", False), ("unit", False)]
)
def test_patrol_roles(client, login, hall, role, allowed):
    login(role, unit=hall["u1"] if role == "unit" else None)
    for url in ("/admin/patrol", "/admin/patrol/blank"):
        assert client.get(url).status_code == (200 if allowed else 403), (role, url)
    response = tap(client, hall["u1"])
    assert response.status_code == (200 if allowed else 403)
    assert client.post("/admin/patrol/undo", data={"incident_id": 999999}, headers=HX).status_code == (
        422 if allowed else 403
    )
    assert incident_count() == (1 if allowed else 0)
