"""Every route for every role against the access policy written out below (product.md, "Who uses it").

The policy is a table in this file, not read from the views' own decorators: widening a permission in a view
makes this test fail until the table is changed too, on purpose. A route of the URL map that the table does
not list fails `test_every_route_is_in_the_policy`, so a new route cannot slip in without a decision.

Outcomes: where a role is not allowed, anonymous is sent to /login, a logged-in user gets 403 (or 404);
where it is allowed, never 403, never 500, never a redirect to /login. A unit user asking for another
unit's data (items, notices, evidence, exports) gets 403/404 and never the data.
"""

from __future__ import annotations

import io
import re
from datetime import date, datetime

import pytest
from flask import g
from openpyxl import load_workbook
from PIL import Image
from sqlalchemy import select

from auth.sessions import session_fields
from models import Job, Notification, Role, db
from models.notice import Notice, NoticeAttachment
from services import evidence, kiosk
from services.evidence import Upload
from tests.html import parse

ANON = "anonymous"
ADMIN, INSPECTOR, LEADER, UNIT = (Role.ADMIN.value, Role.INSPECTOR.value, Role.LEADER.value, Role.UNIT.value)
ROLES = [ANON, ADMIN, INSPECTOR, LEADER, UNIT]

EVERYONE = frozenset(ROLES)
LOGGED_IN = frozenset({ADMIN, INSPECTOR, LEADER, UNIT})
STAFF = frozenset({ADMIN, INSPECTOR, LEADER})  # the hall's own people: admin pages that read
DESK = frozenset({ADMIN, INSPECTOR})  # who logs incidents
READERS = frozenset({ADMIN, LEADER})  # admins and the bureau (audit log, months)
ADMIN_ONLY = frozenset({ADMIN})
UNIT_ONLY = frozenset({UNIT})

