"""The heavy exports as background jobs (issue 10, item 5): the year's detail tables, the incidents list, the
tallies, and the PDF batches (a month's detail tables of every unit, every praise letter of a roll) start from
their pages ("后台生成"), show their progress on the job's page, and offer the file to who started them (or an
admin); a crashed one is failed and can be run again; with REDIS_URL they go to the RQ queue.

The RQ tests use Redis database 1 (TEST_EXPORT_REDIS_URL to change it) and a queue of their own.
"""

from __future__ import annotations

import io
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from datetime import date, datetime
from pathlib import Path
from urllib.parse import unquote

import pytest
from flask import g
from openpyxl import load_workbook
from sqlalchemy import delete, func, select

from models import IssuedDocument, Job, db
from models.honor import HonorEntry
from services import export_jobs, honors, jobs, months
from tests.html import parse
from tests.rq_worker import own_queue

REDIS_URL = os.environ.get("TEST_EXPORT_REDIS_URL", "redis://127.0.0.1:6379/1")
HX = {"HX-Request": "true"}
PDFTOTEXT = shutil.which("pdftotext")
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@pytest.fixture
def exports_dir(app, tmp_path, monkeypatch):
    folder = tmp_path / "exports"
    monkeypatch.setitem(app.config, "EXPORT_DIR", str(folder))
    return folder


@pytest.fixture
def inline(app, monkeypatch, exports_dir):
    """Jobs run inside the request that starts them (as on a worker, in the same process)."""
    monkeypatch.setitem(app.config, "JOBS_SYNCHRONOUS", True)
    monkeypatch.delenv("REDIS_URL", raising=False)
    return exports_dir


@pytest.fixture
def hall(make):
    """Two units with February and March incidents; February closed."""
    u1 = make.unit("U01", name="市税务局", windows="1;2", display_order=1)
    u2 = make.unit("U02", name="市社保中心", windows="1", display_order=2)
    li = make.staff(u1, "S001", name="李四", window="1")
    make.incident(u1, "D01", at=datetime(2024, 2, 5, 9, 5), staff=li, window="1", public_text="迟到 5 分钟")
    make.incident(u2, "D04a", at=datetime(2024, 2, 6, 10, 0), window="1", public_text="社保窗口的情况")
    make.incident(u1, "D02c", at=datetime(2024, 3, 7, 9, 0), count=3, note="内部备注")
    make.incident(u2, "D03", at=datetime(2024, 3, 6, 11, 0))
    months.close(2024, 2)
    db.session.commit()
    return {"u1": u1, "u2": u2}


def book(data: bytes):
    return load_workbook(io.BytesIO(data))


def rows_of(ws) -> list[list]:
    return [list(row) for row in ws.iter_rows(values_only=True)]


def pdf_text(data: bytes) -> str:
    assert data.startswith(b"%PDF-"), data[:20]
    assert PDFTOTEXT, "pdftotext is missing: `make test` installs poppler-utils"
    out = subprocess.run([PDFTOTEXT, "-layout", "-", "-"], input=data, capture_output=True, check=True)
    return "".join(out.stdout.decode("utf-8").split())


def job_id_of(response) -> int:
    assert response.status_code == 303, (response.status_code, response.get_data(as_text=True)[:500])
    match = re.fullmatch(r"/admin/exports/jobs/(\d+)", response.headers["Location"])
    assert match, response.headers["Location"]
    return int(match.group(1))


def jobs_count() -> int:
    return db.session.scalar(select(func.count(Job.id)))


def download(client, job_id: int):
    response = client.get(f"/admin/exports/jobs/{job_id}/file")
    assert response.status_code == 200, response.status_code
    assert response.headers["Cache-Control"] == "private, no-store"
    return response


def disposition_name(response) -> str:
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith('attachment; filename="')
    return unquote(disposition.split("filename*=UTF-8''", 1)[1])


def switch(client, login, role: str, **kwargs):
    client.post("/logout")
    return login(role, **kwargs)


# ---------------------------------------------------------------- each export, as admin


