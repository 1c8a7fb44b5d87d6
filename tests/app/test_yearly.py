"""The yearly summary (年终汇总, issue 9 item 9): every unit's months from the standings, the tallies, a page
for leaders and admins, an .xlsx and an official document (print page and PDF)."""

from __future__ import annotations

import dataclasses
import io
from datetime import UTC, date, datetime

from openpyxl import load_workbook

from models import db
from services import months, standings, yearly
from tests.html import parse
from tests.query_count import count_queries

FORMULA = "=1+1"


def build(make, units: int) -> list:
    """`units` units; January published, February closed, March (today's month: 2024-03-20) live."""
    made = []
    for n in range(units):
        unit = make.unit(f"U{n:02d}", name=f"单位{n:02d}", display_order=units - n)
        person = make.staff(unit, f"S{n:02d}", name=f"人员{n:02d}", window="1")
        for month in (1, 2, 3):
            for k in range(n % 4):
                make.incident(
                    unit, ("D01", "D03", "D05a")[k % 3], at=datetime(2024, month, 3 + k, 9, 0), staff=person
                )
        made.append(unit)
    make.incident(made[0], "D01", at=datetime(2024, 3, 4, 9, 0), note=FORMULA, public_text=FORMULA)
    make.incident(made[-1], "B01", at=datetime(2024, 2, 6, 10, 0))
    months.close(2024, 1)
    months.publish(2024, 1)
    months.close(2024, 2)
    db.session.commit()
    return made


def test_the_page_agrees_with_the_standings_api_for_every_month(client, login, make):
    build(make, 5)
    login("leader")
    page = parse(client.get("/admin/years/2024").text)
    assert page.one("h1").text == "2024年度考核汇总"
    rows = page.all("#year-table tbody tr")
    codes = [r.get("data-unit") for r in rows]
    assert codes == ["U04", "U03", "U02", "U01", "U00"]  # the hall's display order
    for month in (1, 2, 3):
        api = client.get("/api/standings", query_string={"month": f"2024-{month:02d}"}).get_json()
        by_code = {u["code"]: u for u in api["units"]}
        assert set(by_code) == set(codes)
        for row in rows:
            unit = by_code[row.get("data-unit")]
            score = row.one(f'td.score[data-month="{month}"]').text
            rank = row.one(f'td.rank[data-month="{month}"]').text
            grade = {"excellent": "优秀", "good": "良好", "qualified": "合格", "unqualified": "不合格"}[
                unit["grade"]
            ]
            assert score.split()[0] == str(unit["score"]) and grade in score
            assert rank == str(unit["rank"])
    assert "3月" in page.one("#open-months").text and "2月" not in page.one("#open-months").text
    # The tallies of the year, as the tallies page lists them.
    assert page.all("#tally-staff tbody tr td")[0].text.startswith("人员03")


def test_the_summary_reads_standings_and_counts_grades_and_flags(app, make):
    build(make, 5)
    with app.test_request_context():
        s = yearly.summary(2024)
    assert s.months == [1, 2, 3] and s.status == {1: "published", 2: "closed", 3: "open"}
    assert s.open_months == [3] and not s.complete
    for u in s.units:
        for m in (1, 2, 3):
            # Every figure of the month's standings; not its items (the summary shows none, nor keeps them).
            assert u.months[m] == dataclasses.replace(standings.standings(2024, m).unit(u.code), items=())
        assert sum(u.grade_months(g) for g in ("excellent", "good", "qualified", "unqualified")) == 3
        assert u.deductions == sum(standings.standings(2024, m).unit(u.code).deductions for m in (1, 2, 3))


def test_a_year_without_results_is_404_and_the_bare_address_goes_to_this_year(client, login, make):
    build(make, 2)
    login("admin")
    for year in (2099, 2025, 1999):
        assert client.get(f"/admin/years/{year}").status_code == 404
        assert client.get(f"/admin/years/{year}/summary.xlsx").status_code == 404
        assert client.get(f"/admin/years/{year}/document").status_code == 404
    response = client.get("/admin/years")
    assert response.status_code == 302 and response.headers["Location"].endswith("/admin/years/2024")
    assert client.get("/admin/years?year=junk").headers["Location"].endswith("/admin/years/2024")


