"""Backup → restore onto an empty database, SQLite → PostgreSQL → SQLite, compared by script.

    .venv/bin/python bench/backup_roundtrip.py                 # PostgreSQL: …@127.0.0.1:5432/hs_d
    .venv/bin/python bench/backup_roundtrip.py --postgres URL  # (or env BENCH_DATABASE_URL)

1. builds the demo hall (services.demo) on a fresh SQLite database, with photos (evidence files) on some
   incidents;
2. `backup` to a .zip, `restore` onto an empty PostgreSQL schema (a throw-away schema in the given
   database, dropped at the end) whose evidence folder holds a stale file of other data;
3. `backup` again from PostgreSQL, `restore` onto a new empty SQLite database;
4. compares the three: the standings of every month (services.standings.standings_json), incidents and
   their history, users, the audit log (less the restores' own rows), every other table, and the evidence
   files by SHA-256; the stale file must be gone.

Prints one pass/fail line per comparison and the time of each step; exits 1 if any fails.
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import os
import secrets
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/hs_d"
PHOTOS = 25


def make_app(url: str, evidence: Path, schema: str | None = None):
    from app import create_app

    config = {"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench", "EVIDENCE_DIR": str(evidence)}
    if schema:
        config["SQLALCHEMY_ENGINE_OPTIONS"] = {"connect_args": {"options": f"-csearch_path={schema}"}}
    app = create_app(config)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    logging.getLogger().setLevel(logging.WARNING)
    return app


def empty_schema(app) -> None:
    from flask_migrate import upgrade

    with app.app_context():
        upgrade()


def build_demo(app) -> dict:
    from sqlalchemy import select

    from models import Evidence, Incident, db
    from services import demo
    from services.rulebooks import ensure_shipped

    with app.app_context():
        ensure_shipped()
        summary = demo.load()
        db.session.commit()
        folder = Path(app.config["EVIDENCE_DIR"])
        folder.mkdir(parents=True, exist_ok=True)
        ids = list(db.session.scalars(select(Incident.id).order_by(Incident.id).limit(PHOTOS * 7)))[::7]
        for incident_id in ids:
            stored = secrets.token_hex(16) + ".jpg"
            content = b"\xff\xd8\xff\xe0" + os.urandom(2000)
            (folder / stored).write_bytes(content)
            db.session.add(
                Evidence(
                    incident_id=incident_id,
                    filename="现场.jpg",
                    stored_name=stored,
                    content_type="image/jpeg",
                    size=len(content),
                )
            )
        db.session.commit()
        return summary


def backup_to(app, path: Path) -> dict:
    from services import backup

    with app.app_context():
        return backup.backup(path)


def restore_from(app, path: Path) -> dict:
    from services import backup, standings

    with app.app_context():
        standings._cache.clear()
        return backup.restore(path)


def fingerprint(app) -> dict:
    """What must survive: every table's rows (as the backup writes them), each month's standings, files."""
    from sqlalchemy import select

    from models import Month, db
    from scoring.calendar import next_month
    from services import backup, standings
    from services.clock import hall_today

    with app.app_context():
        standings._cache.clear()
        standings._grades_cache.clear()
        data = backup.dump()["tables"]
        audit = data["audit_log"]
        action = audit["columns"].index("action")
        audit["rows"] = [r for r in audit["rows"] if r[action] != "backup.restore"]
        first = min(db.session.execute(select(Month.year, Month.month)).all())
        today = hall_today()
        months, at = [], tuple(first)
        while at <= (today.year, today.month):
            months.append(at)
            at = next_month(*at)
        month_standings = {f"{y}-{m:02d}": standings.standings_json(y, m) for y, m in months}
        folder = Path(app.config["EVIDENCE_DIR"])
        files = {
            p.name: hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.iterdir())
            if p.is_file()
        }
        return {"tables": data, "standings": month_standings, "files": files}


def compare(name: str, a, b) -> bool:
    ok = a == b
    print(f"  {'PASS' if ok else 'FAIL'}  {name}")
    return ok


def compare_all(label: str, first: dict, other: dict) -> bool:
    print(f"{label}:")
    results = []
    n = len(first["standings"])
    results.append(compare(f"standings of all {n} months identical", first["standings"], other["standings"]))
    for table in ("incident", "incident_history", "user", "audit_log"):
        rows = len(first["tables"][table]["rows"])
        results.append(
            compare(f"{table}: {rows} rows identical", first["tables"][table], other["tables"][table])
        )
    rest = sorted(set(first["tables"]) - {"incident", "incident_history", "user", "audit_log"})
    differing = [t for t in rest if first["tables"][t] != other["tables"].get(t)]
    rows = sum(len(first["tables"][t]["rows"]) for t in rest)
    results.append(
        compare(f"the other {len(rest)} tables ({rows} rows) identical {differing or ''}", 0, len(differing))
    )
    n = len(first["files"])
    results.append(
        compare(f"{n} evidence files, same names and SHA-256, nothing else", first["files"], other["files"])
    )
    return all(results)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postgres", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_PG))
    args = parser.parse_args()
    from sqlalchemy import create_engine, text

    work = Path(tempfile.mkdtemp(prefix="hs-roundtrip-"))
    schema = f"roundtrip_{os.getpid()}"
    admin_engine = create_engine(args.postgres, isolation_level="AUTOCOMMIT")
    with admin_engine.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    ok = True
    try:
        t = time.perf_counter()
        source = make_app(f"sqlite:///{work / 'a.db'}", work / "files-a")
        empty_schema(source)
        summary = build_demo(source)
        print(
            f"demo hall on SQLite: {summary['units']} units, {summary['incidents']} incidents, "
            f"{PHOTOS} photos ({time.perf_counter() - t:.1f} s)"
        )
        original = fingerprint(source)

        t = time.perf_counter()
        first_zip = work / "from-sqlite.zip"
        result = backup_to(source, first_zip)
        print(
            f"backup SQLite: {result['rows']} rows, {result['files']} files ({time.perf_counter() - t:.1f} s)"
        )

        pg_files = work / "files-pg"
        pg_files.mkdir()
        (pg_files / "0123456789abcdef.jpg").write_bytes(b"stale file of data the restore replaces")
        t = time.perf_counter()
        postgres = make_app(args.postgres, pg_files, schema=schema)
        empty_schema(postgres)
        result = restore_from(postgres, first_zip)
        print(f"restore onto empty PostgreSQL: {result['rows']} rows ({time.perf_counter() - t:.1f} s)")
        ok &= compare_all("SQLite → PostgreSQL", original, fingerprint(postgres))

        t = time.perf_counter()
        second_zip = work / "from-postgres.zip"
        backup_to(postgres, second_zip)
        back = make_app(f"sqlite:///{work / 'c.db'}", work / "files-c")
        empty_schema(back)
        result = restore_from(back, second_zip)
        took = time.perf_counter() - t
        print(f"backup PostgreSQL, restore onto new SQLite: {result['rows']} rows ({took:.1f} s)")
        ok &= compare_all("SQLite → PostgreSQL → SQLite", original, fingerprint(back))
        with postgres.app_context():
            from models import db

            db.session.remove()
            db.engine.dispose()
    finally:
        with admin_engine.connect() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin_engine.dispose()
    print(f"backup round trip: {'PASS' if ok else 'FAIL'} (aim: every comparison identical)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
