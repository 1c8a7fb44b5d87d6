"""Query budgets: what each busy page sends to the database does not grow with the rows it shows.

Each page is counted cold (standings caches emptied, a fresh session), once on a small hall and once on a
hall with several times the units, staff and incidents over the same months: the two counts must be equal,
and within the page's budget. Before issue 8 the incidents list cost 116 queries on the demo hall (a lazy
load per row), the tallies 140, the portal home 61.
"""

from __future__ import annotations

import os
from datetime import date, datetime

import pytest

from models import Evidence, IncidentStatus, Role, db
from services import incidents, months, standings
from services.clock import from_hall
from tests.conftest import PASSWORD, wipe
from tests.html import parse
from tests.query_count import count_queries

# Page -> at most this many statements (SQLite and PostgreSQL alike), whatever the number of rows. A live
# month's standings computed cold cost about ten of them (the months before it, units, incidents, rules).
BUDGETS = {
    "dashboard admin": 17,  # +1: the units' requests waiting (one statement)
    "dashboard inspector": 12,
    "dashboard leader": 15,
    "incidents": 8,
    "incidents page 2": 8,
    "incidents filtered": 8,
    "standings": 12,
    "standings closed": 4,
    "tallies": 10,  # the year's sums in one statement; months, frozen units' rows, units, staff, postings
    "year summary": 22,  # the tallies' and each month's standings (frozen ones in one query)
    "year summary xlsx": 21,
    "year summary document": 23,  # + its 文号
    "portal home": 22,  # +1: the items' appeal states (one query whatever the rows); +1: unread count (inbox)
    "portal month": 11,  # +1: the items' appeal states; +2: unread count, bulletin receipt (inbox)
    "portal month live": 19,  # +1: the items' appeal states; +1: unread count (inbox)
    "notice": 14,  # with the appeal state (rulebook and calendar read twice: room to save)
    "portal notice": 14,
    "bulletin": 9,  # 8 with its 文号; the view reads the standings twice and the month row thrice
    "bulletin live": 17,
    "patrol": 4,  # one group of units: rulebook, units, the group's counts, the user's recent taps
    "staff": 5,  # paged in SQL: count, page, its staff with postings and units, the unit filter's list
    "audit": 10,  # keyset page + count capped at 1000; the filters' choices; names of the rows' objects
    "audit older": 11,  # + one probe for newer rows
}


def build(make, units: int, per_unit: int) -> dict:
    """A hall with `units` units (two staff each) and `per_unit` incidents per unit in each of January,
    February and March 2024 (today is 2024-03-20): January published, February closed, March live.
    Besides: per unit one overdue D19a (its D19b lands in March), one bonus, one voided and one proposed
    incident in March, and evidence on every March incident of the first staff member."""
    hall = {"units": [], "march": []}
    for u in range(units):
        unit = make.unit(f"U{u:02d}", name=f"单位{u:02d}", windows="1;2", display_order=u)
        people = [
            make.staff(unit, staff_id=f"S{u:02d}{k}", name=f"人员{u:02d}{k}", window=str(k + 1))
            for k in range(2)
        ]
        hall["units"].append(unit)
        for month in (1, 2, 3):
            for i in range(per_unit):
                person = people[i % 2]
                incident = incidents.create(
                    unit,
                    ("D01", "D03", "D05a")[i % 3],
                    from_hall(datetime(2024, month, 1 + i % 18, 9, u % 60)),
                    staff=person,
                    window=str(i % 2 + 1),
                    public_text=f"通知单正文{u:02d}-{month}-{i}",
                )
                if month == 3:
                    hall["march"].append(incident)
                    if i % 2 == 0:
                        db.session.add(
                            Evidence(
                                incident=incident,
                                filename=f"照片{i}.jpg",
                                stored_name=f"{u:02d}-{i}.jpg",
                                content_type="image/jpeg",
                                size=100,
                            )
                        )
        incidents.create(
            unit,
            "D19a",
            from_hall(datetime(2024, 2, 20, 10, 0)),
            staff=people[0],
            deadline=date(2024, 3, 5),
            public_text="限期整改",
        )
        incidents.create(unit, "B01", from_hall(datetime(2024, 3, 6, 10, 0)), public_text="表扬")
        voided = incidents.create(unit, "D07b", from_hall(datetime(2024, 3, 7, 10, 0)), staff=people[1])
        incidents.void(voided, "误录")
        incidents.create(unit, "D07b", from_hall(datetime(2024, 3, 8, 10, 0)), status=IncidentStatus.PROPOSED)
    db.session.commit()
    months.close(2024, 1)
    months.publish(2024, 1)
    months.close(2024, 2)
    db.session.commit()
    users = {
        role: make.user(role, unit=hall["units"][0] if role == Role.UNIT else None)
        for role in (Role.ADMIN, Role.INSPECTOR, Role.LEADER, Role.UNIT)
    }
    # Plain values: the pages are counted with a fresh session each, which detaches these rows.
    return {
        "usernames": {role: user.username for role, user in users.items()},
        "unit_id": hall["units"][0].id,
        "units": units,
        "incident_id": hall["march"][0].id,  # unit U00's first March incident: staff 人员000, evidence
        "march_count": units * (per_unit + 3),  # the month's incidents on the list (D19a is February's)
    }


