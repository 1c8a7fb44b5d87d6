"""The CLI: every command with good and bad input, Chinese messages, exit codes; backup/restore; the demo."""

from __future__ import annotations

import json
import zipfile
from datetime import date, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select

from cli import text_width
from models import (
    AuditLog,
    CalendarDay,
    ClockPunch,
    Evidence,
    Incident,
    IncidentHistory,
    Month,
    Posting,
    Staff,
    Unit,
    User,
    db,
)
from services import months
from services.standings import standings, standings_json
from tests.conftest import wipe

DATA = Path(__file__).resolve().parent.parent / "data"


def run(runner, *args, **kwargs):
    return runner.invoke(args=[str(a) for a in args], **kwargs)


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def failed(result, message: str) -> None:
    assert result.exit_code != 0, result.output
    assert f"错误:{message}" in result.output, result.output
    assert "Traceback" not in result.output


# ---------------------------------------------------------------- init-db, create-user


def test_init_db(runner):
    result = run(runner, "init-db")
    assert result.exit_code == 0 and "数据库已就绪" in result.output


def test_init_db_keeps_the_tally_cells_a_closed_month_lacks(runner, make):
    """A month closed before the cells existed (here: its cells removed) gets them at the next init-db;
    a second run has nothing to add."""
    from datetime import datetime

    from sqlalchemy import delete

    from models import MonthTallyCell

    unit = make.unit("TC01", name="市税务局")
    person = make.staff(unit, "TC-S1", name="张三", window="1")
    make.incident(unit, "D01", at=datetime(2024, 2, 5, 9, 0), staff=person)
    months.close(2024, 2)
    db.session.commit()
    kept = count(MonthTallyCell)
    assert kept > 0
    db.session.execute(delete(MonthTallyCell))
    db.session.commit()
    result = run(runner, "init-db")
    assert result.exit_code == 0 and "已为 1 个已关账月份保存扣分统计数据" in result.output, result.output
    assert count(MonthTallyCell) == kept
    again = run(runner, "init-db")
    assert again.exit_code == 0 and "扣分统计" not in again.output and count(MonthTallyCell) == kept


def test_create_user(runner, make):
    make.unit("SW01", name="市税务局")
    result = run(runner, "create-user", "alice", "--role", "admin", "--password", "secret-123")
    assert result.exit_code == 0 and "已创建用户 alice(角色:管理员)" in result.output
    result = run(
        runner, "create-user", "tax", "--role", "unit", "--unit", "SW01", input="pass-12345\npass-12345\n"
    )
    assert result.exit_code == 0 and "已创建用户 tax(角色:单位用户,单位:市税务局)" in result.output
    user = db.session.scalar(select(User).where(User.username == "tax"))
    assert user.unit.code == "SW01" and user.check_password("pass-12345")
    assert db.session.scalar(select(func.count(AuditLog.id)).where(AuditLog.action == "user.create")) == 2


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (["bob", "--role", "unit", "--password", "secret-123"], None, "单位用户必须选择所属单位"),
        (
            ["bob", "--role", "unit", "--unit", "NOPE", "--password", "secret-123"],
            None,
            "单位代码 NOPE 不存在",
        ),
        (["bob", "--role", "boss", "--password", "secret-123"], None, "角色 boss 无效"),
        (["bob", "--password", "secret-123"], None, "角色 (未填) 无效"),
        (["bob", "--role", "admin", "--unit", "SW01", "--password", "secret-123"], None, "只有单位用户"),
        (["taken", "--role", "admin", "--password", "secret-123"], None, "用户名 taken 已存在"),
        # The users page's rules: unique without regard to case, letters and digits only.
        (["TAKEN", "--role", "admin", "--password", "secret-123"], None, "用户名 TAKEN 已存在"),
        (
            ["张三", "--role", "admin", "--password", "secret-123"],
            None,
            "用户名须为 2 至 64 位字母、数字或 _ . @ -",
        ),
        (["x", "--role", "admin", "--password", "secret-123"], None, "用户名须为 2 至 64 位"),
        (["bob", "--role", "admin", "--password", "short"], None, "密码至少 10 位"),
        (["bob", "--role", "admin"], "secret-123\nsecret-124\n", "两次输入的密码不一致"),
        (["bo b", "--role", "admin", "--password", "secret-123"], None, "用户名须为 2 至 64 位"),
        # A bad username is refused before the password is asked for.
        (["张三", "--role", "admin"], None, "用户名须为 2 至 64 位"),
    ],
)
def test_create_user_errors(runner, make, args, stdin, message):
    make.unit("SW01")
    make.user("admin", username="taken")
    result = run(runner, "create-user", *args, input=stdin)
    failed(result, message)
    assert count(User) == 1
    assert not db.session.scalar(select(func.count()).where(AuditLog.action == "user.create"))


