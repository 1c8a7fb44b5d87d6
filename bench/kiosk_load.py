"""Benchmark: 100 hall screens polling while 20 clients log incidents at the desk, against a static file.

    .venv/bin/python bench/kiosk_load.py                          # SQLite, in a temporary directory
    .venv/bin/python bench/kiosk_load.py --database postgresql://postgres@127.0.0.1:5432/hs_b_kiosk

Fills a hall as bench/kiosk.py does (30 units, a year of incidents, earlier months published; for
PostgreSQL give an empty database), starts gunicorn as the README runs it, logs 20 desk clients in as
admins who submit the desk form back to back (each incident moves the screens' version) and meanwhile runs
100 screens (bench/kiosk.py's simulated screens: keep-alive connections in several client processes) in
alternating slices against three targets:

- unchanged: GET /kiosk/live?v=<its version> with If-None-Match, as the screen's poller sends it; a screen
  that is up to date gets 204/304, and after a change one 200 with the new fragment;
- changed: the same poll from screens a version behind, so every answer is a new fragment (200);
- static: GET /static/css/kiosk.css from the same server.

Prints each rate, the desk forms logged meanwhile, and unchanged/static (aim ≥ 1.0) and changed/static
(aim ≥ 0.5).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import kiosk as screens  # noqa: E402
from bench._harness import Client, Server, database_url  # noqa: E402

PASSWORD = "desk-password-1"
AIMS = {"unchanged": 1.0, "changed": 0.5}


def add_desk_users(url: str, clients: int) -> list[tuple[int, str]]:
    from app import create_app
    from models import Role, Unit, User, db

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench"})
    with app.app_context():
        first = User(username="desk00", role=Role.ADMIN, display_name="管理员00")
        first.set_password(PASSWORD)
        db.session.add(first)
        for n in range(1, clients):
            db.session.add(User(username=f"desk{n:02d}", role=Role.ADMIN, password_hash=first.password_hash))
        db.session.commit()
        return [(u.id, w) for u in db.session.scalars(db.select(Unit)) for w in u.window_list]


def desk(number: int, port: int, cells: list, stop: threading.Event, logged: list) -> None:
    """One desk PC: the desk form submitted back to back, each a D03 of a minute ago."""
    client = Client(port)
    client.login(f"desk{number:02d}", PASSWORD)
    token = client.csrf("/admin/incidents/new")
    i = 0
    while not stop.is_set():
        i += 1
        unit_id, window = cells[(number * 7 + i) % len(cells)]
        now = time.gmtime(time.time() + 8 * 3600 - 60)  # hall time (Asia/Shanghai, UTC+8), a minute ago
        status, _text, _h = client.request(
            "POST",
            "/admin/incidents/new",
            {
                "csrf_token": token,
                "unit_id": str(unit_id),
                "occurred_at": time.strftime("%Y-%m-%dT%H:%M", now),
                "rule_code": "D03",
                "window": window,
                "staff_pk": "",
                "count": "1",
                "note": f"desk {number}-{i}",
                "public_text": "",
            },
        )
        logged.append(status)
    client.close()


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database", help="an empty PostgreSQL database (default: SQLite in a temp dir)")
    parser.add_argument("--port", type=int, default=5113)
    parser.add_argument("--screens", type=int, default=100)
    parser.add_argument("--desks", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=15.0, help="per target, over all rounds")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--processes", type=int, default=4)
    parser.add_argument(
        "--settle", type=int, default=5, help="KIOSK_SETTLE_SECONDS (production's default 5; 0: each change)"
    )
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="hallscore-kiosk-load-"))
    url = database_url(args.database) if args.database else f"sqlite:///{workdir / 'bench.db'}"
    os.environ.update({"DATABASE_URL": url, "SECRET_KEY": "bench-only"})
    try:
        print(f"Filling {url.split('@')[-1]} …", flush=True)
        screens.fill(url)
        cells = add_desk_users(url, args.desks)
        settle = {"KIOSK_SETTLE_SECONDS": str(args.settle)}
        with Server(url, args.port, settle) as server:
            print(f"Server: KIOSK_SETTLE_SECONDS={args.settle} {server.describe()}", flush=True)
            stop = threading.Event()
            logged: list[int] = []
            desks = [
                threading.Thread(target=desk, args=(n, args.port, cells, stop, logged), daemon=True)
                for n in range(args.desks)
            ]
            for t in desks:
                t.start()
            time.sleep(3)  # the desks logged in and at work
            started, before = time.time(), len(logged)
            parts: dict[str, list[dict]] = {"unchanged": [], "changed": [], "static": []}
            slice_seconds = args.seconds / args.rounds
            for _ in range(args.rounds):
                for target, kind in (("poll", "unchanged"), ("changed", "changed"), ("static", "static")):
                    parts[kind].append(
                        screens.run(args.port, target, args.screens, slice_seconds, args.processes)
                    )
            desk_rate = (len(logged) - before) / (time.time() - started)
            stop.set()
            for t in desks:
                t.join(timeout=30)
        rates = {}
        for kind, runs in parts.items():
            statuses: dict = {}
            for part in runs:
                for status, n in part["statuses"].items():
                    statuses[status] = statuses.get(status, 0) + n
            rates[kind] = sum(p["requests"] for p in runs) / args.seconds
            p99 = max(p["p99_ms"] for p in runs)
            print(
                f"{kind:>9}: {rates[kind]:7.0f} req/s (worst slice p99 {p99:.0f} ms) statuses "
                f"{dict(sorted(statuses.items()))}",
                flush=True,
            )
        codes = {s: logged.count(s) for s in sorted(set(logged))}
        print(f"desk forms meanwhile: {desk_rate:.1f}/s by {args.desks} clients, answers {codes}")
        for kind, aim in AIMS.items():
            ratio = rates[kind] / rates["static"] if rates["static"] else 0.0
            verdict = "met" if ratio >= aim else "NOT MET"
            print(f"{kind}/static = {ratio:.2f} (aim ≥ {aim:.1f}): {verdict}")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