# "METHOD rule" -> the roles allowed. Written by hand from product.md; keep it that way.
POLICY: dict[str, frozenset[str]] = {
    # login, home, own password
    "GET /": EVERYONE,
    "GET /login": EVERYONE,
    "POST /login": EVERYONE,
    "POST /logout": LOGGED_IN,
    "GET /account/password": LOGGED_IN,
    "POST /account/password": LOGGED_IN,
    # the hall screen and the API: no login
    "GET /kiosk/": EVERYONE,
    "GET /kiosk/live": EVERYONE,
    "GET /api/standings": EVERYONE,
    # the intranet: reading
    "GET /admin/": STAFF,
    "GET /admin/standings": STAFF,
    "GET /admin/standings/<month>/units/<int:unit_id>": STAFF,
    # spreadsheets and the yearly summary: admins and leaders (inspectors read the pages, download nothing)
    "GET /admin/standings/<month>/rankings.xlsx": READERS,
    "GET /admin/standings/<month>/details.xlsx": READERS,
    "GET /admin/years/<int:year>/details.xlsx": READERS,
    "GET /admin/incidents/export.xlsx": READERS,
    "GET /admin/tallies/<int:year>.xlsx": READERS,
    # the heavy ones as background jobs (the PDF batch of the detail tables: whoever reads the document); the
    # job's page, file and rerun: its starter or an admin (others 404), checked in test_export_jobs.py
    "POST /admin/exports/year-details": READERS,
    "POST /admin/exports/incidents": READERS,
    "POST /admin/exports/tallies": READERS,
    "POST /admin/exports/month-details": STAFF,
    "POST /admin/exports/honor-letters": READERS,
    "GET /admin/exports/jobs/<int:job_id>": STAFF,
    "GET /admin/exports/jobs/<int:job_id>/file": STAFF,
    "POST /admin/exports/jobs/<int:job_id>/again": STAFF,
    "GET /admin/years": READERS,
    "GET /admin/years/<int:year>": READERS,
    "GET /admin/years/<int:year>/summary.xlsx": READERS,
    "GET /admin/years/<int:year>/document": READERS,
    "GET /admin/tallies": STAFF,
    "GET /admin/incidents": STAFF,
    "GET /admin/incidents/<int:incident_id>": STAFF,
    "GET /admin/incidents/<int:incident_id>/notice": STAFF,
    "GET /admin/incidents/<int:incident_id>/notice.pdf": STAFF,
    "GET /admin/rulebooks": STAFF,
    "GET /admin/rulebooks/<key>": STAFF,
    "GET /admin/months/<month>/bulletin": STAFF,
    "GET /admin/months/<month>/bulletin.pdf": STAFF,
    "GET /admin/months/<month>/details": STAFF,
    "GET /admin/months/<month>/details.pdf": STAFF,
    "GET /admin/months/<month>/details/<int:unit_id>": STAFF,
    "GET /admin/months/<month>/details/<int:unit_id>.pdf": STAFF,
    "GET /admin/months": READERS,
    "GET /admin/audit": READERS,
    # evidence photos: whoever may see the incident (a unit user only its own unit's, checked below)
    "GET /admin/evidence/<int:evidence_id>": LOGGED_IN,
    # logging incidents: the desk form and the patrol sheet
    "GET /admin/incidents/new": DESK,
    "POST /admin/incidents/new": DESK,
    "POST /admin/incidents/<int:incident_id>/evidence": DESK,
    "GET /admin/patrol": DESK,
    "GET /admin/patrol/blank": DESK,
    "GET /admin/patrol/blank.pdf": DESK,
    "GET /admin/patrol/record": DESK,
    "POST /admin/patrol/record/<int:incident_id>": DESK,
    "POST /admin/patrol/tap": DESK,
    "POST /admin/patrol/undo": DESK,
    # reviewing incidents: admins
    "GET /admin/incidents/<int:incident_id>/correct": ADMIN_ONLY,
    "POST /admin/incidents/<int:incident_id>/correct": ADMIN_ONLY,
    "POST /admin/incidents/<int:incident_id>/void": ADMIN_ONLY,
    "GET /admin/detections": READERS,
    "POST /admin/detections/run": ADMIN_ONLY,
    "GET /admin/detections/jobs/<int:job_id>": ADMIN_ONLY,
    "POST /admin/detections/<int:incident_id>/confirm": ADMIN_ONLY,
    "POST /admin/detections/<int:incident_id>/dismiss": ADMIN_ONLY,
    "POST /admin/detections/bulk": ADMIN_ONLY,
    # months: admins close and reopen; the bureau publishes too
    "POST /admin/months/<month>/close": ADMIN_ONLY,
    "POST /admin/months/<month>/publish": READERS,
    "POST /admin/months/<month>/reopen": ADMIN_ONLY,
    # keeping the hall's data: admins; leaders read the lists (units, staff, calendar, users, the screen's
    # settings, the detections queue) and change nothing
    "GET /admin/units": READERS,
    "GET /admin/units/new": ADMIN_ONLY,
    "POST /admin/units/new": ADMIN_ONLY,
    "GET /admin/units/<int:unit_id>/edit": ADMIN_ONLY,
    "POST /admin/units/<int:unit_id>/edit": ADMIN_ONLY,
    "GET /admin/staff": READERS,
    "GET /admin/staff/new": ADMIN_ONLY,
    "POST /admin/staff/new": ADMIN_ONLY,
    "GET /admin/staff/<int:staff_pk>": READERS,
    "POST /admin/staff/<int:staff_pk>/end": ADMIN_ONLY,
    "POST /admin/staff/<int:staff_pk>/leave": ADMIN_ONLY,
    "POST /admin/staff/<int:staff_pk>/move": ADMIN_ONLY,
    "GET /admin/users": READERS,
    "GET /admin/users/new": ADMIN_ONLY,
    "POST /admin/users/new": ADMIN_ONLY,
    "GET /admin/users/<int:user_id>/edit": ADMIN_ONLY,
    "POST /admin/users/<int:user_id>/edit": ADMIN_ONLY,
    "POST /admin/users/<int:user_id>/password": ADMIN_ONLY,
    "GET /admin/users/import": ADMIN_ONLY,
    "POST /admin/users/import": ADMIN_ONLY,
    "GET /admin/users/import/template.csv": ADMIN_ONLY,
    "GET /admin/calendar": READERS,
    "POST /admin/calendar/days/<day>": ADMIN_ONLY,
    "POST /admin/calendar/outages": ADMIN_ONLY,
    "GET /admin/rulebooks/<key>/new": ADMIN_ONLY,
    "POST /admin/rulebooks/<key>/new": ADMIN_ONLY,
    "GET /admin/import": ADMIN_ONLY,
    "POST /admin/import": ADMIN_ONLY,
    "POST /admin/import/<token>": ADMIN_ONLY,
    "GET /admin/import/jobs/<int:job_id>": ADMIN_ONLY,
    "GET /admin/import/templates/<kind>.csv": ADMIN_ONLY,
    "GET /admin/kiosk": READERS,
    "POST /admin/kiosk": ADMIN_ONLY,
    "POST /admin/kiosk/screens": ADMIN_ONLY,
    "POST /admin/kiosk/screens/<int:screen_id>/token": ADMIN_ONLY,
    "POST /admin/kiosk/screens/<int:screen_id>/revoke": ADMIN_ONLY,
    "GET /admin/documents/settings": ADMIN_ONLY,
    "POST /admin/documents/settings": ADMIN_ONLY,
    # the honor roll: admins choose, publish and unpublish; leaders read; both print the praise letters
    "GET /admin/honors": READERS,
    "GET /admin/honors/<period>": READERS,
    "POST /admin/honors/<period>/select": ADMIN_ONLY,
    "POST /admin/honors/<period>/publish": ADMIN_ONLY,
    "POST /admin/honors/<period>/unpublish": ADMIN_ONLY,
    "GET /admin/honors/<period>/letters/<int:unit_id>": READERS,
    "GET /admin/honors/<period>/letters/<int:unit_id>.pdf": READERS,
    # units' appeals, rectification reports and bonus claims: the bureau reads them, admins decide; the files
    # go to the hall's people and to the unit that sent them (checked below)
    "GET /admin/requests": READERS,
    "POST /admin/requests/appeals/<int:appeal_id>/decide": ADMIN_ONLY,
    "POST /admin/requests/rectifications/<int:report_id>/decide": ADMIN_ONLY,
    "POST /admin/requests/claims/<int:claim_id>/decide": ADMIN_ONLY,
    "GET /admin/requests/files/<int:file_id>": LOGGED_IN,
    "GET /portal/requests": UNIT_ONLY,
    "GET /portal/items/<int:incident_id>/appeal": UNIT_ONLY,
    "POST /portal/items/<int:incident_id>/appeal": UNIT_ONLY,
    "GET /portal/items/<int:incident_id>/rectified": UNIT_ONLY,
    "POST /portal/items/<int:incident_id>/rectified": UNIT_ONLY,
    "GET /portal/items/<int:incident_id>/extension": UNIT_ONLY,
    "POST /portal/items/<int:incident_id>/extension": UNIT_ONLY,
    "GET /portal/claims/new": UNIT_ONLY,
    "POST /portal/claims/new": UNIT_ONLY,
    # the unit portal: unit users, their own unit only
    "GET /portal/": UNIT_ONLY,
    "GET /portal/months/<month>": UNIT_ONLY,
    "GET /portal/months/<month>/detail.xlsx": UNIT_ONLY,
    "GET /portal/items/<int:incident_id>": UNIT_ONLY,
    "GET /portal/items/<int:incident_id>/notice": UNIT_ONLY,
    "GET /portal/items/<int:incident_id>/notice.pdf": UNIT_ONLY,
    "GET /portal/months/<month>/bulletin": UNIT_ONLY,
    "GET /portal/months/<month>/bulletin.pdf": UNIT_ONLY,
    "GET /portal/months/<month>/details": UNIT_ONLY,
    "GET /portal/months/<month>/details.pdf": UNIT_ONLY,
    "GET /portal/rankings": UNIT_ONLY,
    "GET /portal/inbox": UNIT_ONLY,
    "GET /portal/inbox/<int:notification_id>": UNIT_ONLY,
    "POST /portal/inbox/read-all": UNIT_ONLY,
    "GET /admin/months/<month>/receipts": READERS,
    # notices that need an answer (书面通报): admins and leaders follow them; the unit answers its own
    "GET /admin/notices": READERS,
    "GET /admin/notices/<int:notice_id>": READERS,
    "GET /admin/notices/<int:notice_id>/document": READERS,
    "GET /admin/notices/attachments/<int:attachment_id>": READERS,
    "GET /admin/letters": READERS,
    "GET /admin/letters/<month>/<flag>": READERS,
    "GET /portal/notices": UNIT_ONLY,
    "GET /portal/notices/<int:notice_id>": UNIT_ONLY,
    "POST /portal/notices/<int:notice_id>/read": UNIT_ONLY,
    "POST /portal/notices/<int:notice_id>/answer": UNIT_ONLY,
    "GET /portal/notices/attachments/<int:attachment_id>": UNIT_ONLY,
    "GET /portal/warnings": UNIT_ONLY,
}

