"""Fuzzing every route (item 12 of issue 10): no input gives a 500, and a refused POST writes nothing.

The requests are built by tests/fuzz.py from the URL map, the query parameters in the views' source and the
forms the views build. Hypothesis draws them with a fixed seed (`derandomize=True`) and a bounded number of
examples, so the suite gives the same requests on every run; `FUZZ_EXAMPLES=2000` makes each test draw that
many instead, to look further on a developer's machine.
"""

from __future__ import annotations

import copy
import os
import re
from datetime import date, datetime

import pytest
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st
from sqlalchemy import inspect, select, update

from extensions import limiter
from models import Job, Notification, Role, User, db
from models.notice import Notice, NoticeAttachment
from services import evidence, months
from services.evidence import Upload
from tests import fuzz
from tests.conftest import PASSWORD

ANON = "anonymous"
ROLES = [ANON, Role.ADMIN.value, Role.INSPECTOR.value, Role.LEADER.value, Role.UNIT.value]
GET_EXAMPLES = 30
POST_EXAMPLES = 45
# Documents cost ~0.3 s each to draw: the sweep sends each one its hostile query as an admin and a unit
# user only (the other roles read the same views), and hypothesis fuzzes their HTML twins' parameters.
DOCUMENT = (".pdf", ".xlsx")


def fuzz_settings(n: int):
    """Hypothesis' settings, and its seed: fixed (`derandomize`), or FUZZ_SEED's to look elsewhere."""
    chosen = os.environ.get("FUZZ_SEED")
    config = settings(
        max_examples=fuzz.examples(n),
        derandomize=not chosen,  # the fixed seed: the same requests on every run
        database=None,
        deadline=None,
        phases=(Phase.explicit, Phase.generate),  # failures are collected, not raised: nothing to shrink
        suppress_health_check=list(HealthCheck),
    )
    return (lambda test: seed(int(chosen))(config(test))) if chosen else config


@pytest.fixture
def world(app, make) -> fuzz.World:
    """A small hall with a row behind every kind of id a route takes: units, staff, incidents (one
    proposed by a detection, one in a closed month), evidence, a notice with an attachment, requests, jobs."""
    from models import Appeal, BonusClaim, RectificationReport, RequestFile

    own = make.unit("U01", name="本单位")
    other = make.unit("U02", name="其他单位")
    staff = make.staff(other, "S001")
    make.staff(own, "S002", name="李四")
    february = make.incident(other, "D01", at=datetime(2024, 2, 6, 9, 0), staff=staff, window="1")
    months.close(2024, 2)
    db.session.commit()
    incident = make.incident(other, "D01", at=datetime(2024, 3, 5, 9, 0), staff=staff, window="1")
    own_incident = make.incident(own, "D04a", at=datetime(2024, 3, 6, 9, 0), public_text="说明")
    proposed = make.incident(own, "D01", at=datetime(2024, 3, 7, 9, 0), status="proposed", source="detection")
    [photo] = evidence.store(own_incident, [Upload("own.png", "image/png", fuzz.png_bytes())])
    notice = Notice(
        unit=own,
        year=2024,
        month=2,
        flag="notice_feedback",
        reasons=[f"incident:{february.id}"],
        opened_on=date(2024, 3, 1),
        deadline=date(2024, 3, 8),
        answered_late=False,
    )
    attachment = NoticeAttachment(
        notice=notice, filename="答复.png", stored_name="0" * 32 + ".png", content_type="image/png", size=1
    )
    appeal = Appeal(incident=own_incident, unit_id=own.id, reason="申诉")
    report = RectificationReport(incident=own_incident, unit_id=own.id, rectified_on=date(2024, 3, 8))
    claim = BonusClaim(unit_id=own.id, rule_code="B01", occurred_on=date(2024, 3, 6), description="锦旗")
    jobs = [
        Job(kind="detect", status="done", result={"month": "2024-03", "proposed": 0, "existing": 0}),
        Job(kind="import", status="done", result={"kind": "units", "text": "完成"}),
    ]
    db.session.add_all([notice, attachment, appeal, report, claim, *jobs])
    db.session.flush()
    upload = RequestFile(
        unit_id=own.id,
        appeal_id=appeal.id,
        filename="a.png",
        stored_name="fuzz.png",
        content_type="image/png",
        size=4,
    )
    db.session.add(upload)
    db.session.commit()
    users = {
        role: make.user(role, username=f"fuzz-{role}", unit=own if role == Role.UNIT.value else None)
        for role in ROLES[1:]
    }
    notifications = db.session.scalars(select(Notification.id)).all()
    ints = {
        "unit": [own.id, other.id],
        "unit_id": [own.id, other.id],
        "staff_pk": [staff.id],
        "staff": [staff.id],
        "incident_id": [own_incident.id, incident.id, proposed.id, february.id],
        "linked_id": [own_incident.id],
        "evidence_id": [photo.id],
        "user_id": [u.id for u in users.values()],
        "notification_id": notifications[:2] or [1],
        "notice_id": [notice.id],
        "attachment_id": [attachment.id],
        "appeal_id": [appeal.id],
        "report_id": [report.id],
        "claim_id": [claim.id],
        "file_id": [upload.id],
        "job_id": [j.id for j in jobs],
        "job": [j.id for j in jobs],
        "year": [2024, 2023],
    }
    return fuzz.World(ints=ints, users={role: (u.id, u.username) for role, u in users.items()})


