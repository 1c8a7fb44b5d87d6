"""Two app servers on one database (issue 10, item 6): what one writes to disk, the other reads.

Evidence files live in EVIDENCE_DIR and an import waiting for its confirmation in IMPORT_DIR: with both on
a directory the servers share, a photo uploaded through one server is served by the other, and an import
previewed on one is confirmed on the other. A login made on one is valid on the other (same SECRET_KEY).
Behind nginx (PROXY_COUNT=1) the client's address is the one nginx saw.
Here the two "servers" are two app objects with different instance folders and the same directories.
"""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from flask import request
from sqlalchemy import func, select

from app import create_app
from models import Evidence, Unit, db
from tests import images
from tests.conftest import PASSWORD

UNITS_CSV = "code,name,windows,display_order,active\nSW01,市税务局,1;2;3,1,true\n"


@pytest.fixture
def servers(app, tmp_path):
    """Two apps as two servers would be: same database, same SECRET_KEY, shared EVIDENCE_DIR/IMPORT_DIR."""
    shared = {
        "TESTING": True,
        "SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"],
        "WTF_CSRF_ENABLED": False,
        "SECRET_KEY": "shared-secret",
        "PASSWORD_HASH_METHOD": app.config["PASSWORD_HASH_METHOD"],
        "HALL_TODAY": app.config["HALL_TODAY"],
        "HALL_NOW": app.config["HALL_NOW"],
        "EVIDENCE_DIR": str(tmp_path / "shared" / "evidence"),
        "IMPORT_DIR": str(tmp_path / "shared" / "imports"),
        "JOBS_SYNCHRONOUS": True,
    }
    first = create_app(shared)
    second = create_app(shared)
    yield first, second
    for one in (first, second):
        with one.app_context():
            db.engine.dispose()


def logged_in_pair(first, second, make):
    """A client logged in on the first server, and a client of the second carrying the same cookie."""
    make.user("admin", username="boss")
    a = first.test_client()
    assert a.post("/login", data={"username": "boss", "password": PASSWORD}).status_code == 302
    b = second.test_client()
    cookie = a.get_cookie("session")
    assert cookie is not None
    b.set_cookie("session", cookie.value)
    return a, b


def test_a_login_on_one_server_is_valid_on_the_other(app, servers, make):
    first, second = servers
    _a, b = logged_in_pair(first, second, make)
    response = b.get("/admin/")
    assert response.status_code == 200 and "工作台" in response.get_data(as_text=True)


def test_evidence_uploaded_through_one_server_is_served_by_the_other(app, servers, make):
    first, second = servers
    unit = make.unit("U01", windows="1")
    a, b = logged_in_pair(first, second, make)
    photo = images.png()
    response = a.post(
        "/admin/incidents/new",
        data={
            "unit_id": str(unit.id),
            "occurred_at": "2024-03-18T09:30",
            "rule_code": "D01",
            "count": "1",
            "action": "save",
            "evidence": (io.BytesIO(photo), "现场.png"),
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    row = db.session.scalar(select(Evidence))
    assert (Path(first.config["EVIDENCE_DIR"]) / row.stored_name).read_bytes() == photo
    served = b.get(f"/admin/evidence/{row.id}")
    assert served.status_code == 200 and served.data == photo


def test_an_import_previewed_on_one_server_is_confirmed_on_the_other(app, servers, make):
    first, second = servers
    a, b = logged_in_pair(first, second, make)
    preview = a.post(
        "/admin/import",
        data={"kind": "units", "file": (io.BytesIO(UNITS_CSV.encode("utf-8")), "units.csv")},
        content_type="multipart/form-data",
    )
    html = preview.get_data(as_text=True)
    token = re.search(r'action="/admin/import/([A-Za-z0-9_-]+)"', html).group(1)
    assert (Path(first.config["IMPORT_DIR"]) / f"{token}.data").exists()
    confirmed = b.post(f"/admin/import/{token}")
    assert confirmed.status_code == 302
    assert "已失效" not in b.get(confirmed.headers["Location"]).get_data(as_text=True)
    assert db.session.scalar(select(func.count(Unit.id)).where(Unit.code == "SW01")) == 1


@pytest.mark.parametrize("hops, seen", [(0, ("127.0.0.1", "http")), (1, ("203.0.113.9", "https"))])
def test_behind_nginx_the_client_address_comes_from_the_proxy(app, hops, seen):
    """PROXY_COUNT=1 behind nginx: the login limits count the client's address, not nginx's 127.0.0.1."""
    served = create_app(
        {
            "TESTING": True,
            "SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"],
            "SECRET_KEY": "x",
            "PROXY_COUNT": hops,
        }
    )
    noted = []

    @served.before_request
    def note():
        noted.append((request.remote_addr, request.scheme))

    headers = {"X-Forwarded-For": "198.51.100.1, 203.0.113.9", "X-Forwarded-Proto": "https"}
    assert served.test_client().get("/login", headers=headers).status_code == 200
    assert noted == [seen]  # only the last hop, the one nginx appended, is believed
    with served.app_context():
        db.engine.dispose()
