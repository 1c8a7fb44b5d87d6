"""Users (admin): add, edit role/unit/active, reset a password, never lock oneself out; the audit log
(admins and leaders): newest first, filters, pages, readable before/after."""

from __future__ import annotations

from datetime import datetime, timedelta

from flask import g
from sqlalchemy import func, select

from models import AuditLog, User, db
from services.audit import record
from services.clock import to_hall
from tests.conftest import PASSWORD
from tests.html import text_of


def fresh_login_state() -> None:
    """The tests share one app context, so Flask-Login's user cached in `g` outlives a request: drop it
    after another client logged in."""
    g.pop("_login_user", None)


def users() -> int:
    return db.session.scalar(select(func.count(User.id)))


def new_user(**kw) -> dict:
    data = {
        "username": "clerk",
        "display_name": "刘七",
        "role": "inspector",
        "unit_id": "0",
        "password": "secret-pass-1",
    }
    data.update(kw)
    return data


def test_add_a_user_who_can_then_log_in(client, login, make, app):
    login("admin")
    unit = make.unit("U01", name="市税务局")
    response = client.post("/admin/users/new", data=new_user(role="unit", unit_id=str(unit.id)))
    assert response.status_code == 302
    user = db.session.scalar(select(User).where(User.username == "clerk"))
    assert user.role == "unit" and user.unit_id == unit.id and user.password_hash != "secret-pass-1"
    html = client.get("/admin/users").get_data(as_text=True)
    assert "clerk" in html and "单位用户" in html and "市税务局" in html
    audit = db.session.scalar(select(AuditLog).where(AuditLog.action == "user.create"))
    assert "password" not in str(audit.after) and audit.after["role"] == "unit"
    other = app.test_client()
    assert other.post("/login", data={"username": "clerk", "password": "secret-pass-1"}).status_code == 302


BAD_USERS = [
    ({"username": ""}, "请填写用户名"),
    ({"username": "有空格 的名字"}, "用户名须为 2 至 64 位"),
    ({"username": "admin1"}, "该用户名已存在"),
    ({"username": "ADMIN1"}, "该用户名已存在"),
    ({"password": "short"}, "密码至少 10 位"),
    ({"role": "root"}, "不是有效的选择"),
    ({"role": "unit"}, "单位用户必须选择所属单位"),
    ({"unit_id": "999"}, "不是有效的选择"),
]


def test_bad_new_user(client, login):
    login("admin")
    before = users()
    for changes, message in BAD_USERS:
        response = client.post("/admin/users/new", data=new_user(**changes))
        assert response.status_code == 422, changes
        assert message in response.get_data(as_text=True), changes
    assert users() == before


def test_inspector_with_a_unit_is_refused(client, login, make):
    unit = make.unit("U01")
    login("admin")
    response = client.post("/admin/users/new", data=new_user(unit_id=str(unit.id)))
    assert response.status_code == 422 and "只有单位用户可以选择所属单位" in response.get_data(as_text=True)


def test_edit_role_unit_and_active(client, login, make):
    login("admin")
    unit = make.unit("U01")
    user = make.user("inspector", username="walker")
    page = client.get(f"/admin/users/{user.id}/edit").get_data(as_text=True)
    assert "walker" in page and "重置密码" in page
    data = {
        "user-display_name": "巡查一组",
        "user-role": "unit",
        "user-unit_id": str(unit.id),
        "user-active": "",
    }
    assert client.post(f"/admin/users/{user.id}/edit", data=data).status_code == 302
    db.session.refresh(user)
    assert (user.display_name, user.role, user.unit_id, user.active) == ("巡查一组", "unit", unit.id, False)
    update = db.session.scalar(select(AuditLog).where(AuditLog.action == "user.update"))
    assert update.before["active"] is True and update.after["active"] is False
    # An inactive user cannot log in.
    client.post("/logout")
    assert client.post("/login", data={"username": "walker", "password": PASSWORD}).status_code == 422


def test_an_admin_cannot_lock_themself_out(client, login):
    me = login("admin")
    data = {"user-display_name": "", "user-role": "admin", "user-unit_id": "0", "user-active": ""}
    response = client.post(f"/admin/users/{me.id}/edit", data=data)
    assert response.status_code == 422 and "不能停用自己的账号" in response.get_data(as_text=True)
    data = {"user-display_name": "", "user-role": "leader", "user-unit_id": "0", "user-active": "y"}
    response = client.post(f"/admin/users/{me.id}/edit", data=data)
    assert response.status_code == 422 and "不能取消自己的管理员角色" in response.get_data(as_text=True)
    db.session.refresh(me)
    assert me.active and me.role == "admin"