def test_leaders_and_admins_only(client, login, make):
    units = build(make, 2)
    for role, status in (("inspector", 403), ("unit", 403), ("leader", 200), ("admin", 200)):
        login(role, unit=units[0] if role == "unit" else None, username=f"y-{role}")
        assert client.get("/admin/years/2024").status_code == status, role
        client.post("/logout")
    login("leader", username="y-nav")
    nav = parse(client.get("/admin/").text)
    # In the menu, and among the dashboard's tasks of a leader.
    assert [a.get("href") for a in nav.all("a") if a.text == "年终汇总"] == ["/admin/years"] * 2


def test_the_summary_sheet_has_months_grades_ranks_and_typed_text_stays_text(client, login, make):
    build(make, 3)
    make.unit("U09", name='=HYPERLINK("x")')
    login("admin")
    response = client.get("/admin/years/2024/summary.xlsx")
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    wb = load_workbook(io.BytesIO(response.data))
    assert wb.sheetnames == ["年度汇总", "人员扣分", "窗口扣分"]
    ws = wb["年度汇总"]
    assert ws["A1"].value == "2024年度 派驻单位考核汇总"
    assert "3月" in ws["A2"].value  # the open month named
    assert [ws.cell(row=3, column=c).value for c in (1, 2, 3, 6, 9)] == [
        "单位代码",
        "单位",
        "1月",
        "2月",
        "3月",
    ]
    assert [ws.cell(row=4, column=c).value for c in (3, 4, 5)] == ["得分", "等级", "名次"]
    assert ws.freeze_panes == "C5"
    rows = {ws.cell(row=r, column=1).value: r for r in range(5, ws.max_row + 1)}
    for m in (1, 2, 3):
        result = standings.standings(2024, m)
        for u in result.units:
            r = rows[u.code]
            score, grade, rank = (ws.cell(row=r, column=3 * m + c) for c in (0, 1, 2))
            assert (score.value, rank.value) == (u.score, u.rank)
            assert score.data_type == "n" and rank.data_type == "n" and isinstance(score.value, int)
            assert grade.value in ("优秀", "良好", "合格", "不合格")
    typed = ws.cell(row=rows["U09"], column=2)
    assert typed.value == '=HYPERLINK("x")' and typed.data_type == "s"
    for sheet in wb.worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                assert cell.data_type != "f"
    staff = wb["人员扣分"]
    assert staff.cell(row=3, column=1).value == "人员" and staff.freeze_panes == "A4"


def test_the_document_is_an_official_report_with_every_unit(client, login, make):
    build(make, 3)
    login("leader")
    response = client.get("/admin/years/2024/document")
    assert response.status_code == 200
    page = parse(response.text)
    assert page.one("#doc-title").text == "关于2024年度派驻单位考核情况的报告"
    assert page.one("#doc-addressee").text == "市人民政府:"
    assert [r.get("data-unit") for r in page.all("#year-doc-table tbody tr")] == ["U02", "U01", "U00"]
    assert "初稿" in response.text  # months still open
    assert page.one("a#download-pdf").get("href") == "/admin/years/2024/document?format=pdf"


def test_the_document_renders_as_pdf(client, login, make):
    build(make, 2)
    login("admin")
    response = client.get("/admin/years/2024/document?format=pdf")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    assert response.data.startswith(b"%PDF")
    from tests.app.test_documents import pdf_fonts, pdf_text

    text = pdf_text(response.data)
    assert "关于2024年度派驻单位考核情况的报告" in text and "市人民政府" in text
    assert "单位00" in text and "单位01" in text and "特此报告" in text
    assert "CJK" in pdf_fonts(response.data)  # Chinese in a CJK font, never tofu boxes


def test_the_page_costs_the_same_queries_whatever_the_number_of_units(app, client, login, make):
    from services.standings import _cache, _frozen_cache, _grades_cache

    build(make, 3)
    login("leader", username="q-leader")

    def cost() -> int:
        _cache.clear()  # cold: the live months scored again, the frozen months' grades read again
        _grades_cache.clear()
        _frozen_cache.clear()  # and their snapshots decoded again (one query each: it is read when asked)
        db.session.expire_all()
        with count_queries() as statements:
            assert client.get("/admin/years/2024").status_code == 200
        return len(statements)

    small = cost()
    assert small <= 30  # months' rows, each live month scored once, units, tallies, notices, appeals, honours
    for n in range(3, 12):
        unit = make.unit(f"V{n:02d}", name=f"新单位{n:02d}")
        person = make.staff(unit, f"T{n:02d}", name=f"新人员{n:02d}")
        make.incident(unit, "D01", at=datetime(2024, 3, 4, 9, 0), staff=person)
        make.incident(unit, "D03", at=datetime(2024, 3, 5, 9, 0), staff=person)
    assert cost() == small


