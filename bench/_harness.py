"""What the HTTP benchmarks share: gunicorn started as the README runs it, and a light HTTP client.

The client is `http.client` on one keep-alive connection per simulated user, with the session cookie
kept by hand: on a 2-core machine the load generator shares the CPU with the server, so it must cost
little per request (a `requests`-style client would take a good part of the CPU it measures).
"""

from __future__ import annotations

import http.client
import os
import re
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent

# As the README's production line: `gunicorn -w 2 -k gthread --threads 8 -b 0.0.0.0:8000 'app:create_app()'`.
GUNICORN = os.environ.get("BENCH_GUNICORN", "-w 2 -k gthread --threads 8").split()  # the env: experiments
CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"|value="([^"]+)"[^>]*name="csrf_token"')


def database_url(target: str) -> str:
    """A path is a SQLite file; postgres:// and postgresql:// use psycopg 3 (as config.database_url)."""
    if "://" not in target:
        return f"sqlite:///{Path(target).resolve()}"
    for prefix in ("postgres://", "postgresql://"):
        if target.startswith(prefix):
            return "postgresql+psycopg://" + target[len(prefix) :]
    return target


@contextmanager
def throwaway_schema(target: str, prefix: str) -> Iterator[tuple[str, str]]:
    """A PostgreSQL schema of this run's own (`<prefix>_<pid>`) in the database `target` names, dropped at
    the end: yields the psycopg 3 URL and the schema's name."""
    from sqlalchemy import create_engine, text

    url = database_url(target)
    schema = f"{prefix}_{os.getpid()}"
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield url, schema
    finally:
        with engine.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        engine.dispose()


class Server:
    """gunicorn on 127.0.0.1:port against `url`, stopped (its whole process group) on exit."""

    def __init__(self, url: str, port: int, extra_env: dict | None = None):
        self.url, self.port = url, port
        self.env = {**os.environ, "DATABASE_URL": url, "SECRET_KEY": "bench-only", **(extra_env or {})}
        self.command = [
            str(ROOT / ".venv/bin/gunicorn"),
            *GUNICORN,
            "-b",
            f"127.0.0.1:{port}",
            "--log-level",
            "warning",
            "app:create_app()",
        ]
        self.process: subprocess.Popen | None = None

    def describe(self) -> str:
        return "gunicorn " + " ".join(GUNICORN) + f" -b 127.0.0.1:{self.port} 'app:create_app()'"

    def __enter__(self) -> Server:
        self.process = subprocess.Popen(self.command, cwd=ROOT, env=self.env, start_new_session=True)
        end = time.time() + 60
        while time.time() < end:
            if self.process.poll() is not None:
                raise SystemExit("gunicorn exited: see its output above")
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
                conn.request("GET", "/login")
                if conn.getresponse().status == 200:
                    conn.close()
                    return self
            except OSError:
                time.sleep(0.3)
        self.__exit__()
        raise SystemExit("gunicorn did not answer within 60 s")

    def __exit__(self, *exc) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)


class Client:
    """One user: a keep-alive connection and its cookies."""

    def __init__(self, port: int, cookies: dict | None = None):
        self.port = port
        self.cookies: dict[str, str] = dict(cookies or {})
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)

    def request(
        self, method: str, path: str, body: dict | None = None, headers: dict | None = None
    ) -> tuple[int, str, dict]:
        headers = dict(headers or {})
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        data = None
        if body is not None:
            data = urlencode(body, doseq=True)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        for attempt in (1, 2):
            try:
                self.conn.request(method, path, body=data, headers=headers)
                response = self.conn.getresponse()
                text = response.read().decode("utf-8", "replace")
                break
            except (OSError, http.client.HTTPException):
                self.conn.close()
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
                if attempt == 2:
                    raise
        for name, value in response.getheaders():
            if name.lower() == "set-cookie":
                key, _, rest = value.partition("=")
                self.cookies[key.strip()] = rest.split(";", 1)[0]
        return response.status, text, {k.lower(): v for k, v in response.getheaders()}

    def get(self, path: str, headers: dict | None = None) -> tuple[int, str, dict]:
        return self.request("GET", path, headers=headers)

    def csrf(self, path: str) -> str:
        status, text, _ = self.get(path)
        match = CSRF.search(text)
        if status != 200 or not match:
            raise SystemExit(f"no CSRF token on {path} (HTTP {status})")
        return match.group(1) or match.group(2)

    def login(self, username: str, password: str) -> None:
        token = self.csrf("/login")
        status, _text, headers = self.request(
            "POST", "/login", {"csrf_token": token, "username": username, "password": password}
        )
        if status != 302:
            raise SystemExit(f"login as {username} failed (HTTP {status})")

    def close(self) -> None:
        self.conn.close()


def percentile(sorted_values: list[float], share: float) -> float:
    if not sorted_values:
        return 0.0
    return sorted_values[min(len(sorted_values) - 1, int(len(sorted_values) * share))]