def test_the_years_detail_tables_as_a_job_are_the_download_of_the_address(client, login, hall, inline):
    login("admin")
    page = parse(client.get("/admin/years/2024").get_data(as_text=True))
    button = page.one("button#year-details-job-start")
    assert button.get("form") == "year-details-job" and "后台生成" in button.text
    form = page.one("form#year-details-job")
    assert form.get("action") == "/admin/exports/year-details" and form.get("method") == "post"
    assert page.one("form#year-details-job input[name=year]").get("value") == "2024"

    job_id = job_id_of(client.post("/admin/exports/year-details", data={"year": "2024"}))
    job = db.session.get(Job, job_id)
    assert job.kind == export_jobs.YEAR_DETAILS and job.status == "done", job.message
    assert job.result["params"] == {"year": 2024} and job.result["count"] == 2

    html = client.get(f"/admin/exports/jobs/{job_id}").get_data(as_text=True)
    doc = parse(html)
    assert doc.text_of("export-title") == "2024年各单位考核评分明细表(.xlsx)"
    assert "共 2 个单位" in doc.text_of("job-done")
    link = doc.one("a#export-download")
    assert link.get("href") == f"/admin/exports/jobs/{job_id}/file"
    assert doc.one("a#export-back").get("href") == "/admin/years/2024"

    response = download(client, job_id)
    assert response.mimetype == XLSX
    assert disposition_name(response) == "2024年各单位考核评分明细表.xlsx"
    assert 'filename="details-2024.xlsx"' in response.headers["Content-Disposition"]
    from_job = book(response.data)
    from_address = book(client.get("/admin/years/2024/details.xlsx").data)
    assert from_job.sheetnames == from_address.sheetnames == ["市税务局", "市社保中心"]
    for name in from_job.sheetnames:
        assert rows_of(from_job[name]) == rows_of(from_address[name])
    rows = rows_of(from_job["市社保中心"])
    assert rows[0][0] == "市社保中心 2024年 考核评分明细表"
    assert any(r[0] == "2月" and r[2] == "D04a" for r in rows)
    assert all("内部备注" not in str(v) for r in rows_of(from_job["市税务局"]) for v in r)


def test_the_incidents_job_keeps_the_lists_filters(client, login, hall, inline):
    login("leader")
    u2 = hall["u2"]
    page = parse(client.get("/admin/incidents", query_string={"month": "2024-03", "unit_id": u2.id}).text)
    form = page.one("form#incidents-job")
    assert form.get("action") == "/admin/exports/incidents"
    fields = {i.get("name"): i.get("value") for i in page.all("form#incidents-job input")}
    assert fields["month"] == "2024-03" and fields["unit_id"] == str(u2.id) and "csrf_token" in fields

    data = {"month": "2024-03", "unit_id": str(u2.id)}
    job_id = job_id_of(client.post("/admin/exports/incidents", data=data))
    doc = parse(client.get(f"/admin/exports/jobs/{job_id}").text)
    assert doc.text_of("export-title") == "2024年3月扣加分记录(.xlsx) 筛选:市社保中心"
    assert doc.one("a#export-back").get("href") == f"/admin/incidents?month=2024-03&unit_id={u2.id}"
    response = download(client, job_id)
    assert disposition_name(response) == "2024年3月扣加分记录.xlsx"
    rows = rows_of(book(response.data).active)
    assert [r[3] for r in rows[3:]] == ["D03"] and "共 1 条" in rows[1][0] and "市社保中心" in rows[1][0]
    same = rows_of(book(client.get("/admin/incidents/export.xlsx", query_string=data).data).active)
    assert rows == same

    # Filters the list refuses start nothing.
    before = jobs_count()
    for bad in ({"month": "2024-13"}, {"month": "2099-01"}, {"month": "2024-03", "unit_id": "999"}):
        response = client.post("/admin/exports/incidents", data=bad)
        assert response.status_code == 302 and response.headers["Location"] == "/admin/incidents"
    assert jobs_count() == before
    assert "筛选条件无效" in client.get("/admin/incidents").get_data(as_text=True)


def test_the_tallies_job(client, login, hall, inline):
    from services.dashboard import tallies

    login("admin")
    page = parse(client.get("/admin/tallies?year=2024").text)
    assert page.one("button#tallies-job-start").get("form") == "tallies-job"
    job_id = job_id_of(client.post("/admin/exports/tallies", data={"year": "2024"}))
    response = download(client, job_id)
    assert disposition_name(response) == "2024年人员与窗口扣分统计.xlsx"
    wb = book(response.data)
    assert wb.sheetnames == ["按人员", "按窗口"]
    by_staff, _by_window = tallies(2024)
    assert [(r[0], r[14]) for r in rows_of(wb["按人员"])[3:]] == [(t.label, t.total) for t in by_staff]


