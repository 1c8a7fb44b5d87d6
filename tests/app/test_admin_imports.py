"""Imports in the browser: upload -> preview (first rows, row count, every bad row in Chinese; nothing
written) -> confirm (a background job) -> written. Bad files get a Chinese message, never a 500."""

from __future__ import annotations

import io
import re
from pathlib import Path

import openpyxl
import pytest
from sqlalchemy import func, select

from models import Job, Staff, Unit, db
from tests.html import text_of

UNITS_CSV = (
    "code,name,windows,display_order,active\nSW01,市税务局,1;2;3,1,true\nSB01,市社保中心,4、5,2,true\n"
)


@pytest.fixture
def sync_jobs(app, monkeypatch):
    monkeypatch.setitem(app.config, "JOBS_SYNCHRONOUS", True)


def upload(client, kind: str, data: bytes, filename: str):
    return client.post(
        "/admin/import",
        data={"kind": kind, "file": (io.BytesIO(data), filename)},
        content_type="multipart/form-data",
    )


def units() -> int:
    return db.session.scalar(select(func.count(Unit.id)))


def token_of(html: str) -> str:
    match = re.search(r'action="/admin/import/([A-Za-z0-9_-]+)"', html)
    assert match, "no confirm form"
    return match.group(1)


def test_preview_then_confirm(client, login, app, sync_jobs):
    login("admin")
    response = upload(client, "units", UNITS_CSV.encode("utf-8-sig"), "units.csv")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "共 2 行数据" in html and "市税务局" in html and "1;2;3" in html and "4;5" in html
    assert "确认导入" in html and "处问题" not in html
    assert units() == 0  # nothing written by the preview
    token = token_of(html)
    stored = Path(app.instance_path) / "imports" / f"{token}.data"
    assert stored.exists()
    response = client.post(f"/admin/import/{token}", headers={"HX-Request": "true"})
    html = response.get_data(as_text=True)
    assert "单位导入完成:共 2 行" in html and "新增 2" in html
    assert units() == 2 and not stored.exists()
    assert db.session.scalar(select(Job)).kind == "import"
    # The same upload cannot be imported twice.
    response = client.post(f"/admin/import/{token}")
    assert response.status_code == 302
    assert "上传的文件已失效" in client.get(response.headers["Location"]).get_data(as_text=True)


def test_bad_rows_are_listed_and_nothing_is_written(client, login, make):
    make.unit("U01", windows="1;2")
    login("admin")
    csv = (
        "staff_id,name,unit_code,category,window,start_date,end_date\n"
        "S001,张三,U01,W,1,2024-01-02,\n"
        "S002,李四,NOPE,W,1,2024-01-02,\n"
        "S003,王五,U01,X,1,2024-13-01,\n"
    )
    response = upload(client, "staff", csv.encode("gb18030"), "名册.csv")
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "文件有问题,未写入任何数据" in html and "确认导入" not in html
    bad = re.search(r'<table class="bad-rows" id="bad-rows">(.*?)</table>', html, re.S).group(1)
    rows = [re.sub(r"<[^>]+>", "|", r) for r in re.findall(r"<tr>(.*?)</tr>", bad, re.S)[1:]]
    assert len(rows) >= 3
    assert any("|3|" in r and "unit_code" in r and "NOPE" in r for r in rows)
    assert any("|4|" in r and "category" in r for r in rows) and any(
        "|4|" in r and "start_date" in r for r in rows
    )
    # The file's own rows are previewed as they were typed.
    assert "李四" in html and "2024-13-01" in html
    assert db.session.scalar(select(func.count(Staff.id))) == 0


def test_xlsx_upload(client, login, sync_jobs):
    login("admin")
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["code", "name", "windows", "display_order", "active"])
    sheet.append(["SW01", "市税务局", "1;2", 1, "true"])
    out = io.BytesIO()
    book.save(out)
    html = upload(client, "units", out.getvalue(), "units.xlsx").get_data(as_text=True)
    assert "共 1 行数据" in html
    client.post(f"/admin/import/{token_of(html)}")
    assert units() == 1


