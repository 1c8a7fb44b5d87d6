"""Run long work in a background thread with its progress in the `job` table.

The page that started it polls a fragment; the server answers 286 when the job is finished so htmx
stops polling. Threads are enough here: the work is database-bound and short-lived (minutes at most).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from flask import Flask, current_app

from models import Job, db
from services.audit import acting_user_id
from services.clock import utc_now

log = logging.getLogger(__name__)


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


def start(kind: str, work: Callable[..., dict], *args: Any, synchronous: bool = False, **kwargs: Any) -> Job:
    """Create the job row and run `work(progress, *args, **kwargs)` in a thread; it returns the result dict.

    `work` runs in its own app context and session and must commit its own changes. With
    `synchronous=True` (tests, the CLI) it runs before this returns.
    """
    job = Job(kind=kind, created_by_id=acting_user_id())
    db.session.add(job)
    db.session.commit()
    app = current_app._get_current_object()
    job_id = job.id

    def run() -> None:
        with app.app_context():
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
