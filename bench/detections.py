"""Benchmark: a detection run's writing (D13/D16 proposals of a month), as `flask detect --month` does it.

    .venv/bin/python bench/detections.py                     # SQLite, in a temporary directory
    .venv/bin/python bench/detections.py --postgres URL      # also PostgreSQL (a throw-away schema)

The hall of bench/fault_kill.py (60 units, 600 window staff, 60 back-office clerks with a month of clock-in
punches, about 1 in 10 missing, and 3,000 incidents), loaded through the imports. Last month is detected
twice, each time rolled back afterwards: proposing only (what the detections page does), then proposing and
confirming (`--confirm`). Printed: the proposals, the elapsed and CPU time of the run (the database
server's CPU too, for a local PostgreSQL), each run twice.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.fault_kill import last_month, seed_files  # noqa: E402  (the same hall)
from bench.imports import server_cpu  # noqa: E402

RUNS = 2


def bench(label: str, url: str, schema: str | None, folder: Path) -> None:
    import logging

    from app import create_app

    config = {"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench", "JOBS_SYNCHRONOUS": True}
    if schema:
        config["SQLALCHEMY_ENGINE_OPTIONS"] = {"connect_args": {"options": f"-csearch_path={schema}"}}
    app = create_app(config)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    year, month = last_month()
    files = seed_files(folder, year, month)
    with app.app_context():
        from flask_migrate import upgrade

        from models import db
        from services import detections, imports
        from services.rulebooks import ensure_shipped

        upgrade()
        ensure_shipped()
        db.session.commit()
        for kind in ("units", "staff", "clock", "incidents"):
            imports.import_file(kind, files[kind].name, files[kind].read_bytes())
            db.session.commit()
        for confirm in (False, True) * RUNS:
            db.session.remove()
            s0 = server_cpu(url)
            t0, c0 = time.perf_counter(), time.process_time()
            summary = detections.run(year, month, confirm=confirm)
            db.session.flush()
            seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
            s1 = server_cpu(url)
            db.session.rollback()
            server = "" if s0 is None or s1 is None else f"、数据库服务器进程 CPU {s1 - s0:.1f} s"
            what = "检测并确认" if confirm else "检测"
            print(
                f"{label:<11} {year}-{month:02d} {what}:新增 {summary['proposed']:,} 条、确认 "
                f"{summary['confirmed']:,} 条,{seconds:5.1f} s,其中本进程 CPU {cpu:.1f} s{server}",
                flush=True,
            )
        db.session.remove()


def main() -> int:
    parser = argparse.ArgumentParser(description="detection writing benchmark")
    parser.add_argument("--postgres", metavar="URL", default=os.environ.get("BENCH_DATABASE_URL"))
    parser.add_argument("--no-sqlite", action="store_true", help="PostgreSQL only")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        if not args.no_sqlite:
            bench("SQLite", f"sqlite:///{folder / 'bench.db'}", None, folder)
        if args.postgres:
            from bench._harness import throwaway_schema

            with throwaway_schema(args.postgres, "bench_detections") as (url, schema):
                bench("PostgreSQL", url, schema, folder)
    return 0


if __name__ == "__main__":
    sys.exit(main())