def pages(hall: dict) -> list[tuple[str, str, str, str]]:
    """(name, role, url, a text the page must show) of every page with a budget."""
    unit_id, mine = hall["unit_id"], hall["incident_id"]
    n = hall["march_count"]
    return [
        ("dashboard admin", Role.ADMIN, "/admin/", "2024-02 已关账,待发布"),
        ("dashboard inspector", Role.INSPECTOR, "/admin/", "巡查表"),
        ("dashboard leader", Role.LEADER, "/admin/", "2024-02 已关账,待发布"),
        ("incidents", Role.ADMIN, "/admin/incidents", f"2024-03 共 {n} 条"),
        ("incidents page 2", Role.ADMIN, "/admin/incidents?page=2", f"第 2 / {-(-n // 50)} 页"),
        (
            "incidents filtered",
            Role.ADMIN,
            f"/admin/incidents?month=2024-03&unit_id={unit_id}&status=confirmed",
            f"2024-03 共 {n // hall['units'] - 2} 条",
        ),
        ("standings", Role.ADMIN, "/admin/standings", "单位00"),
        ("standings closed", Role.LEADER, "/admin/standings?month=2024-02", "单位00"),
        ("tallies", Role.ADMIN, "/admin/tallies?year=2024", "人员000(S000)"),
        ("year summary", Role.LEADER, "/admin/years/2024", "人员000(S000)"),
        ("year summary xlsx", Role.LEADER, "/admin/years/2024/summary.xlsx", ""),
        ("year summary document", Role.LEADER, "/admin/years/2024/document", "人员000(S000)"),
        ("portal home", Role.UNIT, "/portal/", "单位00"),
        ("portal month", Role.UNIT, "/portal/months/2024-01", "通知单正文00-1-0"),
        ("portal month live", Role.UNIT, "/portal/months/2024-03", "通知单正文00-3-0"),
        ("notice", Role.ADMIN, f"/admin/incidents/{mine}/notice", "通知单正文00-3-0"),
        ("portal notice", Role.UNIT, f"/portal/items/{mine}/notice", "通知单正文00-3-0"),
        ("bulletin", Role.LEADER, "/admin/months/2024-01/bulletin", "单位00"),
        ("bulletin live", Role.ADMIN, "/admin/months/2024-03/bulletin", "单位00"),
        ("patrol", Role.INSPECTOR, "/admin/patrol", "单位00"),
        ("staff", Role.ADMIN, "/admin/staff?ended=1", "人员000"),
        ("audit", Role.ADMIN, "/admin/audit?action=incident.created", "扣分记录 #"),
        ("audit older", Role.ADMIN, "/admin/audit?action=incident.created&before=1000000000", "« 最新"),
    ]


