"""Run long work in a background thread with its progress in the `job` table.

The page that started it polls a fragment; the server answers 286 when the job is finished so htmx
stops polling. Threads are enough here: the work is database-bound and short-lived (minutes at most).

A job runs as the user who started it (services.audit's acting user), so its audit rows name them. A job
still "running" when its process ended (a restart, a crash) would keep its page polling forever:
`fail_abandoned` marks such jobs failed with a Chinese message when the app starts, and they can be run
again. While it runs, a job's `result` holds the host and process id that run it, so a server process
that starts beside live ones (another gunicorn worker) leaves their jobs alone.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from flask import Flask, current_app
from sqlalchemy import select

from models import Job, db
from models.base import utcnow
from services.audit import acting_as, acting_user_id
from services.clock import utc_now

log = logging.getLogger(__name__)

ABANDONED_MESSAGE = "服务器在任务运行期间重新启动,任务已中断,未完成的更改没有保存;请重新运行"
# A job is minutes long: one still "running" after this long is abandoned whatever process it names.
ABANDONED_AFTER = timedelta(hours=6)


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


def _runner() -> dict:
    return {"host": socket.gethostname(), "pid": os.getpid()}


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True
    return True


def _abandoned(job: Job, now) -> bool:
    if job.created_at is not None and now - job.created_at > ABANDONED_AFTER:
        return True
    runner = (job.result or {}).get("runner") if isinstance(job.result, dict) else None
    if not isinstance(runner, dict) or not isinstance(runner.get("pid"), int):
        return True  # started before jobs named their process: nothing can be running it now
    if runner.get("host") != socket.gethostname():
        return False  # another machine's process: only the age above can tell
    if runner["pid"] == os.getpid():
        return not any(t.name == f"job-{job.id}" for t in threading.enumerate())
    return not _process_alive(runner["pid"])


def fail_abandoned() -> int:
    """Mark failed every job left "running" by a process that has ended; returns how many (commits)."""
    now = utc_now()
    count = 0
    for job in db.session.scalars(select(Job).where(Job.status == "running")):
        if _abandoned(job, utcnow()):  # the real clock, as Job.created_at
            job.status = "failed"
            job.message = ABANDONED_MESSAGE
            job.result = {"error": ABANDONED_MESSAGE}
            job.finished_at = now
            count += 1
    db.session.commit()
    if count:
        log.warning("marked %d abandoned job(s) failed", count)
    return count


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


def start(
    kind: str,
    work: Callable[..., dict],
    *args: Any,
    synchronous: bool = False,
    started_by: int | None = None,
    **kwargs: Any,
) -> Job:
    """Create the job row and run `work(progress, *args, **kwargs)` in a thread; it returns the result dict.

    `work` runs in its own app context and session, as the user `started_by` (by default the acting user
    of the caller), and must commit its own changes. With `synchronous=True` (tests, the CLI) it runs
    before this returns.
    """
    user_id = started_by if started_by is not None else acting_user_id()
    job = Job(kind=kind, created_by_id=user_id, result={"runner": _runner()})
    db.session.add(job)
    db.session.commit()
    app = current_app._get_current_object()
    job_id = job.id

    def run() -> None:
        with app.app_context(), acting_as(user_id):
            progress = Progress(app, job_id)
            try:
                result = work(progress, *args, **kwargs)
                status, message = "done", ""
            except Exception as error:  # the job reports it; the screen must not hang on "running"
                log.exception("job %s failed", job_id)
                db.session.rollback()
                result, status, message = {"error": str(error)}, "failed", str(error)
            job_row = db.session.get(Job, job_id)
            job_row.status = status
            job_row.result = result
            if message:
                job_row.message = message
            job_row.finished_at = utc_now()
            db.session.commit()
            db.session.remove()

    if synchronous or app.config.get("JOBS_SYNCHRONOUS"):
        run()
        db.session.refresh(job)
    else:
        threading.Thread(target=run, daemon=True, name=f"job-{job_id}").start()
    return job