def test_notices_and_appeals_are_counted_and_candidates_are_not_honours(client, login, make):
    from models.appeal import Appeal
    from models.notice import Notice

    units = build(make, 3)
    u0, u1 = units[0], units[1]
    incident = make.incident(u0, "D03", at=datetime(2024, 3, 8, 9, 0))
    other = make.incident(u0, "D01", at=datetime(2024, 3, 9, 9, 0))
    db.session.add_all(
        [
            Appeal(incident_id=incident.id, unit_id=u0.id, reason="不是我们", status="voided"),
            Appeal(incident_id=other.id, unit_id=u0.id, reason="也不是", status="upheld"),
            Notice(
                unit_id=u1.id,
                year=2024,
                month=1,
                flag="notice_feedback",
                reasons=[],
                opened_on=date(2024, 2, 1),
                deadline=date(2024, 2, 8),
                answer_text="已整改",
                answered_at=datetime(2024, 2, 5, 2, 0, tzinfo=UTC),
            ),
            Notice(
                unit_id=u1.id,
                year=2024,
                month=2,
                flag="notice_feedback",
                reasons=[],
                opened_on=date(2024, 3, 1),
                deadline=date(2024, 3, 8),
            ),
            # A notice of another year is not this year's.
            Notice(
                unit_id=u1.id,
                year=2023,
                month=12,
                flag="notice_feedback",
                reasons=[],
                opened_on=date(2024, 1, 2),
                deadline=date(2024, 1, 9),
            ),
        ]
    )
    db.session.commit()
    login("admin")
    page = parse(client.get("/admin/years/2024").text)
    heads = [th.text for th in page.all("#year-table thead tr")[0].all("th")]
    assert heads[-4:] == ["书面通报(件)", "已反馈", "申诉(次)", "申诉成立"]
    # The scoring's quarter candidates are not honours: no honours column until a roll is published.
    assert not any("先进" in h or "优秀窗口" in h for h in heads)
    cells = {
        r.get("data-unit"): [td.text for td in r.all("td")][-4:] for r in page.all("#year-table tbody tr")
    }
    assert cells[u0.code] == ["0", "0", "2", "1"]
    assert cells[u1.code] == ["2", "1", "0", "0"]
    wb = load_workbook(io.BytesIO(client.get("/admin/years/2024/summary.xlsx").data))
    ws = wb["年度汇总"]
    header = [ws.cell(row=3, column=c).value for c in range(1, ws.max_column + 1)]
    assert header[-4:] == ["书面通报(件)", "已反馈", "申诉(次)", "申诉成立"]
    row = next(r for r in range(5, ws.max_row + 1) if ws.cell(row=r, column=1).value == u0.code)
    assert [ws.cell(row=row, column=c).value for c in range(len(header) - 3, len(header) + 1)] == [0, 0, 2, 1]


def test_published_honours_get_columns_drafts_do_not_count(client, login, make):
    from models.honor import HonorEntry, HonorRoll

    units = build(make, 3)
    u0, u1, u2 = units
    person = make.staff(u1, "S901", name="先进甲", window="1")
    q1 = HonorRoll(kind="quarter", year=2024, quarter=1, status="published")
    q1.entries = [
        HonorEntry(kind="collective", unit_id=u0.id),
        HonorEntry(kind="individual", unit_id=u1.id, staff_pk=person.id, window="1"),
    ]
    draft = HonorRoll(kind="quarter", year=2024, quarter=2, status="draft")
    draft.entries = [HonorEntry(kind="collective", unit_id=u2.id)]
    year_roll = HonorRoll(kind="year", year=2024, quarter=0, status="published")
    year_roll.entries = [HonorEntry(kind="year_unit", unit_id=u0.id)]
    earlier = HonorRoll(kind="quarter", year=2023, quarter=4, status="published")
    earlier.entries = [HonorEntry(kind="collective", unit_id=u1.id)]
    db.session.add_all([q1, draft, year_roll, earlier])
    db.session.commit()
    login("leader")
    page = parse(client.get("/admin/years/2024").text)
    heads = [th.text for th in page.all("#year-table thead tr")[0].all("th")]
    at = heads.index("先进集体(季)")
    assert heads[at : at + 3] == ["先进集体(季)", "先进个人(人次)", "年度优秀窗口单位"]
    first_month_cell = 1  # the unit's name; then two cells per month, then the rest in header order
    offset = first_month_cell + 2 * 3 + (at - 1 - 3)
    cells = {r.get("data-unit"): [td.text for td in r.all("td")] for r in page.all("#year-table tbody tr")}
    assert cells[u0.code][offset : offset + 3] == ["1", "0", "1"]
    assert cells[u1.code][offset : offset + 3] == ["0", "1", "0"]
    assert cells[u2.code][offset : offset + 3] == ["0", "0", "0"]  # a draft roll honours nobody
    doc = parse(client.get("/admin/years/2024/document").text)
    assert "年度优秀窗口单位" in [th.text for th in doc.all("#year-doc-table thead th")]


