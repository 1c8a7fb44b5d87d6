"""The tally cells a frozen month keeps (`MonthTallyCell`): the year's tallies read them for its closed months
and sum only the others, with the same tables as summing every month (`services.dashboard.tallies`)."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import delete, select

from models import Incident, Month, MonthTallyCell, Posting, Staff, Unit, db
from services import dashboard, incidents, months
from services.clock import from_hall
from services.standings import standings
from tests.app.test_admin_dashboard import PINNED_STAFF, PINNED_WINDOW, busy_year  # noqa: F401
from tests.query_count import count_queries


def lines(rows):
    return [(r.key, r.label, r.unit_name, dict(sorted(r.by_month.items())), r.items) for r in rows]


def cold(year: int = 2024):
    """The year's tables read afresh (the tallies' cache emptied), as plain values."""
    dashboard._tally_cache.clear()
    by_staff, by_window = dashboard.tallies(year)
    return lines(by_staff), lines(by_window)


def computed(year: int = 2024):
    """The tables as summed from every month's incidents: the same data without any kept cell."""
    db.session.execute(delete(MonthTallyCell))
    try:
        return cold(year)
    finally:
        db.session.rollback()


def summed_months(monkeypatch) -> list[list[int]]:
    """The months each plan sums from the incidents, recorded from now on."""
    calls: list[list[int]] = []
    original = dashboard._YearPlan.summed_lines

    def spy(self, months):
        calls.append(list(months))
        return original(self, months)

    monkeypatch.setattr(dashboard._YearPlan, "summed_lines", spy)
    return calls


def cells_of(year: int, month: int) -> list[tuple]:
    return db.session.execute(
        select(
            MonthTallyCell.unit_code,
            MonthTallyCell.staff_pk,
            MonthTallyCell.window,
            MonthTallyCell.posted,
            MonthTallyCell.roster_key.is_not(None),
            MonthTallyCell.points,
            MonthTallyCell.items,
        )
        .join(Month, Month.id == MonthTallyCell.month_id)
        .where(Month.year == year, Month.month == month)
        .order_by(MonthTallyCell.id)
    ).all()


def staff_pk(staff_id: str) -> int:
    return db.session.scalar(select(Staff.id).where(Staff.staff_id == staff_id))


def unit_named(code: str) -> Unit:
    return db.session.scalar(select(Unit).where(Unit.code == code))


def test_closing_keeps_the_cells_and_the_year_reads_them(app, busy_year, monkeypatch):  # noqa: F811
    """January (closed by the fixture) and February (closed here) keep their cells: a window-less item of a
    staff member at their posting's window (the staff member marked `posted`), a window-less and staff-less
    D03 under its unit only, exempt and bonus items and the derived D19b left out, and the month's roster
    row. The year then sums March alone, with the tables pinned before the cells existed."""
    months.close(2024, 2)
    db.session.commit()
    a, b = staff_pk("A01"), staff_pk("B01")
    assert sorted(cells_of(2024, 1), key=repr) == sorted(
        [
            ("U01", a, "1", True, False, 12, 2),  # D01 at window 1, D02c ×2 without one (A's posting)
            ("U02", b, "1", True, False, 4, 2),  # B's D03 and D01 (Jan 31 23:30 hall time), no window
            ("", None, None, False, True, 0, 0),  # the roster row
        ],
        key=repr,
    )
    february = cells_of(2024, 2)
    assert ("U01", None, "2", False, False, 2, 1) in february  # the staff-less D03 at window 2
    assert ("U01", None, None, False, False, 2, 1) in february  # neither staff nor window: in no table
    assert ("U01", a, "1", True, False, 15, 1) in february  # D02c ×3 on the 14th, before A's change
    assert ("U01", a, "2", True, False, 7, 2) in february  # D02c and D06 after it
    assert ("U01", a, "3", True, False, 2, 1) in february  # its own window
    assert sum(c[5] for c in february if c[1] == b) == 27 - 10  # the D19b (2 × 5) is not kept
    calls = summed_months(monkeypatch)
    by_staff, by_window = cold()
    assert calls == [[3]]
    assert by_staff == PINNED_STAFF and by_window == PINNED_WINDOW
    assert computed() == (by_staff, by_window)


