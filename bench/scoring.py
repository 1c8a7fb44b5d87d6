"""Benchmark: how long the live standings of one month take with 200 units and 100,000 incidents.

    .venv/bin/python bench/scoring.py                       # SQLite, in a temporary directory
    .venv/bin/python bench/scoring.py --postgres URL        # also PostgreSQL (or env BENCH_DATABASE_URL)

It builds a fresh database (for PostgreSQL: a throw-away schema in the given database, dropped at the
end), fills it with bulk inserts (SQLAlchemy Core), closes January to November and times
`services.standings.live_standings` for the open December: once cold, then the median of 5 runs. It also
times the worst case, when no earlier month of the year is closed and every one is scored live.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

YEAR = 2025
UNITS = 200
INCIDENTS = 100_000
TARGET_SECONDS = 0.5


def _app(url: str, schema: str | None):
    import logging

    from app import create_app

    config = {
        "SQLALCHEMY_DATABASE_URI": url,
        "HALL_TODAY": date(YEAR, 12, 20),
        "HALL_NOW": datetime(YEAR, 12, 20, 10, 0),
        "SECRET_KEY": "bench",
    }
    if schema:
        config["SQLALCHEMY_ENGINE_OPTIONS"] = {"connect_args": {"options": f"-csearch_path={schema}"}}
    app = create_app(config)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    return app


def _fill(rng: random.Random) -> int:
    """200 units and 100,000 confirmed incidents spread over the year; returns December's count."""
    from sqlalchemy import insert

    from models import Incident, Unit, db
    from services.clock import from_hall
    from services.rulebooks import current_rulebook

    rulebook = current_rulebook()
    codes = [r.code for r in rulebook.rules if not r.derived]
    weights = [1 if r.code.startswith("B") else 3 for r in rulebook.rules if not r.derived]
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
    unit_ids = list(db.session.scalars(Unit.__table__.select().with_only_columns(Unit.id)))
    start = date(YEAR, 1, 1)
    days = (date(YEAR, 12, 31) - start).days + 1
    now = datetime.now(UTC)
    december = 0
    rows = []
    for _ in range(INCIDENTS):
        day = start + timedelta(days=rng.randrange(days))
        at = from_hall(datetime(day.year, day.month, day.day, rng.randint(8, 16), rng.randrange(60)))
        code = rng.choices(codes, weights)[0]
        december += day.month == 12
        rows.append(
            {
                "unit_id": rng.choice(unit_ids),
                "rule_code": code,
                "occurred_at": at,
                "count": 1,
                "note": "",
                "public_text": "",
                "exempt": code == "D06" and rng.random() < 0.1,
                "deadline": day + timedelta(days=10) if code == "D19a" else None,
                "rectified_on": None,
                "status": "confirmed",
                "source": "import",
                "created_at": now,
            }
        )
    for i in range(0, len(rows), 5000):
        db.session.execute(insert(Incident.__table__), rows[i : i + 5000])
    db.session.commit()
    return december


def _time(fn, runs: int = 5) -> tuple[float, float]:
    from models import db
    from services import standings
    from services.rulebooks import _parse

    # Cold: no parsed rulebook, no remembered grades of closed months, no loaded rows.
    db.session.expire_all()
    _parse.cache_clear()
    standings._grades_cache.clear()
    t0 = time.perf_counter()
    fn()
    cold = time.perf_counter() - t0
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return cold, statistics.median(times)


def bench(label: str, url: str, schema: str | None = None) -> dict:
    from flask_migrate import upgrade

    app = _app(url, schema)
    with app.app_context():
        from models import db
        from services import months
        from services.rulebooks import ensure_shipped
        from services.standings import live_standings

        upgrade()
        ensure_shipped()
        db.session.commit()
        t0 = time.perf_counter()
        december = _fill(random.Random(2025))
        filled = time.perf_counter() - t0
        worst_cold, worst = _time(lambda: live_standings(YEAR, 12), runs=3)
        for m in range(1, 12):
            months.close(YEAR, m)
        db.session.commit()
        cold, median = _time(lambda: live_standings(YEAR, 12))
        result = live_standings(YEAR, 12)
        assert len(result.units) == UNITS
        db.session.remove()
    return {
        "label": label,
        "filled": filled,
        "december": december,
        "cold": cold,
        "median": median,
        "worst_cold": worst_cold,
        "worst": worst,
    }


def _postgres(url: str) -> dict:
    from sqlalchemy import create_engine, text

    for prefix in ("postgres://", "postgresql://"):  # as config.database_url: the psycopg 3 driver
        if url.startswith(prefix):
            url = "postgresql+psycopg://" + url[len(prefix) :]
    schema = f"bench_{os.getpid()}"
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        return bench("PostgreSQL", url, schema)
    finally:
        with engine.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        engine.dispose()


def report(r: dict) -> str:
    verdict = "达标" if r["median"] < TARGET_SECONDS else "超出目标"
    return (
        f"{r['label']:<11} 写入 {r['filled']:.1f} s;{YEAR}-12 月({r['december']:,} 条)live_standings:"
        f"冷启动 {r['cold']:.3f} s,5 次中位数 {r['median']:.3f} s({verdict},目标 < {TARGET_SECONDS} s);"
        f"最坏情况(1–11 月均未关账)冷启动 {r['worst_cold']:.3f} s,中位数 {r['worst']:.3f} s"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description="standings benchmark: 200 units, 100,000 incidents")
    parser.add_argument(
        "--postgres",
        metavar="URL",
        default=os.environ.get("BENCH_DATABASE_URL"),
        help="also run on this PostgreSQL database (a temporary schema is used and dropped)",
    )
    args = parser.parse_args()
    print(f"基准测试:{UNITS} 个单位,{INCIDENTS:,} 条已确认记录,分布在 {YEAR} 年全年")
    results = []
    with tempfile.TemporaryDirectory() as folder:
        results.append(bench("SQLite", f"sqlite:///{Path(folder) / 'bench.db'}"))
        print(report(results[-1]), flush=True)
    if args.postgres:
        results.append(_postgres(args.postgres))
        print(report(results[-1]), flush=True)
    # Always 0: `make bench` goes on to the next benchmark; the verdict is printed on each line.
    return 0


if __name__ == "__main__":
    sys.exit(main())
