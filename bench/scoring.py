"""Benchmark: the live standings of a month against the floor, the database's own bare aggregate.

    .venv/bin/python bench/scoring.py                           # SQLite, 100,000 and 1,000,000 incidents
    .venv/bin/python bench/scoring.py --postgres URL            # also PostgreSQL (or env BENCH_DATABASE_URL)
    .venv/bin/python bench/scoring.py --incidents 100000        # one size only

200 units. 100,000 incidents are spread over one year (2025, as issue 10 measured them); 1,000,000 over
five years (2021–2025, the large hall of bench/seed_large.py): either way December 2025 is the live month.
Each size gets a fresh database (for PostgreSQL a throw-away schema in the given database, dropped at the
end), filled with bulk inserts (executemany on SQLite, COPY on PostgreSQL, then ANALYZE as autovacuum
would).

The floor is `SELECT unit_id, rule_code, SUM(count) ... GROUP BY unit_id, rule_code` over the confirmed
incidents of the rows the standings read: December's when January–November are closed; the whole year's
when no earlier month is closed (then every earlier month is scored live for `replace_staff`). The floor and
`services.standings.live_standings(2025, 12)` are timed alternately, 7 times each, in the same run; the
figure is the ratio of the medians (aim: at most 3×).

`replace_staff` needs the earlier months' grades only of the units unqualified now, and only until each has
reached the count the rule looks for: the live standings score earlier open months for those units alone,
and stop when all are settled. The line "(all 11 live)" shows the cost when none is settled early (every
earlier month scored for every unit): no aim of its own, for the record.
"""

from __future__ import annotations

import argparse
import io
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
SIZES = {100_000: 1, 1_000_000: 5}  # incidents -> years they are spread over (ending with YEAR)
RUNS = 7
AIM = 3.0
COLUMNS = (
    "unit_id",
    "rule_code",
    "occurred_at",
    "count",
    "note",
    "public_text",
    "exempt",
    "deadline",
    "rectified_on",
    "status",
    "source",
    "created_at",
)


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


def _rows(rng: random.Random, incidents: int, years: int, unit_ids: list[int], codes, weights):
    """The incidents as tuples in COLUMNS order, with timestamps as naive UTC text."""
    from services.clock import from_hall

    start = date(YEAR - years + 1, 1, 1)
    days = (date(YEAR, 12, 31) - start).days + 1
    now = datetime.now(UTC).replace(tzinfo=None).isoformat(sep=" ")
    stamps: dict[tuple[int, int], str] = {}  # (day, hour) -> UTC text of the hour's start, hall time 08-16

    def stamp(d: int, hour: int) -> str:
        key = (d, hour)
        if key not in stamps:
            day = start + timedelta(days=d)
            at = from_hall(datetime(day.year, day.month, day.day, hour))
            stamps[key] = at.astimezone(UTC).strftime("%Y-%m-%d %H:")
        return stamps[key]

    chosen = rng.choices(codes, weights, k=incidents)
    for code in chosen:
        d = rng.randrange(days)
        day = start + timedelta(days=d)
        at = f"{stamp(d, rng.randint(8, 16))}{rng.randrange(60):02d}:00.000000"
        deadline = (day + timedelta(days=10)).isoformat() if code == "D19a" else None
        exempt = code == "D06" and rng.random() < 0.1
        yield (rng.choice(unit_ids), code, at, 1, "", "", exempt, deadline, None, "confirmed", "import", now)


def _fill(incidents: int, years: int) -> None:
    """200 units and the confirmed incidents, in bulk through the driver."""
    from sqlalchemy import insert

    from models import Unit, db
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
    rows = _rows(random.Random(2025), incidents, years, unit_ids, codes, weights)
    raw = db.session.connection().connection.driver_connection
    if db.engine.dialect.name == "postgresql":
        with raw.cursor() as cursor, cursor.copy(f"COPY incident ({', '.join(COLUMNS)}) FROM STDIN") as copy:
            buffer = io.StringIO()
            for n, row in enumerate(rows, 1):
                buffer.write("\t".join(r"\N" if v is None else str(v) for v in row) + "\n")
                if n % 50_000 == 0:
                    copy.write(buffer.getvalue())
                    buffer = io.StringIO()
            copy.write(buffer.getvalue())
        db.session.commit()
        db.session.execute(db.text("ANALYZE"))  # as autovacuum would after a bulk load
    else:
        marks = ", ".join("?" for _ in COLUMNS)
        raw.executemany(f"INSERT INTO incident ({', '.join(COLUMNS)}) VALUES ({marks})", rows)
    db.session.commit()


def _floor(start: datetime, end: datetime):
    from sqlalchemy import func, select

    from models import Incident, IncidentStatus, db

    def run():
        return db.session.execute(
            select(Incident.unit_id, Incident.rule_code, func.sum(Incident.count))
            .where(
                Incident.status == IncidentStatus.CONFIRMED,
                Incident.occurred_at >= start,
                Incident.occurred_at < end,
            )
            .group_by(Incident.unit_id, Incident.rule_code)
        ).all()

    return run


