"""The three heavy admin lists on a large hall, one request at a time through Flask's test client.

    .venv/bin/python bench/admin_lists.py /tmp/large.db            # SQLite (copy of seed_large.py's hall)
    .venv/bin/python bench/admin_lists.py /tmp/large.db --runs 10

For each page it prints the median and worst time of `--runs` requests (after one warm-up) and the number
of SQL statements one request runs, next to the aim (200 ms at p99 under 20 clients in bench/pages.py: one
request alone must cost well under that). A quick look while working on a page; bench/pages.py is the
benchmark of record.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._harness import database_url  # noqa: E402

PATHS = [
    ("inspector", "/admin/patrol"),
    ("admin", "/admin/staff"),
    ("admin", "/admin/staff?page=20"),
    ("admin", "/admin/audit"),
    ("admin", "/admin/audit?action=incident.created"),
    ("admin", "/admin/audit?target=incident:9"),
]
PASSWORDS = {"admin": "admin123", "inspector": "inspector123"}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("target")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--only", default="")
    args = parser.parse_args()
    from sqlalchemy import event

    from app import create_app
    from models import db

    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": database_url(args.target),
            "SECRET_KEY": "bench",
            "WTF_CSRF_ENABLED": False,
        }
    )
    statements = []
    with app.app_context():
        event.listen(db.engine, "before_cursor_execute", lambda *a, **k: statements.append(1))
    clients = {}
    for who, password in PASSWORDS.items():
        clients[who] = app.test_client()
        answer = clients[who].post("/login", data={"username": who, "password": password})
        assert answer.status_code == 302, answer.status_code
    for who, path in PATHS:
        if args.only not in path:
            continue
        client = clients[who]
        client.get(path)
        times = []
        for _ in range(args.runs):
            statements.clear()
            start = time.perf_counter()
            answer = client.get(path)
            times.append((time.perf_counter() - start) * 1000)
        size = len(answer.data) // 1024
        print(
            f"{path:45s} {answer.status_code} median {statistics.median(times):7.1f} ms  "
            f"max {max(times):7.1f} ms  {len(statements):3d} queries  {size:5d} KB"
        )


if __name__ == "__main__":
    main()