def test_changes_within_the_year_read_the_kept_months_and_sum_the_rest(app, busy_year):  # noqa: F811
    """Incidents posted in the live month (a window-less one of a staff member whose posting changes, an
    exempt D06, a bonus, one voided) after January and February closed: the same tables either way."""
    months.close(2024, 2)
    db.session.commit()
    u1, u2 = unit_named("U01"), unit_named("U02")
    a, c = db.session.get(Staff, staff_pk("A01")), db.session.get(Staff, staff_pk("C01"))
    incidents.create(u1, "D02c", from_hall(datetime(2024, 3, 12, 9, 0)), count=2, staff=a)
    incidents.create(u1, "D06", from_hall(datetime(2024, 3, 13, 9, 0)), staff=a, exempt=True)
    incidents.create(u2, "B01", from_hall(datetime(2024, 3, 14, 9, 0)), staff=c)
    wrong = incidents.create(u2, "D01", from_hall(datetime(2024, 3, 15, 9, 0)), staff=c, window="2")
    incidents.void(wrong, "录入错误")
    db.session.commit()
    by_staff, by_window = dashboard.tallies(2024)  # the cache moved with the audited changes
    a01 = next(r for r in by_staff if r.key == ("A01",))
    assert a01.by_month == {1: 12, 2: 24, 3: 10} and a01.items == 7  # the D02c ×2 at window 2 in March
    assert (lines(by_staff), lines(by_window)) == computed()
    assert next(r for r in by_window if r.key == ("U01", "2")).by_month == {2: 9, 3: 10}


def test_a_roster_corrected_after_closing_moves_a_kept_window(app, busy_year, monkeypatch):  # noqa: F811
    """A's window change was on Feb 14, not 15: February's roster row no longer matches, so February is
    summed again and the window-less D02c ×3 of Feb 14 (23:30) moves from window 1 to window 2, as it would
    in a live month. A posting change after February (A moved on Mar 15) leaves its cells in use."""
    months.close(2024, 2)
    db.session.commit()
    calls = summed_months(monkeypatch)
    a = db.session.get(Staff, staff_pk("A01"))
    first, second = sorted(a.postings, key=lambda p: p.start_date)
    second.end_date = date(2024, 3, 14)
    a.postings.append(Posting(unit=second.unit, category="W", window="1", start_date=date(2024, 3, 15)))
    db.session.commit()
    assert cold() == computed()
    assert calls[0] == [3]
    first.end_date, second.start_date = date(2024, 2, 13), date(2024, 2, 14)
    db.session.commit()
    calls.clear()
    _by_staff, by_window = cold()
    assert calls == [[2, 3]]
    windows = {row[0]: row[3] for row in by_window}
    assert windows[("U01", "1")] == {1: 12}
    assert windows[("U01", "2")] == {2: 24}
    assert cold() == computed()


def test_a_d19a_changed_in_an_open_month_moves_its_d19b_in_a_closed_one(app, make, busy_year):  # noqa: F811
    """The derived D19b are not kept: a D19a of a reopened January, due in the closed February, given to
    another staff member afterwards counts against the new one in February."""
    months.reopen(2024, 1, "补录")
    u2 = unit_named("U02")
    b = db.session.get(Staff, staff_pk("B01"))
    d = make.staff(u2, "D01", name="丁一", window="2")
    d19a = incidents.create(
        u2, "D19a", from_hall(datetime(2024, 1, 25, 9, 0)), staff=b, window="1", deadline=date(2024, 2, 5)
    )
    db.session.commit()
    months.close(2024, 2)
    db.session.commit()
    before = cold()
    assert next(r for r in before[0] if r[0] == ("B01",))[3][2] == 27 + 5  # the overdue D19b: 5 points
    incidents.correct(d19a, {"staff_pk": d.id, "window": None}, "登记错人")
    db.session.commit()
    after = cold()
    assert next(r for r in after[0] if r[0] == ("B01",))[3][2] == 27
    assert next(r for r in after[0] if r[0] == ("D01",))[3] == {1: 5, 2: 5}
    assert ("U02", "2") in {r[0] for r in after[1]}  # D's posting gives the D19b its window
    assert after == computed()


def test_reopen_change_and_close_again_rewrite_the_cells(app, busy_year):  # noqa: F811
    """Reopening drops the month's cells (it is summed again while open); closing again writes them with the
    change made meanwhile."""
    kept = cells_of(2024, 1)
    assert kept
    months.reopen(2024, 1, "补录一条")
    db.session.commit()
    assert cells_of(2024, 1) == []
    u1 = unit_named("U01")
    a = db.session.get(Staff, staff_pk("A01"))
    incidents.create(u1, "D03", from_hall(datetime(2024, 1, 20, 9, 0)), staff=a, window="1")
    db.session.commit()
    live = cold()
    months.close(2024, 1)
    db.session.commit()
    again = cells_of(2024, 1)
    assert ("U01", a.id, "1", True, False, 14, 3) in again  # D01, D02c ×2 and the new D03 at window 1
    assert len(again) == len(kept)
    assert cold() == live == computed()
    assert next(r for r in live[0] if r[0] == ("A01",))[3] == {1: 14, 2: 24}


def test_a_closed_month_without_cells_is_summed_the_same(app, busy_year, monkeypatch):  # noqa: F811
    """A closed month without cells (restored from an older backup, closed before they existed) is summed
    from its incidents; `keep_missing_tally_cells` writes them afterwards."""
    months.close(2024, 2)
    db.session.execute(delete(MonthTallyCell).where(MonthTallyCell.month_id == months.month_row(2024, 1).id))
    db.session.commit()
    calls = summed_months(monkeypatch)
    assert cold() == (PINNED_STAFF, PINNED_WINDOW)
    assert calls == [[1, 3]]
    written = months.keep_missing_tally_cells()
    db.session.commit()
    assert written == {"2024-01": 3}  # two cells and the roster row
    calls.clear()
    assert cold() == (PINNED_STAFF, PINNED_WINDOW)
    assert calls == [[3]]


