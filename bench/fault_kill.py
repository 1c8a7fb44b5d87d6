"""kill -9 in the middle of an import, a detection run and a month close; nothing half-written, and a rerun
gives the result of an uninterrupted run.

    .venv/bin/python bench/fault_kill.py                  # SQLite and PostgreSQL (…@127.0.0.1:5432/hs_d)
    .venv/bin/python bench/fault_kill.py --sqlite-only
    .venv/bin/python bench/fault_kill.py --postgres URL   # (or env BENCH_DATABASE_URL)

A hall is seeded once per database through the CLI imports (units, staff with back-office clerks,
incidents and clock-in punches of last month), then copied for every run (SQLite: the file; PostgreSQL:
`CREATE DATABASE … TEMPLATE`, throw-away databases named <db>_fault_*, dropped at the end).

For each operation — `import incidents FILE`, `detect --month M`, `close-month M`, and an import run as a
job by an RQ worker (`flask worker --burst`, when Redis answers) — it:

1. runs it uninterrupted on a copy: the expected result;
2. on fresh copies, starts it again in a subprocess and SIGKILLs it (with its children) mid-way: as soon as
   it holds an open write transaction (PostgreSQL: its backend has a transaction id; SQLite: the write
   lock is taken), and half-way through the write as timed in step 1; then checks that every table is
   exactly as before (nothing half-written: no partial import, month still open and no snapshot, no
   proposal) — for the worker case, all but the job row, which must read "failed" once RQ's heartbeat
   has expired — and
3. runs it again on that copy: every table must equal the uninterrupted run's (ids and timestamps aside:
   the killed transaction's ids are given back first, and the at/…_at columns hold the time of the run).

Prints a PASS/FAIL line per case; exits 1 if any case fails.
"""

from __future__ import annotations

import argparse
import logging
import os
import random
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.rq_worker import forget_queue, kill_tree, start_worker  # noqa: E402  (shared with the tests)

DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/hs_d"
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/4")
APP_NAME = "hs-fault-d"
FLASK = str(ROOT / ".venv/bin/flask")
UNITS, WINDOW_STAFF, CLERKS, BASE_INCIDENTS, IMPORT_ROWS = 60, 600, 60, 3000, 4000


def last_month() -> tuple[int, int]:
    first = date.today().replace(day=1) - timedelta(days=1)
    return first.year, first.month


# ---------------------------------------------------------------- seed files


def seed_files(folder: Path, year: int, month: int) -> dict[str, Path]:
    rng = random.Random(10)
    days = [date(year, month, d) for d in range(1, 29) if date(year, month, d).weekday() < 5]
    units = [f"U{i:03d}" for i in range(1, UNITS + 1)]
    files = {
        "units": "code,name,windows,display_order,active\n"
        + "".join(f"{u},测试单位{u},1;2;3,{i},true\n" for i, u in enumerate(units, 1)),
        "staff": "staff_id,name,unit_code,category,window,start_date,end_date\n"
        + "".join(
            f"W{i:04d},窗口{i},{units[i % UNITS]},W,{1 + i % 3},2024-01-02,\n" for i in range(WINDOW_STAFF)
        )
        + "".join(f"C{i:04d},后场{i},{units[i % UNITS]},C,,2024-01-02,\n" for i in range(CLERKS)),
    }
    punches = ["staff_id,punched_at"]
    for i in range(CLERKS):
        for day in days:
            if rng.random() < 0.9:
                punches.append(f"C{i:04d},{day} 08:{rng.randrange(20, 30):02d}")
            if rng.random() < 0.9:
                punches.append(f"C{i:04d},{day} 17:{rng.randrange(0, 30):02d}")
    files["clock"] = "\n".join(punches) + "\n"
    rules = ["D01", "D02a", "D03", "D04a", "D05a", "D08", "D09"]

    def incidents(count: int, seed: int) -> str:
        r = random.Random(seed)
        lines = ["occurred_at,unit_code,rule_code,staff_id,count,note,deadline,rectified_on,exempt"]
        for _ in range(count):
            day = r.choice(days)
            lines.append(
                f"{day} {r.randrange(9, 17):02d}:{r.randrange(60):02d},{r.choice(units)},{r.choice(rules)},"
                f",1,巡查 {r.randrange(10**6)},,,false"
            )
        return "\n".join(lines) + "\n"

    files["incidents"] = incidents(BASE_INCIDENTS, 1)
    files["import"] = incidents(IMPORT_ROWS, 2)
    paths = {}
    for name, text in files.items():
        paths[name] = folder / f"{name}.csv"
        paths[name].write_text(text, encoding="utf-8")
    return paths


