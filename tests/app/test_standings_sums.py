"""The live standings (database sums, items and reasons loaded when read) against the itemized scoring.

The reference below is the path the standings took before issue 10: every earlier month of the year scored
item by item (or read from its snapshot when frozen), then the month itself with `score_month` on one
`IncidentIn` per incident. Every score, grade, rank, flag (with its reasons) and item must be the same, for
open, closed and published months, and after a change (the live cache).
"""

from __future__ import annotations

import random
from datetime import date, datetime

import pytest
from sqlalchemy import select, update

from models import Incident, IncidentStatus, MonthUnitResult, db
from scoring import Grade, score_month
from services import incidents, months
from services.clock import hall_today
from services.rulebooks import rulebook_for_month
from services.standings import (
    _frozen,
    active_units,
    incidents_for_month,
    live_standings,
    month_row,
    standings,
)

YEAR = 2024


def itemized(month: int):
    """The month scored as before issue 10: one item per incident, earlier months in full."""
    today = hall_today()
    earlier: dict[str, int] = {}
    for m in range(1, month):
        result = _frozen(YEAR, m) or score_month(
            rulebook_for_month(YEAR, m), active_units(), incidents_for_month(YEAR, m), YEAR, m, today
        )
        for unit in result.units:
            if unit.grade == Grade.UNQUALIFIED:
                earlier[unit.code] = earlier.get(unit.code, 0) + 1
    return score_month(
        rulebook_for_month(YEAR, month),
        active_units(),
        incidents_for_month(YEAR, month),
        YEAR,
        month,
        today,
        earlier,
    )


def plain(result):
    """Everything a page can read of a result, as plain tuples (reading the lazy items and reasons)."""
    return (
        result.label,
        result.rulebook_key,
        [
            (
                u.code,
                u.name,
                u.deductions,
                u.bonus,
                u.score,
                str(u.grade),
                u.rank,
                [(f.code, tuple(f.reasons)) for f in u.flags],
                tuple(u.items),
            )
            for u in result.units
        ],
    )


# Rules with their weights: flags (D04b, D11–D14), escalation (D02c), exemption (D06), deadlines (D19a),
# bonuses past the cap (B02c), and plain deductions.
RULES = [
    "D01",
    "D02c",
    "D02c",
    "D03",
    "D04b",
    "D06",
    "D06",
    "D07b",
    "D11",
    "D12",
    "D19a",
    "D19a",
    "B02c",
    "B04",
]


@pytest.fixture
def hall(make):
    """Six units (one inactive) and about 150 incidents over January–March 2024 (today is 2024-03-20)."""
    rng = random.Random(10)
    units = [make.unit(f"U{i:02d}", display_order=i) for i in range(1, 6)]
    units.append(make.unit("U99", active=False))
    for n in range(150):
        unit = rng.choice(units[:3]) if n % 3 else rng.choice(units)  # U01–U03 carry most (unqualified)
        month = rng.choice([1, 2, 3])
        day = rng.randint(1, 20 if month == 3 else 28)
        rule = rng.choice(RULES)
        kwargs = {"count": rng.choice([1, 1, 1, 2, 3])}
        if rule == "D06":
            kwargs["exempt"] = rng.random() < 0.5
        if rule == "D19a":
            deadline = date(YEAR, month, day).toordinal() + rng.randint(0, 40)
            kwargs["deadline"] = date.fromordinal(min(deadline, date(YEAR, 3, 25).toordinal()))
            if rng.random() < 0.4:
                kwargs["rectified_on"] = date.fromordinal(deadline + rng.choice([-2, 0, 1]))
                if kwargs["rectified_on"] > date(YEAR, 3, 20):
                    del kwargs["rectified_on"]
        status = IncidentStatus.PROPOSED if n % 17 == 0 else IncidentStatus.CONFIRMED
        made = make.incident(
            unit, rule, at=datetime(YEAR, month, day, 9 + n % 8, n % 60), status=status, **kwargs
        )
        if n % 23 == 0:
            incidents.void(made, "误录")
    db.session.commit()
    return units


def test_the_hall_has_what_the_comparison_needs(hall):
    """Unqualified units in several months (replace_staff), escalations, overdue D19b across months."""
    flags = {f.code for m in (1, 2, 3) for u in live_standings(YEAR, m).units for f in u.flags}
    assert {"replace_staff", "quarter_ineligible", "notice_feedback", "leadership_report"} <= flags
    items = [i for m in (1, 2, 3) for u in live_standings(YEAR, m).units for i in u.items]
    assert any(i.derived for i in items) and any(i.exempt for i in items)
    assert "U99" not in {u.code for u in live_standings(YEAR, 3).units}


@pytest.mark.parametrize("closed", [(), (1,), (1, 2), (2,)])
def test_open_months_are_the_itemized_scoring(hall, closed):
    for m in closed:
        months.close(YEAR, m)
    db.session.commit()
    for m in (1, 2, 3):
        if m not in closed:
            assert plain(standings(YEAR, m)) == plain(itemized(m)), m
            assert plain(live_standings(YEAR, m)) == plain(itemized(m)), m


