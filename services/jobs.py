"""Run long work in the background with its progress in the `job` table.

Two ways to run it, chosen by the configuration:

- `REDIS_URL` set (production): the job goes onto an RQ queue (`JOBS_QUEUE`, default "hallscore") and an
  RQ worker runs it (`flask --app app worker`), so a web worker restarted by gunicorn loses nothing and
  every app server shares the work.
- `REDIS_URL` not set (`make run`, the embedded default): the job runs in a thread of the web process.

The page that started it polls a fragment; the server answers 286 when the job is finished so htmx
stops polling. The work function and its arguments must be importable/picklable (a module-level function,
plain values): RQ stores them in Redis for a worker in another process.

A job runs as the user who started it: `execute` takes that user's id explicitly and sets services.audit's
acting user while the work runs, so its audit rows name them. A job cut short by a crash (a restart, a
killed worker) would stay "running" and keep its page polling forever: `fail_abandoned` marks such jobs
failed with a Chinese message, and they can be run again (each operation writes in one transaction, so
a cut-short job left nothing half-written). It runs when the app starts, when a worker starts and each
time a job's progress is polled (`settle`). A job knows what runs it (`result["runner"]`): a thread
names its host and process id (a live process's jobs are left alone); an RQ job names its RQ id, and RQ
tells whether it is waiting, running with a live heartbeat, or lost.

What a job was asked to do (`start(..., job_params=...)`, plain values) stays in `result["params"]` whatever
becomes of it (done, failed, abandoned), so its page can say what it was and run it again.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from flask import Flask, current_app, has_app_context
from sqlalchemy import select, update

from models import Job, db
from models.base import utcnow
from services.audit import acting_as, acting_user_id
from services.clock import utc_now

log = logging.getLogger(__name__)

ABANDONED_MESSAGE = "服务器在任务运行期间重新启动,任务已中断,未完成的更改没有保存;请重新运行"
# A job is minutes long: one still "running" after this long is abandoned whatever process it names.
ABANDONED_AFTER = timedelta(hours=6)
TIMEOUT_MESSAGE = "任务运行超过时限,已停止,未完成的更改没有保存;请重新运行"
DEFAULT_QUEUE = "hallscore"
# RQ's own default (180 s) is too short for a 100,000-row import; a job past this is stopped and failed.
DEFAULT_TIMEOUT = 3600
_RQ_LOST = {"failed", "stopped", "canceled"}


class Progress:
    """Handed to the work function: call it with (done, total, message) now and then."""

    def __init__(self, app: Flask, job_id: int):
        self.app = app
        self.job_id = job_id

    def __call__(self, done: int, total: int, message: str = "") -> None:
        with self.app.app_context():
            job = db.session.get(Job, self.job_id)
            job.done, job.total = done, total
            if message:
                job.message = message
            db.session.commit()


# ---------------------------------------------------------------- the queue (REDIS_URL set)


def redis_url(app: Flask | None = None) -> str | None:
    app = app or current_app
    return app.config.get("REDIS_URL") or os.environ.get("REDIS_URL") or None


def queue_name(app: Flask | None = None) -> str:
    app = app or current_app
    return app.config.get("JOBS_QUEUE") or os.environ.get("JOBS_QUEUE") or DEFAULT_QUEUE


def uses_queue(app: Flask | None = None) -> bool:
    return bool(redis_url(app))


def redis_connection(app: Flask | None = None):
    from redis import Redis

    return Redis.from_url(redis_url(app))


def rq_queue(app: Flask | None = None):
    from rq import Queue

    return Queue(queue_name(app), connection=redis_connection(app))


def _importable(work: Callable) -> bool:
    return "<" not in getattr(work, "__qualname__", "<")  # not a lambda, nor a function defined in one


# ---------------------------------------------------------------- running a job


def _runner() -> dict:
    return {"host": socket.gethostname(), "pid": os.getpid()}


def _kept(result: Any) -> dict:
    """What a job's result keeps from start to end: its `params`."""
    return {"params": result["params"]} if isinstance(result, dict) and "params" in result else {}


def _finish(job_id: int, status: str, result: dict, message: str = "") -> None:
    job_row = db.session.get(Job, job_id)
    job_row.status = status
    job_row.result = {**_kept(job_row.result), **result}
    if message:
        job_row.message = message
    job_row.finished_at = utc_now()
    db.session.commit()