@pytest.fixture
def fuzzing(app, world, monkeypatch):
    """The recorder installed, jobs run in the request (so their writes are counted), the users' rows kept."""
    recorder = fuzz.Recorder()
    recorder.install(app, monkeypatch)
    monkeypatch.setitem(app.config, "JOBS_SYNCHRONOUS", True)
    monkeypatch.delenv("REDIS_URL", raising=False)
    columns = [c.key for c in inspect(User).mapper.column_attrs]
    saved = {
        row["id"]: row for row in db.session.execute(select(*[getattr(User, c) for c in columns])).mappings()
    }
    return recorder, {uid: dict(row) for uid, row in saved.items()}


class Sessions:
    """A logged-in client per role, logged in again only when needed: when a fuzzed request changed the
    user (disabled it, changed its password or role) or may have ended the session (login, logout)."""

    def __init__(self, app, world: fuzz.World, saved_users: dict, log: fuzz.Log):
        self.app, self.world, self.saved, self.log = app, world, saved_users, log
        self.client = None
        self.last_path = ""
        self.columns = [getattr(User, c) for c in saved_users[next(iter(saved_users))]]

    def __call__(self, role: str, path: str = ""):
        limiter.reset()  # the login limit counts the fuzzer's failed logins: each example starts afresh
        if role == ANON:
            return self.app.test_client()
        user_id, _username = self.world.users[role]
        row = db.session.execute(select(*self.columns).where(User.id == user_id)).mappings().one_or_none()
        db.session.rollback()
        changed = row is None or dict(row) != self.saved[user_id]
        if self.client is None or changed or self.last_path in ("/login", "/logout", "/account/password"):
            self.client = log_in(self.app, self.world, self.saved, role, self.log)
        self.last_path = path  # the request about to be sent may end the session: checked next time
        return self.client


def log_in(app, world: fuzz.World, saved_users: dict, role: str, log: fuzz.Log | None = None):
    """A new client logged in as `role`, whose user is first put back as it was (a fuzzed request may have
    disabled it or changed its password)."""
    client = app.test_client()
    limiter.reset()
    if role == ANON:
        return client
    user_id, username = world.users[role]
    db.session.execute(update(User).where(User.id == user_id).values(**saved_users[user_id]))
    db.session.commit()
    response = client.post("/login", data={"username": username, "password": PASSWORD})
    db.session.remove()
    if response.status_code != 302:
        message = f"the fuzzer's login as {role} answered {response.status_code}"
        if log is None:
            raise AssertionError(message)
        log.fail(message, response.get_data(as_text=True)[:500])
    return client


def routes(app, method: str) -> list[tuple[str, str]]:
    return sorted(
        (rule.rule, rule.endpoint)
        for rule in app.url_map.iter_rules()
        if method in rule.methods and rule.endpoint != "static"
    )


def query_names() -> list[str]:
    return sorted(
        set(fuzz.query_names_in_source()) | set(fuzz.filter_form_fields()) | set(fuzz.EXTRA_QUERY_NAMES)
    )


def test_the_query_names_come_from_the_source():
    names = query_names()
    for name in ("month", "job", "page", "unit_id", "next", "year", "rule_code", "recorded_by"):
        assert name in names