# ---------------------------------------------------------------- databases


def cli(url: str, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run(
        [FLASK, "--app", "app", *args], cwd=ROOT, env=env_for(url), capture_output=True, text=True
    )
    if check and result.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed: {result.stderr[-2000:]}")
    return result


def env_for(url: str) -> dict:
    return {
        **os.environ,
        "DATABASE_URL": url,
        "PGAPPNAME": APP_NAME,
        "SECRET_KEY": "bench-only",
        "REDIS_URL": "",
    }


class SQLite:
    label = "SQLite"

    def __init__(self, folder: Path):
        self.folder = folder
        self.seed_path = folder / "seed.db"
        self.count = 0

    def seed_url(self) -> str:
        return f"sqlite:///{self.seed_path}"

    def finish_seed(self) -> None:
        with sqlite3.connect(self.seed_path) as conn:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def copy(self) -> str:
        self.count += 1
        path = self.folder / f"run{self.count}.db"
        shutil.copy(self.seed_path, path)
        return f"sqlite:///{path}"

    def writing(self, url: str) -> bool:
        """The operation holds SQLite's write lock (a write transaction is open)."""
        conn = sqlite3.connect(url.removeprefix("sqlite:///"), timeout=0)
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError:
            return True
        else:
            conn.execute("ROLLBACK")
            return False
        finally:
            conn.close()

    def sequences(self, url: str) -> dict:
        return {}

    def set_sequences(self, url: str, values: dict) -> None:
        pass

    def drop_all(self) -> None:
        pass


class Postgres:
    label = "PostgreSQL"

    def __init__(self, url: str):
        from sqlalchemy import create_engine, make_url

        self.base = make_url(url)
        self.prefix = f"{self.base.database}_fault"
        self.admin = create_engine(self.base, isolation_level="AUTOCOMMIT")
        self.count = 0
        self.drop_all()
        self._create(f"{self.prefix}_seed")

    def _url(self, name: str) -> str:
        return self.base.set(database=name).render_as_string(hide_password=False)

    def _create(self, name: str, template: str | None = None) -> None:
        from sqlalchemy import text

        with self.admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else "")))

    def seed_url(self) -> str:
        return self._url(f"{self.prefix}_seed")

    def finish_seed(self) -> None:
        pass

    def copy(self) -> str:
        self.count += 1
        name = f"{self.prefix}_run{self.count}"
        self._create(name, template=f"{self.prefix}_seed")
        return self._url(name)

    def _query(self, url: str, sql: str):
        from sqlalchemy import create_engine, text
        from sqlalchemy.pool import NullPool

        engine = create_engine(url, poolclass=NullPool)
        try:
            with engine.connect() as conn:
                return conn.execute(text(sql)).all()
        finally:
            engine.dispose()

    def writing(self, url: str) -> bool:
        """The operation's backend has a transaction id: it has written and not yet committed."""
        rows = self._query(
            url,
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = "
            f"'{APP_NAME}' AND backend_xid IS NOT NULL AND datname = current_database()",
        )
        return rows[0][0] > 0

    def sequences(self, url: str) -> dict:
        rows = self._query(
            url,
            "SELECT schemaname || '.' || sequencename, last_value FROM pg_sequences "
            "WHERE schemaname = 'public'",
        )
        return dict(rows)

    def set_sequences(self, url: str, values: dict) -> None:
        from sqlalchemy import create_engine, text
        from sqlalchemy.pool import NullPool

        engine = create_engine(url, poolclass=NullPool)
        with engine.begin() as conn:
            for name, value in values.items():
                if value is None:
                    conn.execute(text(f"ALTER SEQUENCE {name} RESTART"))
                else:
                    conn.execute(text("SELECT setval(CAST(:s AS regclass), :v)"), {"s": name, "v": value})
        engine.dispose()

    def drop_all(self) -> None:
        from sqlalchemy import text

        with self.admin.connect() as conn:
            names = conn.execute(
                text("SELECT datname FROM pg_database WHERE datname LIKE :p"), {"p": f"{self.prefix}_%"}
            ).scalars()
            for name in list(names):
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


