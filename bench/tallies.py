"""The tallies (人员与窗口扣分统计) and the yearly summary (年终汇总) on a busy year: 200 units, 2,000 staff
(300 of them replacing a seat's holder during the year, so those postings change within it), 200,000
incidents in one year, January–November closed (as an admin closes them), December live.

    .venv/bin/python bench/tallies.py /tmp/i_tallies.db
    .venv/bin/python bench/tallies.py postgresql://postgres@127.0.0.1:5432/hs_i_bench
    .venv/bin/python bench/tallies.py /tmp/i_small.db --incidents 20000      # while developing
    .venv/bin/python bench/tallies.py /tmp/large.db --pages                  # a large hall's real pages

With --pages the database is a large hall made by bench/seed_large.py (kept as it is: read only) and the
real pages are timed through the test client (one request at a time, as admin): the tallies page, the
yearly summary page, its .xlsx and its document, of last year (closed) and of this year, cold and warm.

The target is emptied and filled with SQLAlchemy Core bulk inserts (the year's rows only: no history, no
audit rows). Timed, each cold (the standings' caches emptied) and warm: `services.dashboard.tallies(year)`
and `services.yearly.summary(year)`, now and with the tallies of `--before` (a commit's
services/dashboard.py, loaded from git): the ORM version read every incident of the year as an object with
its staff and postings. Both versions' results are compared. The aim (issue 10 item 2) is 200 ms.
"""

from __future__ import annotations

import argparse
import importlib.util
import logging
import random
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._harness import database_url  # noqa: E402

UNITS = 200
STAFF = 2_000
YEAR = 2024
TODAY = date(YEAR, 12, 20)
AIM_MS = 200
BEFORE = "1a7398c"  # the last commit with the ORM tallies
HALL_OFFSET = timedelta(hours=8)  # Asia/Shanghai: hall time = UTC + 8 h all year
# (rule, weight): everyday findings, a few exempt-able D06, bonuses, and D19a with deadlines.
RULES = [
    ("D01", 30),
    ("D02c", 15),
    ("D03", 20),
    ("D04a", 8),
    ("D06", 10),
    ("D05a", 5),
    ("B01", 7),
    ("D19a", 5),
]