def measure(client, hall: dict) -> dict[str, int]:
    """Each page's statements, counted cold; the page must answer 200 and show its text."""
    counts, problems = {}, []
    by_role: dict[str, list] = {}
    for page in pages(hall):
        by_role.setdefault(page[1], []).append(page)
    for role, role_pages in by_role.items():
        client.get("/logout")
        login = {"username": hall["usernames"][role], "password": PASSWORD}
        assert client.post("/login", data=login).status_code == 302
        for name, _role, url, text in role_pages:
            client.get(url)  # warm the caches that live as long as the process (parsed rulebooks)
            standings._cache.clear()
            standings._frozen_cache.clear()
            standings._grades_cache.clear()
            db.session.close()
            with count_queries() as statements:
                response = client.get(url)
            binary = response.mimetype.startswith("application/")  # the .xlsx: its text is not checked
            html = "" if binary else response.get_data(as_text=True)
            if response.status_code != 200 or text not in html:
                problems.append(f"{name} {url}: {response.status_code}, {text!r} not shown")
            counts[name] = len(statements)
            if os.environ.get("SHOW_QUERIES") == name:
                print("\n".join(q[:160].replace("\n", " ") for q in statements))
    assert not problems, problems
    return counts


def test_pages_cost_the_same_queries_for_few_and_many_rows(client, make):
    few = measure(client, build(make, units=3, per_unit=int(os.environ.get("FEW", 15))))
    db.session.close()  # PostgreSQL: TRUNCATE waits for every open transaction
    wipe()
    standings._cache.clear()
    from services.rulebooks import ensure_shipped

    ensure_shipped()
    db.session.commit()
    many = measure(client, build(make, units=8, per_unit=20))
    grew = {name: (few[name], many[name]) for name in few if many[name] != few[name]}
    assert not grew, f"queries grew with the rows (few, many): {grew}"
    over = {name: (n, BUDGETS[name]) for name, n in many.items() if n > BUDGETS[name]}
    assert not over, f"over budget (queries, budget): {over}; all: {many}"


# ------------------------------------------------------------------ the incidents list, paged in SQL


@pytest.fixture
def month_of_incidents(make):
    """61 incidents in March 2024 of two units (voided, proposed, exempt, bonus among them), 1 in February."""
    u1, u2 = make.unit("U01", name="甲单位"), make.unit("U02", name="乙单位")
    person = make.staff(u1, staff_id="S001", name="张三")
    for i in range(55):
        incidents.create(
            u1, "D01", from_hall(datetime(2024, 3, 1 + i % 19, 8, i)), staff=person, count=1 + i % 2
        )
    voided = incidents.create(u2, "D03", from_hall(datetime(2024, 3, 2, 9, 0)))
    incidents.void(voided, "误录")
    incidents.create(u2, "D07b", from_hall(datetime(2024, 3, 3, 9, 0)), status=IncidentStatus.PROPOSED)
    incidents.create(u2, "D06", from_hall(datetime(2024, 3, 4, 9, 0)), exempt=True)
    incidents.create(u2, "B01", from_hall(datetime(2024, 3, 5, 9, 0)))
    incidents.create(u2, "B01", from_hall(datetime(2024, 3, 6, 9, 0)), count=2)
    incidents.create(u2, "D02c", from_hall(datetime(2024, 3, 7, 9, 0)))
    incidents.create(u2, "D01", from_hall(datetime(2024, 2, 7, 9, 0)))
    db.session.commit()
    return {"u1": u1.id, "u2": u2.id}


def _table(client, **query):
    response = client.get("/admin/incidents", query_string=query)
    page = parse(response.get_data(as_text=True))
    return response.status_code, page