def test_the_months_detail_tables_pdf_job_started_by_an_inspector(client, login, hall, inline):
    login("inspector")
    page = parse(client.get("/admin/standings?month=2024-02").text)
    assert page.one("button#details-job-start").get("form") == "details-job"
    assert page.one("form#details-job input[name=month]").get("value") == "2024-02"
    job_id = job_id_of(client.post("/admin/exports/month-details", data={"month": "2024-02"}))
    job = db.session.get(Job, job_id)
    assert job.status == "done", job.message
    doc = parse(client.get(f"/admin/exports/jobs/{job_id}").text)
    assert doc.text_of("export-title") == "2024年2月各单位考核评分明细表(PDF)"
    response = download(client, job_id)
    assert response.mimetype == "application/pdf"
    assert disposition_name(response) == "2024年2月各单位考核评分明细表.pdf"
    text = pdf_text(response.data)
    assert "2024年2月各派驻单位考核评分明细表" in text and "市税务局" in text and "市社保中心" in text
    assert "迟到5分钟" in text and "社保窗口的情况" in text and "扣分小计" in text
    assert "内部备注" not in text
    # The same pages as the address's PDF.
    direct = pdf_text(client.get("/admin/months/2024-02/details.pdf").data)
    assert text == direct


@pytest.fixture
def honour_roll(make):
    """Q4 2023 closed, two units honoured (市税务局 with two people), a draft roll."""
    tax = make.unit("U01", name="市税务局", windows="1;2")
    police = make.unit("U02", name="市公安局", windows="3;4")
    wang = make.staff(tax, "S01", name="王小明", window="1", start=date(2023, 1, 1))
    make.staff(police, "S03", name="赵敏", window="3", start=date(2023, 1, 1))
    make.incident(tax, "B03", at=datetime(2023, 10, 10, 9, 0))
    for m in (10, 11, 12):
        months.close(2023, m)
    db.session.commit()
    roll = honors.save_selection("quarter", 2023, 4, [tax.id, police.id], [wang.id])
    db.session.commit()
    return {"roll": roll, "tax": tax, "police": police}


def test_every_praise_letter_of_a_roll_in_one_pdf_with_their_numbers(client, login, honour_roll, inline):
    login("admin")
    page = parse(client.get("/admin/honors/2023-Q4").text)
    assert page.one("form#honor-letters-job").get("action") == "/admin/exports/honor-letters"
    assert page.one("form#honor-letters-job input[name=period]").get("value") == "2023-Q4"
    # A draft roll: the letters say so, and get no number.
    draft = job_id_of(client.post("/admin/exports/honor-letters", data={"period": "2023-Q4"}))
    text = pdf_text(download(client, draft).data)
    assert "关于对市税务局予以表扬的函" in text and "关于对市公安局予以表扬的函" in text and "草稿" in text
    assert db.session.scalar(select(func.count(IssuedDocument.id))) == 0

    honors.publish(honour_roll["roll"].id)
    db.session.commit()
    job_id = job_id_of(client.post("/admin/exports/honor-letters", data={"period": "2023-Q4"}))
    doc = parse(client.get(f"/admin/exports/jobs/{job_id}").text)
    assert doc.text_of("export-title") == "2023年第四季度光荣榜表扬函(PDF,全部获评单位)"
    assert "共 2 封表扬函" in doc.text_of("job-done")
    response = download(client, job_id)
    assert disposition_name(response) == "表扬函-2023年第四季度-全部获评单位.pdf"
    text = pdf_text(response.data)
    assert text.index("关于对市税务局予以表扬的函") < text.index("关于对市公安局予以表扬的函")
    assert "王小明" in text and "草稿" not in text
    numbers = db.session.scalars(select(IssuedDocument.number).order_by(IssuedDocument.seq)).all()
    assert len(numbers) == 2 and all(n.replace(" ", "") in text for n in numbers)
    # Each letter keeps its number: the single letter's page shows the one the batch gave it.
    single = client.get(f"/admin/honors/2023-Q4/letters/{honour_roll['tax'].id}").get_data(as_text=True)
    assert re.search(r'id="doc-number">([^<]+)<', single).group(1) == numbers[0]
    assert db.session.scalar(select(func.count(IssuedDocument.id))) == 2


