"""Background jobs on a real queue: with REDIS_URL set, the admin pages' jobs go to RQ and a worker runs them
(progress and result in the job table); without it they run in a thread of the web process; a job whose
worker was killed is marked failed and can be run again.

These tests need the Redis every development machine runs (127.0.0.1:6379); they use database 4 and a queue
of their own per xdist worker, and fail with a clear message when Redis is not there.
"""

from __future__ import annotations

import os
import time
from datetime import date, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select

from models import AuditLog, ClockPunch, Incident, IncidentStatus, Job, Unit, db
from services import jobs
from services.clock import from_hall
from tests.rq_worker import ROOT, kill_tree, own_queue, start_worker

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/4")
HX = {"HX-Request": "true"}


@pytest.fixture
def queued(app, monkeypatch):
    """The app with REDIS_URL set and a queue of this test's own; the queue's keys are removed afterwards."""
    yield from own_queue(app, monkeypatch, REDIS_URL, "hs-test")


def work_burst(app) -> None:
    """Run every queued job in this process, as a worker would, then return."""
    worker = jobs.make_worker(app, simple=True)
    assert worker.work(burst=True) is True


@pytest.fixture
def clerk(make):
    """A back-office clerk who punched fully on 18 March, only in the morning on the 19th, not on the 20th
    (today): a detection of March proposes two D16 incidents."""
    unit = make.unit("U01", name="市税务局")
    make.staff(unit, "C001", name="赵六", category="C", window=None, start=date(2024, 3, 18))
    for at in (datetime(2024, 3, 18, 8, 27), datetime(2024, 3, 18, 16, 58), datetime(2024, 3, 19, 8, 29)):
        db.session.add(ClockPunch(staff_id="C001", punched_at=from_hall(at)))
    db.session.commit()
    return unit


def proposed_count() -> int:
    return db.session.scalar(
        select(func.count(Incident.id)).where(Incident.status == IncidentStatus.PROPOSED)
    )


def test_a_detection_started_from_the_page_runs_on_the_rq_worker(app, client, login, clerk, queued):
    admin = login("admin")
    response = client.post("/admin/detections/run", data={"month": "2024-03"}, headers=HX)
    assert response.status_code == 200
    job = db.session.scalar(select(Job).order_by(Job.id.desc()))
    # Queued, not run: nothing written yet, the row says which RQ job runs it.
    assert job.kind == "detect" and job.status == "running"
    assert job.result["runner"]["queue"] == queued and job.result["runner"]["rq"]
    assert proposed_count() == 0
    assert jobs.rq_queue(app).count == 1
    # Polling while it waits for a worker keeps it running (RQ knows it is queued).
    poll = client.get(f"/admin/detections/jobs/{job.id}?month=2024-03", headers=HX)
    assert poll.status_code == 200

    work_burst(app)

    db.session.expire_all()
    job = db.session.get(Job, job.id)
    assert job.status == "done" and job.result["proposed"] == 2 and job.finished_at is not None
    assert proposed_count() == 2
    # The worker acted as the admin who asked: the audit row names them.
    run_row = db.session.scalar(select(AuditLog).where(AuditLog.action == "detect.run"))
    assert run_row.user_id == admin.id
    poll = client.get(f"/admin/detections/jobs/{job.id}?month=2024-03", headers=HX)
    assert poll.status_code == 286 and "新增 2 条待确认" in poll.get_data(as_text=True)