@pytest.mark.parametrize("role", ROLES)
def test_every_get_route_answers_hostile_queries_without_a_500(app, world, fuzzing, role):
    _, saved_users = fuzzing
    log = fuzz.Log()
    names = query_names()
    get_routes = routes(app, "GET")

    # First every GET route once, every query parameter set to one hostile value (a different one per route).
    sessions = Sessions(app, world, saved_users, log)
    client = sessions(role)
    for i, (rule, _endpoint) in enumerate(get_routes):
        if rule.endswith(DOCUMENT) and role not in (Role.ADMIN.value, Role.UNIT.value) and not fuzz.bigger():
            continue
        path = fuzz.build_path(None, rule, world)
        hostile = fuzz.HOSTILE[(i * 7) % len(fuzz.HOSTILE)]
        fuzz.send(client, "GET", path, [(n, hostile) for n in names], None, {}, log, label=rule)

    pages = [(rule, endpoint) for rule, endpoint in get_routes if not rule.endswith(DOCUMENT)]

    # Then hypothesis: a route, its path parameters and a few query parameters, plausible or hostile.
    @fuzz_settings(GET_EXAMPLES)
    @given(st.data())
    def one(data):
        draw = data.draw
        rule, _endpoint = draw(st.sampled_from(get_routes if fuzz.bigger() else pages))
        path = fuzz.build_path(draw, rule, world)
        chosen = draw(st.lists(st.sampled_from(names + ["zz"]), max_size=4, unique=True))
        query = fuzz.fill(draw, {}, chosen, world) if chosen else []
        headers = {"HX-Request": "true"} if draw(st.integers(0, 3)) == 0 else {}
        fuzz.send(sessions(role, path), "GET", path, query, None, headers, log, label=rule)

    one()
    print(role, log.summary())
    assert not log.failures, f"{len(log.failures)} failures in {log.requests} requests:\n{log.report()}"
    assert log.requests >= len(pages) + fuzz.examples(GET_EXAMPLES)


@pytest.mark.parametrize("role", ROLES)
def test_every_post_route_answers_hostile_forms_without_a_500_or_a_write(app, world, fuzzing, role):
    recorder, saved_users = fuzzing
    log = fuzz.Log()
    counts = fuzz.count_query()
    sessions = Sessions(app, world, saved_users, log)
    post_routes = routes(app, "POST")

    # Probe each POST route once as this role: the forms it builds and the names it reads are recorded.
    reachable = []
    for rule, endpoint in post_routes:
        path = fuzz.build_path(None, rule, world)
        response = fuzz.send(sessions(role, path), "POST", path, [], [("_probe", "1")], {}, log, counts)
        if (
            response is not None
            and response.status_code not in (401, 403)
            and "/login" not in response.headers.get("Location", "")
        ):
            reachable.append((rule, endpoint))
    if role == ANON:
        assert [e for _, e in reachable] == ["auth.login"]
    # What the probes saw, frozen: hypothesis needs the same strategies whatever the examples record later.
    seen = copy.deepcopy(recorder.seen)
    names = query_names()

    # Then each form one field at a time: that field hostile, the others plausible.
    for n, (rule, endpoint) in enumerate(reachable):
        found = seen.get(endpoint, fuzz.Seen())
        path = fuzz.build_path(None, rule, world)
        for _name, form in fuzz.field_sweep(found.fields, sorted(found.names - {"_probe"}), world, start=n):
            client = sessions(role, path)
            fuzz.send(client, "POST", path, [], form, {}, log, counts, label=rule)

    @fuzz_settings(POST_EXAMPLES)
    @given(st.data())
    def one(data):
        draw = data.draw
        everything = draw(st.integers(0, 9)) == 0  # now and then a route this role may not use
        rule, endpoint = draw(st.sampled_from(post_routes if everything or not reachable else reachable))
        found = seen.get(endpoint, fuzz.Seen())
        path = fuzz.build_path(draw, rule, world)
        form = fuzz.fill(draw, found.fields, sorted(found.names - {"_probe"}), world)
        chosen = draw(st.lists(st.sampled_from(names), max_size=2, unique=True))
        query = fuzz.fill(draw, {}, chosen, world) if chosen else []
        headers = {"HX-Request": "true"} if draw(st.integers(0, 3)) == 0 else {}
        client = sessions(role, path)
        fuzz.send(client, "POST", path, query, form, headers, log, counts, label=rule)

    one()
    print(role, log.summary())
    assert not log.failures, f"{len(log.failures)} failures in {log.requests} requests:\n{log.report()}"
    if role != ANON:
        # The fuzz reaches past the forms' checks: some of its requests were accepted.
        assert any(300 <= status < 400 or status == 200 for status in log.statuses), log.statuses


