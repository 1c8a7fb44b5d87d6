"""Benchmark: importing 100,000 incidents (.xlsx and .csv) and exporting a year's detail tables.

    .venv/bin/python bench/imports.py                        # SQLite, in a temporary directory
    .venv/bin/python bench/imports.py --postgres URL         # also PostgreSQL (a throw-away schema)
    .venv/bin/python bench/imports.py --rows 10000           # a quicker run while developing

Aims (issue 10, item 4): 100,000 incidents imported in at most 20 s with a peak memory of at most 300 MB;
the detail table of every unit for a whole year exported in at most 10 s.

It builds a fresh database (200 units, two window staff each), writes a 100,000-row incidents file as
.xlsx and as .csv (GB18030, as Chinese Excel saves it), then imports each into an empty incident table in
a child process of its own, through the import job (`services.jobs.start` with the admin page's work
function), so that the child's peak resident memory (VmHWM) is the import's and nothing else's.
Each figure is printed next to its aim, with the CPU time of the process beside the elapsed time (the
machine is shared: the elapsed time grows with the load, the CPU time much less). Last, it times
`services.exports.details_xlsx` for the year, over the 100,000 incidents just imported.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from datetime import date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

YEAR = 2025
UNITS = 200
ROWS = 100_000
AIM_IMPORT_SECONDS = 20.0
AIM_IMPORT_MB = 300.0
AIM_EXPORT_SECONDS = 10.0
TODAY = date(YEAR, 12, 20)
COLUMNS = ("occurred_at", "unit_code", "rule_code", "staff_id", "count", "note", "deadline", "rectified_on")
COLUMNS += ("exempt",)
# Rules a patrol sheet holds: W rules with the window's staff, A rules for the unit, bonuses, D19a with
# its deadline, D06 sometimes exempt.
W_CODES = ("D01", "D02a", "D02b", "D03", "D04a", "D05a", "D06", "D07a")
A_CODES = ("D08", "D09", "D10", "D11", "D12", "D14", "D19a", "B01", "B03")
NOTES = ("巡查发现迟到", "窗口无人值守", "未着工装", "群众现场表扬", "台面不整洁", "", "", "")


def config(url: str, schema: str | None) -> dict:
    cfg = {
        "SQLALCHEMY_DATABASE_URI": url,
        "HALL_TODAY": TODAY,
        "HALL_NOW": datetime(YEAR, 12, 20, 10, 0),
        "SECRET_KEY": "bench",
        "JOBS_SYNCHRONOUS": True,
    }
    if schema:
        cfg["SQLALCHEMY_ENGINE_OPTIONS"] = {"connect_args": {"options": f"-csearch_path={schema}"}}
    return cfg


def make_app(url: str, schema: str | None):
    import logging

    from app import create_app

    app = create_app(config(url, schema))
    logging.getLogger("alembic").setLevel(logging.WARNING)
    logging.getLogger().setLevel(logging.WARNING)
    return app


# ---------------------------------------------------------------- the hall and the files


def build_hall() -> int:
    """200 units with windows 1 and 2, one window staff member at each window since 2024; returns the
    admin's user id (the import runs as them)."""
    from sqlalchemy import insert, select

    from models import Posting, Role, Staff, Unit, User, db

    db.session.execute(
        insert(Unit),
        [
            {
                "code": f"U{i:03d}",
                "name": f"测试单位{i:03d}",
                "windows": "1;2",
                "display_order": i,
                "active": True,
            }
            for i in range(1, UNITS + 1)
        ],
    )
    units = {code: pk for code, pk in db.session.execute(select(Unit.code, Unit.id))}
    db.session.execute(
        insert(Staff),
        [{"staff_id": f"S{n:04d}", "name": f"人员{n:04d}"} for n in range(1, 2 * UNITS + 1)],
    )
    staff = {sid: pk for sid, pk in db.session.execute(select(Staff.staff_id, Staff.id))}
    db.session.execute(
        insert(Posting),
        [
            {
                "staff_pk": staff[f"S{2 * (i - 1) + w:04d}"],
                "unit_id": units[f"U{i:03d}"],
                "category": "W",
                "window": str(w),
                "start_date": date(2024, 1, 1),
                "end_date": None,
            }
            for i in range(1, UNITS + 1)
            for w in (1, 2)
        ],
    )
    admin = User(username="bench-admin", role=Role.ADMIN, display_name="基准测试")
    admin.set_password("bench-password-1")
    db.session.add(admin)
    db.session.commit()
    return admin.id