# ---------------------------------------------------------------- state


_apps: dict[str, object] = {}


def state(url: str) -> dict:
    """Every table's rows, as the backup writes them."""
    from app import create_app
    from services import backup

    if url not in _apps:
        _apps[url] = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench"})
        logging.getLogger().setLevel(logging.WARNING)
    app = _apps[url]
    with app.app_context():
        from models import db

        try:
            return backup.dump()["tables"]
        finally:
            db.session.remove()
            for engine in db.engines.values():
                engine.dispose()


def without_times(tables: dict, skip: tuple[str, ...] = ()) -> dict:
    """The rows less the columns that hold when something ran (at, …_at), the random version a frozen
    month's results are kept under in memory (month.snapshot_key: new at every close) and the tables in
    `skip`."""
    out = {}
    for name, table in tables.items():
        if name in skip:
            continue
        keep = [
            i
            for i, c in enumerate(table["columns"])
            if not (c == "at" or c.endswith("_at") or (name, c) == ("month", "snapshot_key"))
        ]
        out[name] = sorted(repr([row[i] for i in keep]) for row in table["rows"])
    return out


def differences(a: dict, b: dict) -> list[str]:
    out = []
    for t in a:
        if a[t] != b.get(t):
            only_a = sorted(set(a[t]) - set(b.get(t, [])))
            only_b = sorted(set(b.get(t, [])) - set(a[t]))
            example = f" e.g. {only_a[:1]} vs {only_b[:1]}" if os.environ.get("FAULT_DEBUG") else ""
            out.append(f"{t} ({len(a[t])}→{len(b.get(t, []))} rows){example[:600]}")
    return out


# ---------------------------------------------------------------- killing


def watch(db, url: str, process: subprocess.Popen, kill_after: float | None) -> dict:
    """Poll until the process writes; kill it then (kill_after=0), `kill_after` s later, or never (None).

    Returns when it started writing, when it was last seen writing, when it ended, and whether it was
    killed before finishing.
    """
    start = time.perf_counter()
    first_write = last_write = None
    while process.poll() is None:
        now = time.perf_counter() - start
        if (first_write is None or kill_after is None) and db.writing(url):
            first_write = now if first_write is None else first_write
            last_write = now
        if first_write is not None and kill_after is not None and now - first_write >= kill_after:
            if process.poll() is None:
                kill_tree(process.pid)
                process.wait()
                return {"first_write": first_write, "killed_at": now, "killed": True}
            break
        time.sleep(0.01)
    process.wait()
    end = time.perf_counter() - start
    return {"first_write": first_write, "last_write": last_write, "end": end, "killed": False}


# ---------------------------------------------------------------- cases


class CliCase:
    def __init__(self, name: str, args: list[str], skip: tuple[str, ...] = ()):
        self.name, self.args, self.skip = name, args, skip

    def start(self, url: str) -> subprocess.Popen:
        return subprocess.Popen(
            [FLASK, "--app", "app", *self.args],
            cwd=ROOT,
            env=env_for(url),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )

    def after_kill(self, url: str) -> str:
        return ""

    def rerun(self, url: str) -> None:
        process = self.start(url)
        if process.wait() != 0:
            raise RuntimeError(f"rerun of {self.name} failed")


