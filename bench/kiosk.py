"""Benchmark: 100 hall screens polling /kiosk/live, beside a static file, on the production server.

Starts gunicorn the way production runs it (`gunicorn -w 2 -k gthread --threads 8 'app:create_app()'`)
on a temporary SQLite database filled with a realistic hall (30 units, a few hundred incidents, last
month published), then for each target runs 100 simulated screens for ~10 s, each on its own keep-alive
connection (several client processes, so the client's GIL is not the bottleneck):

- poll: GET /kiosk/live?v=<version>&screen=<name> with If-None-Match, as the browser does; a 200 gives
  the screen its new version. An admin logs an incident every 2 s meanwhile, so the polls are mostly
  unchanged (204) with one full render per screen after each change.
- static: GET /static/css/kiosk.css, served by the same server.

The ~10 s of each target are run in alternating slices (poll, static, poll, …), so a busy machine
weighs on both alike. Prints both request rates and poll/static (aim: at least 0.5).
Usage: .venv/bin/python bench/kiosk.py [--seconds 10] [--screens 100] [--change-every 2] [--rounds 5]
"""

from __future__ import annotations

import argparse
import http.client
import multiprocessing
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import quote

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scoring.calendar import next_month  # noqa: E402
from services.demo import UNITS as DEMO_UNITS  # noqa: E402

