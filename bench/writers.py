"""Fault test: 20 concurrent writers for 60 s on PostgreSQL, through the desk form and the patrol sheet.

    .venv/bin/python bench/writers.py postgresql://postgres@127.0.0.1:5432/postgres
    .venv/bin/python bench/writers.py URL --seconds 10 --writers 5     # a short run

Creates a throw-away database next to the one in URL (`<name>_writers`, dropped at the end unless
--keep), fills a small hall (30 units, 20 inspector logins), starts gunicorn as the README runs it and
lets 20 writers, each logged in as its own inspector, work for 60 s:

- the desk form (POST /admin/incidents/new): each submission carries a note of its own; an answer of 302
  to /admin/incidents/<id> is an acknowledged incident;
- the patrol sheet (POST /admin/patrol/tap): the writers go in groups of four that send the same taps
  (the same `client_key`) at about the same moment, and every writer sends each of its taps twice
  (a tablet re-sending after a dropped connection); a 200 acknowledges the tap.

Then it reads the database and prints: desk forms acknowledged, stored (rows with a bench note), notes
stored more than once, acknowledged ids missing; patrol keys acknowledged, rows stored with those keys,
keys stored more than once; and the errors (5xx answers, dropped connections) of each. Exit 1 on any
duplicate, missing row or error.
"""

from __future__ import annotations

import argparse
import re
import sys
import threading
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._harness import Client, Server, database_url  # noqa: E402

PASSWORD = "writer-password-1"
GROUP = 4
LOCATION = re.compile(r"/admin/incidents/(\d+)$")