def incident_rows(n: int, seed: int = 2025):
    """`n` distinct patrol-sheet rows over the year up to TODAY, each at its own minute."""
    rng = random.Random(seed)
    start = datetime(YEAR, 1, 1, 8, 0)
    minutes = (TODAY - date(YEAR, 1, 1)).days * 24 * 60 - 24 * 60
    step = minutes / n
    for i in range(n):
        at = start + timedelta(minutes=int(i * step))
        unit = rng.randrange(1, UNITS + 1)
        if rng.random() < 0.6:
            code, window = rng.choice(W_CODES), rng.choice((1, 2))
            staff_id = f"S{2 * (unit - 1) + window:04d}"
        else:
            code, staff_id = rng.choice(A_CODES), ""
        deadline = (at.date() + timedelta(days=10)).isoformat() if code == "D19a" else ""
        exempt = "true" if code == "D06" and rng.random() < 0.1 else ""
        yield (
            at.strftime("%Y-%m-%d %H:%M"),
            f"U{unit:03d}",
            code,
            staff_id,
            "" if rng.random() < 0.8 else str(rng.randint(1, 3)),
            rng.choice(NOTES),
            deadline,
            "",
            exempt,
        )


def write_csv(path: Path, n: int) -> None:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    writer.writerows(incident_rows(n))
    path.write_bytes(out.getvalue().encode("gb18030"))


def write_xlsx(path: Path, n: int) -> None:
    import openpyxl

    wb = openpyxl.Workbook(write_only=True)
    ws = wb.create_sheet("扣加分记录")
    ws.append(COLUMNS)
    for row in incident_rows(n):
        # Times as Excel date cells, as a sheet typed in Excel holds them.
        ws.append([datetime.strptime(row[0], "%Y-%m-%d %H:%M"), *row[1:]])
    wb.save(path)


# ---------------------------------------------------------------- one import, in a child process


def child(args: argparse.Namespace) -> int:
    """Import one file through the import job and print the figures as JSON (run by `run_import`)."""
    app = make_app(args.url, args.schema)
    data = Path(args.file).read_bytes()
    with app.app_context():
        from admin.imports import _import_work
        from admin.views import start_job
        from models import db

        base_mb = peak_mb()
        s0 = server_cpu(args.url)
        t0, c0 = time.perf_counter(), time.process_time()
        job = start_job("import", args.user, _import_work, "incidents", Path(args.file).name, data)
        seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
        s1 = server_cpu(args.url)
        result = job.result or {}
        db.session.remove()
    peak = peak_mb()
    print(
        json.dumps(
            {
                "seconds": seconds,
                "cpu": cpu,
                "server_cpu": None if s0 is None or s1 is None else s1 - s0,
                "peak_mb": peak,
                "base_mb": base_mb,
                "status": job.status,
                "created": result.get("created"),
                "error": result.get("rejected") or result.get("error"),
            },
            ensure_ascii=False,
        )
    )
    return 0


def server_cpu(url: str) -> float | None:
    """The CPU seconds used so far by the local PostgreSQL server's processes serving `url`'s database
    (its backends, read from /proc): the server's share of an import, which the importing process's own
    CPU time leaves out. None for SQLite, a remote server, or when /proc does not show them."""
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if not parsed.drivername.startswith("postgresql") or parsed.host not in (None, "127.0.0.1", "localhost"):
        return None
    ticks, found = os.sysconf("SC_CLK_TCK"), False
    total = 0.0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            words = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").split()
            if len(words) < 4 or words[0] != "postgres:" or parsed.database not in words[2:4]:
                continue
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / ticks
        found = True
    return total if found else None


