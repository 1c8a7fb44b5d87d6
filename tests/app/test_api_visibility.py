"""/api/standings: anyone sees the live month and published months; a closed, unpublished month only staff."""

from __future__ import annotations

from datetime import datetime

import pytest

from models import db
from services import months


@pytest.fixture
def closed_february(app, make):
    unit = make.unit(code="SW01", name="市税务局")
    make.incident(unit, "D01", at=datetime(2024, 2, 5, 9, 0))
    months.close(2024, 2)
    db.session.commit()
    return unit


def test_anonymous_client_is_refused_a_closed_unpublished_month(client, closed_february):
    response = client.get("/api/standings?month=2024-02")
    assert response.status_code == 403
    assert response.get_json() == {"error": "2024年2月的考核结果尚未发布"}


def test_a_unit_user_is_refused_a_closed_unpublished_month(client, login, closed_february):
    login("unit", unit=closed_february)
    response = client.get("/api/standings?month=2024-02")
    assert response.status_code == 403
    assert "尚未发布" in response.get_json()["error"]


@pytest.mark.parametrize("role", ["admin", "leader", "inspector"])
def test_staff_see_a_closed_month_before_it_is_published(client, login, closed_february, role):
    login(role)
    data = client.get("/api/standings?month=2024-02").get_json()
    assert data["status"] == "closed"
    assert [(u["code"], u["score"]) for u in data["units"]] == [("SW01", 98)]


def test_anyone_sees_a_published_month_and_the_live_month(client, closed_february):
    months.publish(2024, 2)
    db.session.commit()
    published = client.get("/api/standings?month=2024-02").get_json()
    assert published["status"] == "published"
    assert published["units"][0]["score"] == 98
    live = client.get("/api/standings?month=2024-03").get_json()
    assert live["status"] == "open"
    assert live["units"][0]["score"] == 100