def test_reset_password(client, login, make, app):
    login("admin")
    user = make.user("leader", username="boss")
    response = client.post(
        f"/admin/users/{user.id}/password", data={"pw-password": "short", "pw-confirm": "short"}
    )
    assert response.status_code == 422 and "密码至少 10 位" in response.get_data(as_text=True)
    response = client.post(
        f"/admin/users/{user.id}/password",
        data={"pw-password": "new-password-9", "pw-confirm": "other-password"},
    )
    assert response.status_code == 422 and "两次输入的密码不一致" in response.get_data(as_text=True)
    response = client.post(
        f"/admin/users/{user.id}/password",
        data={"pw-password": "new-password-9", "pw-confirm": "new-password-9"},
    )
    assert response.status_code == 302
    other = app.test_client()
    assert other.post("/login", data={"username": "boss", "password": PASSWORD}).status_code == 422
    assert other.post("/login", data={"username": "boss", "password": "new-password-9"}).status_code == 302
    reset = db.session.scalar(select(AuditLog).where(AuditLog.action == "user.password_reset"))
    assert "new-password-9" not in str(reset.after)
    fresh_login_state()
    assert client.get("/admin/users/999999/edit").status_code == 404


def test_audit_log_filters_pages_and_diffs(client, login, make):
    admin = login("admin")
    unit = make.unit("U01", name="市税务局")
    client.post(
        f"/admin/units/{unit.id}/edit",
        data={
            "code": "U01",
            "name": "国家税务总局市税务局",
            "windows": "1;2",
            "display_order": "0",
            "active": "y",
        },
    )
    for i in range(60):
        record("test.bulk", f"thing:{i}", after={"n": i}, user_id=admin.id)
    db.session.commit()
    html = client.get("/admin/audit").get_data(as_text=True)
    # 60 + the shipped rulebook's load + the admin's login + the unit update
    assert "共 63 条" in html
    assert html.index("thing:59") < html.index("thing:58")  # newest first
    # Keyset pages: "更早" continues below the page's last row, "更新" goes back above the first.
    assert "更新" not in html and "最新" not in html
    older = html.split('rel="next" href="')[1].split('"')[0].replace("&amp;", "&")
    assert older.startswith("/admin/audit?before=")
    page2 = client.get(older).get_data(as_text=True)
    assert "thing:0" in page2 and 'title="user.login"' in page2 and "thing:10" not in page2
    assert 'rel="next"' not in page2 and "共 63 条" in page2 and "« 最新" in page2
    newer = page2.split('rel="prev" href="')[1].split('"')[0].replace("&amp;", "&")
    again = client.get(newer).get_data(as_text=True)
    assert (
        "thing:59" in again and "thing:10" in again and "thing:9<" not in again and 'rel="prev"' not in again
    )
    # The filters ride along the keyset links.
    html = client.get(f"/admin/audit?user={admin.id}&action=test.bulk").get_data(as_text=True)
    older = html.split('rel="next" href="')[1].split('"')[0].replace("&amp;", "&")
    assert f"user={admin.id}" in older and "action=test.bulk" in older
    page2 = client.get(older).get_data(as_text=True)
    assert "thing:0" in page2 and 'title="user.login"' not in page2
    # Bad keys are ignored (the newest page), never a 500.
    for bad in ("x", "-1", "99999999999999999999"):
        assert "thing:59" in client.get(f"/admin/audit?before={bad}&after={bad}").get_data(as_text=True)
    html = client.get("/admin/audit?action=unit.update").get_data(as_text=True)
    assert "共 1 条" in html
    diff = html[html.index('<ul class="diff">') : html.index("</ul>")]
    # Only what changed is listed, as key: before → after.
    assert '<span class="k">名称:</span> <del>市税务局</del> → <ins>国家税务总局市税务局</ins>' in diff
    assert "windows" not in diff
    html = client.get(f"/admin/audit?user={admin.id}&target=thing:5").get_data(as_text=True)
    assert "共 11 条" in html  # thing:5 and thing:50..59
    # Audit rows carry the real clock's time; the date filters work on hall-time days.
    day = to_hall(db.session.scalar(select(AuditLog.at).order_by(AuditLog.id.desc()))).date()
    same_day = client.get(f"/admin/audit?date_from={day}&date_to={day}").get_data(as_text=True)
    assert "共 63 条" in same_day
    before = client.get(f"/admin/audit?date_to={day - timedelta(days=1)}").get_data(as_text=True)
    assert "共 0 条" in before and "没有符合条件的记录" in before
    response = client.get("/admin/audit?date_from=2024-03-10&date_to=2024-03-01")
    assert response.status_code == 422 and "截止日期不能早于起始日期" in response.get_data(as_text=True)
    response = client.get("/admin/audit?date_from=bad&page=-3&user=x")
    assert response.status_code == 422 and "不是有效的日期值" in response.get_data(as_text=True)


def test_leader_reads_the_audit_log_inspector_does_not(client, login):
    login("leader")
    assert client.get("/admin/audit").status_code == 200
    client.post("/logout")
    login("inspector")
    assert client.get("/admin/audit").status_code == 403


def test_audit_diff_reads_like_a_change():
    from services.dashboard import audit_diff

    changed = audit_diff({"name": "甲", "windows": "1"}, {"name": "乙", "windows": "1"})
    assert changed == [("name", "甲", "乙")]
    # A creation lists what the new record holds, not its empty fields.
    assert audit_diff(None, {"code": "U01", "note": "", "staff": None, "active": True}) == [
        ("code", "", "U01"),
        ("active", "", "是"),
    ]
    assert audit_diff({"kind": "holiday"}, None) == [("kind", "holiday", "")]
    assert audit_diff(None, None) == []
    assert audit_diff({"windows": ["1", "2"]}, {"windows": ["1"]}) == [("windows", "1、2", "1")]