# Routes whose answer, even to a role they serve, is a redirect to the login page (the home page of someone
# not logged in; logging out).
TO_LOGIN_ON_PURPOSE = {"GET /", "POST /logout"}

PARAM = re.compile(r"<(?:(\w+)(?:\([^)]*\))?:)?(\w+)>")


def png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (4, 4), (10, 120, 200)).save(out, format="PNG")
    return out.getvalue()


def route_keys(app) -> list[tuple[str, str, object]]:
    """(key, method, rule) for every method of every route but the static files, in the table's form."""
    out = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            out.append((f"{method} {rule.rule}", method, rule))
    return sorted(out, key=lambda k: k[0])


@pytest.fixture
def samples(make):
    """Rows for every kind of id a route may take. The incident and its evidence belong to the OTHER unit
    (U02); the unit user belongs to U01, which has its own incident and photo."""
    own = make.unit("U01", name="本单位")
    other = make.unit("U02", name="其他单位")
    staff = make.staff(other, "S001")
    incident = make.incident(
        other, "D01", at=datetime(2024, 3, 5, 9, 0), staff=staff, window="1", public_text="其他单位的情况说明"
    )
    [photo] = evidence.store(incident, [Upload("photo.png", "image/png", png())])
    own_incident = make.incident(own, "D04a", at=datetime(2024, 3, 6, 9, 0), public_text="本单位的情况说明")
    [own_photo] = evidence.store(own_incident, [Upload("own.png", "image/png", png())])
    # The other unit's notice (书面通报) and an attachment of its answer.
    notice = Notice(
        unit=other,
        year=2024,
        month=2,
        flag="notice_feedback",
        reasons=[f"incident:{incident.id}"],
        opened_on=date(2024, 3, 1),
        deadline=date(2024, 3, 8),
        answered_late=False,
    )
    notice_file = NoticeAttachment(
        notice=notice, filename="答复.png", stored_name="0" * 32 + ".png", content_type="image/png", size=1
    )
    db.session.add_all([notice, notice_file])
    detect_job = Job(
        kind="detect",
        status="done",
        result={"month": "2024-03", "proposed": 0, "existing": 0, "unknown_staff": []},
    )
    import_job = Job(kind="import", status="done", result={"kind": "units", "text": "完成"})
    db.session.add_all([detect_job, import_job])
    screen, _token = kiosk.register_screen("二楼东厅", "landscape", None)
    db.session.commit()
    users = {
        role: make.user(role, username=f"matrix-{role}", unit=own if role == UNIT else None)
        for role in ROLES[1:]
    }
    ints = {
        "unit_id": other.id,
        "staff_pk": staff.id,
        "staff_id": staff.id,
        "incident_id": incident.id,
        "evidence_id": photo.id,
        "user_id": users[ADMIN].id,
        # The other unit's notification (its incident's): a unit user opening it gets 404.
        "notification_id": db.session.scalar(select(Notification.id).where(Notification.unit_id == other.id)),
        **request_samples(other, incident),
        "year": 2024,
        "notice_id": notice.id,
        "attachment_id": notice_file.id,
        "screen_id": screen.id,
    }
    strings = {
        "month": "2024-03",
        "key": "anshan-2023",
        "day": "2024-03-05",
        "token": "t" * 32,
        "kind": "units",
        "code": other.code,
        "flag": "discipline_report",
        "period": "2024-Q1",
    }
    return {
        "users": users,
        "ints": ints,
        "strings": strings,
        "jobs": {"detect": detect_job.id, "import": import_job.id},
        "own": own,
        "other": other,
        "own_incident": own_incident,
        "own_photo": own_photo,
    }