def test_create_user_goes_through_the_users_service(runner, client, make):
    """The CLI and the users page write the same user and the same audit row (target user:<id>)."""
    result = run(
        runner, "create-user", "clerk", "--role", "inspector", "--name", "刘七", "--password", "secret-123"
    )
    assert result.exit_code == 0 and "已创建用户 clerk(角色:巡查员)" in result.output
    user = db.session.scalar(select(User).where(User.username == "clerk"))
    assert user.display_name == "刘七" and user.active and user.unit is None
    audit = db.session.scalar(select(AuditLog).where(AuditLog.action == "user.create"))
    assert audit.target == f"user:{user.id}" and audit.user_id is None  # the command line acts as the system
    assert audit.after == {
        "username": "clerk",
        "display_name": "刘七",
        "role": "inspector",
        "unit": None,
        "active": True,
    }
    failed(
        run(runner, "create-user", "Clerk", "--role", "admin", "--password", "secret-123"),
        "用户名 Clerk 已存在",
    )


# ---------------------------------------------------------------- import


@pytest.fixture
def hall(make):
    u1 = make.unit("U01", name="市税务局", windows="1;2")
    u2 = make.unit("U02", name="市社会保险事业服务中心", windows="3;4")
    make.staff(u1, "S001", "张三", "W", "1", start=date(2024, 1, 2))
    make.staff(u1, "S002", "李四", "C", None, start=date(2024, 1, 2))
    make.staff(u2, "S003", "王五", "W", "3", start=date(2024, 1, 2))
    return u1, u2


def test_import_good_file(runner, hall):
    result = run(runner, "import", "incidents", DATA / "incidents.csv")
    assert result.exit_code == 0, result.output
    assert "扣加分记录导入完成:共 5 行,新增 5" in result.output
    assert count(Incident) == 5


def test_import_bad_file_lists_every_row_and_writes_nothing(runner, hall):
    months.close(2024, 2)
    db.session.commit()
    before = (count(Incident), count(IncidentHistory), count(AuditLog))
    result = run(runner, "import", "incidents", DATA / "incidents_bad.csv")
    assert result.exit_code == 1
    assert "导入失败,未写入任何数据。共 10 处问题:" in result.output
    assert "第3行 unit_code: 单位代码 U99 不存在" in result.output
    assert "第6行 deadline: D19a 必须填写整改期限" in result.output
    assert "第12行与第2行重复" in result.output
    assert (count(Incident), count(IncidentHistory), count(AuditLog)) == before


def test_import_same_file_twice(runner, hall):
    assert run(runner, "import", "incidents", DATA / "incidents.xlsx").exit_code == 0
    result = run(runner, "import", "incidents", DATA / "incidents.xlsx")
    assert result.exit_code == 1
    for row in (2, 3, 4):
        assert f"第{row}行与已有记录重复" in result.output
    assert count(Incident) == 3


def test_import_other_kinds(runner, app):
    assert "单位导入完成:共 2 行,新增 2" in run(runner, "import", "units", DATA / "units_gb18030.csv").output
    assert (
        "人员名册导入完成:共 3 行,新增人员 3,新增岗位记录 3"
        in run(runner, "import", "staff", DATA / "staff_bom.csv").output
    )
    assert (
        "打卡记录导入完成:共 3 行,新增 3;1 条打卡与同一人前一次打卡相隔不足一分钟,已保存,计为一次"
        in run(runner, "import", "clock", DATA / "clock.csv").output
    )
    assert (
        "工作日历导入完成:共 2 行,新增 2" in run(runner, "import", "calendar", DATA / "calendar.csv").output
    )
    assert (count(Unit), count(Staff), count(ClockPunch), count(CalendarDay)) == (2, 3, 3, 2)


