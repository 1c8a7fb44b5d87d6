"""The patrol sheet: windows × patrol items, a tap logs at the time it was tapped (bounded), a re-sent tap
counts once, undo within a minute, the record panel adds the staff member, a remark and photos."""

from __future__ import annotations

import io
import uuid
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select

from models import AuditLog, Evidence, Incident, IncidentHistory, IncidentStatus, Staff, db
from services import months
from services.clock import from_hall
from tests import images
from tests.html import parse

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
        ("future day", "日期 2024-03-21 晚于今天(2024-03-20),不能登记未来的记录"),
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
    assert "日常巡查扣分表" in html and "巡查人" in html and "css/documents.css" in html
    assert html.count('class="b-rule"') == 13 and html.count("<tr class=") + html.count("<tr>") >= 4
    assert "市人社局" in html and "市税务局" in html and "data-doc-print" in html


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


# ------------------------------------------------------------------ item 6: the tap keeps its own time


def written() -> tuple[int, int, int]:
    """Incidents, their history rows and audit rows: a refused request adds none."""
    return (
        incident_count(),
        db.session.scalar(select(func.count(IncidentHistory.id))),
        db.session.scalar(select(func.count(AuditLog.id))),
    )


def test_a_tap_sent_late_keeps_the_time_it_was_tapped(client, login, hall):
    """Tapped offline at 09:12:34 and sent at 10:00 (HALL_NOW): stored at 09:12:34, not 10:00."""
    login("inspector")
    response = tap(client, hall["u1"], day="2024-03-20", time="09:12:34")
    assert response.status_code == 200
    incident = db.session.scalar(select(Incident))
    assert incident.occurred_at == from_hall(datetime(2024, 3, 20, 9, 12, 34))


def test_a_tablet_clock_a_little_ahead_is_taken_as_now(client, login, hall):
    login("inspector")
    assert tap(client, hall["u1"], day="2024-03-20", time="10:04:00").status_code == 200
    assert db.session.scalar(select(Incident)).occurred_at == from_hall(datetime(2024, 3, 20, 10, 0))


@pytest.mark.parametrize(
    "day, at, message",
    [
        ("2024-03-20", "10:06:00", "巡查时间 2024-03-20 10:06 晚于服务器当前时间 2024-03-20 10:00"),
        ("2024-03-21", "00:01:00", "晚于服务器当前时间"),
        ("0001-01-01", "09:00:00", "日期 0001-01-01 早于考核细则的生效日期 2023-04-19"),
        ("0001-01-01", "00:00:00", "日期 0001-01-01 早于考核细则的生效日期 2023-04-19"),
        ("0001-01-01", "", "日期 0001-01-01 早于考核细则的生效日期 2023-04-19"),
        ("9999-12-31", "23:59:59", "晚于服务器当前时间"),
        ("2023-04-18", "16:00:00", "早于考核细则的生效日期 2023-04-19"),
        ("2024-02-20", "16:00:00", "2024年2月已关账"),
        ("2024-03-20", "25:00", "巡查时间格式应为 HH:MM:SS"),
    ],
)
def test_a_tap_out_of_bounds_is_refused_in_chinese_and_writes_nothing(client, login, hall, day, at, message):
    months.close(2024, 2)
    db.session.commit()
    login("inspector")
    before = written()
    response = tap(client, hall["u1"], day=day, time=at)
    html = response.get_data(as_text=True)
    assert response.status_code == 422 and response.headers["HX-Retarget"] == "#flash"
    assert message in html
    assert written() == before
    # The sheet and the months page still answer (a stored year-1 tap made them loop for a minute).
    assert client.get("/admin/patrol").status_code == 200


def test_a_resent_tap_keeps_its_first_time_and_is_stored_once(client, login, hall):
    login("inspector")
    key = str(uuid.uuid4())
    assert tap(client, hall["u1"], key=key, time="09:30:00").status_code == 200
    again = tap(client, hall["u1"], key=key, time="09:59:00")
    assert again.status_code == 200 and '<span class="n">1</span>' in again.get_data(as_text=True)
    [incident] = db.session.scalars(select(Incident)).all()
    assert incident.occurred_at == from_hall(datetime(2024, 3, 20, 9, 30))
    # Even once the tap's month is closed, a re-send answers the stored tap and writes nothing.
    assert db.session.scalar(select(func.count(IncidentHistory.id))) == 1


