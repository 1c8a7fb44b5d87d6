"""Checks of the production set-up started by deploy/try_on_one_machine.sh (nginx with TLS in front of two app
servers, an RQ worker, PostgreSQL, Redis, shared EVIDENCE_DIR/IMPORT_DIR). Prints each check and its result;
exits non-zero if one fails. Needs the demo hall (admin / admin123).

Usage: .venv/bin/python deploy/trial_checks.py --https 5149 --http 5148 --web 5140 5141
"""

from __future__ import annotations

import argparse
import http.client
import io
import re
import ssl
import sys
import time
import uuid
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"|value="([^"]+)"[^>]*name="csrf_token"')
FAILED: list[str] = []


def check(name: str, ok: bool, detail: str = "") -> None:
    print(f"[{'ok' if ok else 'FAIL'}] {name}{': ' + detail if detail else ''}")
    if not ok:
        FAILED.append(name)


class Browser:
    """One client with its cookies, over https to nginx or plain http to one app server."""

    def __init__(self, port: int, tls: bool):
        self.port, self.tls = port, tls
        self.cookies: dict[str, str] = {}

    def request(self, method: str, path: str, body: bytes | None = None, headers: dict | None = None):
        if self.tls:
            context = ssl.create_default_context()
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE  # the trial's self-signed certificate
            conn = http.client.HTTPSConnection("127.0.0.1", self.port, timeout=30, context=context)
        else:
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        headers = dict(headers or {})
        if method == "POST":
            # As a browser sends it (same origin); Flask-WTF checks it on HTTPS requests.
            headers.setdefault("Referer", f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}{path}")
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        data = response.read()
        for name, value in response.getheaders():
            if name.lower() == "set-cookie":
                key, _, rest = value.partition("=")
                self.cookies[key.strip()] = rest.split(";", 1)[0]
        conn.close()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, data

    def get(self, path: str, headers: dict | None = None):
        return self.request("GET", path, headers=headers)

    def csrf(self, path: str) -> str:
        status, _, data = self.get(path)
        match = CSRF.search(data.decode("utf-8", "replace"))
        assert status == 200 and match, f"no form on {path} (HTTP {status})"
        return match.group(1) or match.group(2)

    def post_form(self, path: str, fields: dict, files: dict | None = None):
        if not files:
            body = urlencode(fields).encode()
            return self.request("POST", path, body, {"Content-Type": "application/x-www-form-urlencoded"})
        boundary = uuid.uuid4().hex
        out = io.BytesIO()
        for key, value in fields.items():
            out.write(
                f'--{boundary}\r\nContent-Disposition: form-data; name="{key}"\r\n\r\n{value}\r\n'.encode()
            )
        for key, (filename, content, mime) in files.items():
            out.write(
                f'--{boundary}\r\nContent-Disposition: form-data; name="{key}"; filename="{filename}"\r\n'
                f"Content-Type: {mime}\r\n\r\n".encode()
            )
            out.write(content + b"\r\n")
        out.write(f"--{boundary}--\r\n".encode())
        return self.request(
            "POST", path, out.getvalue(), {"Content-Type": f"multipart/form-data; boundary={boundary}"}
        )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--https", type=int, default=5149)
    parser.add_argument("--http", type=int, default=5148)
    parser.add_argument("--web", type=int, nargs=2, default=[5140, 5141])
    args = parser.parse_args()
    one, two = args.web

    # Plain HTTP is sent to HTTPS.
    status, headers, _ = Browser(args.http, tls=False).get("/login")
    check(
        "http -> https",
        status == 301 and headers.get("location", "").startswith("https://"),
        f"{status} {headers.get('location')}",
    )

    # Log in through nginx; the requests are spread over both app servers.
    web = Browser(args.https, tls=True)
    token = web.csrf("/login")
    status, headers, _ = web.post_form(
        "/login", {"csrf_token": token, "username": "admin", "password": "admin123"}
    )
    check(
        "login through nginx (https)",
        status == 302 and "session" in web.cookies,
        f"{status} -> {headers.get('location')}",
    )
    upstreams = set()
    for _ in range(6):
        status, headers, data = web.get("/admin/")
        upstreams.add(headers.get("x-trial-upstream"))
    check(
        "admin pages through nginx, both app servers used",
        status == 200 and "工作台" in data.decode() and len(upstreams) == 2,
        f"upstreams {sorted(upstreams)}",
    )
    status, headers, _ = web.get("/admin/")
    hsts = headers.get("strict-transport-security", "")
    check(
        "HSTS and the app's CSP through nginx",
        "max-age" in hsts and "default-src 'self'" in headers.get("content-security-policy", ""),
    )

    # The same session cookie directly on each app server: one SECRET_KEY, sessions in the cookie.
    for port in (one, two):
        direct = Browser(port, tls=False)
        direct.cookies = dict(web.cookies)
        status, _, data = direct.get("/admin/")
        check(
            f"the nginx login is valid on app server :{port}",
            status == 200 and "工作台" in data.decode(),
            str(status),
        )

    # The hall screen's poll through nginx: 200 with an ETag, then 304 for If-None-Match (gzip accepted).
    screen = Browser(args.https, tls=True)
    gz = {"Accept-Encoding": "gzip, deflate, br"}
    status, headers, data = screen.get("/kiosk/live?screen=trial", gz)
    etag = headers.get("etag", "")
    check(
        "kiosk poll 200 with a strong ETag",
        status == 200 and etag.startswith('"') and headers.get("content-encoding") is None,
        f"ETag {etag}, {len(data)} bytes, Cache-Control {headers.get('cache-control')}",
    )
    # A change settles into the version within KIOSK_SETTLE_SECONDS (5 s in production): a 200 with a new ETag
    # is then right, and the screen asks with that one next.
    seen = []
    for _ in range(8):
        status, headers, data = screen.get("/kiosk/live?screen=trial", {**gz, "If-None-Match": etag})
        seen.append((status, headers.get("x-trial-upstream"), len(data)))
        if status == 200:
            etag = headers.get("etag", "")
    not_modified = [(u, n) for s, u, n in seen if s == 304]
    check(
        "kiosk poll with If-None-Match -> 304 (empty) through nginx, from both servers",
        len(not_modified) >= 6
        and {u for u, _ in not_modified} == {f"127.0.0.1:{one}", f"127.0.0.1:{two}"}
        and all(n == 0 for _, n in not_modified),
        str(seen),
    )

    # Evidence uploaded through app server one is served by app server two (EVIDENCE_DIR shared).
    a, b = Browser(one, tls=False), Browser(two, tls=False)
    a.cookies = dict(web.cookies)
    b.cookies = dict(web.cookies)
    from tests import images

    photo = images.png()
    form_token = a.csrf("/admin/incidents/new")
    page = a.get("/admin/incidents/new")[2].decode()
    unit_id = re.search(r'<option value="(\d+)"', page[page.index('name="unit_id"') :]).group(1)
    at = (datetime.now(ZoneInfo("Asia/Shanghai")) - timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M")
    status, headers, _ = a.post_form(
        "/admin/incidents/new",
        {
            "csrf_token": form_token,
            "unit_id": unit_id,
            "occurred_at": at,
            "rule_code": "D01",
            "count": "1",
            "action": "save",
            "note": "部署试运行",
        },
        {"evidence": ("trial.png", photo, "image/png")},
    )
    location = headers.get("location", "")
    check(
        f"incident with a photo logged on :{one}",
        status == 302 and "/admin/incidents/" in location,
        f"{status} {location}",
    )
    incident_path = location.split("://", 1)[-1]
    incident_path = incident_path[incident_path.index("/") :] if "://" in location else location
    detail = b.get(incident_path)[2].decode()
    match = re.search(r"/admin/evidence/(\d+)", detail)
    status, headers, data = b.get(f"/admin/evidence/{match.group(1)}") if match else (0, {}, b"")
    check(
        f"its photo served by :{two}",
        status == 200 and data == photo,
        f"{status}, {len(data)} bytes, same bytes: {data == photo}",
    )
    status, headers, data = web.get(f"/admin/evidence/{match.group(1)}") if match else (0, {}, b"")
    check("and through nginx", status == 200 and data == photo, headers.get("content-type", ""))

    # An import previewed on one server, confirmed on the other, run by the RQ worker (IMPORT_DIR shared).
    csv = "code,name,windows,display_order,active\nTRIAL1,部署试运行单位,9,99,true\n".encode()
    token = a.csrf("/admin/import")
    status, _, data = a.post_form(
        "/admin/import", {"csrf_token": token, "kind": "units"}, {"file": ("units.csv", csv, "text/csv")}
    )
    html = data.decode()
    match = re.search(r'action="/admin/import/([A-Za-z0-9_-]+)"', html)
    check(f"import previewed on :{one}", status == 200 and match is not None, str(status))
    token = b.csrf("/admin/import")
    status, headers, _ = b.post_form(f"/admin/import/{match.group(1)}", {"csrf_token": token})
    job = re.search(r"job=(\d+)", headers.get("location", ""))
    check(f"confirmed on :{two}", status == 302 and job is not None, f"{status} {headers.get('location')}")
    done = False
    for _ in range(60):
        status, _, data = b.get(f"/admin/import/jobs/{job.group(1)}")
        if status == 286:
            done = True
            break
        time.sleep(0.5)
    text = re.sub(r"<[^>]+>", " ", data.decode())
    check("the import ran on the RQ worker", done and "失败" not in text, " ".join(text.split())[:120])
    import os

    from redis import Redis
    from rq.job import Job
    from rq.registry import FinishedJobRegistry

    redis = Redis.from_url(os.environ["REDIS_URL"])
    queue = os.environ.get("JOBS_QUEUE", "hallscore")
    ran = [Job.fetch(i, connection=redis) for i in FinishedJobRegistry(queue, connection=redis).get_job_ids()]
    newest = max(ran, key=lambda j: j.ended_at) if ran else None
    check(
        "…on the worker (RQ's finished registry)",
        newest is not None and newest.worker_name is not None,
        f"{newest.func_name} by worker {newest.worker_name}, ended {newest.ended_at:%H:%M:%S} UTC"
        if newest
        else "",
    )
    units = web.get("/admin/units")[2].decode()
    check("the imported unit is there", "部署试运行单位" in units)

    print("RESULT:", "PASS" if not FAILED else f"FAIL ({', '.join(FAILED)})")
    sys.exit(1 if FAILED else 0)


if __name__ == "__main__":
    main()