def test_an_import_confirmed_on_the_page_runs_on_the_rq_worker(app, client, login, queued):
    import re
    from io import BytesIO

    login("admin")
    csv = (
        "code,name,windows,display_order,active\nSW01,市税务局,1;2,1,true\nGA01,市公安局,3,2,true\n".encode()
    )
    preview = client.post(
        "/admin/import",
        data={"kind": "units", "file": (BytesIO(csv), "units.csv")},
        content_type="multipart/form-data",
    )
    token = re.search(r'action="/admin/import/([A-Za-z0-9_-]+)"', preview.get_data(as_text=True))
    assert token, "no confirm form"
    response = client.post(f"/admin/import/{token.group(1)}", headers=HX)
    assert response.status_code == 200
    job = db.session.scalar(select(Job).order_by(Job.id.desc()))
    assert job.kind == "import" and job.status == "running" and job.result["runner"]["rq"]
    assert db.session.scalar(select(func.count(Unit.id))) == 0

    work_burst(app)

    db.session.expire_all()
    job = db.session.get(Job, job.id)
    assert job.status == "done", job.result
    assert sorted(db.session.scalars(select(Unit.code))) == ["GA01", "SW01"]
    poll = client.get(f"/admin/import/jobs/{job.id}", headers=HX)
    assert poll.status_code == 286 and "单位导入完成:共 2 行" in poll.get_data(as_text=True)


def test_without_redis_url_a_job_runs_in_a_thread_of_the_web_process(app, clerk, make):
    assert not jobs.uses_queue(app)
    admin = make.user("admin")
    from admin.views import run_admin_job
    from services import detections

    job = jobs.start("detect", run_admin_job, detections.run, 2024, 3, started_by=admin.id)
    job_id = job.id
    assert job.result["runner"]["pid"] == os.getpid()
    threads = [t for t in __import__("threading").enumerate() if t.name == f"job-{job.id}"]
    for thread in threads:
        thread.join(60)
    db.session.expire_all()
    job = db.session.get(Job, job_id)
    assert job.status == "done" and job.result["proposed"] == 2
    assert proposed_count() == 2


def test_a_queued_job_needs_a_module_level_function(app, queued, make):
    admin = make.user("admin")
    with pytest.raises(TypeError, match="module-level"):
        jobs.start("detect", lambda progress: {}, started_by=admin.id)
    assert db.session.scalar(select(func.count(Job.id))) == 0


def test_the_worker_command_says_when_there_is_no_queue(runner, app, monkeypatch):
    monkeypatch.delenv("REDIS_URL", raising=False)
    result = runner.invoke(args=["worker", "--burst"])
    assert result.exit_code == 1 and "未设置 REDIS_URL" in result.output


# ---------------------------------------------------------------- a worker killed mid-job


def stop_at_first_run(progress, marker: str) -> dict:
    """Test work: the first run reports half done and then hangs until killed; a rerun finishes."""
    path = Path(marker)
    if not path.exists():
        path.write_text("started")
        progress(1, 2, "进行到一半")
        while True:
            time.sleep(0.2)
    progress(2, 2)
    return {"second_run": True}


def test_a_job_whose_worker_is_killed_is_failed_and_can_be_run_again(app, queued, make, tmp_path):
    from rq.job import Job as RQJob
    from rq.registry import StartedJobRegistry

    admin = make.user("admin")
    marker = tmp_path / "started"
    job = jobs.start("detect", stop_at_first_run, str(marker), started_by=admin.id)
    env = {
        **os.environ,
        "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
        "REDIS_URL": REDIS_URL,
        "JOBS_QUEUE": queued,
        "PYTHONPATH": str(ROOT),
    }
    worker = start_worker(env, capture=True)
    try:
        for _ in range(600):  # wait (up to a minute) for the job to be half done; not a timing assertion
            if marker.exists() or worker.poll() is not None:
                break
            time.sleep(0.1)
        assert marker.exists(), worker.communicate(timeout=5)[0].decode(errors="replace")[-3000:]
        for _ in range(100):  # its progress is committed just after the marker is written
            db.session.expire_all()
            if db.session.get(Job, job.id).done == 1:
                break
            time.sleep(0.1)
    finally:
        kill_tree(worker.pid)
        worker.wait(10)

    db.session.expire_all()
    job = db.session.get(Job, job.id)
    assert job.status == "running" and (job.done, job.total) == (1, 2)
    rq_id = job.result["runner"]["rq"]
    # The killed worker's heartbeat is still fresh: nothing can tell it from a slow job yet.
    assert jobs.settle(job).status == "running"
    assert jobs.fail_abandoned() == 0

    # Once its heartbeat has expired (judged a day later), RQ's registry cleanup fails the RQ job, and its
    # failure callback fails the row.
    registry = StartedJobRegistry(queued, connection=jobs.redis_connection(app))
    assert rq_id in registry.get_job_ids(cleanup=False)
    assert jobs.fail_abandoned(rq_time=time.time() + 86400) == 1
    db.session.expire_all()
    job = db.session.get(Job, job.id)
    assert job.status == "failed" and job.message == jobs.ABANDONED_MESSAGE and job.finished_at is not None
    registry.cleanup(timestamp=time.time() + 86400)
    rq_job = RQJob.fetch(rq_id, connection=jobs.redis_connection(app))
    assert rq_job.get_status().value == "failed"
    assert db.session.get(Job, job.id).status == "failed"  # the callback leaves a settled row alone

    # Run again: a new job, same work, finishes.
    again = jobs.start("detect", stop_at_first_run, str(marker), started_by=admin.id)
    work_burst(app)
    db.session.expire_all()
    again = db.session.get(Job, again.id)
    assert (
        again.status == "done"
        and again.result == {"second_run": True}
        and (again.done, again.total) == (2, 2)
    )