def test_import_progress_is_printed(runner, app):
    lines = ["date,kind"] + [
        f"{date.fromordinal(date(2030, 1, 1).toordinal() + i).isoformat()},holiday" for i in range(400)
    ]
    path = Path(app.instance_path) / "big-calendar.csv"
    path.write_text("\n".join(lines), encoding="utf-8")
    result = run(runner, "import", "calendar", path)
    path.unlink()
    assert "导入 200/400(50%)" in result.output and "导入 400/400(100%)" in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["import", "people", DATA / "units.csv"], "导入类型 people 无效"),
        (["import", "units", DATA / "nothing-here.csv"], "找不到文件"),
        (["import", "units", DATA / "binary.csv"], None),
    ],
)
def test_import_argument_errors(runner, app, args, message):
    result = run(runner, *args)
    assert result.exit_code != 0 and "Traceback" not in result.output
    if message:
        failed(result, message)
    else:
        assert "文件: 文件不是文本格式的 CSV" in result.output
    assert count(Unit) == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["import"], "请指定导入类型和文件,如:import units units.csv"),
        (["import", "units"], "请指定导入类型和文件"),
        (["create-user"], "用户名不能为空"),
        (["close-month"], "请在命令后指定月份(如 2024-03)"),
        (["publish-month"], "请在命令后指定月份"),
        (["reopen-month", "--reason", "x"], "请在命令后指定月份"),
        (["backup"], "请指定备份文件名"),
        (["restore"], "请指定要恢复的备份文件"),
    ],
)
def test_missing_arguments_are_chinese(runner, app, args, message):
    failed(run(runner, *args), message)


# ---------------------------------------------------------------- detect


@pytest.mark.parametrize(
    ("month", "message"),
    [
        ("2024-13", "月份 '2024-13' 无效:月份应为 01 至 12"),
        ("abc", "月份格式应为 YYYY-MM(如 2024-03),而不是 'abc'"),
        ("2024-3", "月份格式应为 YYYY-MM"),
        (None, "请用 --month YYYY-MM 指定月份"),
    ],
)
def test_bad_month_arguments(runner, app, month, message):
    for command in ("detect", "standings"):
        args = [command] + (["--month", month] if month else [])
        failed(run(runner, *args), message)
    if month:
        failed(run(runner, "close-month", month), message)


def test_detect_command(runner, make):
    unit = make.unit("U01")
    make.staff(unit, "S002", category="C", window=None, start=date(2024, 3, 18))
    result = run(runner, "detect", "--month", "2024-03")
    assert result.exit_code == 0
    assert "2024-03 检测完成:新增待确认 5 条,已存在(含已确认、已驳回)0 条,本次确认 0 条。" in result.output
    result = run(runner, "detect", "--month", "2024-03", "--confirm")
    assert "新增待确认 0 条,已存在(含已确认、已驳回)5 条,本次确认 0 条" in result.output
    db.session.add(ClockPunch(staff_id="GHOST", punched_at=datetime(2024, 3, 18, 0, 30).astimezone()))
    db.session.commit()
    assert "打卡记录中有人员名册里没有的工号:GHOST" in run(runner, "detect", "--month", "2024-03").output
    assert standings_json(2024, 3)["units"][0]["score"] == 100


def test_detect_confirm_counts(runner, make):
    unit = make.unit("U01")
    make.staff(unit, "S002", category="C", window=None, start=date(2024, 3, 19))
    result = run(runner, "detect", "--month", "2024-03", "--confirm")
    assert "新增待确认 3 条,已存在(含已确认、已驳回)0 条,本次确认 3 条" in result.output
    assert standings_json(2024, 3)["units"][0]["score"] == 85


# ---------------------------------------------------------------- standings


@pytest.fixture
def ranked(make):
    tax = make.unit("SW01", name="市税务局")
    police = make.unit("GA01", name="市公安局出入境管理支队")
    make.unit("BDC01", name="不动产登记中心")
    make.incident(tax, "D02c", count=3)
    make.incident(police, "B01")
    make.incident(police, "D01")
    return tax, police


def test_standings_json_equals_the_api(runner, client, ranked):
    result = run(runner, "standings", "--month", "2024-03", "--json")
    assert result.exit_code == 0
    cli_data = json.loads(result.output)
    api_data = client.get("/api/standings?month=2024-03").get_json()
    assert cli_data == api_data
    assert [u["code"] for u in cli_data["units"]] == ["GA01", "BDC01", "SW01"]
    assert cli_data["units"][2]["flags"] == ["notice_feedback"]


