"""Benchmark: what one request of every bench page costs, alone (no concurrency), on a large hall.

    .venv/bin/python bench/page_costs.py /tmp/large.db                 # SQLite
    .venv/bin/python bench/page_costs.py postgresql://postgres@127.0.0.1:5432/hs_b_large
    .venv/bin/python bench/page_costs.py /tmp/large.db --only portal    # pages whose path has this

The pages and logins of `bench/pages.py`, requested through Flask's test client in this process: each page
once cold (the first request after the app starts, its caches empty) and then `--repeat` times warm. It
prints the cold time, the warm time and the warm CPU time of this process per request (on SQLite that
includes the database's work; on PostgreSQL the server's part is not counted), slowest first. Warm requests
are answered from the kept page (page_cache) unless `--afresh`: then each makes its page again, as the first
request after a change does (the services' own caches stay warm: the standings change only with incidents).

Why it matters: `bench/pages.py` runs 20 clients at once on this 2-core machine, so a page's p99 there is
about 20 × its cost here divided by the 2 cores, plus the HTTP server's and the load generator's share.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._harness import database_url  # noqa: E402
from bench.pages import LOGINS, targets  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("database", help="SQLite file or PostgreSQL URL (built by bench/seed_large.py)")
    parser.add_argument("--repeat", type=int, default=10, help="warm requests a page")
    parser.add_argument("--only", default="", help="only pages whose path contains this")
    parser.add_argument(
        "--afresh",
        action="store_true",
        help="warm requests make the page again (kept pages emptied before each): its cost after a change",
    )
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    url = database_url(args.database)
    pages = [(who, path) for who, path in targets(url) if args.only in path]

    import page_cache
    from app import create_app

    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": url,
            "SECRET_KEY": "bench",
            "WTF_CSRF_ENABLED": False,
            "RATELIMIT_ENABLED": False,
        }
    )
    clients = {"anon": app.test_client()}
    for who, password in LOGINS.items():
        client = app.test_client()
        answer = client.post("/login", data={"username": who, "password": password})
        if answer.status_code != 302:
            raise SystemExit(f"login as {who} failed: {answer.status_code}")
        clients[who] = client
    rows = []
    for who, path in pages:
        client = clients[who]
        t0 = time.perf_counter()
        status = client.get(path).status_code
        cold = (time.perf_counter() - t0) * 1000
        spent, cpu_spent = 0.0, 0.0
        for _ in range(args.repeat):
            if args.afresh:
                page_cache._pages.clear()
            t0, c0 = time.perf_counter(), time.process_time()
            client.get(path)
            spent += time.perf_counter() - t0
            cpu_spent += time.process_time() - c0
        warm = spent * 1000 / args.repeat
        cpu = cpu_spent * 1000 / args.repeat
        rows.append((cpu, warm, cold, status, who, path))
    print(f"{'who':7s} {'page':60s} {'cold ms':>8s} {'warm ms':>8s} {'cpu ms':>7s} status")
    for cpu, warm, cold, status, who, path in sorted(rows, reverse=True):
        print(f"{who:7s} {path[:60]:60s} {cold:8.1f} {warm:8.1f} {cpu:7.1f} {status}")
    cpus = sorted(r[0] for r in rows)
    print(
        f"\n{len(rows)} pages: warm CPU median {cpus[len(cpus) // 2]:.1f} ms, "
        f"{sum(c <= 10 for c in cpus)} at or under 10 ms, {sum(c > 20 for c in cpus)} over 20 ms"
    )


if __name__ == "__main__":
    main()