BAD_FILES = [
    (b"", "units.csv", "文件是空的"),
    (b"PK\x03\x04not really a zip", "units.xlsx", "无法读取 Excel 文件"),
    (b"not a workbook", "units.xlsx", "不是有效的 .xlsx 工作簿"),
    (b"\xd0\xcf\x11\xe0old excel", "units.xls", "只能导入 .csv 或 .xlsx 文件"),
    (b"code,name\n", "units.pdf", "只能导入 .csv 或 .xlsx 文件"),
    (b"code,name,extra\nA,B,C\n", "units.csv", "缺少列"),
    (b"code,name,windows,display_order,active\n", "units.csv", "没有数据行"),
]


def test_bad_files(client, login):
    login("admin")
    for data, filename, message in BAD_FILES:
        response = upload(client, "units", data, filename)
        html = response.get_data(as_text=True)
        assert response.status_code == 422, filename
        assert message in html and "确认导入" not in html, (data, message)
    assert units() == 0


def test_missing_file_or_kind(client, login):
    login("admin")
    response = client.post("/admin/import", data={"kind": "units"}, content_type="multipart/form-data")
    assert response.status_code == 422 and "请选择要导入的文件" in response.get_data(as_text=True)
    response = upload(client, "robots", UNITS_CSV.encode(), "units.csv")
    assert response.status_code == 422 and "不是有效的选择" in response.get_data(as_text=True)
    assert units() == 0


def test_bad_or_foreign_token(client, login, make, sync_jobs):
    login("admin")
    response = client.post("/admin/import/short")
    assert response.status_code == 302
    response = client.post("/admin/import/" + "a" * 30)
    assert response.status_code == 302
    html = upload(client, "units", UNITS_CSV.encode(), "units.csv").get_data(as_text=True)
    token = token_of(html)
    # Another admin cannot confirm someone else's upload.
    client.post("/logout")
    login("admin", username="other-admin")
    client.post(f"/admin/import/{token}")
    assert units() == 0


def test_templates_download(client, login):
    login("admin")
    response = client.get("/admin/import/templates/staff.csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert response.data.decode("utf-8-sig").startswith(
        "staff_id,name,unit_code,category,window,start_date,end_date"
    )
    assert client.get("/admin/import/templates/nope.csv").status_code == 404


def test_import_progress_fragment(client, login):
    login("admin")
    job = Job(kind="import", status="done", result={"kind": "units", "rejected": ["第3行 code: 不能为空"]})
    db.session.add(job)
    db.session.commit()
    response = client.get(f"/admin/import/jobs/{job.id}", headers={"HX-Request": "true"})
    assert response.status_code == 286 and "导入失败,未写入任何数据" in response.get_data(as_text=True)
    running = Job(kind="import", status="running", done=200, total=1000)
    db.session.add(running)
    db.session.commit()
    response = client.get(f"/admin/import/jobs/{running.id}", headers={"HX-Request": "true"})
    assert response.status_code == 200 and "200/1000" in response.get_data(as_text=True)
    html = client.get(f"/admin/import?job={running.id}").get_data(as_text=True)
    assert 'hx-trigger="every 1s"' in html


# ---------------------------------------------------------------- notes: imported, but worth saying


def section(html: str, element_id: str) -> str:
    return text_of(html, element_id)


@pytest.fixture
def hall(make):
    from datetime import date

    u1 = make.unit("U01", name="市税务局", windows="1;2")
    make.staff(u1, "S001", "张三", "W", "1", start=date(2024, 1, 2))
    make.staff(u1, "S002", "李四", "C", None, start=date(2024, 1, 2))
    return u1


def test_clock_with_unknown_ids_previews_notes_then_imports(client, login, hall, sync_jobs):
    from models import ClockPunch

    login("admin")
    csv = "staff_id,punched_at\nS002,2024-03-04 08:24:40\nS002,2024-03-04 08:25:00\nGUARD1,2024-03-04 08:26\n"
    response = upload(client, "clock", csv.encode(), "clock.csv")
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "确认导入" in html
    notes = section(html, "import-notes")
    assert "人员名册中没有的工号,其打卡已跳过:GUARD1(1 条)" in notes
    assert "1 条打卡与同一人前一次打卡相隔不足一分钟,已保存,计为一次" in notes
    assert "2024-03-04 08:24:40" in html  # the preview shows the seconds that decide a window
    html = client.post(f"/admin/import/{token_of(html)}", headers={"HX-Request": "true"}).get_data(
        as_text=True
    )
    assert section(html, "import-done") == "打卡记录导入完成:共 3 行,新增 2"
    assert "GUARD1(1 条)" in section(html, "import-notes")
    assert db.session.scalar(select(func.count(ClockPunch.id))) == 2


