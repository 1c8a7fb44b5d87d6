"""A real RQ worker for the tests and the benchmarks (tests/app/test_jobs_rq.py, bench/fault_kill.py):
`flask worker --burst` started in a process of its own, killed with kill -9 together with the job it
forked, and a queue's keys removed from Redis afterwards.

    worker = start_worker({**os.environ, "DATABASE_URL": url, "REDIS_URL": redis, "JOBS_QUEUE": name})
    ...
    kill_tree(worker.pid)
    forget_queue(Redis.from_url(redis), name)
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# The flask command of the interpreter running this (the project's .venv/bin/flask).
FLASK = str(Path(sys.executable).with_name("flask"))


def start_worker(env: dict[str, str], *, capture: bool = False) -> subprocess.Popen:
    """`flask --app app worker --burst` in the project folder with `env` (DATABASE_URL, REDIS_URL,
    JOBS_QUEUE…), in a session of its own; its output piped (stdout, stderr merged) when `capture`, else
    dropped."""
    output = subprocess.PIPE if capture else subprocess.DEVNULL
    return subprocess.Popen(
        [FLASK, "--app", "app", "worker", "--burst"],
        cwd=ROOT,
        env=env,
        stdout=output,
        stderr=subprocess.STDOUT if capture else subprocess.DEVNULL,
        start_new_session=True,
    )


def children(pid: int) -> list[int]:
    """The ids of the processes whose parent is `pid` (read from /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry.name))
    return found


def kill_tree(pid: int) -> None:
    """SIGKILL a process and all its descendants (an RQ worker forks its job into its own process group)."""
    for child in children(pid):
        kill_tree(child)
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def forget_queue(connection, name: str) -> None:
    """Remove from Redis everything of the queue `name`: its jobs (queued, started, finished, failed), their
    results and executions, and the queue's own keys."""
    from rq import Queue
    from rq.registry import FailedJobRegistry, FinishedJobRegistry, StartedJobRegistry

    queue = Queue(name, connection=connection)
    ids = set(queue.get_job_ids())
    for registry in (FailedJobRegistry, FinishedJobRegistry, StartedJobRegistry):
        ids |= set(registry(name, connection=connection).get_job_ids(cleanup=False))
    for job_id in ids:
        connection.delete(f"rq:job:{job_id}", f"rq:results:{job_id}", f"rq:executions:{job_id}")
    queue.delete(delete_jobs=True)
    for key in connection.scan_iter(f"rq:*{name}*"):
        connection.delete(key)


def own_queue(app, monkeypatch, redis_url: str, prefix: str):
    """For a fixture (`yield from own_queue(...)`): the app with REDIS_URL set and a queue of the test's own
    (named after the xdist worker), its keys removed afterwards. Fails, not skips, without Redis."""
    import uuid

    import pytest
    from redis import Redis
    from redis.exceptions import RedisError

    connection = Redis.from_url(redis_url)
    try:
        connection.ping()
    except RedisError as error:
        pytest.fail(f"these tests need Redis at {redis_url} (start redis-server): {error}")
    name = f"{prefix}-{os.environ.get('PYTEST_XDIST_WORKER', 'main')}-{uuid.uuid4().hex[:8]}"
    monkeypatch.setitem(app.config, "REDIS_URL", redis_url)
    monkeypatch.setitem(app.config, "JOBS_QUEUE", name)
    yield name
    forget_queue(connection, name)