def test_standings_table_is_chinese_and_aligned(runner, ranked):
    result = run(runner, "standings", "--month", "2024-03")
    lines = result.output.splitlines()
    assert lines[0] == "2024-03 月度考核排名  规则版本:anshan-2023  状态:进行中(实时)"
    assert lines[1].split() == ["名次", "单位", "得分", "扣分", "加分", "等级", "标记"]
    assert lines[3].split() == ["1", "市公安局出入境管理支队(GA01)", "101", "2", "3", "优秀"]
    assert lines[5].split() == ["3", "市税务局(SW01)", "85", "15", "0", "良好", "书面通报并要求反馈"]
    # Columns line up in a terminal: every line has the same display width up to the end of the score.
    score_ends = set()
    for line in [lines[1], *lines[3:]]:
        cells = line.split()
        after_unit = line.index(cells[1]) + len(cells[1])
        score_at = line.index(cells[2], after_unit)
        score_ends.add(text_width(line[: score_at + len(cells[2])]))
    assert len(score_ends) == 1, lines


def test_standings_of_a_month_without_units(runner, app):
    result = run(runner, "standings", "--month", "2024-03")
    assert result.exit_code == 0 and "(没有参加考核的单位)" in result.output


# ---------------------------------------------------------------- months


def test_month_lifecycle_commands(runner, ranked):
    tax, _ = ranked
    assert "2024年2月已关账,排名已固定" in run(runner, "close-month", "2024-02").output
    failed(run(runner, "close-month", "2024-02"), "2024-02 已经关账")
    assert "2024年2月已发布" in run(runner, "publish-month", "2024-02").output
    failed(run(runner, "publish-month", "2024-02"), "2024-02 已经发布")
    failed(run(runner, "reopen-month", "2024-02"), "重新开放月份必须用 --reason 填写原因")
    assert "2024年2月已重新开放" in run(runner, "reopen-month", "2024-02", "--reason", "申诉成立").output
    assert standings_json(2024, 2)["status"] == "open"
    failed(run(runner, "reopen-month", "2024-02", "--reason", "再开"), "该月尚未关账,无需重新开放")


@pytest.mark.parametrize(
    ("month", "message"),
    [
        ("2024-03", "2024年3月尚未结束,不能关账"),  # the month under way (today is 2024-03-20)
        ("2024-04", "2024年4月尚未结束,不能关账"),
        ("2099-01", "2099年1月尚未结束,不能关账"),
        ("2023-01", "2023年1月早于考核细则的生效日期 2023-04-19,不能关账"),
        ("0001-01", "1年1月早于考核细则的生效日期 2023-04-19,不能关账"),
        ("9999-12", "月份 9999-12 无效"),
        ("2024-13", "月份 '2024-13' 无效:月份应为 01 至 12"),
    ],
)
def test_close_month_refuses_months_not_ended_or_before_the_first_rulebook(runner, ranked, month, message):
    """The same service as the months page: nothing is written, the message is Chinese, no traceback."""
    failed(run(runner, "close-month", month), message)
    failed(run(runner, "publish-month", month), message.replace("关账", "发布"))
    assert count(Month) == 0
    assert not db.session.scalar(select(func.count()).where(AuditLog.action.like("month.%")))


def test_closed_month_refuses_changes(runner, ranked, tmp_path):
    run(runner, "close-month", "2024-02")
    path = tmp_path / "incident.csv"
    header = "occurred_at,unit_code,rule_code,staff_id,count,note,deadline,rectified_on,exempt"
    path.write_text(f"{header}\n2024-02-05 09:00,SW01,D01,,1,,,,\n", encoding="utf-8")
    result = run(runner, "import", "incidents", path)
    assert "2024年2月已关账,不能登记或修改该月的记录" in result.output and result.exit_code == 1


# ---------------------------------------------------------------- backup and restore


def _table_counts() -> dict[str, int]:
    return {t.name: db.session.scalar(select(func.count()).select_from(t)) for t in db.metadata.sorted_tables}


@pytest.fixture
def filled(app, hall):
    from services import incidents
    from services.clock import from_hall

    u1, u2 = hall
    staff = db.session.scalar(select(Staff).where(Staff.staff_id == "S001"))
    violation = incidents.create(
        u1, "D02a", from_hall(datetime(2024, 2, 6, 10, 0)), staff=staff, window="1", note="检查期间空岗"
    )
    incidents.create(u1, "D15", from_hall(datetime(2024, 2, 6, 10, 5)), linked=violation)
    incidents.create(u2, "D19a", from_hall(datetime(2024, 2, 20, 9, 0)), deadline=date(2024, 3, 1))
    incidents.create(u2, "B01", from_hall(datetime(2024, 3, 4, 9, 0)), note="锦旗")
    evidence_dir = Path(app.config["EVIDENCE_DIR"])
    evidence_dir.mkdir(parents=True, exist_ok=True)
    (evidence_dir / "abc123.jpg").write_bytes(b"\xff\xd8photo")
    db.session.add(
        Evidence(
            incident=violation,
            filename="现场.jpg",
            stored_name="abc123.jpg",
            content_type="image/jpeg",
            size=7,
        )
    )
    db.session.add(CalendarDay(day=date(2024, 4, 4), kind="holiday", note="清明节"))
    db.session.add(ClockPunch(staff_id="S002", punched_at=from_hall(datetime(2024, 3, 4, 8, 27))))
    db.session.commit()
    months.close(2024, 2)
    db.session.commit()
    return evidence_dir / "abc123.jpg"


