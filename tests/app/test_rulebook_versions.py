"""Issue 8 item 9: rule versions never change the past.

A new rulebook version takes effect on the first day of a month after the current one (hall time); a date
in the current or an earlier month, or not on the 1st, is refused by `services.rulebooks.publish_version`
(the one function every path publishes through) with a Chinese message naming the first allowed date.
The tests' hall today is 2024-03-20.
"""

from __future__ import annotations

from datetime import date, datetime

import pytest
from sqlalchemy import delete, func, select

from models import AuditLog, RulebookVersion, db
from scoring import rulebook_to_dict
from services import DomainError
from services.rulebooks import (
    as_rulebook,
    by_key,
    effective_day_problem,
    first_allowed_day,
    publish_version,
    rulebook_for_month,
)
from services.standings import live_standings
from tests.app.test_admin_calendar_rulebooks import new_version_form


def _versions() -> int:
    return db.session.scalar(select(func.count()).select_from(RulebookVersion))


def _draft(key: str, day: str, d01_points: int = 3) -> dict:
    data = rulebook_to_dict(rulebook_for_month(2024, 3))
    data = {**data, "key": key, "effective_from": day}
    data["rules"] = [{**r, "points": d01_points} if r["code"] == "D01" else r for r in data["rules"]]
    return data


def test_a_version_dated_in_the_current_month_does_not_rescore_logged_items(client, login, make):
    unit = make.unit("U01")
    make.incident(unit, "D01", at=datetime(2024, 3, 5, 9, 0))
    assert live_standings(2024, 3).unit("U01").deductions == 2
    login("admin")
    audit_before = db.session.scalar(select(func.count()).select_from(AuditLog))
    # Before the fix this was accepted and March's D01 silently became −3.
    response = client.post(
        "/admin/rulebooks/anshan-2023/new",
        data=new_version_form(effective_from="2024-03-01", points_D01="3"),
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "新版本只能从以后某个月的1日起生效,最早 2024-04-01" in html
    assert _versions() == 1 and by_key("anshan-2024") is None
    assert db.session.scalar(select(func.count()).select_from(AuditLog)) == audit_before
    assert live_standings(2024, 3).unit("U01").deductions == 2
    assert rulebook_for_month(2024, 3).rule("D01").points == 2


@pytest.mark.parametrize(
    "day",
    ["2024-03-01", "2024-02-01", "2023-05-01", "2024-03-20", "2024-04-02", "2024-05-15"],
)
def test_the_service_refuses_every_date_but_a_future_first(app, day):
    with pytest.raises(DomainError) as info:
        publish_version(_draft("anshan-2024", day))
    message = str(info.value)
    assert f"生效日期 {day} 不可用" in message and "最早 2024-04-01" in message
    assert "修改细则从不改变过去" in message
    db.session.rollback()
    assert _versions() == 1


def test_the_first_of_a_later_month_is_accepted_and_scores_from_then_on(make):
    unit = make.unit("U01")
    make.incident(unit, "D01", at=datetime(2024, 3, 5, 9, 0))
    row = publish_version(_draft("anshan-2024", "2024-04-01"))
    db.session.commit()
    assert row.effective_from == date(2024, 4, 1)
    assert rulebook_for_month(2024, 3).rule("D01").points == 2
    assert rulebook_for_month(2024, 4).rule("D01").points == 3
    assert live_standings(2024, 3).unit("U01").deductions == 2
    # A version waiting to take effect moves the first allowed date past it.
    assert first_allowed_day() == date(2024, 5, 1)
    with pytest.raises(DomainError, match="最早 2024-05-01"):
        publish_version(_draft("anshan-2024b", "2024-04-01"))
    db.session.rollback()
    assert publish_version(_draft("anshan-2024b", "2024-06-01")).effective_from == date(2024, 6, 1)


def test_december_rolls_over_to_january(app):
    assert first_allowed_day(today=date(2024, 12, 31)) == date(2025, 1, 1)
    assert effective_day_problem(date(2025, 1, 1), today=date(2024, 12, 31)) is None
    assert "最早 2025-01-01" in effective_day_problem(date(2024, 12, 1), today=date(2024, 12, 31))


def test_only_a_first_set_up_may_be_dated_in_the_past(app):
    shipped = rulebook_to_dict(as_rulebook(by_key("anshan-2023")))
    db.session.execute(delete(RulebookVersion))
    assert first_allowed_day() is None
    row = publish_version({**shipped, "key": "hall-2020", "effective_from": "2020-01-15"})
    assert row.effective_from == date(2020, 1, 15)
    # Once a version exists, the next one is bound again.
    with pytest.raises(DomainError, match="最早 2024-04-01"):
        publish_version({**shipped, "key": "hall-2021", "effective_from": "2021-01-01"})


def test_rulebook_pages_say_a_change_never_changes_the_past(client, login):
    login("inspector")
    for url in ("/admin/rulebooks", "/admin/rulebooks/anshan-2023"):
        html = client.get(url).get_data(as_text=True)
        assert "修改细则从不改变过去:新版本只能从以后某个月的1日起生效" in html, url