class WorkerCase(CliCase):
    """An import queued as a job (services.jobs with REDIS_URL) and run by `flask worker --burst`."""

    def __init__(self, name: str, path: Path):
        super().__init__(name, [], skip=("job",))
        self.path = path
        self.queue = f"hs-fault-d-{os.getpid()}"

    def _app(self, url: str):
        from app import create_app

        app = create_app(
            {
                "SQLALCHEMY_DATABASE_URI": url,
                "SECRET_KEY": "bench",
                "REDIS_URL": REDIS_URL,
                "JOBS_QUEUE": self.queue,
            }
        )
        logging.getLogger().setLevel(logging.WARNING)
        return app

    def enqueue(self, url: str) -> None:
        from sqlalchemy import select

        from admin.imports import _import_work
        from admin.views import run_admin_job
        from models import Role, User, db
        from services import jobs

        app = self._app(url)
        with app.app_context():
            admin = db.session.scalar(select(User).where(User.role == Role.ADMIN))
            jobs.start(
                "import",
                run_admin_job,
                _import_work,
                "incidents",
                self.path.name,
                self.path.read_bytes(),
                started_by=admin.id,
            )
            db.session.remove()
            for engine in db.engines.values():
                engine.dispose()

    def start(self, url: str) -> subprocess.Popen:
        self.enqueue(url)
        return start_worker({**env_for(url), "REDIS_URL": REDIS_URL, "JOBS_QUEUE": self.queue})

    def after_kill(self, url: str) -> str:
        """The killed worker's job: failed once its heartbeat has expired (judged a day later)."""
        from sqlalchemy import select

        from models import Job, db
        from services import jobs

        app = self._app(url)
        with app.app_context():
            jobs.fail_abandoned(rq_time=time.time() + 86400)
            statuses = [j.status for j in db.session.scalars(select(Job))]
            db.session.remove()
            for engine in db.engines.values():
                engine.dispose()
        return "" if statuses == ["failed"] else f"job rows {statuses}, expected one failed"

    def cleanup(self) -> None:
        from redis import Redis

        forget_queue(Redis.from_url(REDIS_URL), self.queue)


def kill_once(db, case: CliCase, after: float, expected: dict) -> dict:
    """A fresh copy, the operation killed `after` s past its first write; what the kill left."""
    url = db.copy()
    before = state(url)
    sequences = db.sequences(url)
    outcome = watch(db, url, case.start(url), after)
    after_state = state(url)
    same = {t: v for t, v in before.items() if t not in case.skip} == {
        t: v for t, v in after_state.items() if t not in case.skip
    }
    complete = without_times(after_state, case.skip) == expected
    return {
        **outcome,
        "url": url,
        "sequences": sequences,
        "rolled_back": outcome["killed"] and same,
        "committed": complete and not same,
        "changed": []
        if same
        else differences(without_times(before, case.skip), without_times(after_state, case.skip)),
    }