# The inputs issue 10 names as 500s, each answered cleanly (a 404, a 400, or the page or form with a message).
ISSUE_EXAMPLES = [
    (Role.ADMIN.value, "GET", "/admin/users/99999999999999999999/edit", None, {404}),
    (Role.ADMIN.value, "GET", "/admin/patrol/record?unit_id=99999999999999999999", None, {200, 422}),
    (Role.ADMIN.value, "GET", "/admin/detections?job=99999999999999999999", None, {200}),
    (Role.ADMIN.value, "GET", "/admin/import?job=99999999999999999999", None, {200}),
    (Role.ADMIN.value, "GET", "/admin/standings?month=9999-12", None, {200}),
    (Role.ADMIN.value, "GET", "/admin/standings?month=0001-01", None, {200}),
    (Role.ADMIN.value, "GET", "/admin/incidents?month=9999-12", None, {200, 422}),
    (Role.ADMIN.value, "GET", "/admin/months/9999-12/bulletin", None, {404, 422}),
    (Role.ADMIN.value, "GET", "/admin/months/0001-01/bulletin", None, {404, 422}),
    (ANON, "POST", "/login", {"username": "fuzz-\x00admin", "password": PASSWORD}, {400}),
    (
        Role.INSPECTOR.value,
        "POST",
        "/admin/patrol/tap",
        {"unit_id": "1", "window": "1", "rule_code": "D01", "client_key": "k1", "date": "0001-01-01"},
        {422},
    ),
]


def test_the_issues_examples_are_answered_cleanly(app, world, fuzzing):
    """One test for them all: the sample hall is built once."""
    _, saved_users = fuzzing
    log = fuzz.Log()
    counts = fuzz.count_query()
    sessions = Sessions(app, world, saved_users, log)
    wrong = []
    for role, method, url, data, statuses in ISSUE_EXAMPLES:
        client = sessions(role, url)
        before = fuzz.row_counts(counts)
        response = client.open(url, method=method, data=data)
        body = response.get_data(as_text=True)
        db.session.remove()
        if response.status_code not in statuses:
            wrong.append(f"{method} {url} as {role}: {response.status_code}, expected {statuses}")
        elif fuzz.row_counts(counts) != before:
            wrong.append(f"{method} {url} as {role}: wrote")
        elif response.mimetype == "text/html" and not re.search(r"[\u4e00-\u9fff]", body):
            wrong.append(f"{method} {url} as {role}: no Chinese in the answer")
    assert not wrong, "\n".join(wrong)
    assert not log.failures, log.report()


def test_next_with_a_newline_after_login_stays_on_the_site(app, world):
    _user_id, username = world.users[Role.ADMIN.value]
    response = app.test_client().post(
        "/login?next=/%0A/evil.example", data={"username": username, "password": PASSWORD}
    )
    assert response.status_code == 302 and "evil.example" not in response.headers["Location"]


def test_the_fuzzer_notices_a_500_and_a_refused_request_that_writes(app, world, fuzzing, monkeypatch):
    """The checks themselves: a view that raises, and one that writes a row and answers 422, are caught."""
    from models import Unit

    def raises():
        raise ZeroDivisionError("boom")

    def writes_then_refuses():
        db.session.add(Unit(code="FZ-W", name="写入", windows="1", display_order=0, active=True))
        db.session.commit()
        return "refused", 422

    _, saved_users = fuzzing
    log = fuzz.Log()
    counts = fuzz.count_query()
    client = Sessions(app, world, saved_users, log)(Role.ADMIN.value)
    monkeypatch.setitem(app.view_functions, "admin.unit_list", raises)
    fuzz.send(client, "GET", "/admin/units", [], None, {}, log)
    monkeypatch.setitem(app.view_functions, "admin.unit_new", writes_then_refuses)
    fuzz.send(client, "POST", "/admin/units/new", [], [("code", "x")], {}, log, counts)
    failures = sorted(log.failures)
    assert len(failures) == 2, failures
    assert failures[0].startswith("500 ZeroDivisionError at tests/app/test_fuzz.py")
    assert failures[1] == "refused POST wrote ['unit']"