def test_audit_log_speaks_chinese_and_names_its_objects(client, login, make):
    """Issue 8, item 17: no raw keys, objects by name; old rows (user:<username>) read well too, and the
    stored target still filters."""
    admin = login("admin")
    unit = make.unit("U01", name="市税务局")
    make.staff(unit, "S001", name="张三")
    clerk = make.user("inspector", username="clerk")
    clerk.display_name = "刘七"
    deduction = make.incident(unit, "D04a", at=datetime(2024, 3, 5, 9, 0))
    bonus = make.incident(unit, "B01", at=datetime(2024, 3, 6, 9, 0))
    record("user.update", f"user:{clerk.id}", before={"active": True}, after={"active": False})
    record("user.create", "user:clerk", after={"username": "clerk", "role": "inspector"})  # an older row
    record("month.close", "month:2024-03", before={"status": "open"}, after={"status": "closed"})
    record(
        "detect.run",
        "month:2024-02",
        after={"month": "2024-02", "proposed": 2, "unknown_staff": ["GHOST"], "skipped_inactive": 1},
    )
    record(
        "import.staff",
        "import:staff",
        after={"kind": "staff", "rows": 3, "staff_created": 1, "postings_added": 2, "postings_closed": 1},
    )
    record("import.clock", "import:clock", after={"rows": 9, "created": 5, "unknown_staff": {"S0099": 4}})
    posting = {"unit": "U01", "category": "W", "window": "1", "start_date": "2024-01-01", "end_date": None}
    record(
        "staff.end",
        "staff:S001",
        before={"staff_id": "S001", "name": "张三", "postings": [posting]},
        after={"staff_id": "S001", "name": "张三", "postings": [{**posting, "end_date": "2024-03-01"}]},
    )
    record("calendar.set", "calendar:2024-04-04", after={"kind": "holiday"})
    db.session.commit()

    html = client.get("/admin/audit").get_data(as_text=True)
    table = text_of(html, "audit-table")
    for name in (
        "用户 刘七(clerk)",
        f"扣分记录 #{deduction.id} 市税务局 D04a",
        f"加分记录 #{bonus.id} 市税务局 B01",
        "月份 2024年3月",
        "月份 2024年2月",
        "人员 张三(S001)",
        "导入 人员名册",
        "导入 打卡记录",
        "工作日历 2024-04-04",
        f"用户 {admin.label}",  # the admin's login
    ):
        assert name in table, name
    for said in (
        "未知工号: GHOST",
        "已停用单位的检测结果(未登记): 1",
        "新增人员: 1",
        "新增岗位记录: 2",
        "结束原岗位: 1",
        "未知工号: S0099(4)",
        "启用: 是 → 否",
        "状态: 进行中(实时) → 已关账",
        "类型: 节假日",
        "结束日期:— → 单位:市税务局,类别:窗口人员,窗口:1,开始日期:2024-01-01,结束日期:2024-03-01",
        "单位: 市税务局",  # the incidents' creation rows name the unit, not its code
    ):
        assert said in table, said
    for raw in (
        "unknown_staff",
        "skipped_inactive",
        "postings_added",
        "staff_created",
        "postings",
        "start_date",
        "user:",
        "incident:",
        "month:",
        "import:",
        "staff:",
        "holiday",
    ):
        assert raw not in table, raw
    # The stored target still filters, and is the object's tooltip.
    html = client.get(f"/admin/audit?target=incident:{deduction.id}").get_data(as_text=True)
    assert "共 1 条" in html and f'title="incident:{deduction.id}"' in html


def test_audit_count_is_capped_and_costs_the_same_on_a_big_log(client, login, make, monkeypatch):
    """Past COUNT_CAP the count reads "1000+ 条" (counting millions of rows cost seconds); a page costs
    the same queries on the newest page and deep in the log."""
    from sqlalchemy import event

    import services.audit as audit_service

    admin = login("admin")
    monkeypatch.setattr(audit_service, "COUNT_CAP", 30)
    for i in range(200):
        record("test.bulk", f"thing:{i}", user_id=admin.id)
    db.session.commit()
    statements = []

    def counted(*_args, **_kw):
        statements.append(1)

    event.listen(db.engine, "before_cursor_execute", counted)
    try:
        html = client.get("/admin/audit?action=test.bulk").get_data(as_text=True)
        first = len(statements)
        assert "共 30+ 条" in html
        link = html.split('rel="next" href="')[1].split('"')[0].replace("&amp;", "&")
        for _page in range(2):
            statements.clear()
            html = client.get(link).get_data(as_text=True)
            assert len(statements) <= first + 1  # + the probe for newer rows
            link = html.split('rel="next" href="')[1].split('"')[0].replace("&amp;", "&")
        assert 'title="thing:50"' in html and 'title="thing:49"' not in html and "共 30+ 条" in html
    finally:
        event.remove(db.engine, "before_cursor_execute", counted)