def run_case(db, case: CliCase, results: list) -> None:
    # 1. Uninterrupted: the expected result and how long its writing lasts.
    url = db.copy()
    before = state(url)
    timing = watch(db, url, case.start(url), None)
    expected = without_times(state(url), case.skip)
    if without_times(before, case.skip) == expected:
        print(f"  (note: {case.name} changed nothing when run uninterrupted)")
    # From its first write to the last moment it was seen writing (its commit, give or take a poll).
    window = (timing["last_write"] - timing["first_write"]) if timing["first_write"] is not None else 0.0
    print(
        f"  {case.name}: uninterrupted run {timing['end']:.1f} s, first write at "
        f"{(timing['first_write'] or 0):.1f} s, write phase {window:.2f} s"
    )
    # 2. Killed at its first write, and half-way through its writes (earlier if the machine was faster
    # this time and it had already committed); 3. then run again.
    for label, share in (("at its first write", 0.0), ("half-way through its writes", 0.5)):
        problems: list[str] = []
        for attempt in range(4):
            kill = kill_once(db, case, window * share / (2**attempt), expected)
            if not kill["committed"] or share == 0.0:
                break
        if kill["committed"]:
            problems.append("it committed before the kill point (no mid-way kill reached)")
        elif not kill["killed"]:
            problems.append("it ended before it could be killed")
        elif not kill["rolled_back"]:
            problems.append(f"half-written: {', '.join(kill['changed']) or 'rows changed'}")
        if not kill["committed"]:
            note = case.after_kill(kill["url"]) if kill["killed"] else ""
            if note:
                problems.append(note)
            # The killed transaction's ids, given back (not those of the rows a case leaves aside: the job).
            given_back = {
                name: value
                for name, value in kill["sequences"].items()
                if not any(name.startswith(f"public.{t}_") for t in case.skip)
            }
            db.set_sequences(kill["url"], given_back)
            try:
                case.rerun(kill["url"])
            except RuntimeError as error:
                problems.append(str(error))
            else:
                rerun = differences(expected, without_times(state(kill["url"]), case.skip))
                if rerun:
                    problems.append(f"rerun differs from the uninterrupted run: {', '.join(rerun)}")
        where = f"killed at {kill.get('killed_at', 0):.2f} s" if kill["killed"] else "not killed"
        ok = not problems
        line = f"{'PASS' if ok else 'FAIL'}  {db.label:10} {case.name:22} kill -9 {label} ({where})"
        print(line + ("" if ok else ": " + "; ".join(problems)), flush=True)
        results.append(ok)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postgres", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_PG))
    parser.add_argument("--sqlite-only", action="store_true")
    args = parser.parse_args()
    year, month = last_month()
    label = f"{year}-{month:02d}"
    work = Path(tempfile.mkdtemp(prefix="hs-fault-"))
    files = seed_files(work, year, month)
    print(
        f"hall: {UNITS} units, {WINDOW_STAFF + CLERKS} staff ({CLERKS} back-office with punches), "
        f"{BASE_INCIDENTS} incidents in {label}; import of {IMPORT_ROWS} rows"
    )
    targets = [SQLite(work)] + ([] if args.sqlite_only else [Postgres(args.postgres)])
    results: list[bool] = []
    redis_up = True
    try:
        from redis import Redis

        Redis.from_url(REDIS_URL).ping()
    except Exception:
        redis_up = False
        print("(Redis not answering: the worker case is left out)")
    try:
        for db in targets:
            t = time.perf_counter()
            url = db.seed_url()
            cli(url, "init-db")
            for kind in ("units", "staff", "clock", "incidents"):
                cli(url, "import", kind, str(files[kind]))
            cli(url, "create-user", "fault-admin", "--role", "admin", "--password", "fault-admin-1")
            db.finish_seed()
            print(f"{db.label}: seeded in {time.perf_counter() - t:.1f} s")
            cases = [
                CliCase("import", ["import", "incidents", str(files["import"])]),
                CliCase("detect", ["detect", "--month", label]),
                CliCase("close-month", ["close-month", label]),
            ]
            if redis_up:
                cases.append(WorkerCase("import (RQ worker)", files["import"]))
            only = os.environ.get("FAULT_ONLY")
            for case in cases:
                if only and only not in case.name:
                    continue
                run_case(db, case, results)
                if isinstance(case, WorkerCase):
                    case.cleanup()
    finally:
        for app in _apps.values():
            with app.app_context():
                from models import db as sa

                for engine in sa.engines.values():
                    engine.dispose()
        for db in targets:
            db.drop_all()
        shutil.rmtree(work, ignore_errors=True)
    passed = sum(results)
    print(
        f"kill -9: {passed}/{len(results)} cases pass (aim: all; nothing half-written, rerun = uninterrupted)"
    )
    return 0 if passed == len(results) else 1


if __name__ == "__main__":
    sys.exit(main())
