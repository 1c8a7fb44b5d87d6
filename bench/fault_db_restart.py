"""Fault: the PostgreSQL server restarts while the app is under load (issue 10, item 10).

Runs gunicorn as the README does (`-w 2 -k gthread --threads 8 'app:create_app()'`) against a database on
a PostgreSQL instance of its own (never the shared one: restarting it is the test), loads it with a few
clients (hall screens polling /kiosk/live, /api/standings, an admin reading pages, an inspector logging
incidents through the desk form), then stops that PostgreSQL instance, keeps it down a few seconds and
starts it again, without touching gunicorn. Prints:

- the statuses seen before, during and after the outage, per kind of request;
- whether every failure was the clean 503 (Chinese page, JSON for /api, empty for the screen; Retry-After),
  and that there was no 500 and no refused connection (gunicorn stayed up);
- that requests succeed again once the database is back (the first success, in seconds after it answered),
  and that the gunicorn master and workers are the same processes as before (no restart of the app);
- that every incident the desk form acknowledged (302) is in the database.

Set-up (once; 5441 is an example port, anything but the shared instance's):
    pg_createcluster 15 faults -p 5441 && pg_ctlcluster 15 faults start
    # let 127.0.0.1 in without a password (the cluster's pg_hba.conf: `host all all 127.0.0.1/32 trust`)
    psql -h 127.0.0.1 -p 5441 -U postgres -c 'CREATE DATABASE hs_fault'
Usage:
    .venv/bin/python bench/fault_db_restart.py [--db postgresql://postgres@127.0.0.1:5441/hs_fault]
        [--cluster "15 faults"] [--port 5142] [--down 6] [--before 5] [--after 8]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import threading
import time
from collections import Counter, defaultdict
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._harness import CSRF, Client, Server, database_url  # noqa: E402

PASSWORD = "fault-test-Passw0rd"
SHARED_PORT = 5432
HALL_TZ = ZoneInfo("Asia/Shanghai")  # the server's default HALL_TZ


def fill(url: str) -> int:
    """A fresh schema with 10 units, an admin and an inspector; returns the first unit's id."""
    from flask_migrate import upgrade
    from sqlalchemy import text

    from app import create_app
    from models import Unit, User, db
    from services.rulebooks import ensure_shipped

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "fault-bench"})
    with app.app_context():
        with db.engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
        upgrade()
        ensure_shipped()
        units = [Unit(code=f"F{i:02d}", name=f"故障测试单位{i}", windows="1") for i in range(10)]
        db.session.add_all(units)
        for role in ("admin", "inspector"):
            user = User(username=f"fault_{role}", role=role, display_name=role)
            user.set_password(PASSWORD)
            db.session.add(user)
        db.session.commit()
        first = units[0].id
        db.engine.dispose()
    return first


def incident_count(url: str) -> int:
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return conn.scalar(text("SELECT count(*) FROM incident"))
    finally:
        engine.dispose()


def database_answers(url: str) -> bool:
    import psycopg

    try:
        with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"), connect_timeout=2) as c:
            c.execute("SELECT 1")
        return True
    except psycopg.Error:
        return False


def process_tree(master_pid: int) -> tuple[int, list[int]]:
    children = subprocess.run(
        ["ps", "-o", "pid=", "--ppid", str(master_pid)], capture_output=True, text=True
    ).stdout.split()
    return master_pid, sorted(int(p) for p in children)


class Recorder:
    def __init__(self):
        self.lock = threading.Lock()
        self.rows: list[tuple[float, float, str, int, str]] = []  # start, end, kind, status, verdict

    def add(self, start: float, kind: str, status: int, verdict: str) -> None:
        with self.lock:
            self.rows.append((start, time.time(), kind, status, verdict))


def clean_503(kind: str, text: str, headers: dict) -> str:
    """'clean' if a 503 is the app's own outage answer, else what is wrong with it."""
    if headers.get("retry-after") != "5":
        return "no Retry-After"
    if any(leak in text for leak in ("Traceback", "OperationalError", "psycopg", "SELECT ")):
        return "leaks internals"
    if kind == "api":
        try:
            body = json.loads(text)
        except ValueError:
            return "not JSON"
        return "clean" if "数据库暂时无法连接" in body.get("error", "") else "wrong JSON"
    if kind == "kiosk":
        return "clean" if text == "" and "x-kiosk-version" not in headers else "kiosk body"
    return "clean" if "503 · 服务暂时不可用" in text and "数据库暂时无法连接" in text else "not the 503 page"