def test_a_roll_without_letters_and_bad_parameters_start_nothing(client, login, hall, inline):
    login("admin")
    before = jobs_count()
    for url, data, message in (
        ("/admin/exports/honor-letters", {"period": "2023-Q4"}, "该期光荣榜还没有名单"),
        ("/admin/exports/honor-letters", {"period": "2023-Q9"}, "光荣榜期间无效"),
        ("/admin/exports/year-details", {"year": "2031"}, "2031 年没有考核结果"),
        ("/admin/exports/year-details", {}, "年份应为四位数字"),
        ("/admin/exports/tallies", {"year": "²⁰²⁴"}, "年份应为四位数字"),
        ("/admin/exports/month-details", {"month": "2024-13"}, "月份格式应为 YYYY-MM"),
        ("/admin/exports/month-details", {"month": "2099-01"}, "尚未开始"),
    ):
        response = client.post(url, data=data, follow_redirects=True)
        assert response.status_code == 200 and message in response.get_data(as_text=True), (url, data)
    assert jobs_count() == before


# ---------------------------------------------------------------- who gets the file


def test_only_who_started_it_or_an_admin_gets_the_file(client, login, make, hall, inline):
    leader = login("leader", username="leader-a")
    job_id = job_id_of(client.post("/admin/exports/year-details", data={"year": "2024"}))
    assert db.session.get(Job, job_id).created_by_id == leader.id
    assert download(client, job_id).data.startswith(b"PK")
    urls = (f"/admin/exports/jobs/{job_id}", f"/admin/exports/jobs/{job_id}/file")

    switch(client, login, "leader", username="leader-b")  # another leader: not theirs
    for url in urls:
        response = client.get(url)
        assert response.status_code == 404 and not response.data.startswith(b"PK"), url
    assert client.post(f"/admin/exports/jobs/{job_id}/again").status_code == 404
    switch(client, login, "inspector")  # the hall's people, but this export is not theirs to make
    for url in urls:
        assert client.get(url).status_code == 404, url
    switch(client, login, "unit", unit=hall["u1"])
    for url in urls:
        response = client.get(url)
        assert response.status_code == 403 and not response.data.startswith(b"PK"), url
    client.post("/logout")
    for url in urls:
        assert "/login" in client.get(url).headers["Location"]
    # An admin may (the export permission), and sees the starter's name.
    login("admin")
    assert "leader-a" in client.get(urls[0]).get_data(as_text=True)
    assert download(client, job_id).data.startswith(b"PK")
    # Another kind's job id is no export.
    detect = Job(kind="detect", status="done", result={"month": "2024-03"})
    db.session.add(detect)
    db.session.commit()
    assert client.get(f"/admin/exports/jobs/{detect.id}").status_code == 404
    assert client.get(f"/admin/exports/jobs/{detect.id}/file").status_code == 404


def test_the_buttons_are_shown_to_who_may_start_the_job(client, login, hall):
    login("inspector")
    assert parse(client.get("/admin/standings?month=2024-03").text).all("button#details-job-start")
    assert not parse(client.get("/admin/tallies?year=2024").text).all("button#tallies-job-start")
    assert not parse(client.get("/admin/incidents?month=2024-03").text).all("form#incidents-job")
    # Starting is refused by role, and writes nothing.
    before = jobs_count()
    assert client.post("/admin/exports/tallies", data={"year": "2024"}).status_code == 403
    assert client.post("/admin/exports/year-details", data={"year": "2024"}).status_code == 403
    assert jobs_count() == before


# ---------------------------------------------------------------- files kept a day, replaced by a new one