# ------------------------------------------------------------------ item 19: the sheet and the record panel

PNG = images.png()  # a real PNG: uploads are decoded


def test_sheet_names_the_unit_on_every_window_row_and_offers_a_jump(client, login, hall):
    login("inspector")
    html = client.get("/admin/patrol").get_data(as_text=True)
    heads = html.split('class="row-head"')[1:]
    names = [h.split('class="unit-name">')[1].split("<")[0] for h in heads]
    assert names == ["市人社局", "市税务局", "市税务局"]
    jump = html.split('id="patrol-jump"')[1].split("</select>")[0]
    assert "全部单位" in jump and f'value="{hall["u2"].id}">市人社局' in jump and "已撤出单位" not in jump
    assert 'id="patrol-failed"' in html and "未能保存" in html and 'id="patrol-record"' in html
    # ?unit= shows that unit's rows only (the others are hidden, the select keeps the choice).
    html = client.get("/admin/patrol", query_string={"unit": hall["u1"].id}).get_data(as_text=True)
    rows = html.split("<tbody>")[1].split("<tr ")[1:]
    shown = [r for r in rows if " hidden>" not in r.split(">")[0] + ">"]
    assert len(rows) == 3 and len(shown) == 2 and all(f'data-unit="{hall["u1"].id}"' in r for r in shown)
    assert f'<option value="{hall["u1"].id}" selected>' in html


