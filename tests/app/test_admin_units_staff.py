"""Units and staff pages: add, edit, move, end, leave; bad input gives a Chinese message, a 422 and no write;
every change keeps the roster history D13 reads and writes an audit row."""

from __future__ import annotations

from datetime import date

from sqlalchemy import func, select

from models import AuditLog, Leave, Posting, Staff, Unit, db


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def audit_actions() -> list[str]:
    return list(db.session.scalars(select(AuditLog.action).order_by(AuditLog.id)))


def unit_form(**kw) -> dict:
    data = {"code": "SW01", "name": "市税务局", "windows": "1、2、3", "display_order": "3", "active": "y"}
    data.update(kw)
    return data


def test_add_and_edit_a_unit(client, login):
    login("admin")
    response = client.post("/admin/units/new", data=unit_form())
    assert response.status_code == 302
    unit = db.session.scalar(select(Unit).where(Unit.code == "SW01"))
    assert (unit.name, unit.windows, unit.display_order, unit.active) == ("市税务局", "1;2;3", 3, True)
    html = client.get("/admin/units").get_data(as_text=True)
    assert "市税务局" in html and "1、2、3" in html
    renamed = unit_form(name="国家税务总局市税务局", windows="1;2")
    assert client.post(f"/admin/units/{unit.id}/edit", data=renamed).status_code == 302
    db.session.refresh(unit)
    assert (unit.name, unit.windows) == ("国家税务总局市税务局", "1;2")
    # An unchecked "active" box turns the unit off.
    client.post(f"/admin/units/{unit.id}/edit", data={**renamed, "active": ""})
    db.session.refresh(unit)
    assert unit.active is False
    assert audit_actions()[-3:] == ["unit.create", "unit.update", "unit.update"]
    page = client.get(f"/admin/units/{unit.id}/edit").get_data(as_text=True)
    assert 'value="SW01"' in page


BAD_UNITS = [
    (unit_form(code=""), "请填写单位编码"),
    (unit_form(name=""), "请填写单位名称"),
    (unit_form(code="U01"), "单位编码已被使用"),
    (unit_form(windows="1;1"), "窗口号 1 重复"),
    (unit_form(windows="1;<b>"), "窗口号 <b> 无效"),
    (unit_form(display_order="abc"), "不是有效的整数"),
    (unit_form(display_order="-1"), "显示顺序须为 0 至 9999 的整数"),
    (unit_form(code="X" * 40), "单位编码不能超过 32 个字符"),
]


def test_bad_unit_input(client, login, make):
    make.unit("U01")
    login("admin")
    for data, message in BAD_UNITS:
        response = client.post("/admin/units/new", data=data)
        html = response.get_data(as_text=True)
        assert response.status_code == 422, data
        assert message.replace("<", "&lt;").replace(">", "&gt;") in html, data
    assert count(Unit) == 1


def test_unit_edit_refuses_the_code_of_another(client, login, make):
    make.unit("U01")
    other = make.unit("U02")
    login("admin")
    response = client.post(f"/admin/units/{other.id}/edit", data=unit_form(code="U01"))
    assert response.status_code == 422 and "单位编码已被使用" in response.get_data(as_text=True)
    db.session.refresh(other)
    assert other.code == "U02"