def test_a_new_export_replaces_the_old_file_and_old_files_expire(client, login, hall, inline, exports_dir):
    login("admin")
    first = job_id_of(client.post("/admin/exports/tallies", data={"year": "2024"}))
    first_file = exports_dir / db.session.get(Job, first).result["file"]
    assert first_file.exists() and re.fullmatch(rf"{first}-[0-9a-f]{{32}}\.xlsx", first_file.name)
    second = job_id_of(client.post("/admin/exports/tallies", data={"year": "2024"}))
    assert not first_file.exists()  # replaced
    doc = parse(client.get(f"/admin/exports/jobs/{first}").text)
    assert "已被更新的导出替换" in doc.text_of("job-expired") and doc.one("button#export-again")
    response = client.get(f"/admin/exports/jobs/{first}/file", follow_redirects=True)
    assert "文件已过期或已被更新的导出替换" in response.get_data(as_text=True)
    # Another export (another year's detail tables) is not replaced by it.
    other = job_id_of(client.post("/admin/exports/year-details", data={"year": "2024"}))
    second_file = exports_dir / db.session.get(Job, second).result["file"]
    assert second_file.exists()
    # A day later, the file is gone from the page and from the folder.
    old = time.time() - 25 * 3600
    os.utime(second_file, (old, old))
    assert client.get(f"/admin/exports/jobs/{second}/file").status_code == 302
    assert export_jobs.clean_old_files() == 1 and not second_file.exists()
    assert download(client, other).data.startswith(b"PK")
    # Run again: a new file.
    again = job_id_of(client.post(f"/admin/exports/jobs/{second}/again"))
    assert again > other and download(client, again).data.startswith(b"PK")


# ---------------------------------------------------------------- a crash, and the queue


def dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_a_job_cut_short_by_a_crash_is_failed_and_can_be_run_again(client, login, hall, inline):
    admin = login("admin")
    job = Job(
        kind=export_jobs.YEAR_DETAILS,
        created_by_id=admin.id,
        result={"runner": {"host": socket.gethostname(), "pid": dead_pid()}, "params": {"year": 2024}},
    )
    db.session.add(job)
    db.session.commit()
    poll = client.get(f"/admin/exports/jobs/{job.id}", headers=HX)
    assert poll.status_code == 286  # finished: the polling stops
    assert jobs.ABANDONED_MESSAGE in parse(poll.get_data(as_text=True)).text_of("job-failed")
    db.session.expire_all()
    failed = db.session.get(Job, job.id)
    assert failed.status == "failed" and failed.result["params"] == {"year": 2024}  # kept to run it again
    assert client.get(f"/admin/exports/jobs/{job.id}/file").status_code == 302
    page = parse(client.get(f"/admin/exports/jobs/{job.id}").text)
    assert page.one("button#export-again").text.strip() == "重新运行"
    again = job_id_of(client.post(f"/admin/exports/jobs/{job.id}/again"))
    assert db.session.get(Job, again).status == "done"
    assert book(download(client, again).data).sheetnames == ["市税务局", "市社保中心"]


def test_a_running_job_shows_its_progress_and_is_not_run_twice(client, login, hall, exports_dir):
    admin = login("admin")
    job = Job(
        kind=export_jobs.MONTH_DETAILS,
        created_by_id=admin.id,
        done=1,
        total=3,
        message="正在整理各单位明细",
        result={"runner": {"host": socket.gethostname(), "pid": os.getpid()}, "params": {"month": "2024-02"}},
    )
    db.session.add(job)
    db.session.commit()
    import threading

    # As a thread of this process running it would be named.
    stop = threading.Event()
    thread = threading.Thread(target=stop.wait, name=f"job-{job.id}", daemon=True)
    thread.start()
    try:
        page = parse(client.get(f"/admin/exports/jobs/{job.id}").text)
        progress = page.one("#job-status .progress")
        assert progress.get("hx-get") == f"/admin/exports/jobs/{job.id}" and progress.get("hx-trigger")
        assert page.one("progress").get("value") == "1" and page.one("progress").get("max") == "3"
        assert page.text_of("job-message") == "正在整理各单位明细 1/3"
        assert not page.all("a#export-download") and not page.all("button#export-again")
        assert client.get(f"/admin/exports/jobs/{job.id}", headers=HX).status_code == 200  # polling goes on
        assert client.get(f"/admin/exports/jobs/{job.id}/file").status_code == 302
        before = jobs_count()
        response = client.post(f"/admin/exports/jobs/{job.id}/again", follow_redirects=True)
        assert "该导出仍在进行中" in response.get_data(as_text=True) and jobs_count() == before
    finally:
        stop.set()
        thread.join(5)


def test_without_redis_a_job_runs_in_a_thread(app, client, login, hall, exports_dir, monkeypatch):
    monkeypatch.delenv("REDIS_URL", raising=False)
    login("admin")
    job_id = job_id_of(client.post("/admin/exports/tallies", data={"year": "2024"}))
    import threading

    for thread in [t for t in threading.enumerate() if t.name == f"job-{job_id}"]:
        thread.join(60)
    db.session.expire_all()
    job = db.session.get(Job, job_id)
    assert job.status == "done", job.message
    assert book(download(client, job_id).data).sheetnames == ["按人员", "按窗口"]