def test_pending_d15_is_listed_with_its_correction_page_which_offers_the_violation(
    client, login, hall, make, sync_jobs
):
    from datetime import datetime

    from models import Incident

    login("admin")
    violation = make.incident(hall, "D04a", at=datetime(2024, 3, 5, 10, 0))
    csv = (
        "occurred_at,unit_code,rule_code,staff_id,count,note,deadline,rectified_on,exempt\n"
        "2024-03-05 10:20,U01,D15,,1,迎检,,,\n"
    )
    html = upload(client, "incidents", csv.encode(), "i.csv").get_data(as_text=True)
    assert "D15 待关联:第2行没有唯一的同单位、同一时间的违规记录" in section(html, "import-notes")
    html = client.post(f"/admin/import/{token_of(html)}", headers={"HX-Request": "true"}).get_data(
        as_text=True
    )
    d15 = db.session.scalar(select(Incident).where(Incident.rule_code == "D15"))
    assert d15.linked_id is None
    assert f'href="/admin/incidents/{d15.id}/correct"' in html and "D15 待关联" in section(
        html, "pending-link"
    )
    # The correction page lets the admin choose the violation it adds to (the unit's deductions of the month).
    page = client.get(f"/admin/incidents/{d15.id}/correct").get_data(as_text=True)
    select_html = re.search(r'<select[^>]*name="linked_id".*?</select>', page, re.S).group(0)
    assert f'value="{violation.id}"' in select_html


def test_import_audit_rows_speak_chinese(client, login, hall):
    from services.imports import import_file

    import_file("clock", "c.csv", b"staff_id,punched_at\nS002,2024-03-04 08:27\nGUARD1,2024-03-04 08:26\n")
    db.session.commit()
    login("admin")
    html = client.get("/admin/audit").get_data(as_text=True)
    changes = section(html, "audit-rows") if 'id="audit-rows"' in html else html
    assert "未知工号" in changes and "GUARD1" in changes and "行数" in changes
    for raw in ("unknown_staff", "unknown_punches", "postings_added", "skipped_inactive"):
        assert f">{raw}" not in html and f"{raw}:" not in html


def test_unit_form_refuses_to_drop_a_window_someone_holds(client, login, hall):
    """The unit form and the units import share services.units: the import always refused this."""
    login("admin")
    response = client.post(
        f"/admin/units/{hall.id}/edit",
        data={"code": "U01", "name": "市税务局", "windows": "2", "display_order": "1", "active": "y"},
    )
    assert response.status_code == 422
    assert "窗口 1 仍有在岗人员,不能从市税务局删除;请先调整人员岗位" in response.get_data(as_text=True)
    db.session.refresh(hall)
    assert hall.windows == "1;2"


def test_a_zip_bomb_workbook_is_refused_on_the_page_and_not_kept(client, login, app):
    """A workbook whose sheet declares 4 GB: refused before it is opened, with a Chinese message; the
    upload is not stored for a confirmation."""
    from tests.app.test_imports import declaring

    login("admin")
    book = openpyxl.Workbook()
    book.active.append(["code", "name", "windows", "display_order", "active"])
    book.active.append(["SW01", "市税务局", "1;2", 1, "true"])
    out = io.BytesIO()
    book.save(out)
    bomb = declaring(out.getvalue(), "xl/worksheets/sheet1.xml", 4 * 2**30 - 1)
    folder = Path(app.instance_path) / "imports"
    held = set(folder.iterdir()) if folder.exists() else set()
    response = upload(client, "units", bomb, "units.xlsx")
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "Excel 文件解压后过大(超过 512 MB)" in html and "确认导入" not in html
    assert units() == 0 and (set(folder.iterdir()) if folder.exists() else set()) == held


@pytest.mark.parametrize(("codec", "named"), [("big5", "繁体中文 Big5"), ("shift_jis", "日文 Shift-JIS")])
def test_a_big5_or_shift_jis_csv_is_refused_on_the_page(client, login, codec, named):
    login("admin")
    name = "臺北市稅務局" if codec == "big5" else "東京都の窓口"
    data = f"code,name,windows,display_order,active\nSW01,{name},1;2,1,true\n".encode(codec)
    response = upload(client, "units", data, "units.csv")
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert f"文件编码无法识别(看起来是{named} 编码,只支持 UTF-8 和 GB18030)" in html
    assert "确认导入" not in html and units() == 0