def _clear_caches() -> None:
    from models import db
    from services import standings
    from services.rulebooks import _parse

    db.session.expire_all()
    _parse.cache_clear()
    standings._grades_cache.clear()
    standings._cache.clear()


def _compare(floor, live) -> dict:
    """Cold standings once, then the floor and the standings alternately: medians and their ratio."""
    _clear_caches()
    t0 = time.perf_counter()
    live()
    cold = time.perf_counter() - t0
    floors, lives = [], []
    for _ in range(RUNS):
        t0 = time.perf_counter()
        floor()
        floors.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        live()
        lives.append(time.perf_counter() - t0)
    f, s = statistics.median(floors), statistics.median(lives)
    return {"cold": cold, "floor": f, "standings": s, "ratio": s / f}


def bench(label: str, url: str, incidents: int, years: int, schema: str | None = None) -> list[dict]:
    from flask_migrate import upgrade

    app = _app(url, schema)
    out = []
    with app.app_context():
        from models import db
        from services import months
        from services.clock import hall_today, month_utc_range
        from services.rulebooks import ensure_shipped
        from services.standings import _earlier_unqualified, _score_counts, live_standings

        upgrade()
        ensure_shipped()
        db.session.commit()
        t0 = time.perf_counter()
        _fill(incidents, years)
        filled = time.perf_counter() - t0

        def live():
            result = live_standings(YEAR, 12)
            assert len(result.units) == UNITS
            return result

        year_start, _ = month_utc_range(YEAR, 1)
        december, year_end = month_utc_range(YEAR, 12)
        case = {"label": label, "incidents": incidents, "years": years, "filled": filled}
        out.append({**case, "case": "none closed", **_compare(_floor(year_start, year_end), live)})
        print(report(out[-1]), flush=True)

        def every_month():
            # Not an aim of its own: what the ranking costs when no unit is settled early for replace_staff
            # (a unit unqualified now was qualified in every earlier month), so all 11 are scored.
            today = hall_today()
            return _score_counts(YEAR, 12, today, _earlier_unqualified(YEAR, 12, today))

        out.append({**case, "case": "(all 11 live)", **_compare(_floor(year_start, year_end), every_month)})
        print(report(out[-1]), flush=True)
        t0 = time.perf_counter()
        for m in range(1, 12):
            months.close(YEAR, m)
        db.session.commit()
        closing = time.perf_counter() - t0
        out.append({**case, "case": "Jan–Nov closed", **_compare(_floor(december, year_end), live)})
        out[-1]["closing"] = closing
        print(report(out[-1]), flush=True)
        db.session.remove()
    return out


def _postgres(url: str, incidents: int, years: int) -> list[dict]:
    from bench._harness import throwaway_schema

    with throwaway_schema(url, "bench") as (url, schema):
        return bench("PostgreSQL", url, incidents, years, schema)


def report(r: dict) -> str:
    verdict = "达标" if r["ratio"] <= AIM else "超出目标"
    extra = f",关账 11 个月 {r['closing']:.1f} s" if "closing" in r else ""
    return (
        f"{r['label']:<10} {r['incidents']:>9,} 条/{r['years']} 年 {r['case']:<14} "
        f"底线查询 {r['floor'] * 1000:8.1f} ms  排名 {r['standings'] * 1000:8.1f} ms"
        f"(冷启动 {r['cold'] * 1000:.1f} ms)  比值 {r['ratio']:.2f}×({verdict},目标 ≤ {AIM:g}×)"
        f"  [写入 {r['filled']:.1f} s{extra}]"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description="standings against the floor: 200 units, live December")
    parser.add_argument(
        "--postgres",
        metavar="URL",
        default=os.environ.get("BENCH_DATABASE_URL"),
        help="also run on this PostgreSQL database (a temporary schema is used and dropped)",
    )
    parser.add_argument(
        "--incidents",
        type=int,
        action="append",
        help="incidents to generate (repeatable; default 100000 over one year and 1000000 over five)",
    )
    parser.add_argument("--years", type=int, help="years the incidents are spread over (default: as above)")
    parser.add_argument("--sqlite-only", action="store_true", help="skip PostgreSQL even if a URL is set")
    parser.add_argument("--postgres-only", action="store_true", help="skip SQLite")
    args = parser.parse_args()
    sizes = args.incidents or list(SIZES)
    print(f"基准测试:{UNITS} 个单位,{YEAR}-12 为实时月份;比值 = 实时排名 / 底线查询(同一次运行的中位数)")
    for incidents in sizes:
        years = args.years or SIZES.get(incidents, 1)
        if not args.postgres_only:
            with tempfile.TemporaryDirectory() as folder:
                bench("SQLite", f"sqlite:///{Path(folder) / 'bench.db'}", incidents, years)
        if args.postgres and not args.sqlite_only:
            _postgres(args.postgres, incidents, years)
    # Always 0: `make bench` goes on to the next benchmark; the verdict is printed on each line.
    return 0


if __name__ == "__main__":
    sys.exit(main())