def test_rq_cleanup_of_an_abandoned_job_fails_its_row(app, queued, make):
    """RQ's own abandoned-job handling (a worker's registry cleanup) reaches the job table too."""
    from rq.job import Job as RQJob
    from rq.registry import StartedJobRegistry

    admin = make.user("admin")
    job = jobs.start("detect", stop_at_first_run, "/nonexistent/never", started_by=admin.id)
    connection = jobs.redis_connection(app)
    rq_job = RQJob.fetch(job.result["runner"]["rq"], connection=connection)
    # As a worker does when it takes the job (then dies without a heartbeat).
    queue = jobs.rq_queue(app)
    queue.remove(rq_job)
    registry = StartedJobRegistry(queued, connection=connection)
    with connection.pipeline() as pipe:
        pipe.zadd(registry.key, {f"{rq_job.id}:lost": time.time() - 1})
        rq_job.set_status("started", pipeline=pipe)
        pipe.execute()
    registry.cleanup()
    db.session.expire_all()
    row = db.session.get(Job, job.id)
    assert row.status == "failed" and row.message == jobs.ABANDONED_MESSAGE


def test_a_job_queued_while_redis_is_down_fails_at_once(app, monkeypatch, make):
    monkeypatch.setitem(app.config, "REDIS_URL", "redis://127.0.0.1:1/4")
    admin = make.user("admin")
    from services import detections

    job = jobs.start("detect", detections.run, 2024, 3, started_by=admin.id)
    assert job.status == "failed" and "Redis" in job.message


def test_the_worker_command_runs_the_queued_jobs(app, runner, queued, clerk, make):
    """`flask worker --burst`: each job in a forked child (its own database connections), then it exits."""
    admin = make.user("admin")
    from admin.views import run_admin_job
    from services import detections

    job_id = jobs.start("detect", run_admin_job, detections.run, 2024, 3, started_by=admin.id).id
    db.session.remove()
    result = runner.invoke(args=["worker", "--burst", "--queue", queued])
    assert result.exit_code == 0, result.output
    assert f"任务 worker 已启动,队列:{queued}" in result.output
    job = db.session.get(Job, job_id)
    assert job.status == "done" and job.result["proposed"] == 2
    assert proposed_count() == 2


def test_a_job_past_its_time_limit_is_stopped_and_failed_in_chinese(app, queued, make, tmp_path, monkeypatch):
    monkeypatch.setitem(app.config, "JOBS_TIMEOUT", 1)
    admin = make.user("admin")
    job_id = jobs.start("detect", stop_at_first_run, str(tmp_path / "hang"), started_by=admin.id).id
    work_burst(app)
    db.session.expire_all()
    job = db.session.get(Job, job_id)
    assert job.status == "failed" and job.message == jobs.TIMEOUT_MESSAGE and (job.done, job.total) == (1, 2)