def create_database(url: str, keep: bool) -> str:
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    base = make_url(database_url(url))
    name = f"{base.database}_writers"
    engine = create_engine(base, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return base.set(database=name).render_as_string(hide_password=False)


def drop_database(url: str) -> None:
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    target = make_url(url)
    engine = create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{target.database}" WITH (FORCE)'))
    engine.dispose()


def fill(url: str, writers: int) -> list[tuple[int, str]]:
    """30 units of 3 windows and one inspector login per writer; returns (unit id, window) cells."""
    import logging

    from flask_migrate import upgrade

    from app import create_app
    from models import Role, Unit, User, db
    from services.rulebooks import ensure_shipped

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench"})
    logging.getLogger("alembic").setLevel(logging.WARNING)
    with app.app_context():
        upgrade()
        ensure_shipped()
        units = [
            Unit(code=f"W{i:02d}", name=f"测试单位{i:02d}", windows=f"{3 * i + 1};{3 * i + 2};{3 * i + 3}")
            for i in range(30)
        ]
        db.session.add_all(units)
        user = User(username="writer00", role=Role.INSPECTOR, display_name="巡查员00")
        user.set_password(PASSWORD)
        db.session.add(user)
        for n in range(1, writers):
            db.session.add(
                User(
                    username=f"writer{n:02d}",
                    role=Role.INSPECTOR,
                    display_name=f"巡查员{n:02d}",
                    password_hash=user.password_hash,
                )
            )
        db.session.commit()
        return [(u.id, w) for u in units for w in u.window_list]


class Tally:
    def __init__(self):
        self.lock = threading.Lock()
        self.desk_acked: list[int] = []
        self.desk_notes: list[str] = []
        self.desk_refused = Counter()
        self.desk_errors = Counter()
        self.tap_keys: set[str] = set()
        self.tap_sent = 0
        self.tap_refused = Counter()
        self.tap_errors = Counter()


def writer(
    number: int, port: int, cells: list, deadline: float, run: str, tally: Tally, barrier: threading.Barrier
) -> None:
    client = Client(port)
    client.login(f"writer{number:02d}", PASSWORD)
    token = client.csrf("/admin/incidents/new")
    group = number // GROUP
    i = 0
    while time.time() < deadline:
        i += 1
        now = time.gmtime(time.time() + 8 * 3600 - 60)  # hall time (Asia/Shanghai, UTC+8), a minute ago
        # The desk form: one incident with a note no one else sends.
        unit_id, window = cells[(number * 7 + i) % len(cells)]
        note = f"bench-{run}-{number}-{i}"
        form = {
            "csrf_token": token,
            "unit_id": str(unit_id),
            "occurred_at": time.strftime("%Y-%m-%dT%H:%M", now),
            "rule_code": "D03",
            "window": window,
            "staff_pk": "",
            "count": "1",
            "note": note,
            "public_text": "",
        }
        try:
            status, _text, headers = client.request("POST", "/admin/incidents/new", form)
        except Exception as error:  # noqa: BLE001 - a dropped connection is a result to count
            with tally.lock:
                tally.desk_errors[type(error).__name__] += 1
        else:
            match = LOCATION.search(headers.get("location", ""))
            with tally.lock:
                if status == 302 and match:
                    tally.desk_acked.append(int(match.group(1)))
                    tally.desk_notes.append(note)
                elif status >= 500:
                    tally.desk_errors[status] += 1
                else:
                    tally.desk_refused[status] += 1
        # The patrol sheet: the group's i-th tap, sent by each of its writers, twice.
        key = f"bench-{run}-g{group}-t{i}"
        unit_id, window = cells[(group * 11 + i) % len(cells)]
        tap = {
            "unit_id": str(unit_id),
            "window": window,
            "rule_code": "D03",
            "client_key": key,
            "date": time.strftime("%Y-%m-%d", now),
            "time": time.strftime("%H:%M:%S", now),
        }
        try:
            barrier.wait(timeout=10)  # the group's writers send this tap at the same moment
        except threading.BrokenBarrierError:
            barrier.reset()
        for _copy in range(2):
            try:
                status, _text, _h = client.request(
                    "POST", "/admin/patrol/tap", tap, headers={"X-CSRFToken": token, "HX-Request": "true"}
                )
            except Exception as error:  # noqa: BLE001
                with tally.lock:
                    tally.tap_errors[type(error).__name__] += 1
                continue
            with tally.lock:
                tally.tap_sent += 1
                if status == 200:
                    tally.tap_keys.add(key)
                elif status >= 500:
                    tally.tap_errors[status] += 1
                else:
                    tally.tap_refused[status] += 1
    client.close()


def check(url: str, run: str, tally: Tally) -> dict:
    from sqlalchemy import create_engine, func, select

    from models import Incident

    engine = create_engine(url)
    with engine.connect() as conn:
        notes = Counter(
            dict(
                conn.execute(
                    select(Incident.note, func.count())
                    .where(Incident.note.like(f"bench-{run}-%"))
                    .group_by(Incident.note)
                ).all()
            )
        )
        ids = set(conn.scalars(select(Incident.id).where(Incident.note.like(f"bench-{run}-%"))))
        keys = Counter(
            dict(
                conn.execute(
                    select(Incident.client_key, func.count())
                    .where(Incident.client_key.like(f"bench-{run}-%"))
                    .group_by(Incident.client_key)
                ).all()
            )
        )
    engine.dispose()
    return {
        "desk_acknowledged": len(tally.desk_acked),
        "desk_stored": sum(notes.values()),
        "desk_duplicates": sum(n - 1 for n in notes.values() if n > 1),
        "desk_missing": len(set(tally.desk_acked) - ids) + len(set(tally.desk_notes) - set(notes)),
        "desk_unacknowledged_stored": len(set(notes) - set(tally.desk_notes)),
        "tap_requests": tally.tap_sent,
        "tap_keys_acknowledged": len(tally.tap_keys),
        "tap_rows_stored": sum(keys.values()),
        "tap_duplicates": sum(n - 1 for n in keys.values() if n > 1),
        "tap_missing": len(tally.tap_keys - set(keys)),
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("url", help="a PostgreSQL URL; a database <name>_writers is made beside it")
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--writers", type=int, default=20)
    parser.add_argument("--port", type=int, default=5112)
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    args = parser.parse_args()

    url = create_database(args.url, args.keep)
    try:
        cells = fill(url, args.writers)
        run = time.strftime("%H%M%S")
        tally = Tally()
        with Server(url, args.port) as server:
            print(f"Server: {server.describe()}; {args.writers} writers for {args.seconds:.0f} s", flush=True)
            deadline = time.time() + args.seconds + 2  # logins first
            groups = [range(g, min(g + GROUP, args.writers)) for g in range(0, args.writers, GROUP)]
            barriers = {}
            for g in groups:
                shared = threading.Barrier(len(g))
                barriers.update(dict.fromkeys(g, shared))
            threads = [
                threading.Thread(target=writer, args=(n, args.port, cells, deadline, run, tally, barriers[n]))
                for n in range(args.writers)
            ]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
        r = check(url, run, tally)
        print(
            f"desk form:    acknowledged {r['desk_acknowledged']}, stored {r['desk_stored']}, "
            f"duplicates {r['desk_duplicates']}, acknowledged but missing {r['desk_missing']}, "
            f"stored but not acknowledged {r['desk_unacknowledged_stored']}, "
            f"refused {dict(tally.desk_refused)}, errors {dict(tally.desk_errors)}"
        )
        print(
            f"patrol taps:  {r['tap_requests']} requests, keys acknowledged {r['tap_keys_acknowledged']}, "
            f"rows stored {r['tap_rows_stored']}, duplicates {r['tap_duplicates']}, "
            f"acknowledged but missing {r['tap_missing']}, refused {dict(tally.tap_refused)}, "
            f"errors {dict(tally.tap_errors)}"
        )
        bad = (
            r["desk_duplicates"]
            + r["desk_missing"]
            + r["tap_duplicates"]
            + r["tap_missing"]
            + sum(tally.desk_errors.values())
            + sum(tally.tap_errors.values())
            + (r["tap_rows_stored"] != r["tap_keys_acknowledged"])
        )
        print(
            "aim: every acknowledged incident stored exactly once, each client_key stored once, no errors: "
            + ("met" if not bad else "NOT MET")
        )
        return 1 if bad else 0
    finally:
        if not args.keep:
            drop_database(url)


if __name__ == "__main__":
    sys.exit(main())