def test_closed_and_published_months_are_what_was_live(hall):
    before = {m: plain(live_standings(YEAR, m)) for m in (1, 2)}
    months.close(YEAR, 1)
    months.close(YEAR, 2)
    months.publish(YEAR, 1)
    db.session.commit()
    assert plain(standings(YEAR, 1)) == before[1] and plain(standings(YEAR, 2)) == before[2]
    assert plain(standings(YEAR, 3)) == plain(itemized(3))
    # The result rows follow the snapshot: one per unit, the same grades and scores.
    rows = db.session.scalars(select(MonthUnitResult).where(MonthUnitResult.month_row == month_row(YEAR, 2)))
    frozen = {
        u.code: (u.rank, u.score, u.deductions, u.bonus, str(u.grade)) for u in standings(YEAR, 2).units
    }
    assert {r.unit_code: (r.rank, r.score, r.deductions, r.bonus, r.grade) for r in rows} == frozen


def test_reopening_drops_the_rows_and_closing_again_writes_them(hall):
    months.close(YEAR, 1)
    db.session.commit()
    assert db.session.scalar(select(db.func.count(MonthUnitResult.id))) == 5
    months.reopen(YEAR, 1, "补录")
    db.session.commit()
    assert db.session.scalar(select(db.func.count(MonthUnitResult.id))) == 0
    assert plain(standings(YEAR, 3)) == plain(itemized(3))
    months.close(YEAR, 1)
    db.session.commit()
    assert db.session.scalar(select(db.func.count(MonthUnitResult.id))) == 5
    assert plain(standings(YEAR, 3)) == plain(itemized(3))


def test_a_frozen_month_without_rows_is_read_from_its_snapshot(hall):
    """E.g. restored from a backup taken before the rows existed."""
    months.close(YEAR, 1)
    months.close(YEAR, 2)
    db.session.commit()
    expected = plain(itemized(3))
    db.session.execute(MonthUnitResult.__table__.delete())
    db.session.commit()
    assert plain(live_standings(YEAR, 3)) == expected


def test_a_change_is_seen_at_once_items_and_reasons_included(hall, make):
    first = standings(YEAR, 3)
    assert standings(YEAR, 3) is first  # cached while nothing changes
    unit = hall[4]  # U05: few incidents
    added = make.incident(unit, "D11", at=datetime(YEAR, 3, 18, 10, 0))
    after = standings(YEAR, 3)
    assert after is not first
    assert plain(after) == plain(itemized(3))
    mine = after.unit("U05")
    assert added.id in {i.incident_id for i in mine.items}
    assert f"incident:{added.id}" in dict((f.code, f.reasons) for f in mine.flags)["notice_feedback"]
    incidents.void(added, "误录")
    db.session.commit()
    voided = standings(YEAR, 3).unit("U05")
    assert added.id not in {i.incident_id for i in voided.items}
    assert plain(standings(YEAR, 3)) == plain(itemized(3))


def test_a_count_of_zero_is_read_as_one_as_before(hall):
    """Rows the sums cannot score (a count of 0) go through the itemized scoring, which reads it as 1."""
    target = db.session.scalar(
        select(Incident.id).where(Incident.status == IncidentStatus.CONFIRMED).limit(1)
    )
    db.session.execute(update(Incident).where(Incident.id == target).values(count=0))
    db.session.commit()
    month = next(m for m in (1, 2, 3) if any(target == i.id for i in incidents_for_month(YEAR, m)))
    assert plain(live_standings(YEAR, month)) == plain(itemized(month))


def test_an_unknown_rule_still_names_the_incident(hall):
    target = db.session.scalar(
        select(Incident.id)
        .where(
            Incident.status == IncidentStatus.CONFIRMED,
            Incident.occurred_at >= datetime(2024, 3, 1).astimezone(),
        )
        .limit(1)
    )
    db.session.execute(update(Incident).where(Incident.id == target).values(rule_code="X99"))
    db.session.commit()
    with pytest.raises(ValueError, match=f"事件 {target} 的规则代码 X99"):
        live_standings(YEAR, 3)


@pytest.mark.parametrize("closed", [(), (2,)])
def test_earlier_unqualified_months_in_one_scan_are_the_itemized_ones(hall, closed):
    """Every earlier open month scored at once (`_grades_of`: one statement for all of them)."""
    from services.standings import _earlier_unqualified

    for m in closed:
        months.close(YEAR, m)
    db.session.commit()
    today = hall_today()
    expected: dict[str, int] = {}
    for m in (1, 2):
        result = _frozen(YEAR, m) or score_month(
            rulebook_for_month(YEAR, m), active_units(), incidents_for_month(YEAR, m), YEAR, m, today
        )
        for unit in result.units:
            if unit.grade == Grade.UNQUALIFIED:
                expected[unit.code] = expected.get(unit.code, 0) + 1
    assert expected and _earlier_unqualified(YEAR, 3, today) == expected