def request_samples(other, incident) -> dict:
    """The other unit's appeal, rectification report, bonus claim and attached file (ids for the routes)."""
    from datetime import date

    from models import Appeal, BonusClaim, RectificationReport, RequestFile

    appeal = Appeal(incident=incident, unit_id=other.id, reason="其他单位的申诉")
    report = RectificationReport(incident=incident, unit_id=other.id, rectified_on=date(2024, 3, 6))
    claim = BonusClaim(unit_id=other.id, rule_code="B01", occurred_on=date(2024, 3, 6), description="锦旗")
    db.session.add_all([appeal, report, claim])
    db.session.flush()
    upload = RequestFile(
        unit_id=other.id,
        appeal_id=appeal.id,
        filename="a.png",
        stored_name="matrix.png",
        content_type="image/png",
        size=4,
    )
    db.session.add(upload)
    db.session.commit()
    return {"appeal_id": appeal.id, "report_id": report.id, "claim_id": claim.id, "file_id": upload.id}


def build_url(app, rule, method: str, samples) -> str:
    """The rule's address with a sample value for each parameter (an id of a row the test made)."""
    values = {}
    for converter, name in PARAM.findall(rule.rule):
        if converter == "int" and name == "job_id":
            values[name] = samples["jobs"]["import" if "import" in rule.endpoint else "detect"]
        elif converter == "int":
            assert name in samples["ints"], f"no sample for <{name}> in {rule.rule}: add one"
            values[name] = samples["ints"][name]
        else:
            assert name in samples["strings"], f"no sample for <{name}> in {rule.rule}: add one"
            values[name] = samples["strings"][name]
    return app.url_map.bind("localhost").build(rule.endpoint, values, method=method)