def test_the_summary_and_tallies_follow_a_new_incident(app, make):
    """Both are kept until the next audited change: a new incident shows at once."""
    from services import incidents
    from services.clock import from_hall
    from services.dashboard import tallies

    made = build(make, 3)
    with app.test_request_context():
        before = yearly.summary(2024)
        assert yearly.summary(2024) is before  # kept
        staff_before = {r.key: r.total for r in tallies(2024)[0]}
        person = made[0]
        from models import Staff

        s00 = db.session.scalar(db.select(Staff).where(Staff.staff_id == "S00"))
        incidents.create(person, "D03", from_hall(datetime(2024, 3, 10, 9, 0)), staff=s00, window="1")
        db.session.commit()
        after = yearly.summary(2024)
    assert after is not before
    unit = next(u for u in after.units if u.code == "U00")
    old = next(u for u in before.units if u.code == "U00")
    assert unit.months[3].deductions == old.months[3].deductions + 2
    assert {r.key: r.total for r in after.by_staff}[("S00",)] == staff_before.get(("S00",), 0) + 2


def test_the_pages_kept_with_the_summary_follow_a_change(client, login, make):
    """The units table and the document are rendered once per summary: the next audited change (an incident
    in the live month) shows on both at once, and the document shows a newly set issuing office."""
    made = build(make, 3)
    login("admin")

    def march_score(url: str, selector: str) -> str:
        page = parse(client.get(url).text)
        row = next(r for r in page.all(selector) if r.get("data-unit") == "U00" or "单位00" in r.text)
        return row.text

    before = march_score("/admin/years/2024", "#year-table tbody tr")
    assert march_score("/admin/years/2024", "#year-table tbody tr") == before  # kept
    doc_before = client.get("/admin/years/2024/document").text
    make.incident(made[0], "D03", at=datetime(2024, 3, 12, 9, 0))
    assert march_score("/admin/years/2024", "#year-table tbody tr") != before
    assert client.get("/admin/years/2024/document").text != doc_before
    from services import documents

    documents.save_settings("测试发文机关", "测政")
    db.session.commit()
    assert "测试发文机关" in client.get("/admin/years/2024/document").text


def test_frozen_months_are_read_from_their_result_rows_as_the_standings_give_them(app, make):
    """`unit_results_for` reads a frozen month's units from `month_unit_result` (no snapshot decoded):
    the same codes, names, scores, grades, ranks, deductions, bonuses and flag codes, in the same order,
    as the standings; a month without such rows, or with a unit gone, is read from the standings."""
    from sqlalchemy import delete

    from models import MonthUnitResult
    from services.standings import month_rows, unit_results_for

    build(make, 6)
    keys = [(2024, 1), (2024, 2), (2024, 3)]
    with app.test_request_context():

        def shape(units):
            return [
                (u.code, u.name, u.score, str(u.grade), u.rank, u.deductions, u.bonus, u.flag_codes, u.items)
                for u in units
            ]

        expected = {
            k: shape(dataclasses.replace(u, items=()) for u in standings.standings(*k).units) for k in keys
        }
        rows = month_rows(keys)
        assert {k: shape(v) for k, v in unit_results_for(keys, rows).items()} == expected
        db.session.execute(delete(MonthUnitResult).where(MonthUnitResult.month_id == rows[(2024, 1)].id))
        db.session.commit()
        assert {k: shape(v) for k, v in unit_results_for(keys, month_rows(keys)).items()} == expected