def test_list_pages_and_totals_come_from_the_whole_filtered_month(client, login, month_of_incidents):
    login("leader")
    status, first = _table(client)
    assert status == 200
    assert first.text_of("incident-count") == "2024-03 共 61 条 · 第 1 / 2 页"
    assert len(first.all("tr[data-incident]")) == 50
    # Confirmed: 55 D01 (28 × 1 + 27 × 2 = 82 counts, -2 each), D06 exempt 0, D02c -5; B01 +3 and +6.
    assert first.text_of("total-deductions") == str(-2 * 82 - 5)
    assert first.text_of("total-bonus") == "+9"
    status, second = _table(client, page=2)
    assert status == 200 and len(second.all("tr[data-incident]")) == 11
    assert second.text_of("total-deductions") == first.text_of("total-deductions")
    shown = {r.get("data-incident") for r in first.all("tr[data-incident]")}
    assert not shown & {r.get("data-incident") for r in second.all("tr[data-incident]")}
    # Newest first across the pages: the last row of page 2 is the month's oldest (U01, 03-01 08:00).
    assert second.all("tr[data-incident]")[-1].all("td")[0].text == "03-01 08:00"
    # The filters are applied by the database, totals included.
    status, bonus = _table(client, unit_id=month_of_incidents["u2"], rule_code="B01")
    assert bonus.text_of("incident-count") == "2024-03 共 2 条"
    assert bonus.text_of("total-deductions") == "0" and bonus.text_of("total-bonus") == "+9"
    status, voided = _table(client, status="voided")
    assert voided.text_of("incident-count") == "2024-03 共 1 条" and voided.text_of("total-bonus") == "0"
    status, february = _table(client, month="2024-02")
    assert february.text_of("incident-count") == "2024-02 共 1 条"
    # A row shows its unit, staff member and points without a query of its own (see the budgets above).
    row = first.all("tr[data-incident]")[0]
    assert [td.text for td in row.all("td")][1:4] == ["甲单位", "", "张三"] or "甲单位" in row.text


@pytest.mark.parametrize("page", ["3", "99999999999999999999", "9223372036854775808"])
def test_a_page_past_the_last_is_empty_with_a_way_back(client, login, month_of_incidents, page):
    login("admin")
    status, html = _table(client, page=page)
    assert status == 200
    assert html.all("tr[data-incident]") == []
    assert "共 2 页" in html.text_of("page-beyond") and "回到第 2 页" in html.text_of("page-beyond")
    assert html.text_of("total-deductions") == str(-2 * 82 - 5)


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"page": "-1"}, "页码无效"),
        ({"page": "0"}, "页码无效"),
        ({"page": "abc"}, "请填写整数"),
        ({"unit_id": "99999999999999999999"}, "筛选条件无效"),
        ({"unit_id": "-5"}, "筛选条件无效"),
        ({"unit_id": "abc"}, "筛选条件无效"),
        ({"recorded_by": "99999999999999999999"}, "筛选条件无效"),
        ({"rule_code": "X99"}, "筛选条件无效"),
        ({"month": "9999-12"}, "9999-12 尚未开始"),
        ({"month": "2024-04"}, "2024-04 尚未开始"),
        ({"month": "0001-01"}, "早于考核细则的生效日期"),
        ({"month": "2024-13"}, "月份格式应为 YYYY-MM"),
    ],
)
def test_bad_list_filters_are_a_chinese_422_never_a_500(client, login, month_of_incidents, query, message):
    login("admin")
    status, html = _table(client, **query)
    assert status == 422
    assert message in html.one(".flash-error").text
    assert html.all("tr[data-incident]") == []


def test_tallies_read_a_year_of_incidents_by_time_and_last_years_overdue_d19a(client, login, make):
    """The tallies read the year's incidents by time range (no list of ids a busy year would overflow);
    an overdue D19a of last December still counts its D19b in January against its staff member."""
    unit = make.unit("U01", name="甲单位")
    person = make.staff(unit, staff_id="S001", name="张三", start=date(2023, 12, 1))
    incidents.create(
        unit,
        "D19a",
        from_hall(datetime(2023, 12, 20, 9, 0)),
        staff=person,
        window="1",
        deadline=date(2024, 1, 5),
    )
    incidents.create(unit, "D01", from_hall(datetime(2024, 2, 10, 9, 0)), staff=person, window="1")
    db.session.commit()
    login("admin")
    page = parse(client.get("/admin/tallies?year=2024").get_data(as_text=True))
    row = next(r for r in page.all("#tally-staff tbody tr") if "张三(S001)" in r.text)
    cells = [td.text for td in row.all("td")]
    # Columns: name, unit, January … December, total, items. January: the D19b (5); February: the D01 (2).
    assert cells[0] == "张三(S001)" and cells[2] == "5" and cells[3] == "2" and cells[14] == "7"
