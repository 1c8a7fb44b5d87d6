"""Users import (/admin/users/import): `username,role,unit_code`, all or nothing, a one-time password per new
user shown once to the importing admin and never stored as it is; the new users change it at first login."""

from __future__ import annotations

import io
import re

from flask import g
from openpyxl import Workbook
from sqlalchemy import func, select

from models import AuditLog, Job, User, db
from services.passwords import password_problem


def upload(client, text: str | bytes, name: str = "users.csv"):
    data = text.encode("utf-8") if isinstance(text, str) else text
    g.pop("_login_user", None)
    response = client.post(
        "/admin/users/import", data={"file": (io.BytesIO(data), name)}, content_type="multipart/form-data"
    )
    g.pop("_login_user", None)
    return response


def shown_passwords(html: str) -> dict[str, str]:
    rows = re.findall(r"<tr><td>([^<]+)</td>.*?<code class=\"one-time-password\">([^<]+)</code>", html)
    return dict(rows)


def users() -> int:
    return db.session.scalar(select(func.count(User.id)))


def test_a_hall_of_units_in_one_file(app, client, login, make):
    login("admin")
    tax = make.unit("SW01", name="市税务局")
    make.unit("SB01", name="市社保局")
    response = upload(
        client,
        "username,role,unit_code\r\nsw-window,unit,SW01\r\nsb-window,单位用户,SB01\r\nwalker,巡查员,\r\n",
    )
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    html = response.get_data(as_text=True)
    assert "已导入 3 个用户" in html and "只显示这一次" in html and "市税务局" in html
    passwords = shown_passwords(html)
    assert set(passwords) == {"sw-window", "sb-window", "walker"}
    assert len(set(passwords.values())) == 3
    for username, password in passwords.items():
        user = db.session.scalar(select(User).where(User.username == username))
        assert user.must_change_password and user.active
        assert password not in user.password_hash and user.check_password(password)
        assert password_problem(password, username) is None
    sw = db.session.scalar(select(User).where(User.username == "sw-window"))
    walker = db.session.scalar(select(User).where(User.username == "walker"))
    assert (sw.role, sw.unit_id) == ("unit", tax.id) and (walker.role, walker.unit_id) == ("inspector", None)
    # Not stored as they are: neither the audit log nor the job table holds a password.
    for text in [str(a.after) + str(a.before) for a in db.session.scalars(select(AuditLog))] + [
        str(j.__dict__) for j in db.session.scalars(select(Job))
    ]:
        assert not any(p in text for p in passwords.values())
    audit = db.session.scalar(select(AuditLog).where(AuditLog.action == "import.users"))
    assert audit.after == {"rows": 3, "created": 3}
    assert db.session.scalar(select(func.count(AuditLog.id)).where(AuditLog.action == "user.create")) == 3
    # Not shown again: the users page lists them, waiting for their own password, without one.
    listing = client.get("/admin/users").get_data(as_text=True)
    assert "sw-window" in listing and "待改密码" in listing
    assert not any(p in listing for p in passwords.values())
    # The new user logs in with it once, and must choose their own.
    phone = app.test_client()
    response = phone.post("/login", data={"username": "sw-window", "password": passwords["sw-window"]})
    g.pop("_login_user", None)
    assert response.headers["Location"] == "/account/password"
    assert phone.get("/portal/").headers["Location"] == "/account/password"
    g.pop("_login_user", None)


def test_an_xlsx_file_works_too(client, login, make):
    login("admin")
    make.unit("SW01", name="市税务局")
    book = Workbook()
    sheet = book.active
    sheet.append(["username", "role", "unit_code"])
    sheet.append(["sw-window", "unit", "SW01"])
    sheet.append(["chief", "leader", None])
    out = io.BytesIO()
    book.save(out)
    response = upload(client, out.getvalue(), "users.xlsx")
    assert response.status_code == 200
    assert set(shown_passwords(response.get_data(as_text=True))) == {"sw-window", "chief"}


def test_bad_rows_are_all_named_and_nothing_is_written(client, login, make):
    login("admin")
    make.unit("SW01")
    make.unit("OLD", active=False)
    make.user("inspector", username="taken")
    before = users()
    rows = [
        "username,role,unit_code",
        "good-one,unit,SW01",  # row 2 is fine, but the file fails as a whole
        "no-unit,unit,",  # 3
        "wrong-unit,unit,NOPE",  # 4
        "inspector-x,inspector,SW01",  # 5
        "boss,root,",  # 6
        "TAKEN,leader,",  # 7
        "good-one,leader,",  # 8: twice in the file
        "有中文,leader,",  # 9
        "closed,unit,OLD",  # 10
    ]
    response = upload(client, "\n".join(rows))
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "导入失败,未写入任何数据。共 8 处问题" in html
    for expected in (
        "第3行 unit_code: 单位用户必须选择所属单位",
        "第4行 unit_code: 单位代码 NOPE 不存在",
        "第5行 unit_code: 只有单位用户可以选择所属单位",
        "第6行 role: 角色 root 无效",
        "第7行 username: 用户名 TAKEN 已存在",
        "第8行 username: 用户名 good-one 与第2行重复",
        "第9行 username: 用户名须为 2 至 64 位字母、数字或 _ . @ -",
        "第10行 unit_code: 单位 测试单位OLD 已停用",
    ):
        assert expected in html, expected
    assert "one-time-password" not in html
    assert users() == before
    assert not db.session.scalar(select(func.count(AuditLog.id)).where(AuditLog.action.like("%import%")))


def test_files_that_cannot_be_read(client, login):
    login("admin")
    before = users()
    cases = [
        ("username,role\nx,admin\n", "users.csv", "缺少列"),
        ("username,role,unit_code\n", "users.csv", "文件中没有数据行"),
        (
            "username,role,unit_code\n" + "".join(f"u{n},leader,\n" for n in range(501)),
            "u.csv",
            "一次最多导入 500",
        ),
        ("whatever", "users.pdf", "不支持的文件类型"),
    ]
    for text, name, message in cases:
        response = upload(client, text, name)
        assert response.status_code == 422 and message in response.get_data(as_text=True), message
    g.pop("_login_user", None)
    response = client.post("/admin/users/import", data={}, content_type="multipart/form-data")
    assert response.status_code == 422 and "请选择要导入的文件" in response.get_data(as_text=True)
    assert users() == before


def test_the_template_and_the_page(client, login):
    login("admin")
    page = client.get("/admin/users/import").get_data(as_text=True)
    assert "username,role,unit_code" in page and "只显示一次" in page
    response = client.get("/admin/users/import/template.csv")
    assert response.mimetype == "text/csv"
    assert response.data.decode("utf-8-sig").splitlines() == [
        "username,role,unit_code",
        "sw-window,unit,SW01",
    ]
    assert "导入用户" in client.get("/admin/users").get_data(as_text=True)