def _run(app: Flask, job_id: int, user_id: int | None, work: Callable, args: tuple, kwargs: dict) -> None:
    with app.app_context(), acting_as(user_id):
        try:
            job_row = db.session.get(Job, job_id)
            if job_row is None or job_row.status != "running":
                log.warning(
                    "job %s is no longer waiting to run (%s); skipped", job_id, job_row and job_row.status
                )
                return
            db.session.rollback()  # the work starts its own transaction
            progress = Progress(app, job_id)
            try:
                result = work(progress, *args, **kwargs)
                status, message = "done", ""
            except Exception as error:  # the job reports it; the screen must not hang on "running"
                log.exception("job %s failed", job_id)
                db.session.rollback()
                text = TIMEOUT_MESSAGE if type(error).__name__ == "JobTimeoutException" else str(error)
                result, status, message = {"error": text}, "failed", text
            _finish(job_id, status, result, message)
        finally:
            db.session.remove()


def execute(
    job_id: int, user_id: int | None, work: Callable, args: tuple = (), kwargs: dict | None = None
) -> None:
    """What an RQ worker runs: `work(progress, *args, **kwargs)` as the user `user_id`.

    The worker runs it inside the app context the `worker` command (or a test) has pushed.
    """
    _run(current_app._get_current_object(), job_id, user_id, work, tuple(args), dict(kwargs or {}))


def on_rq_failure(rq_job, connection, exc_type, exc_value, traceback) -> None:
    """RQ's failure callback: the job died outside `work` (killed, timed out, abandoned by a dead worker)."""
    job_id = (rq_job.meta or {}).get("job_row")
    if job_id is None:
        return
    if not has_app_context():
        log.warning("job %s failed in RQ outside an app context; its row is settled later", job_id)
        return
    job_row = db.session.get(Job, job_id)
    if job_row is not None and job_row.status == "running":
        reason = (
            ABANDONED_MESSAGE
            if exc_type is None or exc_type.__name__ == "AbandonedJobError"
            else str(exc_value)
        )
        _finish(job_id, "failed", {"error": reason, "rq": rq_job.id}, reason)


def start(
    kind: str,
    work: Callable[..., dict],
    *args: Any,
    synchronous: bool = False,
    started_by: int | None = None,
    job_params: dict | None = None,
    **kwargs: Any,
) -> Job:
    """Create the job row and run `work(progress, *args, **kwargs)`; it returns the result dict.

    `work` runs in its own app context and session, as the user `started_by` (by default the acting user
    of the caller), and must commit its own changes. With `synchronous=True` (tests, the CLI) it runs
    before this returns; otherwise on an RQ worker when `REDIS_URL` is set, else in a thread. `job_params`
    (plain values) is kept in the row's `result["params"]` (what was asked, to show it and run it again).
    """
    user_id = started_by if started_by is not None else acting_user_id()
    app = current_app._get_current_object()
    inline = synchronous or bool(app.config.get("JOBS_SYNCHRONOUS"))
    queued = not inline and uses_queue(app)
    if queued and not _importable(work):
        raise TypeError(f"a queued job's work must be a module-level function, not {work.__qualname__}")
    kept = {"params": dict(job_params)} if job_params is not None else {}
    job = Job(kind=kind, created_by_id=user_id, result={"runner": _runner(), **kept})
    db.session.add(job)
    db.session.commit()
    job_id = job.id

    if inline:
        _run(app, job_id, user_id, work, args, kwargs)
        db.session.refresh(job)
    elif queued:
        _enqueue(app, job, user_id, work, args, kwargs)
    else:
        thread = threading.Thread(
            target=_run, args=(app, job_id, user_id, work, args, kwargs), daemon=True, name=f"job-{job_id}"
        )
        thread.start()
    return job


def _enqueue(app: Flask, job: Job, user_id: int | None, work: Callable, args: tuple, kwargs: dict) -> None:
    from rq import Callback

    queue = rq_queue(app)
    try:
        rq_job = queue.enqueue(
            execute,
            job.id,
            user_id,
            work,
            args,
            kwargs,
            job_timeout=int(app.config.get("JOBS_TIMEOUT", DEFAULT_TIMEOUT)),
            result_ttl=24 * 3600,
            failure_ttl=7 * 24 * 3600,
            meta={"job_row": job.id, "kind": job.kind},
            on_failure=Callback(on_rq_failure),
        )
    except Exception as error:  # Redis down: the job is failed at once, not left waiting forever
        log.exception("could not queue job %s", job.id)
        message = "任务队列(Redis)不可用,任务未能开始;请稍后重试"
        _finish(job.id, "failed", {"error": f"{message}: {type(error).__name__}"}, message)
        db.session.refresh(job)
        return
    job.result = {**_kept(job.result), "runner": {"rq": rq_job.id, "queue": queue.name}}
    db.session.commit()


# ---------------------------------------------------------------- jobs a crash cut short


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True
    return True


