"""The standings service against the database: the same numbers as the rulebook's readings."""

from __future__ import annotations

from datetime import date, datetime

from models import IncidentStatus
from services import incidents, months
from services.standings import standings, standings_json


def test_unit_without_items_scores_100(make):
    make.unit("U01")
    data = standings_json(2024, 3)
    assert data["units"] == [
        {
            "code": "U01",
            "name": "测试单位U01",
            "rank": 1,
            "score": 100,
            "deductions": 0,
            "bonus": 0,
            "grade": "excellent",
            "flags": [],
        }
    ]
    assert data["status"] == "open" and data["rulebook"] == "anshan-2023"


def test_confirmed_counts_voided_and_proposed_do_not(make, app):
    unit = make.unit("U01")
    make.unit("U02")
    make.incident(unit, "D02c", count=3)
    voided = make.incident(unit, "D01")
    incidents.void(voided, "误录")
    make.incident(unit, "D07b", status=IncidentStatus.PROPOSED)
    data = standings_json(2024, 3)
    first, second = data["units"]
    assert second["code"] == "U01"
    assert second["deductions"] == 15 and second["score"] == 85 and second["grade"] == "good"
    assert second["flags"] == ["notice_feedback"]
    assert first == {**first, "code": "U02", "rank": 1, "score": 100}


def test_closed_month_is_frozen(make, app):
    from models import db

    unit = make.unit("U01")
    make.incident(unit, "D01", at=datetime(2024, 2, 5, 9, 0))
    months.close(2024, 2)
    db.session.commit()
    assert standings(2024, 2).unit("U01").score == 98
    # A new unit appearing later does not change the frozen month.
    make.unit("U02")
    assert [u.code for u in standings(2024, 2).units] == ["U01"]
    assert standings_json(2024, 2)["status"] == "closed"


def test_a_month_closed_again_shows_its_new_results_though_the_clock_is_pinned(make, app):
    """The decoded results are kept under the snapshot's version, which every close renews; the close time
    (the same here: the tests' clock is pinned) is no version."""
    from models import Month, db

    unit = make.unit("U01")
    make.incident(unit, "D01", at=datetime(2024, 2, 5, 9, 0))
    months.close(2024, 2)
    db.session.commit()
    first_key = db.session.scalar(db.select(Month.snapshot_key))
    assert standings(2024, 2).unit("U01").score == 98
    months.reopen(2024, 2, "补录漏登的扣分")
    make.incident(unit, "D01", at=datetime(2024, 2, 6, 9, 0))
    months.close(2024, 2)
    db.session.commit()
    assert db.session.scalar(db.select(Month.snapshot_key)) not in (None, first_key)
    assert standings(2024, 2).unit("U01").score == 96


def test_d19b_from_earlier_month_lands_in_next(make, app):
    unit = make.unit("U01")
    make.incident(unit, "D19a", at=datetime(2024, 2, 10, 9, 0), deadline=date(2024, 2, 29))
    feb = standings(2024, 2).unit("U01")
    mar = standings(2024, 3).unit("U01")
    assert feb.deductions == 5
    assert mar.deductions == 5 and [i.rule_code for i in mar.items] == ["D19b"]
    assert "leadership_report" in mar.flag_codes


def test_api_and_cli_refuse_months_without_results(client, runner, make):
    make.unit("U01")
    future = client.get("/api/standings?month=2024-04")  # HALL_TODAY is 2024-03-20
    assert future.status_code == 400 and "尚未开始" in future.get_json()["error"]
    ancient = client.get("/api/standings?month=1999-01")
    assert ancient.status_code == 400 and "早于考核细则的生效日期" in ancient.get_json()["error"]
    result = runner.invoke(args=["standings", "--month", "1999-01"])
    assert result.exit_code != 0 and "早于考核细则的生效日期" in result.output
    result = runner.invoke(args=["detect", "--month", "2030-01"])
    assert result.exit_code != 0 and "尚未开始" in result.output
    assert client.get("/api/standings?month=2024-03").get_json()["units"][0]["score"] == 100
