"""Every route for every role, built from the app's URL map, checked against the roles its view declares.

A view declares its roles with auth.access.role_required(...) (or public / "any" for logged-in users), which
sets `allowed_roles`; a route whose view declares none fails here, so a new route without a rule cannot
slip in. Outcomes: anonymous -> redirect to /login unless public; a role not allowed -> 403 (404 for a unit
user, who need not learn that another unit's data exists); an allowed role -> neither 403 nor 500.
"""

from __future__ import annotations

import io
import re
from datetime import datetime

import pytest
from flask import g
from PIL import Image

from models import Job, Role, db
from services import evidence
from services.evidence import Upload

ROLES = ["anonymous", Role.ADMIN.value, Role.INSPECTOR.value, Role.LEADER.value, Role.UNIT.value]
PARAM = re.compile(r"<(?:(\w+)(?:\([^)]*\))?:)?(\w+)>")


def png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (4, 4), (10, 120, 200)).save(out, format="PNG")
    return out.getvalue()


@pytest.fixture
def samples(make):
    """Rows for every kind of id a route may take; the incident and its evidence belong to the other unit."""
    own = make.unit("U01", name="本单位")
    other = make.unit("U02", name="其他单位")
    staff = make.staff(other, "S001")
    incident = make.incident(other, "D01", at=datetime(2024, 3, 5, 9, 0), staff=staff, window="1")
    [photo] = evidence.store(incident, [Upload("photo.png", "image/png", png())])
    detect_job = Job(
        kind="detect",
        status="done",
        result={"month": "2024-03", "proposed": 0, "existing": 0, "unknown_staff": []},
    )
    import_job = Job(kind="import", status="done", result={"kind": "units", "text": "完成"})
    db.session.add_all([detect_job, import_job])
    db.session.commit()
    users = {
        role: make.user(role, username=f"matrix-{role}", unit=own if role == Role.UNIT else None)
        for role in ROLES[1:]
    }
    ints = {
        "unit_id": other.id,
        "staff_pk": staff.id,
        "staff_id": staff.id,
        "incident_id": incident.id,
        "evidence_id": photo.id,
        "user_id": users[Role.ADMIN].id,
    }
    strings = {
        "month": "2024-03",
        "key": "anshan-2023",
        "day": "2024-03-05",
        "token": "t" * 32,
        "kind": "units",
        "code": other.code,
        "filename": "app.css",
    }
    return {
        "users": users,
        "ints": ints,
        "strings": strings,
        "jobs": {"detect": detect_job.id, "import": import_job.id},
    }


def build_url(app, rule, method: str, samples) -> str:
    """The rule's address with a sample value for each parameter (an id of a row the test made)."""
    values = {}
    for converter, name in PARAM.findall(rule.rule):
        if converter == "int" and name == "job_id":
            values[name] = samples["jobs"]["import" if "import" in rule.endpoint else "detect"]
        elif converter == "int":
            values[name] = samples["ints"].get(name, 1)
        else:
            values[name] = samples["strings"].get(name, "x")
    return app.url_map.bind("localhost").build(rule.endpoint, values, method=method)


def routes(app):
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        methods = rule.methods - {"HEAD", "OPTIONS"}
        yield rule, "GET" if "GET" in methods else sorted(methods)[0]


def request_as(client, app, user, method: str, url: str):
    """One request with a clean login state: the tests share one app context, so Flask-Login's cached
    user in `g` must not leak from one request into the next."""
    g.pop("_login_user", None)
    with client.session_transaction() as session:
        session.clear()
        if user is not None:
            session["_user_id"] = str(user.id)
            session["_fresh"] = True
    response = client.open(url, method=method)
    g.pop("_login_user", None)
    return response


def test_every_view_declares_its_roles(app):
    missing = [
        rule.endpoint
        for rule, _ in routes(app)
        if not getattr(app.view_functions[rule.endpoint], "allowed_roles", None)
    ]
    assert not missing, f"views without role_required/public: {missing}"


@pytest.mark.parametrize("role", ROLES)
def test_role_matrix(app, client, samples, role):
    user = None if role == "anonymous" else samples["users"][role]
    failures = []
    checked = 0
    for rule, method in sorted(routes(app), key=lambda r: r[0].rule):
        allowed = getattr(app.view_functions[rule.endpoint], "allowed_roles", ())
        url = build_url(app, rule, method, samples)
        response = request_as(client, app, user, method, url)
        status = response.status_code
        checked += 1
        if status == 500:
            failures.append(f"{method} {url}: 500")
            continue
        if "public" in allowed:
            ok = status != 403
        elif role == "anonymous":
            ok = status == 302 and "/login" in response.headers.get("Location", "")
        elif role in allowed or "any" in allowed:
            ok = status != 403
        elif role == Role.UNIT:
            ok = status in (403, 404)
        else:
            ok = status == 403
        if not ok:
            failures.append(f"{method} {url} as {role} (allowed {allowed}): {status}")
    assert checked > 40
    assert not failures, "\n".join(failures)


def test_a_unit_user_gets_404_for_another_units_incident(app, client, samples):
    unit_user = samples["users"][Role.UNIT]
    incident_id = samples["ints"]["incident_id"]
    for url in (f"/portal/items/{incident_id}", f"/portal/items/{incident_id}/notice"):
        assert request_as(client, app, unit_user, "GET", url).status_code == 404
