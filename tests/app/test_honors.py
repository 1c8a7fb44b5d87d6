"""The chosen honor roll (issue 9 item 6): candidates, choosing, publishing, unpublishing, the hall screen,
the notifications and the praise letter.

HALL_TODAY is 2024-03-20: the fourth quarter of 2023 and the year 2023 have ended; 2024's first quarter has
not. The hall's first closed month is 2023-10 (`hall` closes October to December 2023).
"""

from __future__ import annotations

import re
from datetime import date, datetime

import pytest
from sqlalchemy import func, select

from models import AuditLog, Notification, db
from models.honor import HonorEntry, HonorRoll
from services import DomainError, honors, kiosk, months
from services import standings as standings_service


@pytest.fixture(autouse=True)
def fresh_caches(app):
    standings_service._cache.clear()
    kiosk.clear_caches()
    yield
    kiosk.clear_caches()


@pytest.fixture
def hall(make):
    """Q4 2023: 市税务局 with a bonus (302+), 市公安局 with one D01 by its staff (excellent still), 市商务局
    quarter_ineligible (D11), and staff at each; October to December closed."""
    tax = make.unit("U01", name="市税务局", windows="1;2")
    police = make.unit("U02", name="市公安局", windows="3;4")
    trade = make.unit("U03", name="市商务局", windows="5")
    wang = make.staff(tax, "S01", name="王小明", window="1", start=date(2023, 1, 1))
    li = make.staff(tax, "S02", name="李华", window="2", start=date(2023, 1, 1))
    zhao = make.staff(police, "S03", name="赵敏", window="3", start=date(2023, 1, 1))
    sun = make.staff(trade, "S04", name="孙强", window="5", start=date(2023, 1, 1))
    make.incident(tax, "B03", at=datetime(2023, 10, 10, 9, 0))
    make.incident(police, "D01", at=datetime(2023, 11, 8, 9, 0), staff=zhao, window="3")
    make.incident(trade, "D11", at=datetime(2023, 12, 5, 9, 0), staff=sun)
    for m in (10, 11, 12):
        months.close(2023, m)
    db.session.commit()
    return {"tax": tax, "police": police, "trade": trade, "wang": wang, "li": li, "zhao": zhao, "sun": sun}


def rolls() -> int:
    return db.session.scalar(select(func.count(HonorRoll.id)))


def honor_html(client) -> str:
    html = client.get("/kiosk/").get_data(as_text=True)
    return html


# ---------------------------------------------------------------- when a period can be chosen


def test_a_quarter_not_ended_or_in_the_future_is_refused_in_chinese(hall):
    with pytest.raises(DomainError, match="2024年第一季度尚未结束,不能评选光荣榜"):
        honors.candidates("quarter", 2024, 1)
    with pytest.raises(DomainError, match="2024年第三季度尚未结束"):
        honors.save_selection("quarter", 2024, 3, [hall["tax"].id])
    with pytest.raises(DomainError, match="2024年尚未结束"):
        honors.candidates("year", 2024)
    assert rolls() == 0


def test_a_quarter_with_a_month_not_closed_is_refused(hall):
    months.reopen(2023, 12, "补录")
    db.session.commit()
    with pytest.raises(DomainError, match="2023年12月尚未关账,请先关账再评选2023年第四季度光荣榜"):
        honors.candidates("quarter", 2023, 4)


def test_a_quarter_before_the_hall_closed_any_month_has_nothing_to_choose(hall):
    assert honors.period_problem("quarter", 2023, 3) == "2023年第三季度没有已关账的考核月份,不能评选光荣榜"


# ---------------------------------------------------------------- candidates


def test_candidates_are_the_computed_ones_with_their_staff_and_tallies(hall):
    cands = honors.candidates("quarter", 2023, 4)
    assert cands.months == [(2023, 10), (2023, 11), (2023, 12)]
    assert [u.name for u in cands.units] == ["市税务局", "市公安局"]  # 市商务局: quarter_ineligible
    assert cands.units[0].scores == (102, 100, 100) and cands.units[1].scores == (100, 98, 100)
    staff = [(s.name, s.unit_name, s.window, s.deductions) for s in cands.staff]
    assert staff == [
        ("王小明", "市税务局", "1", 0),
        ("李华", "市税务局", "2", 0),
        ("赵敏", "市公安局", "3", 2),
    ]


