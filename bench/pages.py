"""Benchmark: every admin page, the portal and the API on a large hall, 20 concurrent clients, p50/p99.

    .venv/bin/python bench/seed_large.py /tmp/large.db                 # once: the large hall
    .venv/bin/python bench/pages.py /tmp/large.db                      # SQLite
    .venv/bin/python bench/pages.py postgresql://postgres@127.0.0.1:5432/hs_b_large
    .venv/bin/python bench/pages.py /tmp/large.db --only incidents     # pages whose path has this
    .venv/bin/python bench/pages.py /tmp/large.db --requests 1000      # the README's figures
    .venv/bin/python bench/pages.py /tmp/large.db --change-every 1     # an admin logs an incident each second

Starts gunicorn as the README runs it (`gunicorn -w 2 -k gthread --threads 8 'app:create_app()'`) on the
given database, logs in as admin, leader and a unit user (unit1), picks real ids (the newest incident, a
published month, a notice, a staff member…) and, page by page, runs 20 client threads at once (Python
threads on keep-alive `http.client` connections, each with its own login session), each requesting the
page back to back until 200 requests are answered (after 20 warm-up requests) or 20 s have passed (a slow
page: fewer requests, its count `n` printed). It prints each page's p50 and p99 latency, its rate and the
pages whose p99 is over the aim (200 ms).

The pages are the HTML pages a user opens (GET, 200 expected); downloads (.xlsx, .pdf) and evidence
files are left out: they are documents, measured by the export benchmarks. The load generator runs on the
same machine as the server: on 2 cores, a closed loop of 20 clients means p99 ≈ 20 × the page's cost.

Pages are kept until the next audited change (page_cache): after its first request a page costs about what
the login check does, so a quiet hall measures kept pages. `--change-every S` measures a working hall: an
admin logs an incident on the desk form every S seconds meanwhile, and every page and the live standings
are made again after each.
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._harness import Client, Server, database_url, percentile  # noqa: E402

AIM_MS = 200.0
LOGINS = {"admin": "admin123", "leader": "leader123", "unit1": "unit123"}


def targets(url: str) -> list[tuple[str, str]]:
    """(who, path) for every page, with ids read from the database."""
    from flask_migrate import upgrade
    from sqlalchemy import func, select

    from app import create_app
    from models import Incident, Month, MonthStatus, RulebookVersion, Staff, Unit, User, db
    from models.notice import Notice
    from services.clock import hall_today

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench"})
    with app.app_context():
        upgrade()  # a hall seeded before the newest migration still runs the newest code
        today = hall_today()
        live = f"{today.year:04d}-{today.month:02d}"
        published = db.session.scalar(
            select(Month)
            .where(Month.status == MonthStatus.PUBLISHED)
            .order_by(Month.year.desc(), Month.month.desc())
        )
        pub = published.label if published else live
        unit1 = db.session.scalar(select(User).where(User.username == "unit1"))
        uid = unit1.unit_id
        any_unit = db.session.scalar(select(Unit.id).order_by(Unit.display_order).offset(100).limit(1)) or uid
        newest = db.session.scalar(select(func.max(Incident.id)))
        own = db.session.scalar(
            select(func.max(Incident.id)).where(Incident.unit_id == uid, Incident.status == "confirmed")
        )
        staff_pk = db.session.scalar(select(Staff.id).order_by(Staff.id.desc()).limit(1))
        notice = db.session.scalar(select(Notice).order_by(Notice.id.desc()).limit(1))
        own_notice = db.session.scalar(
            select(Notice.id).where(Notice.unit_id == uid).order_by(Notice.id.desc()).limit(1)
        )
        rulebook = db.session.scalar(select(RulebookVersion.key).limit(1))
        user_id = unit1.id
        pages = 1 + db.session.scalar(select(func.count(Incident.id))) // 50
        flag_letter = None
        if published and published.snapshot:
            for row in published.snapshot.get("units", []):
                for flag in row.get("flags", []):
                    if flag in ("discipline_report", "leadership_report"):
                        flag_letter = flag
    a = "admin"
    out = [
        (a, "/admin/"),
        (a, "/admin/incidents"),
        (a, f"/admin/incidents?month={live}"),
        (a, f"/admin/incidents?month={pub}&unit_id={uid}"),
        (a, f"/admin/incidents?page={min(pages, 200)}"),
        (a, "/admin/incidents/new"),
        (a, f"/admin/incidents/{newest}"),
        (a, f"/admin/incidents/{newest}/correct"),
        (a, f"/admin/incidents/{newest}/notice"),
        (a, "/admin/patrol"),
        (a, "/admin/patrol/blank"),
        (a, "/admin/standings"),
        (a, f"/admin/standings?month={pub}"),
        (a, f"/admin/standings/{live}/units/{uid}"),
        (a, f"/admin/standings/{pub}/units/{uid}"),
        (a, "/admin/months"),
        (a, f"/admin/months/{pub}/bulletin"),
        (a, f"/admin/months/{pub}/details"),
        (a, f"/admin/months/{pub}/details/{uid}"),
        (a, f"/admin/months/{pub}/receipts"),
        (a, "/admin/notices"),
        (a, "/admin/letters"),
        (a, "/admin/requests"),
        (a, "/admin/detections"),
        (a, "/admin/units"),
        (a, f"/admin/units/{any_unit}/edit"),
        (a, "/admin/units/new"),
        (a, "/admin/staff"),
        (a, f"/admin/staff/{staff_pk}"),
        (a, "/admin/staff/new"),
        (a, "/admin/users"),
        (a, f"/admin/users/{user_id}/edit"),
        (a, "/admin/users/new"),
        (a, "/admin/calendar"),
        (a, "/admin/rulebooks"),
        (a, f"/admin/rulebooks/{rulebook}"),
        (a, f"/admin/rulebooks/{rulebook}/new"),
        (a, "/admin/tallies"),
        (a, f"/admin/years/{today.year - 1}"),
        (a, f"/admin/years/{today.year - 1}/document"),
        (a, "/admin/honors"),
        (a, "/admin/import"),
        (a, "/admin/kiosk"),
        (a, "/admin/audit"),
        (a, "/admin/documents/settings"),
        (a, "/account/password"),
        ("leader", "/admin/"),
        ("leader", "/admin/standings"),
        ("leader", "/admin/months"),
        ("unit1", "/portal/"),
        ("unit1", f"/portal/months/{pub}"),
        ("unit1", f"/portal/months/{pub}/bulletin"),
        ("unit1", f"/portal/months/{pub}/details"),
        ("unit1", f"/portal/items/{own}"),
        ("unit1", f"/portal/items/{own}/notice"),
        ("unit1", "/portal/rankings"),
        ("unit1", "/portal/requests"),
        ("unit1", "/portal/notices"),
        ("unit1", "/portal/warnings"),
        ("unit1", "/portal/inbox"),
        ("unit1", "/portal/claims/new"),
        ("anon", "/api/standings"),
        ("anon", f"/api/standings?month={pub}"),
        ("anon", "/kiosk/?screen=bench"),
        ("anon", "/kiosk/live?screen=bench"),
    ]
    if notice is not None:
        out += [(a, f"/admin/notices/{notice.id}"), (a, f"/admin/notices/{notice.id}/document")]
    if own_notice is not None:
        out.append(("unit1", f"/portal/notices/{own_notice}"))
    if flag_letter:
        out.append((a, f"/admin/letters/{pub}/{flag_letter}"))
    return out


class Changes:
    """`--change-every S`: an admin logs an incident on the desk form every S seconds while the pages are
    measured (each one an audited change, so every kept page and the live standings are made again): how
    the pages hold when the hall is at work, not only when it is quiet."""

    def __init__(self, port: int, every: float, unit_id: int, window: str):
        self.port, self.every, self.unit_id, self.window = port, every, unit_id, window
        self.stop = threading.Event()
        self.done: dict = {}
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self) -> None:
        client = Client(self.port)
        client.login("admin", LOGINS["admin"])
        token = client.csrf("/admin/incidents/new")
        n = 0
        while not self.stop.wait(self.every):
            n += 1
            now = time.gmtime(time.time() + 8 * 3600 - 60)  # hall time (UTC+8), a minute ago
            form = {
                "csrf_token": token,
                "unit_id": str(self.unit_id),
                "occurred_at": time.strftime("%Y-%m-%dT%H:%M", now),
                "rule_code": "D03",
                "window": self.window,
                "staff_pk": "",
                "count": "1",
                "note": f"bench-pages-change-{n}",
                "public_text": "",
            }
            status, _text, _h = client.request("POST", "/admin/incidents/new", form)
            self.done[status] = self.done.get(status, 0) + 1
        client.close()


def a_cell(url: str) -> tuple[int, str]:
    """A unit with a window, for the changes."""
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.connect() as conn:
        unit_id, windows = conn.execute(
            text("SELECT id, windows FROM unit WHERE active AND windows <> '' ORDER BY id LIMIT 1")
        ).one()
    engine.dispose()
    return unit_id, windows.split(";")[0]


def measure(
    port: int, cookies: dict, path: str, clients: int, requests: int, warmup: int, max_seconds: float
) -> dict:
    latencies: list[tuple[bool, float]] = []  # (after the warm-up, seconds)
    started = time.perf_counter()
    stop_at = started + max_seconds
    statuses: dict = {}
    lock = threading.Lock()
    remaining = [warmup + requests]
    started_at: list[float] = []

    def worker() -> None:
        client = Client(port, cookies)
        mine: list[tuple[bool, float]] = []
        while True:
            with lock:
                if remaining[0] <= 0 or time.perf_counter() > stop_at:
                    break
                remaining[0] -= 1
                index = warmup + requests - remaining[0]
                if index == warmup + 1:
                    started_at.append(time.perf_counter())
            t0 = time.perf_counter()
            try:
                status, _text, _h = client.get(path, headers={"Accept-Encoding": "identity"})
            except OSError:  # no answer within the client's 30 s
                status = "timeout"
            elapsed = time.perf_counter() - t0
            with lock:
                statuses[status] = statuses.get(status, 0) + 1
            mine.append((index > warmup, elapsed))
        client.close()
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=worker) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - (started_at[0] if started_at else started)
    lat = sorted(t for measured, t in latencies if measured)
    if not lat:  # a page so slow that the time ran out during the warm-up: its warm-up is all there is
        lat = sorted(t for _measured, t in latencies)
    return {
        "p50": 1000 * percentile(lat, 0.50),
        "p99": 1000 * percentile(lat, 0.99),
        "rate": len(lat) / wall if wall > 0 else 0.0,
        "measured": len(lat),
        "statuses": statuses,
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("database", help="SQLite file or PostgreSQL URL (built by bench/seed_large.py)")
    parser.add_argument("--port", type=int, default=5110)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--requests", type=int, default=200, help="measured requests a page")
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--only", default="", help="only pages whose path contains this")
    parser.add_argument(
        "--probe-limit", type=float, default=2.0, help="seconds: a page slower alone is not load-tested"
    )
    parser.add_argument(
        "--max-seconds", type=float, default=20.0, help="a slow page stops after this long (fewer requests)"
    )
    parser.add_argument(
        "--change-every", type=float, default=0.0, help="seconds: an admin logs an incident this often"
    )
    args = parser.parse_args()

    url = database_url(args.database)
    pages = [(who, path) for who, path in targets(url) if args.only in path]
    with Server(url, args.port) as server:
        print(f"Server: {server.describe()} on {url.split('@')[-1]}", flush=True)
        cookies = {"anon": {}}
        for username, password in LOGINS.items():
            client = Client(args.port)
            client.login(username, password)
            cookies[username] = client.cookies
            client.close()
        print(
            f"{args.clients} concurrent clients, {args.requests} requests a page "
            f"after {args.warmup} warm-up; "
            f"aim: p99 < {AIM_MS:.0f} ms",
            flush=True,
        )
        print(
            f"{'who':7} {'page':58} {'p50 ms':>8} {'p99 ms':>8} {'req/s':>7} {'n':>4}  statuses", flush=True
        )
        changes = None
        if args.change_every > 0:
            changes = Changes(args.port, args.change_every, *a_cell(url))
            changes.thread.start()
            print(f"An admin logs an incident every {args.change_every:g} s meanwhile.", flush=True)
        over = []
        for who, path in pages:
            # One request alone first: a page that takes seconds by itself is far over the aim, and 20 of
            # them at once would keep the server's threads busy long after the clients gave up.
            probe = Client(args.port, cookies[who])
            t0 = time.perf_counter()
            try:
                status, _text, _h = probe.get(path)
            except OSError:
                status = "timeout"
            alone = (time.perf_counter() - t0) * 1000
            probe.close()
            if status != 200 or alone > args.probe_limit * 1000:
                print(
                    f"{who:7} {path[:58]:58} alone {alone:8.0f} ms, HTTP {status}: not run with "
                    f"{args.clients} clients  <-- over the aim",
                    flush=True,
                )
                over.append((who, path, f"{alone:.0f} ms alone"))
                continue
            r = measure(
                args.port, cookies[who], path, args.clients, args.requests, args.warmup, args.max_seconds
            )
            bad = {s: n for s, n in r["statuses"].items() if s != 200}
            mark = "  <-- errors" if bad else "  <-- over the aim" if r["p99"] >= AIM_MS else ""
            print(
                f"{who:7} {path[:58]:58} {r['p50']:8.1f} {r['p99']:8.1f} {r['rate']:7.1f} "
                f"{r['measured']:4d}  "
                f"{r['statuses']}{mark}",
                flush=True,
            )
            if mark:
                over.append((who, path, f"p99 {r['p99']:.0f} ms"))
        if changes is not None:
            changes.stop.set()
            changes.thread.join()
            print(f"Changes logged meanwhile (HTTP status: count): {changes.done}")
        print(f"\n{len(pages) - len(over)} of {len(pages)} pages within p99 < {AIM_MS:.0f} ms.")
        for who, path, figure in over:
            print(f"  over: {who} {path} {figure}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
