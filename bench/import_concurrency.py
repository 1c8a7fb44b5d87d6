"""Check: while a large import writes to SQLite, the login and the desk form still answer (they wait for
the import's short write, never a 500 "database is locked").

    .venv/bin/python bench/import_concurrency.py                 # 100,000 rows
    .venv/bin/python bench/import_concurrency.py --rows 20000    # quicker

A fresh SQLite database in a temporary folder; the app served by Werkzeug's threaded server on
127.0.0.1:5120 in this process; the import in a child process through the import job (bench/imports.py's
child), as a gunicorn worker's job thread would run it beside the web workers. Meanwhile two clients log in
and log an incident on the desk form, again and again. It prints every answer's status, the slowest answer,
and exits 1 if any answer was an error.
"""

from __future__ import annotations

import argparse
import http.cookiejar
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import imports as bench_imports  # noqa: E402  (bench/imports.py: the hall, the file, the child)

PORT = 5120
BASE = f"http://127.0.0.1:{PORT}"
CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"|name="csrf_token" value="([^"]+)"')


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def client():
    jar = http.cookiejar.CookieJar()
    return urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar), NoRedirect())


def call(opener, path: str, data: dict | None = None) -> tuple[int, str, float]:
    body = urllib.parse.urlencode(data).encode() if data is not None else None
    t0 = time.perf_counter()
    try:
        with opener.open(BASE + path, data=body, timeout=120) as response:
            status, text = response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        status, text = error.code, error.read().decode(errors="replace")
    return status, text, time.perf_counter() - t0


def token(html: str) -> str:
    match = CSRF.search(html)
    if not match:
        raise SystemExit("no csrf_token in the page")
    return match.group(1) or match.group(2)


def desk_loop(stop: threading.Event, n: int, answers: list, unit_id: int) -> None:
    """Log in, then log an incident on the desk form; again until the import ends."""
    minute = 0
    while not stop.is_set():
        opener = client()
        status, html, _s = call(opener, "/login")
        status, _text, seconds = call(
            opener,
            "/login",
            {"csrf_token": token(html), "username": "bench-admin", "password": "bench-password-1"},
        )
        answers.append(("登录", status, seconds))
        if status != 302:
            continue
        status, html, _s = call(opener, "/admin/incidents/new")
        minute += 1
        status, text, seconds = call(
            opener,
            "/admin/incidents/new",
            {
                "csrf_token": token(html),
                "unit_id": unit_id,
                "occurred_at": f"2025-12-19T{8 + n}:{minute % 60:02d}",
                "rule_code": "D08",
                "count": 1,
                "note": f"并发检查 {n}-{minute}",
            },
        )
        answers.append(("登记表", status, seconds))


def main() -> int:
    parser = argparse.ArgumentParser(description="login and desk form while an import writes (SQLite)")
    parser.add_argument("--rows", type=int, default=bench_imports.ROWS)
    args = parser.parse_args()
    from werkzeug.serving import make_server

    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        url = f"sqlite:///{folder / 'bench.db'}"
        bench_imports.write_csv(folder / "incidents.csv", args.rows)
        app = bench_imports.make_app(url, None)
        app.config.update(RATELIMIT_ENABLED=False, WTF_CSRF_ENABLED=True)
        with app.app_context():
            from flask_migrate import upgrade
            from sqlalchemy import func, select

            from models import Incident, Unit, db
            from services.rulebooks import ensure_shipped

            upgrade()
            ensure_shipped()
            db.session.commit()
            user = bench_imports.build_hall()
            unit_id = db.session.scalar(select(Unit.id).where(Unit.code == "U001"))
            db.session.remove()
        server = make_server("127.0.0.1", PORT, app, threaded=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        answers: list = []
        stop = threading.Event()
        clients = [threading.Thread(target=desk_loop, args=(stop, n, answers, unit_id)) for n in range(2)]
        for c in clients:
            c.start()
        time.sleep(2)  # the clients are answered before the import starts
        before = len(answers)
        t0 = time.perf_counter()
        command = [
            sys.executable,
            str(ROOT / "bench" / "imports.py"),
            "--child",
            str(folder / "incidents.csv"),
        ]
        command += ["--url", url, "--user", str(user)]
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        seconds = time.perf_counter() - t0
        stop.set()
        for c in clients:
            c.join()
        server.shutdown()
        during = answers[before:]
        with app.app_context():
            held = db.session.scalar(select(func.count(Incident.id)).where(Incident.source == "import"))
            desk = db.session.scalar(select(func.count(Incident.id)).where(Incident.source != "import"))
            db.session.remove()
    print(f"导入 {args.rows:,} 行(SQLite,导入任务在子进程中){seconds:.1f} s,写入 {held:,} 条")
    print(f"导入任务:{done.stdout.strip()}")
    statuses = Counter((what, status) for what, status, _s in during)
    slowest = max((s for _w, _st, s in during), default=0)
    median = statistics.median(s for _w, _st, s in during) if during else 0
    print(
        "导入期间:"
        + ",".join(f"{what} {status} × {n}" for (what, status), n in sorted(statuses.items()))
        + f";中位 {median:.2f} s,最慢 {slowest:.2f} s;登记表共写入 {desk} 条"
    )
    bad = [
        a
        for a in during
        if a[1] >= 500 or (a[0] == "登录" and a[1] != 302) or (a[0] == "登记表" and a[1] != 302)
    ]
    ok = not bad and held == args.rows and done.returncode == 0 and during
    print("结果:" + ("登录和登记表在导入期间都正常应答(等待,未出错)" if ok else f"有出错的应答:{bad[:5]}"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