def test_add_staff_then_move_and_end_keeping_history(client, login, make):
    u1 = make.unit("U01", windows="1;2")
    u2 = make.unit("U02", name="市社保中心", windows="5")
    login("admin")
    response = client.post(
        "/admin/staff/new",
        data={
            "staff_id": "S100",
            "name": "王五",
            "unit_id": str(u1.id),
            "category": "W",
            "window": "2",
            "start_date": "2024-01-02",
        },
    )
    assert response.status_code == 302
    staff = db.session.scalar(select(Staff).where(Staff.staff_id == "S100"))
    listing = client.get(f"/admin/staff?unit={u1.id}").get_data(as_text=True)
    assert "王五" in listing and "2024-01-02" in listing

    response = client.post(
        f"/admin/staff/{staff.id}/move",
        data={
            "move-unit_id": str(u2.id),
            "move-category": "W",
            "move-window": "5",
            "move-from_date": "2024-03-01",
        },
    )
    assert response.status_code == 302
    response = client.post(f"/admin/staff/{staff.id}/end", data={"end-end_date": "2024-03-15"})
    assert response.status_code == 302
    db.session.expire_all()
    spans = [(p.unit.code, p.window, p.start_date, p.end_date) for p in staff.postings]
    assert spans == [
        ("U01", "2", date(2024, 1, 2), date(2024, 2, 29)),
        ("U02", "5", date(2024, 3, 1), date(2024, 3, 15)),
    ]
    page = client.get(f"/admin/staff/{staff.id}").get_data(as_text=True)
    assert "岗位历史" in page and "2024-02-29" in page and "市社保中心" in page
    assert audit_actions()[-3:] == ["staff.create", "staff.move", "staff.end"]
    # Ended staff leave the default list and come back with "包括已离岗人员".
    assert "王五" not in client.get("/admin/staff").get_data(as_text=True)
    assert "王五" in client.get("/admin/staff?ended=1").get_data(as_text=True)


BAD_STAFF = [
    ({"staff_id": ""}, "请填写工号"),
    ({"name": ""}, "请填写姓名"),
    ({"unit_id": "0"}, "请选择单位"),
    ({"unit_id": "abc"}, "选择无效"),
    ({"category": "X"}, "不是有效的选择"),
    ({"window": "9"}, "窗口 9 不属于"),
    ({"start_date": "2024-02-30"}, "不是有效的日期值"),
    ({"start_date": ""}, "请填写到岗日期"),
    ({"staff_id": "S001"}, "该工号已存在"),
]


def test_bad_staff_input(client, login, make):
    unit = make.unit("U01", windows="1;2")
    make.staff(unit, "S001")
    login("admin")
    good = {
        "staff_id": "S100",
        "name": "王五",
        "unit_id": str(unit.id),
        "category": "W",
        "window": "1",
        "start_date": "2024-01-02",
    }
    for changes, message in BAD_STAFF:
        response = client.post("/admin/staff/new", data={**good, **changes})
        assert response.status_code == 422, changes
        assert message in response.get_data(as_text=True), changes
    assert (count(Staff), count(Posting)) == (1, 1)


def test_bad_move_end_and_leave(client, login, make):
    unit = make.unit("U01", windows="1;2")
    staff = make.staff(unit, "S001", start=date(2024, 1, 10))
    login("admin")
    move = {
        "move-unit_id": str(unit.id),
        "move-category": "W",
        "move-window": "2",
        "move-from_date": "2024-01-05",
    }
    response = client.post(f"/admin/staff/{staff.id}/move", data=move)
    assert response.status_code == 422 and "调岗日期必须晚于" in response.get_data(as_text=True)
    response = client.post(f"/admin/staff/{staff.id}/end", data={"end-end_date": "2023-12-31"})
    assert response.status_code == 422 and "早于当前岗位的开始日期" in response.get_data(as_text=True)
    response = client.post(
        f"/admin/staff/{staff.id}/leave",
        data={"leave-start_date": "2024-03-05", "leave-end_date": "2024-03-01"},
    )
    assert response.status_code == 422 and "请假结束日期不能早于开始日期" in response.get_data(as_text=True)
    response = client.post(f"/admin/staff/{staff.id}/leave", data={"leave-start_date": "x"})
    assert response.status_code == 422 and "不是有效的日期值" in response.get_data(as_text=True)
    db.session.expire_all()
    assert [(p.start_date, p.end_date) for p in staff.postings] == [(date(2024, 1, 10), None)]
    assert count(Leave) == 0


def test_leave_is_recorded_once(client, login, make):
    unit = make.unit("U01")
    staff = make.staff(unit, "S001", category="C", window=None)
    login("admin")
    data = {"leave-start_date": "2024-03-04", "leave-end_date": "2024-03-06", "leave-note": "病假"}
    assert client.post(f"/admin/staff/{staff.id}/leave", data=data).status_code == 302
    response = client.post(f"/admin/staff/{staff.id}/leave", data=data)
    assert response.status_code == 422 and "与已登记的请假重叠" in response.get_data(as_text=True)
    assert count(Leave) == 1
    page = client.get(f"/admin/staff/{staff.id}").get_data(as_text=True)
    assert "2024-03-04" in page and "病假" in page
    assert "leave.create" in audit_actions()