def run_client(kind: str, port: int, stop: threading.Event, recorder: Recorder, unit_id: int, acked: list):
    client = Client(port)
    if kind in ("admin", "writer"):
        client.login("fault_admin" if kind == "admin" else "fault_inspector", PASSWORD)
    etag = ""
    n = 0
    while not stop.is_set():
        n += 1
        start = time.time()
        headers: dict = {}
        try:
            if kind == "kiosk":
                path = f"/kiosk/live?screen=fault{threading.get_ident() % 100}"
                status, text, headers = client.get(path, {"If-None-Match": etag} if etag else None)
                if status == 200:
                    etag = headers.get("etag", "")
            elif kind == "api":
                status, text, headers = client.get("/api/standings")
            elif kind == "admin":
                status, text, headers = client.get("/admin/" if n % 2 else "/admin/incidents")
            else:
                status, text, headers = client.get("/admin/incidents/new")
                match = CSRF.search(text) if status == 200 else None
                if match:
                    at = (datetime.now(HALL_TZ) - timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M")
                    form = {
                        "csrf_token": match.group(1) or match.group(2),
                        "unit_id": str(unit_id),
                        "occurred_at": at,
                        "rule_code": "D01",
                        "count": "1",
                        "action": "save",
                    }
                    status, text, headers = client.request("POST", "/admin/incidents/new", form)
                    if status == 302:
                        acked.append(1)
        except OSError as error:
            recorder.add(start, kind, 0, f"connection failed: {error}")
            time.sleep(0.2)
            continue
        if status == 503:
            verdict = clean_503(kind, text, headers)
        elif status in (200, 204, 302, 304):
            verdict = "ok"
        else:
            verdict = f"unexpected {status}"
        recorder.add(start, kind, status, verdict)
        time.sleep(0.05 if kind == "kiosk" else 0.15)
    client.close()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--db", default="postgresql://postgres@127.0.0.1:5441/hs_fault")
    parser.add_argument("--cluster", default="15 faults", help="pg_ctlcluster VERSION NAME of that instance")
    parser.add_argument("--port", type=int, default=5142, help="gunicorn's port")
    parser.add_argument("--before", type=float, default=5)
    parser.add_argument("--down", type=float, default=6, help="seconds the database stays stopped")
    parser.add_argument("--after", type=float, default=8)
    args = parser.parse_args()
    url = database_url(args.db)
    from sqlalchemy import make_url

    if (make_url(url).port or SHARED_PORT) == SHARED_PORT:
        raise SystemExit("refusing to restart the shared PostgreSQL on 5432: give an instance of your own")
    version, name = args.cluster.split()
    unit_id = fill(url)

    recorder, stop, acked = Recorder(), threading.Event(), []
    kinds = ["kiosk"] * 3 + ["api", "admin", "admin", "writer"]
    with Server(url, args.port) as server:
        print(f"server: {server.describe()}  database: {url.split('@')[-1]}")
        threads = [
            threading.Thread(target=run_client, args=(k, args.port, stop, recorder, unit_id, acked))
            for k in kinds
        ]
        for t in threads:
            t.start()
        time.sleep(args.before)
        tree_before = process_tree(server.process.pid)
        stopped_at = time.time()
        subprocess.run(["pg_ctlcluster", version, name, "stop", "-m", "fast"], check=True)
        print(
            f"PostgreSQL {args.cluster} stopped ({time.time() - stopped_at:.1f} s), down for {args.down:g} s"
        )
        time.sleep(args.down)
        subprocess.run(["pg_ctlcluster", version, name, "start"], check=True)
        while not database_answers(url):
            time.sleep(0.1)
        back_at = time.time()
        print(f"PostgreSQL answering again {back_at - stopped_at:.1f} s after the stop")
        time.sleep(args.after)
        stop.set()
        for t in threads:
            t.join(timeout=40)
        tree_after = process_tree(server.process.pid)

    phases: dict[str, Counter] = defaultdict(Counter)
    verdicts: Counter = Counter()
    first_ok_after: dict[str, float] = {}
    for start, end, kind, status, verdict in sorted(recorder.rows):
        phase = "before" if end < stopped_at else "after" if start >= back_at else "outage"
        phases[phase][(kind, status)] += 1
        if phase != "before" and status not in (200, 204, 302, 304):
            verdicts[verdict] += 1
        if phase == "after" and verdict == "ok" and kind not in first_ok_after:
            first_ok_after[kind] = end - back_at

    for phase in ("before", "outage", "after"):
        shown = ", ".join(f"{k} {s}×{n}" for (k, s), n in sorted(phases[phase].items()))
        print(f"{phase:>7}: {shown}")
    outage = phases["outage"]
    after = phases["after"]
    n500 = sum(n for (k, s), n in recorder_counts(phases).items() if s == 500)
    refused = sum(n for (k, s), n in recorder_counts(phases).items() if s == 0)
    failures_after = sum(n for (k, s), n in after.items() if s not in (200, 204, 302, 304))
    n503 = sum(n for (k, s), n in outage.items() if s == 503)
    print(f"during the outage: {n503} answers 503; every non-success: {dict(verdicts) or 'none'}")
    print(f"500s: {n500} (aim 0); refused connections: {refused} (aim 0)")
    print(
        f"after it came back: {sum(after.values())} requests, {failures_after} failed (aim 0); first success "
        + ", ".join(f"{k} +{s:.2f} s" for k, s in sorted(first_ok_after.items()))
    )
    same = tree_before == tree_after
    print(
        f"gunicorn master {tree_before[0]} workers {tree_before[1]} -> {tree_after[1]}: "
        f"{'the same processes (no restart)' if same else 'CHANGED'}"
    )
    in_db = incident_count(url)
    print(f"desk form: {len(acked)} incidents acknowledged (302), {in_db} in the database (aim: equal)")
    ok = (
        n500 == 0
        and refused == 0
        and failures_after == 0
        and same
        and n503 > 0
        and set(verdicts) == {"clean"}
        and in_db == len(acked)
    )
    print("RESULT:", "PASS" if ok else "FAIL")
    sys.exit(0 if ok else 1)


def recorder_counts(phases: dict[str, Counter]) -> Counter:
    total: Counter = Counter()
    for counter in phases.values():
        total.update(counter)
    return total


if __name__ == "__main__":
    main()
