"""Services work outside a request (issue 8, items 11 and 16): the acting user is a context variable set by
the request, the command line and the job runner; translated labels work without a request; jobs a restart
cut short are marked failed when the app starts, and can be run again."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from datetime import date, datetime
from pathlib import Path

from sqlalchemy import select

from app import create_app
from models import AuditLog, ClockPunch, Job, db
from services import jobs
from services.audit import acting_as, acting_user_id, record
from services.clock import from_hall
from tests.html import text_of

ROOT = Path(__file__).resolve().parents[2]


def test_nothing_below_the_views_reads_flask_login_or_makes_a_request_context():
    offenders = []
    for path in sorted((ROOT / "services").rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        for needle in ("current_user", "flask_login", "test_request_context"):
            if needle in text:
                offenders.append(f"{path.relative_to(ROOT)}: {needle}")
    assert offenders == []


def test_translated_labels_and_service_messages_work_outside_a_request(app):
    """The locale falls back to the default outside a request, so the CLI uses the shared labels."""
    from flask import has_request_context

    from services import DomainError, users
    from ui import GRADE_LABELS, ROLE_LABELS, STATUS_LABELS

    assert not has_request_context()
    assert (str(ROLE_LABELS["admin"]), str(GRADE_LABELS["good"]), str(STATUS_LABELS["closed"])) == (
        "管理员",
        "良好",
        "已关账",
    )
    try:
        users.create_user("clerk", "", "inspector", None, "short")
    except DomainError as error:
        assert str(error) == "密码至少 10 位"
    else:  # pragma: no cover - the service must refuse
        raise AssertionError("a short password was accepted")


def test_the_acting_user_is_a_context_variable(make):
    admin = make.user("admin")
    assert acting_user_id() is None
    with acting_as(admin.id):
        assert acting_user_id() == admin.id
        record("test.inside", "thing:1")
        with acting_as(None):
            record("test.system", "thing:2")
    record("test.outside", "thing:3")
    db.session.commit()
    query = select(AuditLog.action, AuditLog.user_id).where(AuditLog.action.like("test.%"))
    rows = {action: user_id for action, user_id in db.session.execute(query)}
    assert rows == {"test.inside": admin.id, "test.system": None, "test.outside": None}


def test_a_request_acts_as_its_user_and_only_while_it_runs(client, login, make):
    unit = make.unit("U01", name="市税务局")
    admin = login("admin")
    response = client.post(
        f"/admin/units/{unit.id}/edit",
        data={"code": "U01", "name": "市税务局(新)", "windows": "1;2", "display_order": "0", "active": "y"},
    )
    assert response.status_code == 302
    row = db.session.scalar(select(AuditLog).where(AuditLog.action == "unit.update"))
    assert row.user_id == admin.id
    assert acting_user_id() is None  # the request is over: nothing leaks into the next one


def test_a_background_job_acts_as_the_user_who_started_it(app, make):
    inspector = make.user("inspector")

    def work(progress, label):
        record("test.job", f"thing:{label}", after={"acting": acting_user_id()})
        db.session.commit()
        return {"label": label}

    with acting_as(inspector.id):
        job = jobs.start("test", work, "x")
    assert acting_user_id() is None
    for thread in threading.enumerate():
        if thread.name == f"job-{job.id}":
            thread.join(timeout=30)
    db.session.expire_all()
    done = db.session.get(Job, job.id)
    assert (done.status, done.created_by_id, done.result) == ("done", inspector.id, {"label": "x"})
    row = db.session.scalar(select(AuditLog).where(AuditLog.action == "test.job"))
    assert row.user_id == inspector.id and row.after == {"acting": inspector.id}


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_jobs_left_running_by_an_ended_process_are_failed_at_start(app, client, login, make, monkeypatch):
    import socket

    host = socket.gethostname()
    old = Job(kind="detect", status="running", done=3, total=10)  # from before jobs named their process
    dead = Job(kind="import", status="running", result={"runner": {"host": host, "pid": _dead_pid()}})
    alive = Job(kind="import", status="running", result={"runner": {"host": host, "pid": os.getppid()}})
    elsewhere = Job(kind="import", status="running", result={"runner": {"host": "other-host", "pid": 1}})
    db.session.add_all([old, dead, alive, elsewhere])
    db.session.commit()
    ids = [old.id, dead.id, alive.id, elsewhere.id]

    # A restarted server: a new app on the same database.
    create_app({key: app.config[key] for key in ("TESTING", "SQLALCHEMY_DATABASE_URI", "SECRET_KEY")})
    db.session.expire_all()
    status = {job_id: db.session.get(Job, job_id) for job_id in ids}
    assert [status[i].status for i in ids] == ["failed", "failed", "running", "running"]
    assert status[old.id].message == jobs.ABANDONED_MESSAGE and status[old.id].finished_at is not None
    assert "服务器在任务运行期间重新启动" in jobs.ABANDONED_MESSAGE and "请重新运行" in jobs.ABANDONED_MESSAGE

    # The page that polls the abandoned detection stops polling (286) and says what happened.
    unit = make.unit("U01", name="市税务局")
    make.staff(unit, "C001", name="赵六", category="C", window=None, start=date(2024, 3, 18))
    db.session.add(ClockPunch(staff_id="C001", punched_at=from_hall(datetime(2024, 3, 18, 8, 27))))
    db.session.commit()
    login("admin")
    response = client.get(f"/admin/detections/jobs/{old.id}?month=2024-03")
    assert response.status_code == 286
    assert "检测未完成:" + jobs.ABANDONED_MESSAGE in text_of(response.get_data(as_text=True), "job-result")
    # ... and the detection can be run again.
    monkeypatch.setitem(app.config, "JOBS_SYNCHRONOUS", True)
    response = client.post("/admin/detections/run", data={"month": "2024-03"})
    assert response.status_code == 302
    rerun = db.session.scalar(select(Job).where(Job.kind == "detect").order_by(Job.id.desc()))
    assert rerun.id != old.id and rerun.status == "done" and rerun.result["proposed"] > 0