def fill(incidents: int, seed: int, changes: int) -> None:
    from sqlalchemy import insert

    from models import Incident, Posting, Staff, Unit, db
    from services.rulebooks import ensure_shipped

    rng = random.Random(seed)
    ensure_shipped()
    db.session.execute(
        insert(Unit),
        [
            {
                "code": f"U{i:03d}",
                "name": f"单位{i:03d}",
                "windows": ";".join(str(w) for w in range(1, 10)),
                "display_order": i,
                "active": True,
            }
            for i in range(1, UNITS + 1)
        ],
    )
    units = dict(db.session.execute(db.select(Unit.code, Unit.id)).all())
    unit_ids = list(units.values())
    # Seat = (unit, window). The first `changes` seats change holder on a day of the year (the holder
    # leaves the day before, the replacement starts): 2,000 staff in all, as the large hall's roster.
    seats_n = STAFF - changes
    db.session.execute(
        insert(Staff), [{"staff_id": f"S{n:05d}", "name": f"人员{n:05d}"} for n in range(STAFF)]
    )
    pks = [pk for (pk,) in db.session.execute(db.select(Staff.id).order_by(Staff.staff_id))]
    seats = [(unit_ids[n % UNITS], str(n // UNITS + 1)) for n in range(seats_n)]
    postings, switch = [], []
    for n, (unit_id, window) in enumerate(seats):
        change = date(YEAR, 1, 1) + timedelta(days=rng.randint(20, 340)) if n < changes else None
        switch.append(change)
        posting = {"staff_pk": pks[n], "unit_id": unit_id, "category": "W", "window": window}
        postings.append({**posting, "start_date": date(YEAR - 3, 1, 1), "end_date": None})
        if change is not None:
            postings[-1]["end_date"] = change - timedelta(days=1)
            postings.append({**posting, "staff_pk": pks[seats_n + n], "start_date": change, "end_date": None})
    db.session.execute(insert(Posting), postings)
    codes = [r for r, _w in RULES]
    weights = [w for _r, w in RULES]
    days = (TODAY - date(YEAR, 1, 1)).days
    rows = []
    for _ in range(incidents):
        seat = rng.randrange(seats_n)
        unit_id, window = seats[seat]
        day = date(YEAR, 1, 1) + timedelta(days=rng.randrange(days))
        staff = pks[seats_n + seat] if switch[seat] and day >= switch[seat] else pks[seat]
        rule = rng.choices(codes, weights)[0]
        at = datetime.combine(day, datetime.min.time(), tzinfo=UTC) + timedelta(
            minutes=rng.randint(0, 24 * 60 - 1)
        )
        roll = rng.random()
        rows.append(
            {
                "unit_id": unit_id,
                "staff_pk": None if roll < 0.05 else staff,
                "window": None if roll < 0.45 else window,  # 40 % window-less: the posting decides
                "rule_code": rule,
                "occurred_at": at - HALL_OFFSET,
                "count": rng.choice([1, 1, 1, 2, 3]) if rule == "D02c" else 1,
                "note": "",
                "public_text": "",
                "deadline": day + timedelta(days=rng.randint(3, 20)) if rule == "D19a" else None,
                "rectified_on": day + timedelta(days=rng.randint(1, 30))
                if rule == "D19a" and roll < 0.7
                else None,
                "exempt": rule == "D06" and rng.random() < 0.3,
                "status": "voided"
                if rng.random() < 0.02
                else ("proposed" if rng.random() < 0.01 else "confirmed"),
                "source": "desk",
                "created_at": at - HALL_OFFSET,
            }
        )
        if len(rows) == 10_000:
            db.session.execute(insert(Incident), rows)
            rows = []
    if rows:
        db.session.execute(insert(Incident), rows)
    db.session.commit()


def close_months() -> None:
    from models import db
    from services import months

    for m in range(1, TODAY.month):
        months.close(YEAR, m, despite_open_appeals=True)
        db.session.commit()


def old_dashboard(commit: str):
    """services/dashboard.py as it was at `commit`, as a module of its own."""
    source = subprocess.run(
        ["git", "show", f"{commit}:services/dashboard.py"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    path = Path(tempfile.mkdtemp()) / "dashboard_before.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location("dashboard_before", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules["dashboard_before"] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def timed(call, cold: bool) -> float:
    from models import db
    from services import dashboard, standings, yearly

    if cold:  # the standings' and the tallies' caches emptied: what the first request after a change costs
        standings._cache.clear()
        standings._grades_cache.clear()
        dashboard._tally_cache.clear()
        yearly._cache.clear()
    db.session.remove()
    started = time.perf_counter()
    call()
    return (time.perf_counter() - started) * 1000


def plain(rows) -> list:
    return [(r.key, r.label, r.unit_name, dict(sorted(r.by_month.items())), r.items) for r in rows]


def pages(url: str) -> int:
    from app import create_app
    from services.clock import hall_today

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench", "WTF_CSRF_ENABLED": False})
    with app.app_context():
        this = hall_today().year
    client = app.test_client()
    response = client.post("/login", data={"username": "admin", "password": "admin123"})
    assert response.status_code == 302, response.status_code
    for year in (this - 1, this):
        for path in (
            f"/admin/tallies?year={year}",
            f"/admin/years/{year}",
            f"/admin/years/{year}/summary.xlsx",
            f"/admin/years/{year}/document",
        ):
            for cold in (True, False):
                with app.app_context():
                    ms = timed(lambda p=path: _get(client, p), cold)
                verdict = "meets" if ms < AIM_MS else "misses"
                label = "cold" if cold else "warm"
                print(f"{path:36} {label}: {ms:8.0f} ms  aim < {AIM_MS} ms: {verdict}", flush=True)
    return 0


def _get(client, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 200, (path, response.status_code)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("database", help="a SQLite file path or a PostgreSQL URL (emptied first)")
    parser.add_argument("--incidents", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=10)
    parser.add_argument("--changes", type=int, default=300, help="staff who replace another in the year")
    parser.add_argument(
        "--before", default=BEFORE, help="the commit of the ORM tallies (default %(default)s)"
    )
    parser.add_argument("--reuse", action="store_true", help="the database is filled already")
    parser.add_argument("--pages", action="store_true", help="time the real pages of a seed_large hall")
    args = parser.parse_args()
    if args.pages:
        return pages(database_url(args.database))

    from flask_migrate import upgrade

    from app import create_app
    from models import db
    from services import dashboard, yearly

    url = database_url(args.database)
    if url.startswith("sqlite") and not args.reuse:
        Path(args.database).unlink(missing_ok=True)  # before the app opens it
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench", "HALL_TODAY": TODAY})
    logging.getLogger("alembic").setLevel(logging.WARNING)
    with app.app_context():
        if not args.reuse:
            if not url.startswith("sqlite"):
                db.session.execute(db.text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
                db.session.commit()
            upgrade()
            started = time.perf_counter()
            fill(args.incidents, args.seed, args.changes)
            print(f"filled {args.incidents:,} incidents in {time.perf_counter() - started:.0f} s", flush=True)
            started = time.perf_counter()
            close_months()
            db.session.execute(db.text("ANALYZE"))
            db.session.commit()
            print(f"closed January–November in {time.perf_counter() - started:.0f} s", flush=True)
        before = old_dashboard(args.before)
        now = dashboard.tallies(YEAR)
        then = before.tallies(YEAR)
        same = (plain(now[0]), plain(now[1])) == (plain(then[0]), plain(then[1]))
        print(
            f"{db.engine.dialect.name}: {len(now[0])} staff rows, {len(now[1])} window rows;"
            f" same as before: {same}"
        )

        def summary_before():  # uncached, with the ORM tallies
            saved = yearly.tallies
            yearly.tallies = before.tallies
            try:
                yearly._summary(YEAR, yearly.year_months(YEAR))
            finally:
                yearly.tallies = saved

        cases = [
            ("tallies", lambda: dashboard.tallies(YEAR), lambda: before.tallies(YEAR)),
            ("yearly summary", lambda: yearly.summary(YEAR), summary_before),
        ]
        for name, after_call, before_call in cases:
            for cold in (True, False):
                label = "cold" if cold else "warm"
                after_ms = min(timed(after_call, cold) for _ in range(3))
                before_ms = timed(before_call, cold)
                verdict = "meets" if after_ms < AIM_MS else "misses"
                print(
                    f"{db.engine.dialect.name:10} {name:15} {label}: {after_ms:8.0f} ms"
                    f" (before {before_ms:7.0f} ms)"
                    f"  aim < {AIM_MS} ms: {verdict}",
                    flush=True,
                )
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