def test_backup_wipe_restore_round_trip(runner, app, filled, tmp_path):
    before_counts = _table_counts()
    before = {m: standings_json(2024, m) for m in (2, 3)}
    linked = db.session.scalar(select(Incident.linked_id).where(Incident.rule_code == "D15"))
    occurred = sorted(db.session.scalars(select(Incident.occurred_at)))
    path = tmp_path / "hall-backup.zip"
    result = run(runner, "backup", path)
    assert result.exit_code == 0 and "1 个附件文件" in result.output
    with zipfile.ZipFile(path) as archive:
        assert sorted(archive.namelist()) == ["backup.json", "evidence/abc123.jpg"]

    db.session.remove()
    wipe()
    filled.unlink()
    assert count(Unit) == 0

    result = run(runner, "restore", path)
    assert result.exit_code == 0, result.output
    assert f"已从 {path} 恢复" in result.output
    db.session.expire_all()
    after_counts = _table_counts()
    after_counts["audit_log"] -= 1  # the restore writes its own audit row
    assert after_counts == before_counts
    assert {m: standings_json(2024, m) for m in (2, 3)} == before
    assert db.session.scalar(select(Incident.linked_id).where(Incident.rule_code == "D15")) == linked
    assert sorted(db.session.scalars(select(Incident.occurred_at))) == occurred
    assert db.session.scalar(select(Month.status).where(Month.month == 2)) == "closed"
    assert filled.read_bytes() == b"\xff\xd8photo"
    assert standings(2024, 2).unit("U01").deductions == 12
    # Ids go on after the restored ones (PostgreSQL sequences are moved past them).
    new_unit = Unit(code="U09", name="新单位", windows="9")
    db.session.add(new_unit)
    db.session.commit()
    assert new_unit.id > max(db.session.scalars(select(Unit.id).where(Unit.code != "U09")))


def test_json_backup_and_restore(runner, app, filled, tmp_path):
    path = tmp_path / "hall.json"
    result = run(runner, "backup", path)
    assert "注意:1 个附件文件未备份(.json 备份不含附件文件,请用 .zip)" in result.output
    data = json.loads(path.read_text(encoding="utf-8"))
    assert data["format"] == "hallscore-backup" and "incident" in data["tables"]
    assert data["tables"]["incident"]["columns"][0] == "id"
    assert run(runner, "restore", path).exit_code == 0
    assert count(Incident) == 4


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "备份文件是空的"),
        (b"\x00\x01garbage", "这不是本系统的备份文件(内容不是有效的 JSON 或压缩包)"),
        (b'{"hello": 1}', "这不是本系统的备份文件(缺少 hallscore-backup 标记)"),
        (b'{"format": "hallscore-backup", "version": 99, "tables": {}}', "备份文件格式版本 99 不受支持"),
        (
            b'{"format": "hallscore-backup", "version": 1, "tables": {"unit": {}}}',
            "备份文件与当前数据库结构不符:缺少数据表 appeal、audit_log、",
        ),
        (b"PK\x03\x04broken zip", "备份文件已损坏,无法读取"),
    ],
)
def test_restore_refuses_bad_files(runner, filled, tmp_path, content, message):
    before = _table_counts()
    path = tmp_path / "bad.zip"
    path.write_bytes(content)
    failed(run(runner, "restore", path), message)
    assert _table_counts() == before