def request_as(client, user, method: str, url: str, **kwargs):
    """One request with a clean login state: the tests share one app context, so Flask-Login's cached
    user in `g` must not leak from one request into the next."""
    g.pop("_login_user", None)
    with client.session_transaction() as session:
        session.clear()
        if user is not None:
            session.update(session_fields(user))  # as a login leaves it (auth/sessions.py)
    response = client.open(url, method=method, **kwargs)
    g.pop("_login_user", None)
    return response


def goes_to_login(response) -> bool:
    return response.status_code in (301, 302, 303) and "/login" in response.headers.get("Location", "")


def test_every_route_is_in_the_policy(app):
    keys = {key for key, _, _ in route_keys(app)}
    unlisted = sorted(keys - POLICY.keys())
    assert not unlisted, f"routes missing from POLICY (decide who may use them): {unlisted}"
    gone = sorted(POLICY.keys() - keys)
    assert not gone, f"POLICY lists routes the app no longer has: {gone}"


def test_the_views_declare_the_same_roles_as_the_policy(app):
    """Each view's decorator says the same as the table (so the table is not just looser than the code)."""
    mismatches = []
    for key, _, rule in route_keys(app):
        declared = set(getattr(app.view_functions[rule.endpoint], "allowed_roles", ()))
        if "public" in declared:
            declared = set(EVERYONE)
        elif "any" in declared:
            declared = set(LOGGED_IN)
        if declared != set(POLICY.get(key, declared)):
            mismatches.append(f"{key}: view {sorted(declared)}, policy {sorted(POLICY[key])}")
    assert not mismatches, "\n".join(mismatches)