def test_a_tap_opens_its_record_with_staff_photo_and_remark(client, login, make, hall):
    make.staff(hall["u1"], "S001", "张三", window="2")
    make.staff(hall["u1"], "S002", "李四", window="1")
    make.staff(hall["u2"], "S009", "王五", window="5")
    login("inspector")
    html = tap(client, hall["u1"], "2", "D04a").get_data(as_text=True)
    panel = html.split('id="patrol-record"')[1]
    assert 'hx-swap-oob="true"' in html.split('id="patrol-record"')[0].rsplit("<aside", 1)[1] + panel[:80]
    assert "市税务局" in panel and "D04a" in panel and "张三" in panel and "李四" in panel
    assert "王五" not in panel and 'name="evidence"' in panel and 'name="note"' in panel
    incident = db.session.scalar(select(Incident))
    staff = db.session.scalar(select(Staff).where(Staff.staff_id == "S001"))
    photo = [(io.BytesIO(PNG), "现场.png")]
    response = client.post(
        f"/admin/patrol/record/{incident.id}",
        headers=HX,
        data={"staff_pk": str(staff.id), "note": "离岗约 15 分钟", "evidence": photo},
        content_type="multipart/form-data",
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "已保存,照片 1 张" in html and "人员:张三" in html
    db.session.expire_all()
    incident = db.session.get(Incident, incident.id)
    assert incident.staff_pk == staff.id and incident.note == "离岗约 15 分钟"
    assert [e.filename for e in incident.evidence] == ["现场.png"]
    assert incident.history[-1].action == "corrected" and incident.history[-1].reason.startswith("巡查补充")
    # The cell's 详情 button opens the same panel later.
    sheet = client.get("/admin/patrol").get_data(as_text=True)
    cell = sheet.split(f'data-cell="{hall["u1"].id}|2|D04a"')[1].split("</td>")[0]
    assert "data-patrol-record" in cell
    panel = client.get(
        "/admin/patrol/record",
        query_string={"unit_id": hall["u1"].id, "window": "2", "rule_code": "D04a", "date": "2024-03-20"},
    ).get_data(as_text=True)
    assert "备注:离岗约 15 分钟" in panel and "照片 1 张" in panel


@pytest.mark.parametrize("case", ["staff of another unit", "someone else's tap", "closed month", "nothing"])
def test_record_details_refused_write_nothing(client, login, make, hall, case):
    other = make.staff(hall["u2"], "S009", "王五", window="5")
    login("inspector", username="first")
    tap(client, hall["u1"], "1", "D01", day="2024-02-20", time="09:00:00")
    incident = db.session.scalar(select(Incident))
    data = {"staff_pk": "", "note": "备注", "evidence": [(io.BytesIO(PNG), "现场.png")]}
    message = {
        "staff of another unit": "该人员在发生日期不在市税务局",
        "someone else's tap": "只能补充本人在巡查表上登记的记录",
        "closed month": "2024年2月已关账",
        "nothing": "没有任何改动",
    }[case]
    if case == "staff of another unit":
        data["staff_pk"] = str(other.id)
    elif case == "someone else's tap":
        client.post("/logout")
        login("inspector", username="second")
    elif case == "closed month":
        months.close(2024, 2)
        db.session.commit()
    else:
        data = {"staff_pk": "", "note": ""}
    before = written(), db.session.scalar(select(func.count(Evidence.id)))
    response = client.post(
        f"/admin/patrol/record/{incident.id}", headers=HX, data=data, content_type="multipart/form-data"
    )
    assert response.status_code == 422 and message in response.get_data(as_text=True), case
    assert (written(), db.session.scalar(select(func.count(Evidence.id)))) == before
    db.session.expire_all()
    assert db.session.get(Incident, incident.id).note == ""


def test_the_sheet_and_the_desk_share_one_staff_on_query():
    """Who staffs a unit on a day is asked one way (incidents.staff_on), the patrol sheet included."""
    from services import incidents, patrol

    assert patrol.staff_on is incidents.staff_on


def test_a_large_hall_shows_one_group_of_units_at_a_time(client, login, make):
    """Units in groups of GROUP_SIZE in display order: ?group=N shows that group, ?unit= the unit's group
    (its rows only); the jump select lists every unit under its group; the cells' addresses are the
    page's three URLs with the cell's ids in hx-vals."""
    from services.patrol import GROUP_SIZE

    units = [
        make.unit(f"G{i:02d}", name=f"单位{i:02d}", windows="1;2", display_order=i)
        for i in range(GROUP_SIZE + 3)
    ]
    login("inspector")

    def names(html: str) -> list[str]:
        heads = html.split('class="row-head"')[1:]
        return [h.split('class="unit-name">')[1].split("<")[0] for h in heads]

    html = client.get("/admin/patrol").get_data(as_text=True)
    assert names(html) == [u.name for u in units[:GROUP_SIZE] for _w in (1, 2)]
    assert "第 1 / 2 组" in html and "group=2" in html
    jump = html.split('id="patrol-jump"')[1].split("</select>")[0]
    assert jump.count("<optgroup") == 2 and all(f'value="{u.id}">{u.name}<' in jump for u in units)
    # Every cell posts to one address; its ids ride in hx-vals, also for the record panel's GET.
    assert html.count('hx-post="/admin/patrol/tap"') == GROUP_SIZE * 2 * html.count('class="rule-col"')
    assert "/admin/patrol/tap?" not in html and "/admin/patrol/record?" not in html

    second = client.get("/admin/patrol?group=2").get_data(as_text=True)
    assert names(second) == [u.name for u in units[GROUP_SIZE:] for _w in (1, 2)]
    assert "第 2 / 2 组" in second and '<input type="hidden" name="group" value="2">' in second
    # Out of range or not a number: the first group, never an error.
    for bad in ("99", "0", "x", "99999999999999999999"):
        assert names(client.get(f"/admin/patrol?group={bad}").get_data(as_text=True))[0] == units[0].name

    # A unit of the second group: its group, with its rows shown and the others hidden.
    target = units[GROUP_SIZE + 1]
    html = client.get(f"/admin/patrol?unit={target.id}").get_data(as_text=True)
    rows = html.split("<tbody>")[1].split("<tr ")[1:]
    shown = [r for r in rows if " hidden>" not in r.split(">")[0] + ">"]
    assert len(rows) == 3 * 2 and len(shown) == 2
    assert all(f'data-unit="{target.id}"' in r for r in shown) and "第 2 / 2 组" in html


@pytest.mark.parametrize(
    "asked, message",
    [
        ("9999-12-31", "9999-12-31 还没有到,已显示今天"),
        ("2024-03-21", "2024-03-21 还没有到,已显示今天"),
        ("0001-01-01", "0001-01-01 早于考核细则的生效日期 2023-04-19,已显示今天"),
    ],
)
def test_a_day_to_come_or_before_the_rulebook_shows_today_with_the_reason(
    client, login, hall, asked, message
):
    login("inspector")
    response = client.get(f"/admin/patrol?date={asked}")
    page = parse(response.get_data(as_text=True))
    assert response.status_code == 422 and page.texts(".flash-error") == [message]
    assert page.one("#patrol-date").get("value") == "2024-03-20"  # the tests' hall day