def test_year_candidates_are_excellent_on_average_over_the_assessed_months(hall):
    cands = honors.candidates("year", 2023)
    assert cands.months == [(2023, 10), (2023, 11), (2023, 12)]  # from the first closed month on
    assert [(u.name, u.average) for u in cands.units] == [
        ("市税务局", 101),
        ("市公安局", 99),
        ("市商务局", 98),
    ]


# ---------------------------------------------------------------- choosing and publishing (the admin)


def choose(client, period, units=(), staff=()):
    return client.post(
        f"/admin/honors/{period}/select",
        data={"unit": [str(u) for u in units], "staff": [str(s) for s in staff]},
    )


def test_choose_publish_and_the_hall_screen_shows_only_the_published_roll(client, login, hall):
    login("admin")
    page = client.get("/admin/honors/2023-Q4").get_data(as_text=True)
    assert "先进集体候选" in page and "市税务局" in page and "赵敏" in page and "−2" in page
    assert "市商务局" not in page.split('id="unit-candidates"')[1].split("</table>")[0]

    response = choose(client, "2023-Q4", [hall["tax"].id, hall["police"].id], [hall["wang"].id])
    assert response.status_code == 302
    roll = honors.roll_for("quarter", 2023, 4)
    assert roll.status == "draft" and [e.kind for e in roll.entries] == [
        "collective",
        "collective",
        "individual",
    ]
    # A draft is not on the hall screen: the honor panel is left out of the rotation.
    html = honor_html(client)
    assert 'data-panel="honor"' not in html and "光荣榜" not in html.split("<main")[1]
    assert "候选" not in html

    response = client.post("/admin/honors/2023-Q4/publish")
    assert response.status_code == 302
    db.session.expire_all()
    assert honors.roll_for("quarter", 2023, 4).status == "published"
    kiosk.clear_caches()
    html = honor_html(client)
    section = html[html.index('data-slide="honor-1"') :]
    section = section[: section.index("</section>")]
    assert "光荣榜 · 2023年第四季度" in section and "正式公布" in section and "候选" not in section
    assert re.findall(r'<td class="k-name">([^<]+)</td>', section) == ["市税务局", "市公安局", "市税务局"]
    assert '<td class="k-person">王小明</td>' in section and '<td class="k-window">1号窗口</td>' in section
    assert "李华" not in html and "赵敏" not in html  # not chosen: never on the screen
    # Every honoured unit is told, once.
    notes = db.session.execute(
        select(Notification.unit_id, Notification.kind, Notification.title).where(
            Notification.kind == "honor"
        )
    ).all()
    assert sorted(notes) == sorted(
        [
            (
                hall["tax"].id,
                "honor",
                "光荣榜:贵单位获评2023年第四季度先进集体、王小明同志获评2023年第四季度先进个人",
            ),
            (hall["police"].id, "honor", "光荣榜:贵单位获评2023年第四季度先进集体"),
        ]
    )
    actions = db.session.scalars(select(AuditLog.action).where(AuditLog.target == f"honor:{roll.id}")).all()
    assert actions == ["honor.select", "honor.publish"]


def test_a_unit_not_among_the_candidates_is_refused_and_nothing_written(client, login, hall):
    login("admin")
    response = choose(client, "2023-Q4", [hall["trade"].id])
    assert response.status_code == 422
    assert "所选单位不在2023年第四季度的候选名单中" in response.get_data(as_text=True)
    response = choose(client, "2023-Q4", [hall["tax"].id], [hall["sun"].id])  # staff of a non-candidate
    assert response.status_code == 422
    assert "所选人员不是2023年第四季度候选单位的工作人员" in response.get_data(as_text=True)
    response = choose(client, "2023-Q4", [])
    assert "请至少选择一个单位或个人" in response.get_data(as_text=True)
    response = client.post("/admin/honors/2023-Q4/select", data={"unit": ["abc"]})
    assert response.status_code == 422 and "所选内容无效" in response.get_data(as_text=True)
    assert rolls() == 0 and db.session.scalar(select(func.count(HonorEntry.id))) == 0


def test_a_future_quarter_is_refused_on_the_page_and_by_a_post(client, login, hall):
    login("admin")
    page = client.get("/admin/honors/2024-Q2").get_data(as_text=True)
    assert "2024年第二季度尚未结束,不能评选光荣榜" in page and 'id="honor-select"' not in page
    response = choose(client, "2024-Q1", [hall["tax"].id])
    assert response.status_code == 422 and "2024年第一季度尚未结束" in response.get_data(as_text=True)
    assert rolls() == 0
    assert client.get("/admin/honors/2024-Q5").status_code == 404
    assert client.get("/admin/honors/nonsense").status_code == 404