@pytest.mark.parametrize("role", ROLES)
def test_role_matrix(app, client, samples, role):
    user = None if role == ANON else samples["users"][role]
    failures = []
    refused = allowed_count = 0
    for key, method, rule in route_keys(app):
        allowed = role in POLICY.get(key, frozenset())
        url = build_url(app, rule, method, samples)
        response = request_as(client, user, method, url)
        status = response.status_code
        if status == 500:
            failures.append(f"{key} ({url}) as {role}: 500")
        elif allowed:
            allowed_count += 1
            if status == 403 or (goes_to_login(response) and key not in TO_LOGIN_ON_PURPOSE):
                failures.append(f"{key} ({url}) as {role}: allowed by the policy, got {status}")
        else:
            refused += 1
            ok = goes_to_login(response) if role == ANON else status in (403, 404)
            if not ok:
                failures.append(f"{key} ({url}) as {role}: not allowed by the policy, got {status}")
    assert not failures, "\n".join(failures)
    # Every role meets both kinds of route, so neither branch is vacuous.
    assert refused > 0 and allowed_count > 0
    assert refused + allowed_count == len(route_keys(app)) > 60


def test_a_refused_post_writes_nothing(app, client, samples):
    """An inspector voiding and a leader closing are refused, and the incident and month are untouched."""
    from models import Incident, Month

    incident_id = samples["ints"]["incident_id"]
    assert (
        request_as(
            client,
            samples["users"][INSPECTOR],
            "POST",
            f"/admin/incidents/{incident_id}/void",
            data={"reason": "x"},
        ).status_code
        == 403
    )
    assert (
        request_as(client, samples["users"][LEADER], "POST", "/admin/months/2024-02/close").status_code == 403
    )
    db.session.expire_all()
    assert db.session.get(Incident, incident_id).status == "confirmed"
    assert db.session.query(Month).count() == 0


def test_a_unit_user_never_gets_another_units_data(app, client, samples):
    unit_user = samples["users"][UNIT]
    other_id = samples["ints"]["incident_id"]
    own = samples["own_incident"]
    for url in (
        f"/portal/items/{other_id}",
        f"/portal/items/{other_id}/notice",
        f"/portal/items/{other_id}/notice.pdf",
        f"/admin/evidence/{samples['ints']['evidence_id']}",
        f"/admin/incidents/{other_id}",
        f"/admin/incidents/{other_id}/notice",
        f"/admin/incidents/{other_id}/notice.pdf",
        f"/admin/standings/2024-03/units/{samples['other'].id}",
        f"/portal/notices/{samples['ints']['notice_id']}",
        f"/portal/notices/attachments/{samples['ints']['attachment_id']}",
    ):
        response = request_as(client, unit_user, "GET", url)
        assert response.status_code in (403, 404), url
        body = response.get_data()
        assert "其他单位的情况说明".encode() not in body and png() not in body, url

    # Its own incident, notice and photo it does get: the refusals above are about whose data it is.
    item = parse(request_as(client, unit_user, "GET", f"/portal/items/{own.id}").get_data(as_text=True))
    assert item.text_of("item-text") == "本单位的情况说明"
    notice = request_as(client, unit_user, "GET", f"/portal/items/{own.id}/notice")
    assert parse(notice.get_data(as_text=True)).text_of("notice-unit") == "本单位"
    photo = request_as(client, unit_user, "GET", f"/admin/evidence/{samples['own_photo'].id}")
    assert photo.status_code == 200 and photo.data == png()


def test_a_unit_users_pages_and_export_hold_only_its_unit(app, client, samples):
    """Asking the portal for another unit (a unit_id or code in the address) still shows one's own."""
    unit_user = samples["users"][UNIT]
    other = samples["other"]
    for query in ({}, {"unit_id": other.id}, {"unit": other.code}, {"code": other.code}):
        page = parse(request_as(client, unit_user, "GET", "/portal/months/2024-03", query_string=query).text)
        items = page.text_of("deduction-items")
        assert "D04a" in items and "D01" not in items and "其他单位的情况说明" not in items

        export = request_as(
            client, unit_user, "GET", "/portal/months/2024-03/detail.xlsx", query_string=query
        )
        assert export.status_code == 200
        cells = [
            str(c)
            for sheet in load_workbook(io.BytesIO(export.data)).worksheets
            for row in sheet.iter_rows(values_only=True)
            for c in row
            if c is not None
        ]
        text = " ".join(cells)
        assert "本单位" in text and "其他单位" not in text and "其他单位的情况说明" not in text