def test_a_frozen_month_changed_behind_its_back_is_read_from_its_snapshot(app, busy_year):  # noqa: F811
    """Kept cells that no longer give the frozen deductions (a hand edit of the cells) are not used: the
    month's items come from its snapshot, as when its incidents are changed behind its back."""
    month_id = months.month_row(2024, 1).id
    db.session.execute(
        delete(MonthTallyCell).where(MonthTallyCell.month_id == month_id, MonthTallyCell.points == 4)
    )
    db.session.commit()
    assert cold() == (PINNED_STAFF, PINNED_WINDOW)


def test_a_staff_members_unit_in_a_frozen_first_month_with_two_units(app, make):
    """A staff member with items at two units in their first month, which is closed: their unit is the one
    listed first in that month's standings, found from the month's result rows (no snapshot read)."""
    u1 = make.unit("U01", name="甲局")
    u2 = make.unit("U02", name="乙局")
    s = make.staff(u2, "S01", name="调岗人", window="1", end=date(2024, 1, 14))
    s.postings.append(Posting(unit=u1, category="W", window="2", start_date=date(2024, 1, 15)))
    db.session.commit()
    make.incident(u2, "D01", at=datetime(2024, 1, 8, 9, 0), staff=s)
    make.incident(u1, "D03", at=datetime(2024, 1, 20, 9, 0), staff=s)
    make.incident(u1, "D02c", at=datetime(2024, 1, 21, 9, 0), count=4, staff=s)  # U01 listed below U02
    months.close(2024, 1)
    db.session.commit()
    by_staff, by_window = cold()
    assert by_staff == [(("S01",), "调岗人(S01)", "乙局", {1: 24}, 3)]
    assert (by_staff, by_window) == computed()
    plan = dashboard._YearPlan(2024, [1, 2, 3], date(2024, 3, 20))
    assert (
        plan.unit_order(1)
        == {u.code: n for n, u in enumerate(standings(2024, 1).units)}
        == {
            "U02": 0,
            "U01": 1,
        }
    )


def test_a_closed_year_costs_a_few_queries_and_no_incident_sums(app, busy_year, monkeypatch):  # noqa: F811
    """Once every month of a year is closed the tallies read the kept cells: a bounded number of statements,
    none summing the year's incidents (only the D19a whose D19b may land in it are read)."""
    monkeypatch.setitem(app.config, "HALL_TODAY", date(2025, 1, 10))
    monkeypatch.setitem(app.config, "HALL_NOW", datetime(2025, 1, 10, 10, 0))
    u1 = unit_named("U01")
    for m in range(4, 13):  # a staff-less finding at window 1 each month
        incidents.create(u1, "D03", from_hall(datetime(2024, m, 2, 9, 0)), window="1")
    db.session.commit()
    for m in range(2, 13):
        months.close(2024, m)
    db.session.commit()
    calls = summed_months(monkeypatch)
    dashboard._tally_cache.clear()
    db.session.remove()
    with count_queries() as statements:
        by_staff, by_window = dashboard.tallies(2024)
    assert calls == [[]]
    incident_reads = [s for s in statements if "FROM incident" in s]
    assert len(incident_reads) == 1 and "deadline" in incident_reads[0]  # the D19a of the derived D19b
    # the newest change, rulebooks, months, result rows, units, kept cells, staff, postings, the D19a
    assert len(statements) <= 9, "\n".join(statements)
    assert lines(by_staff) == PINNED_STAFF  # March as it was live (its D19a already overdue)
    window_1 = next(r for r in by_window if r.key == ("U01", "1"))
    assert window_1.by_month == {1: 12, 2: 15, **{m: 2 for m in range(4, 13)}}
    assert (lines(by_staff), lines(by_window)) == computed()


def test_a_month_whose_sums_miss_its_snapshot_keeps_no_cells(app, busy_year):  # noqa: F811
    """When the sums cannot give a month's frozen deductions the month keeps no cells (it is read from its
    snapshot's items each time, as before)."""
    from sqlalchemy import update

    months.close(2024, 2)
    db.session.commit()
    assert cells_of(2024, 2)
    db.session.execute(update(Incident).where(Incident.rule_code == "D02c").values(count=9))
    assert months.keep_tally_cells(months.month_row(2024, 2)) == 0
    assert cells_of(2024, 2) == []
    a01 = next(r for r in cold()[0] if r[0] == ("A01",))
    assert a01[3] == {1: 12, 2: 24}  # February as frozen (its D02c now count 9 each)
    db.session.rollback()