# The demo hall's unit names, so the screens render realistic rows.
UNIT_NAMES = [name for _code, name, *_rest in DEMO_UNITS]
RULES = ["D01", "D02a", "D03", "D05a", "D07a", "D08", "D09", "D10", "D14", "B03", "B05"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def fill(database_url: str) -> None:
    """30 units and a year in use: ~30 incidents a month since January, every month before this one
    closed and published (as a hall runs it), this month live."""
    from flask_migrate import upgrade

    from app import create_app
    from models import Unit, db
    from services import incidents, months
    from services.clock import from_hall, hall_now
    from services.rulebooks import ensure_shipped

    app = create_app({"SQLALCHEMY_DATABASE_URI": database_url})
    rng = random.Random(5)
    with app.app_context():
        upgrade()
        ensure_shipped()
        units = [
            Unit(code=f"U{i + 1:02d}", name=name, windows="1;2;3", display_order=i)
            for i, name in enumerate(UNIT_NAMES)
        ]
        db.session.add_all(units)
        db.session.commit()
        now = hall_now().replace(tzinfo=None)
        for month in range(1, now.month + 1):
            start = datetime(now.year, month, 1)
            end = now if month == now.month else datetime(*next_month(now.year, month), 1)
            span = max(int((end - start).total_seconds()) - 60, 1)
            for _ in range(30):
                at = start + timedelta(seconds=rng.randrange(span))
                incidents.create(rng.choice(units), rng.choice(RULES), from_hall(at))
            db.session.commit()
            if month < now.month:
                months.close(now.year, month)
                months.publish(now.year, month)
                db.session.commit()


def change_now_and_then(database_url: str, every: float, stop: threading.Event) -> None:
    """An admin at work: an incident logged every `every` seconds, so the screens' version moves."""
    from app import create_app
    from models import Unit, db
    from services import incidents
    from services.clock import from_hall, hall_now

    app = create_app({"SQLALCHEMY_DATABASE_URI": database_url})
    rng = random.Random(7)
    with app.app_context():
        units = list(db.session.scalars(db.select(Unit)))
        while not stop.wait(every):
            at = hall_now().replace(tzinfo=None) - timedelta(minutes=1)
            incidents.create(rng.choice(units), rng.choice(RULES), from_hall(at))
            db.session.commit()


def screen(
    port: int, target: str, name: str, tag: str, deadline: float, counts: dict, lock: threading.Lock
) -> None:
    """One screen on one keep-alive connection, polling as fast as the server answers until the deadline.

    It starts from the version its page was loaded with (`tag`), as a browser's poller does."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    local: dict[int, int] = {}
    latencies: list[float] = []
    while time.perf_counter() < deadline:
        if target in ("poll", "changed"):  # "changed": a screen a version behind, served a new fragment
            path = f"/kiosk/live?v={quote(tag)}&screen={quote(name)}"
            headers = {"HX-Request": "true", "If-None-Match": f'"{tag}"'} if tag else {"HX-Request": "true"}
        else:
            path, headers = "/static/css/kiosk.css", {}
        started = time.perf_counter()
        try:
            conn.request("GET", path, headers=headers)
            response = conn.getresponse()
            response.read()
        except (OSError, http.client.HTTPException):
            local[0] = local.get(0, 0) + 1
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            continue
        latencies.append(time.perf_counter() - started)
        local[response.status] = local.get(response.status, 0) + 1
        if response.status == 200 and target == "poll":
            tag = response.getheader("X-Kiosk-Version", tag)
    conn.close()
    with lock:
        for status, n in local.items():
            counts[status] = counts.get(status, 0) + n
        counts.setdefault("latencies", []).extend(latencies)


def client_process(
    port: int, target: str, names: list[str], tag: str, start_at: float, seconds: float, out
) -> None:
    while time.time() < start_at:
        time.sleep(0.001)
    deadline = time.perf_counter() + seconds
    counts: dict = {}
    lock = threading.Lock()
    threads = [
        threading.Thread(target=screen, args=(port, target, n, tag, deadline, counts, lock)) for n in names
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    out.put(counts)


def current_tag(port: int) -> str:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("GET", "/kiosk/live")
    response = conn.getresponse()
    response.read()
    conn.close()
    return response.getheader("X-Kiosk-Version", "")


def run(port: int, target: str, screens: int, seconds: float, processes: int) -> dict:
    names = [f"大屏{i + 1:03d}" for i in range(screens)]
    tag = current_tag(port) if target == "poll" else "an-older-version" if target == "changed" else ""
    queue: multiprocessing.Queue = multiprocessing.Queue()
    start_at = time.time() + 0.5
    procs = [
        multiprocessing.Process(
            target=client_process, args=(port, target, names[i::processes], tag, start_at, seconds, queue)
        )
        for i in range(processes)
    ]
    for p in procs:
        p.start()
    total: dict = {"latencies": []}
    for _ in procs:
        part = queue.get()
        for key, value in part.items():
            if key == "latencies":
                total["latencies"].extend(value)
            else:
                total[key] = total.get(key, 0) + value
    for p in procs:
        p.join()
    lat = sorted(total.pop("latencies"))
    ok = sum(n for status, n in total.items() if status in (200, 204, 304))
    return {
        "rate": ok / seconds,
        "statuses": dict(sorted(total.items())),
        "requests": ok,
        "p50_ms": 1000 * lat[len(lat) // 2] if lat else 0.0,
        "p99_ms": 1000 * lat[int(len(lat) * 0.99)] if lat else 0.0,
    }


def wait_ready(port: int, process: subprocess.Popen, timeout: float = 30) -> None:
    end = time.time() + timeout
    while time.time() < end:
        if process.poll() is not None:
            raise SystemExit("gunicorn exited: see its output above")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/kiosk/live")
            if conn.getresponse().status == 200:
                return
        except OSError:
            time.sleep(0.2)
    raise SystemExit("gunicorn did not answer within 30 s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--screens", type=int, default=100)
    parser.add_argument(
        "--change-every", type=float, default=2.0, help="seconds between admin changes; 0: none"
    )
    parser.add_argument("--processes", type=int, default=4, help="client processes sharing the screens")
    parser.add_argument("--rounds", type=int, default=5, help="alternating poll/static slices")
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="hallscore-bench-"))
    database_url = f"sqlite:///{workdir / 'bench.db'}"
    port = free_port()
    env = {**os.environ, "DATABASE_URL": database_url, "SECRET_KEY": "bench-only"}
    os.environ.update({"DATABASE_URL": database_url, "SECRET_KEY": "bench-only"})
    print(f"Filling {database_url} …", flush=True)
    fill(database_url)
    command = [
        str(ROOT / ".venv/bin/gunicorn"),
        "-w",
        "2",
        "-k",
        "gthread",
        "--threads",
        "8",
        "-b",
        f"127.0.0.1:{port}",
        "--log-level",
        "warning",
        "app:create_app()",
    ]
    print("Server:", " ".join(command[:-1]), f"'{command[-1]}'", flush=True)
    server = subprocess.Popen(command, cwd=ROOT, env=env, start_new_session=True)
    stop = threading.Event()
    try:
        wait_ready(port, server)
        # Alternating slices, so a busy neighbour on the machine weighs on both rates alike.
        totals = {"poll": [], "static": []}
        for _ in range(args.rounds):
            for target in ("poll", "static"):
                changer = None
                if target == "poll" and args.change_every > 0:
                    changer = threading.Thread(
                        target=change_now_and_then, args=(database_url, args.change_every, stop), daemon=True
                    )
                    changer.start()
                totals[target].append(
                    run(port, target, args.screens, args.seconds / args.rounds, args.processes)
                )
                stop.set()
                if changer:
                    changer.join(timeout=5)
                stop.clear()
        results = {}
        for target, parts in totals.items():
            statuses: dict = {}
            for part in parts:
                for status, n in part["statuses"].items():
                    statuses[status] = statuses.get(status, 0) + n
            requests = sum(p["requests"] for p in parts)
            results[target] = r = {"rate": requests / args.seconds, "requests": requests}
            p50, p99 = max(p["p50_ms"] for p in parts), max(p["p99_ms"] for p in parts)
            print(
                f"{target:>6}: {r['rate']:8.0f} req/s  ({requests} in {args.seconds:.0f} s; worst slice: "
                f"p50 {p50:.1f} ms, p99 {p99:.1f} ms)  statuses {dict(sorted(statuses.items()))}",
                flush=True,
            )
        ratio = results["poll"]["rate"] / results["static"]["rate"] if results["static"]["rate"] else 0.0
        print(
            f"{args.screens} screens, poll/static = {ratio:.2f} (aim: >= 0.50) "
            f"on {os.cpu_count()} CPUs, gunicorn -w 2 -k gthread --threads 8"
        )
    finally:
        stop.set()
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