def test_restore_refuses_inconsistent_backups(runner, filled, tmp_path):
    good = tmp_path / "good.json"
    run(runner, "backup", good)
    data = json.loads(good.read_text(encoding="utf-8"))
    before = _table_counts()
    cases = []
    wrong_revision = json.loads(json.dumps(data))
    wrong_revision["revision"] = "0000older"
    cases.append((wrong_revision, "备份文件的数据库版本(0000older)与当前数据库版本"))
    bad_value = json.loads(json.dumps(data))
    bad_value["tables"]["unit"]["rows"][0][0] = "not-an-id"
    cases.append((bad_value, "备份文件已损坏:unit 第 1 行 id 的值 'not-an-id' 无效"))
    dangling = json.loads(json.dumps(data))
    columns = dangling["tables"]["incident"]["columns"]
    dangling["tables"]["incident"]["rows"][0][columns.index("unit_id")] = 999
    cases.append((dangling, "恢复失败,数据库未改变"))
    for case, message in cases:
        path = tmp_path / "case.json"
        path.write_text(json.dumps(case), encoding="utf-8")
        failed(run(runner, "restore", path), message)
        db.session.expire_all()
        assert _table_counts() == before
    failed(run(runner, "restore", tmp_path / "missing.zip"), "找不到备份文件")


# ---------------------------------------------------------------- demo


def test_demo_hall(runner, client, app):
    result = run(runner, "demo", "--if-empty")
    assert result.exit_code == 0, result.output
    assert "演示数据已载入:30 个单位" in result.output
    for login in ("admin", "admin123", "inspector123", "leader123", "unit1", "unit2", "unit123"):
        assert login in result.output
    assert 140 <= count(Staff) <= 170 and count(Unit) == 30

    # Months: 2023-04 … 2024-02 closed, all published but the latest; March 2024 open, and so is
    # March 2023, before the first rulebook (2023-04-19): never assessed, so never closed.
    rows = {(m.year, m.month): m.status for m in db.session.scalars(select(Month))}
    assert rows[(2024, 3)] == "open" and rows[(2024, 2)] == "closed"
    assert rows[(2023, 4)] == rows[(2024, 1)] == "published" and len(rows) == 13
    assert rows[(2023, 3)] == "open"

    results = [standings(y, m) for (y, m) in sorted(rows)]
    grades = [u.grade for r in results for u in r.units]
    assert sum(g in ("excellent", "good") for g in grades) / len(grades) > 0.8
    flagged = {(r.label, u.code, f) for r in results for u in r.units for f in u.flag_codes}
    replace = {code for _, code, f in flagged if f == "replace_staff"}
    assert len(replace) == 1
    assert {"notice_feedback", "leadership_report", "discipline_report", "quarter_ineligible"} <= {
        f for _, _, f in flagged
    }
    items = [(r.label, u.code, i) for r in results for u in r.units for i in u.items]
    assert any(i.rule_code == "D19b" and i.derived for _, _, i in items)
    assert any(i.rule_code == "D06" and i.exempt and i.points == 0 for _, _, i in items)
    assert any(i.rule_code == "D13" for _, _, i in items)
    assert any(i.rule_code == "D16" for _, _, i in items)
    assert any(u.bonus > 20 and u.score == 100 - u.deductions + 20 for r in results for u in r.units)
    d02c = [(label, code) for label, code, i in items if i.rule_code == "D02c"]
    assert any(d02c.count(x) >= 3 for x in d02c)
    # D19a rectified in time, and one not.
    d19a = list(db.session.scalars(select(Incident).where(Incident.rule_code == "D19a")))
    assert any(i.rectified_on and i.rectified_on <= i.deadline for i in d19a)
    assert any(i.rectified_on is None and i.deadline < date(2024, 3, 20) for i in d19a)

    # Clock-in proposals wait in the queue; a rerun proposes nothing new.
    from services import detections

    assert detections.pending(2024, 3)
    result = run(runner, "detect", "--month", "2024-03")
    assert "新增待确认 0 条" in result.output and "T9001" in result.output

    # History and audit rows exist for the incidents, dated when they happened.
    first = db.session.scalar(select(Incident).order_by(Incident.occurred_at))
    assert first.history and first.history[0].at.date() <= date(2023, 4, 1)
    assert first.recorded_by.username == "inspector"

    # Loading again: the logins are printed, nothing is added.
    again = run(runner, "demo", "--if-empty")
    assert again.exit_code == 0 and "演示数据已载入,未重复载入" in again.output and "admin123" in again.output
    assert count(Unit) == 30
    response = client.post("/login", data={"username": "unit1", "password": "unit123"})
    assert response.status_code == 302


def test_demo_refuses_a_database_with_units(runner, make):
    make.unit("X01")
    result = run(runner, "demo", "--if-empty")
    assert result.exit_code == 0 and "数据库中已有单位,未载入演示数据" in result.output
    failed(run(runner, "demo"), "数据库中已有单位,演示数据只能载入空数据库")
    assert count(Unit) == 1 and count(Posting) == 0