def peak_mb() -> float:
    """This process's peak resident memory. /proc's VmHWM, not ru_maxrss: on Linux a child's ru_maxrss
    starts from its parent's size at the fork, so it would count the benchmark's own memory."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_import(url: str, schema: str | None, file: Path, user: int) -> dict:
    command = [sys.executable, __file__, "--child", str(file), "--url", url, "--user", str(user)]
    if schema:
        command += ["--schema", schema]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode or not lines:
        raise SystemExit(f"import child failed:\n{done.stdout}\n{done.stderr[-4000:]}")
    return json.loads(lines[-1])


def empty_incidents() -> None:
    """Back to an empty incident table (and what an import wrote beside it), for the next file."""
    from sqlalchemy import delete

    from models import AuditLog, Incident, IncidentHistory, Job, db
    from models.notification import Notification, NotificationRead

    db.session.execute(delete(NotificationRead))
    db.session.execute(delete(Notification))
    db.session.execute(delete(IncidentHistory))
    db.session.execute(delete(Incident).where(Incident.linked_id.is_not(None)))
    db.session.execute(delete(Incident))
    db.session.execute(delete(AuditLog))
    db.session.execute(delete(Job))
    db.session.commit()


def bench(label: str, url: str, schema: str | None, folder: Path, rows: int) -> list[str]:
    from flask_migrate import upgrade

    lines = []
    app = make_app(url, schema)
    with app.app_context():
        from sqlalchemy import func, select

        from models import Incident, db
        from services.rulebooks import ensure_shipped

        upgrade()
        ensure_shipped()
        db.session.commit()
        user = build_hall()
        db.session.remove()
        for name in ("incidents.xlsx", "incidents.csv"):
            figures = run_import(url, schema, folder / name, user)
            held = db.session.scalar(select(func.count(Incident.id)))
            if figures["status"] != "done" or figures["created"] != rows or held != rows:
                raise SystemExit(f"{label} {name}: not imported: {figures} (held {held})")
            lines.append(
                f"{label:<11} 导入 {rows:,} 行 {name:<15} {figures['seconds']:6.1f} s(目标 ≤ "
                f"{AIM_IMPORT_SECONDS:.0f} s){verdict(figures['seconds'] <= AIM_IMPORT_SECONDS)},"
                f"其中本进程 CPU {figures['cpu']:.1f} s{server_text(figures)};"
                f"进程内存峰值 {figures['peak_mb']:.0f} MB(目标 ≤ {AIM_IMPORT_MB:.0f} MB)"
                f"{verdict(figures['peak_mb'] <= AIM_IMPORT_MB)},其中应用启动后 {figures['base_mb']:.0f} MB"
            )
            print(lines[-1], flush=True)
            if name == "incidents.xlsx":
                empty_incidents()
        lines.append(export_year(label))
        print(lines[-1], flush=True)
        db.session.remove()
    return lines


def server_text(figures: dict) -> str:
    seconds = figures.get("server_cpu")
    return "" if seconds is None else f"、数据库服务器进程 CPU {seconds:.1f} s"


def export_year(label: str) -> str:
    from services.exports import details_xlsx

    t0, c0 = time.perf_counter(), time.process_time()
    body = details_xlsx(YEAR, list(range(1, 13)))
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    return (
        f"{label:<11} 导出 {YEAR} 年全部 {UNITS} 个单位的考核评分明细表 {seconds:6.1f} s(目标 ≤ "
        f"{AIM_EXPORT_SECONDS:.0f} s){verdict(seconds <= AIM_EXPORT_SECONDS)},其中本进程 CPU {cpu:.1f} s,"
        f"文件 {len(body) / 1e6:.1f} MB"
    )


def verdict(ok: bool) -> str:
    return " 达标" if ok else " 未达标"


def postgres(url: str, folder: Path, rows: int) -> list[str]:
    from bench._harness import throwaway_schema

    with throwaway_schema(url, "bench_imports") as (url, schema):
        return bench("PostgreSQL", url, schema, folder, rows)


def main() -> int:
    parser = argparse.ArgumentParser(description="imports and exports benchmark")
    parser.add_argument("--postgres", metavar="URL", default=os.environ.get("BENCH_DATABASE_URL"))
    parser.add_argument("--rows", type=int, default=ROWS)
    parser.add_argument("--no-sqlite", action="store_true", help="PostgreSQL only")
    parser.add_argument("--child", metavar="FILE", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--schema", help=argparse.SUPPRESS)
    parser.add_argument("--user", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        args.file = args.child
        return child(args)
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        t0 = time.perf_counter()
        write_xlsx(folder / "incidents.xlsx", args.rows)
        write_csv(folder / "incidents.csv", args.rows)
        sizes = ", ".join(f"{p.name} {p.stat().st_size / 1e6:.1f} MB" for p in sorted(folder.iterdir()))
        took = time.perf_counter() - t0
        print(f"基准测试:{UNITS} 个单位,{args.rows:,} 行扣加分记录({sizes},生成用时 {took:.0f} s)")
        if not args.no_sqlite:
            bench("SQLite", f"sqlite:///{folder / 'bench.db'}", None, folder, args.rows)
        if args.postgres:
            postgres(args.postgres, folder, args.rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