def _expected_rows(unit_id: int | None, show_ended: bool) -> list[tuple[str, str, bool]]:
    """The list as the page showed it before paging (every staff member read in Python): (staff id,
    unit code of the posting shown, on duty), by staff id. The paged SQL must give the same rows."""
    from services import roster
    from services.clock import hall_today

    today = hall_today()
    rows = []
    for staff in roster.all_staff():
        current = staff.posting_on(today) or roster.open_posting(staff)
        shown = current or staff.current
        if unit_id and (shown is None or shown.unit_id != unit_id):
            continue
        if current is None and not show_ended:
            continue
        rows.append((staff.staff_id, shown.unit.code if shown else "", current is not None))
    return rows


def test_staff_list_pages_in_the_database_with_its_filters(client, login, make):
    from services.clock import hall_today
    from services.staff_list import PAGE_SIZE, staff_page

    u1, u2 = make.unit("U01", name="市税务局"), make.unit("U02", name="市社保中心", windows="5")
    today = hall_today()
    for i in range(PAGE_SIZE + 20):
        unit = u1 if i % 3 else u2
        staff = make.staff(unit, staff_id=f"S{i:03d}", name=f"人员{i:03d}", start=date(2023, 1, 1))
        if i % 7 == 0:  # moved to the other unit last month: shown at the new one
            staff.postings[0].end_date = date(today.year, today.month, 1).replace(day=1) - _day()
            other = u2 if unit is u1 else u1
            staff.postings.append(
                Posting(unit=other, category="W", window="1", start_date=staff.postings[0].end_date + _day())
            )
        elif i % 11 == 0:  # left
            staff.postings[0].end_date = date(2023, 6, 30)
        elif i % 13 == 0:  # starts next month somewhere else: an open posting, shown as on duty
            staff.postings[0].end_date = today - _day()
            staff.postings.append(Posting(unit=u2, category="C", start_date=today + 31 * _day()))
    db.session.add(Staff(staff_id="S999", name="无岗位"))  # never posted: only with 包括已离岗人员
    db.session.commit()
    login("admin")
    for unit_id in (None, u1.id, u2.id):
        for ended in (False, True):
            expected = _expected_rows(unit_id, ended)
            got = []
            page = 1
            while True:
                listed = staff_page(today, unit_id, ended, page)
                got += [(s.staff_id, p.unit.code if p else "", on) for s, p, on in listed.rows]
                if page >= listed.pages:
                    break
                page += 1
            assert got == expected and listed.total == len(expected), (unit_id, ended)

    # The page: 50 rows, the shared numbered pager keeping the filters, the count of all matching.
    html = client.get(f"/admin/staff?unit={u1.id}&ended=1").get_data(as_text=True)
    expected = _expected_rows(u1.id, True)
    table = html.split('id="staff-table"')[1].split("</table>")[0]
    assert table.count('class="btn small"') == min(PAGE_SIZE, len(expected))
    assert f"共 {len(expected)} 人" in html
    html = client.get("/admin/staff?ended=1").get_data(as_text=True)
    assert 'class="pager"' in html and "/admin/staff?page=2&amp;ended=1" in html and "S000" in html
    second = client.get("/admin/staff?ended=1&page=2", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert second.strip().startswith('<section class="card" id="staff-rows">') and "S999" in second
    assert "S000" not in second and "第 2 / 2 页" in second
    beyond = client.get("/admin/staff?page=9").get_data(as_text=True)
    assert "没有第 9 页" in beyond and "/admin/staff?page=2" in beyond
    assert "共" in client.get("/admin/staff?page=99999999999999999999").get_data(as_text=True)


def _day():
    from datetime import timedelta

    return timedelta(days=1)