def test_publish_twice_edit_when_published_and_publish_an_empty_roll(client, login, hall):
    login("admin")
    assert "请先选定并保存光荣榜名单" in client.post("/admin/honors/2023-Q4/publish").get_data(as_text=True)
    choose(client, "2023-Q4", [hall["tax"].id])
    client.post("/admin/honors/2023-Q4/publish")
    again = client.post("/admin/honors/2023-Q4/publish")
    assert again.status_code == 422 and "2023年第四季度光荣榜已经发布" in again.get_data(as_text=True)
    edit = choose(client, "2023-Q4", [hall["police"].id])
    assert edit.status_code == 422 and "光荣榜已发布,请先撤回再修改" in edit.get_data(as_text=True)
    db.session.expire_all()
    assert [e.unit.name for e in honors.roll_for("quarter", 2023, 4).entries] == ["市税务局"]


def test_unpublish_needs_a_reason_and_is_audited(client, login, hall):
    login("admin")
    choose(client, "2023-Q4", [hall["tax"].id])
    client.post("/admin/honors/2023-Q4/publish")
    refused = client.post("/admin/honors/2023-Q4/unpublish", data={"reason": "  "})
    assert refused.status_code == 422 and "请填写撤回原因" in refused.get_data(as_text=True)
    db.session.expire_all()
    roll = honors.roll_for("quarter", 2023, 4)
    assert roll.status == "published"
    kiosk.clear_caches()
    assert 'data-panel="honor"' in honor_html(client)

    done = client.post("/admin/honors/2023-Q4/unpublish", data={"reason": "名单有误,重新评选"})
    assert done.status_code == 302
    db.session.expire_all()
    roll = honors.roll_for("quarter", 2023, 4)
    assert roll.status == "draft" and roll.unpublish_reason == "名单有误,重新评选"
    audit = db.session.scalars(select(AuditLog).where(AuditLog.action == "honor.unpublish")).one()
    assert audit.after == {"status": "draft", "reason": "名单有误,重新评选"}
    kiosk.clear_caches()
    assert 'data-panel="honor"' not in honor_html(client)
    # Readable in the audit log, in Chinese.
    log = client.get("/admin/audit").get_data(as_text=True)
    assert "撤回光荣榜" in log


def test_leaders_read_but_do_not_choose(client, login, hall):
    login("leader")
    page = client.get("/admin/honors").get_data(as_text=True)
    assert "2023年第四季度" in page and "2023年" in page
    assert client.get("/admin/honors/2023-Q4").status_code == 200
    assert choose(client, "2023-Q4", [hall["tax"].id]).status_code == 403
    assert rolls() == 0


def test_the_year_roll_and_the_hall_screen_shows_the_latest_quarter_and_year(client, login, hall):
    login("admin")
    staff_refused = choose(client, "2023", [hall["tax"].id], [hall["wang"].id])
    assert "年度光荣榜只评选优秀窗口单位,不评选个人" in staff_refused.get_data(as_text=True)
    choose(client, "2023", [hall["tax"].id, hall["trade"].id])
    client.post("/admin/honors/2023/publish")
    choose(client, "2023-Q4", [hall["police"].id], [hall["zhao"].id])
    client.post("/admin/honors/2023-Q4/publish")
    kiosk.clear_caches()
    html = honor_html(client)
    landscape = html[html.index('class="k-slides k-landscape"') : html.index('class="k-slides k-portrait"')]
    slides = re.findall(r'data-slide="(honor-\d+)"', landscape)
    assert slides == ["honor-1", "honor-2"]
    second = landscape[landscape.index('data-slide="honor-2"') :]
    assert "光荣榜 · 2023年度" in second and "年度优秀窗口单位" in second
    assert re.findall(r'<td class="k-name">([^<]+)</td>', second.split("</section>")[0]) == [
        "市税务局",
        "市商务局",
    ]


# ---------------------------------------------------------------- the praise letter