@pytest.fixture
def queued(app, monkeypatch, exports_dir):
    """REDIS_URL set (database 1) and a queue of this test's own, removed afterwards."""
    yield from own_queue(app, monkeypatch, REDIS_URL, "hs-export-test")


def work_burst(app) -> None:
    worker = jobs.make_worker(app, simple=True)
    assert worker.work(burst=True) is True


def test_with_redis_the_job_goes_to_the_rq_queue(app, client, login, hall, queued):
    admin = login("admin")
    job_id = job_id_of(client.post("/admin/exports/month-details", data={"month": "2024-02"}))
    job = db.session.get(Job, job_id)
    assert job.kind == export_jobs.MONTH_DETAILS and job.status == "running"
    assert job.result["runner"]["queue"] == queued and job.result["runner"]["rq"]
    assert job.result["params"] == {"month": "2024-02"}
    assert jobs.rq_queue(app).count == 1
    from rq.job import Job as RQJob

    rq_job = RQJob.fetch(job.result["runner"]["rq"], connection=jobs.redis_connection(app))
    assert rq_job.args[:3] == (job_id, admin.id, export_jobs.run)  # as the admin, passed explicitly
    # Waiting for a worker: the page shows it queued, the polling goes on.
    page = parse(client.get(f"/admin/exports/jobs/{job_id}").text)
    assert page.text_of("job-message") == "正在排队等待生成…"
    assert client.get(f"/admin/exports/jobs/{job_id}", headers=HX).status_code == 200

    work_burst(app)

    db.session.expire_all()
    job = db.session.get(Job, job_id)
    assert job.status == "done" and job.result["params"] == {"month": "2024-02"}, job.message
    poll = client.get(f"/admin/exports/jobs/{job_id}", headers=HX)
    assert poll.status_code == 286
    assert parse(poll.get_data(as_text=True)).one("a#export-download")
    text = pdf_text(download(client, job_id).data)
    assert "2024年2月各派驻单位考核评分明细表" in text and "市社保中心" in text


def test_a_queued_job_whose_roll_went_away_fails_in_chinese_and_runs_again(app, client, login, queued, make):
    tax = make.unit("U01", name="市税务局", windows="1;2")
    for m in (10, 11, 12):
        months.close(2023, m)
    db.session.commit()
    roll = honors.save_selection("quarter", 2023, 4, [tax.id], [])
    db.session.commit()
    login("admin")
    job_id = job_id_of(client.post("/admin/exports/honor-letters", data={"period": "2023-Q4"}))
    db.session.execute(delete(HonorEntry))  # emptied before a worker took it
    db.session.commit()
    work_burst(app)
    db.session.expire_all()
    job = db.session.get(Job, job_id)
    assert job.status == "failed" and job.message == "该期光荣榜还没有名单,没有表扬函可生成"
    assert job.result["params"] == {"period": "2023-Q4"}
    assert "生成失败:该期光荣榜还没有名单" in parse(client.get(f"/admin/exports/jobs/{job_id}").text).text_of(
        "job-failed"
    )
    db.session.expire_all()
    honors.save_selection("quarter", 2023, 4, [tax.id], [])
    db.session.commit()
    again = job_id_of(client.post(f"/admin/exports/jobs/{job_id}/again"))
    work_burst(app)
    db.session.expire_all()
    assert db.session.get(Job, again).status == "done"
    assert "关于对市税务局予以表扬的函" in pdf_text(download(client, again).data)
    assert roll.id


def test_the_worker_command_writes_the_file_into_the_shared_folder(app, runner, login, client, hall, queued):
    """`flask worker --burst` (each job in a forked child): the file lands in EXPORT_DIR for any server."""
    login("admin")
    job_id = job_id_of(client.post("/admin/exports/tallies", data={"year": "2024"}))
    db.session.remove()
    result = runner.invoke(args=["worker", "--burst", "--queue", queued])
    assert result.exit_code == 0, result.output
    g.pop("_login_user", None)  # the session was removed: the client's user is loaded again
    job = db.session.get(Job, job_id)
    assert job.status == "done", job.message
    assert (Path(app.config["EXPORT_DIR"]) / job.result["file"]).exists()
    assert book(download(client, job_id).data).sheetnames == ["按人员", "按窗口"]