def _rq_lost(runner: dict, rq_time: float | None) -> bool | None:
    """Whether RQ has lost the job (None when Redis cannot tell now: leave the job alone)."""
    from rq.exceptions import NoSuchJobError
    from rq.job import Job as RQJob
    from rq.registry import StartedJobRegistry

    try:
        connection = redis_connection()
        try:
            rq_job = RQJob.fetch(runner["rq"], connection=connection)
        except NoSuchJobError:
            return True  # expired or deleted: nothing will ever run it
        status = rq_job.get_status(refresh=False)
        status = getattr(status, "value", status)
        if status in _RQ_LOST:
            return True
        if status != "started":
            return False  # queued, deferred, scheduled: a worker will take it
        # Running: alive while its worker's heartbeat keeps its place in the started registry.
        registry = StartedJobRegistry(runner.get("queue") or queue_name(), connection=connection)
        expired = registry.get_expired_job_ids(rq_time if rq_time is not None else time.time())
        if rq_job.id in expired or rq_job.id not in registry.get_job_ids(cleanup=False):
            # Unless it has just finished between the two questions.
            return getattr(rq_job.get_status(), "value", None) not in ("finished", "queued")
        return False
    except Exception:  # Redis unreachable: say nothing rather than fail a live job
        log.warning("could not ask RQ about job %s", runner.get("rq"), exc_info=True)
        return None


def _abandoned(job: Job, now, rq_time: float | None = None) -> bool:
    if job.created_at is not None and now - job.created_at > ABANDONED_AFTER:
        return True
    runner = (job.result or {}).get("runner") if isinstance(job.result, dict) else None
    if isinstance(runner, dict) and runner.get("rq"):
        if not uses_queue():
            return False  # queued by a server that had Redis: only the age above can tell
        return bool(_rq_lost(runner, rq_time))
    if not isinstance(runner, dict) or not isinstance(runner.get("pid"), int):
        return True  # started before jobs named their process: nothing can be running it now
    if runner.get("host") != socket.gethostname():
        return False  # another machine's process: only the age above can tell
    if runner["pid"] == os.getpid():
        return not any(t.name == f"job-{job.id}" for t in threading.enumerate())
    # A thread job of another process, or one being queued by it (the row exists before RQ knows it).
    return not _process_alive(runner["pid"])


def _mark_failed(job: Job) -> bool:
    """Fail a job still "running" in the database (a worker that finished it meanwhile wins)."""
    changed = db.session.execute(
        update(Job)
        .where(Job.id == job.id, Job.status == "running")
        .values(
            status="failed",
            message=ABANDONED_MESSAGE,
            result={"error": ABANDONED_MESSAGE, **_kept(job.result)},
            finished_at=utc_now(),
        )
        .execution_options(synchronize_session=False)
    ).rowcount
    return bool(changed)


def fail_abandoned(rq_time: float | None = None) -> int:
    """Mark failed every job left "running" by a process that has ended; returns how many (commits).

    `rq_time` (seconds since the epoch, default now) is the moment RQ heartbeats are judged at.
    """
    count = 0
    for job in db.session.scalars(select(Job).where(Job.status == "running")).all():
        if _abandoned(job, utcnow(), rq_time):  # the real clock, as Job.created_at
            count += _mark_failed(job)
    db.session.commit()
    db.session.expire_all()
    if count:
        log.warning("marked %d abandoned job(s) failed", count)
    return count


def settle(job: Job) -> Job:
    """A polled job: if it is "running" but nothing runs it any more, mark it failed now (commits)."""
    runner = job.result.get("runner") if isinstance(job.result, dict) else None
    if not isinstance(runner, dict):
        return job  # a row that names no runner is judged once, when the app starts
    if job.status == "running" and _abandoned(job, utcnow()):
        _mark_failed(job)
        db.session.commit()
        db.session.refresh(job)
    return job


def fail_abandoned_at_start(app: Flask) -> None:
    """At app start; quiet when the database is not there yet (init-db creates it)."""
    from sqlalchemy.exc import SQLAlchemyError

    with app.app_context():
        try:
            fail_abandoned()
        except SQLAlchemyError:
            db.session.rollback()
            log.debug("no job table to check yet", exc_info=True)
        finally:
            db.session.remove()


# ---------------------------------------------------------------- the worker


def make_worker(app: Flask, queue_names: list[str] | None = None, simple: bool = False):
    """An RQ worker for the app's queue. Each job runs in a forked child (a big import's memory goes back
    when it ends); `simple=True` runs jobs in the worker's own process (tests)."""
    from rq import Queue, SimpleWorker, Worker

    class HallWorker(Worker):
        def main_work_horse(self, job, queue):
            # The forked child must not share the parent's pooled database connections.
            with app.app_context():
                for engine in db.engines.values():
                    engine.dispose(close=False)
            super().main_work_horse(job, queue)

    connection = redis_connection(app)
    queues = [Queue(name, connection=connection) for name in (queue_names or [queue_name(app)])]
    cls = SimpleWorker if simple else HallWorker
    return cls(queues, connection=connection)