def test_praise_letter_to_an_honoured_unit(client, login, hall):
    login("admin")
    choose(client, "2023-Q4", [hall["tax"].id], [hall["wang"].id, hall["li"].id])
    draft = client.get(f"/admin/honors/2023-Q4/letters/{hall['tax'].id}").get_data(as_text=True)
    assert "草稿" in draft and "关于对市税务局予以表扬的函" in draft
    client.post("/admin/honors/2023-Q4/publish")
    html = client.get(f"/admin/honors/2023-Q4/letters/{hall['tax'].id}").get_data(as_text=True)
    assert "关于对市税务局予以表扬的函" in html and "市税务局:" in html
    assert "被评为2023年第四季度先进集体" in html
    # It cites the measures in force (the rulebook's title), never an invented name.
    from services.rulebooks import rulebook_for_month

    assert f"根据《{rulebook_for_month(2023, 12).title}》" in html and "考核管理办法" not in html
    assert "<li>王小明(1号窗口)</li>" in html and "<li>李华(2号窗口)</li>" in html and "〔2024〕" in html
    assert "草稿" not in html
    # The same number on a reprint.
    number = re.search(r'id="doc-number">([^<]+)<', html).group(1)
    again = client.get(f"/admin/honors/2023-Q4/letters/{hall['tax'].id}").get_data(as_text=True)
    assert number in again
    pdf = client.get(f"/admin/honors/2023-Q4/letters/{hall['tax'].id}.pdf")
    assert pdf.status_code == 200 and pdf.data[:5] == b"%PDF-"
    # Not honoured on this roll: no letter.
    assert client.get(f"/admin/honors/2023-Q4/letters/{hall['police'].id}").status_code == 404
    assert client.get(f"/admin/honors/2024-Q1/letters/{hall['tax'].id}").status_code == 404


def test_a_unit_user_cannot_open_the_admin_pages(client, login, hall):
    login("unit", unit=hall["tax"])
    assert client.get("/admin/honors").status_code == 403
    assert client.get(f"/admin/honors/2023-Q4/letters/{hall['tax'].id}").status_code == 403


# ---------------------------------------------------------------- the demo hall


def test_the_demo_hall_has_a_published_quarter_roll_and_a_year_roll(client):
    from services import demo

    summary = demo.load()
    db.session.commit()
    assert summary["honor_quarter"] == "2023年第四季度" and summary["honor_year"] == "2023年"
    quarter, year = honors.latest_published()
    assert (quarter.year, quarter.quarter, year.year) == (2023, 4, 2023)
    kinds = [e.kind for e in quarter.entries]
    assert kinds.count("collective") == 5 and kinds.count("individual") >= 4
    assert [e.kind for e in year.entries] == ["year_unit"] * 5
    cands = honors.candidates("quarter", 2023, 4)
    assert {e.unit_id for e in quarter.entries if e.kind == "collective"} <= {u.unit_id for u in cands.units}
    kiosk.clear_caches()
    html = honor_html(client)
    assert "光荣榜 · 2023年第四季度" in html and "光荣榜 · 2023年度" in html
    assert db.session.scalar(select(func.count(Notification.id)).where(Notification.kind == "honor")) >= 5


def flashed(client) -> str:
    return client.get("/admin/honors/2023-Q4").get_data(as_text=True)


def test_the_publish_message_promises_the_hall_screen_only_when_it_will_show_the_roll(client, login, hall):
    login("admin")
    choose(client, "2023-Q4", [hall["tax"].id, hall["police"].id], [hall["wang"].id])
    client.post("/admin/honors/2023-Q4/publish")
    page = flashed(client)
    assert "光荣榜已发布,已通知 2 个获评单位;大厅大屏将显示该名单" in page

    # A later quarter's roll is already on the screen: this one is published but not shown.
    client.post("/admin/honors/2023-Q4/unpublish", data={"reason": "重新发布"})
    db.session.add(HonorRoll(kind="quarter", year=2024, quarter=1, status="published"))
    db.session.commit()
    client.post("/admin/honors/2023-Q4/publish")
    page = flashed(client)
    assert "大厅大屏只显示最新一期(2024年第一季度),不显示本名单" in page
    assert "大厅大屏将显示该名单" not in page

    # The hall screen's honor page is switched off: the message says so instead.
    client.post("/admin/honors/2023-Q4/unpublish", data={"reason": "重新发布"})
    db.session.delete(honors.roll_for("quarter", 2024, 1))
    kiosk.save_settings({"panels": ["live", "published"]})
    db.session.commit()
    client.post("/admin/honors/2023-Q4/publish")
    page = flashed(client)
    assert "大厅大屏未启用光荣榜页面,可在“大屏设置”中启用" in page and "将显示该名单" not in page
