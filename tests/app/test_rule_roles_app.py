"""Issue 8 item 14 through the app: another hall's rulebook with other codes scores, escalates and detects
the same, and a version stored before rule roles existed still reads with the 2023 codes.
The tests' hall today is 2024-03-20."""

from __future__ import annotations

import copy
import re
from datetime import date, datetime

import pytest
from sqlalchemy import delete
from sqlalchemy.orm.attributes import flag_modified

from models import RulebookVersion, db
from scoring import (
    ROLE_SETTINGS,
    default_rulebook_path,
    parse_rulebook_toml,
    rulebook_to_dict,
    signed_points,
)
from services import DomainError, detections
from services.rulebooks import _parse, as_rulebook, by_key, publish_version, rulebook_for_month
from services.standings import live_standings
from tests.app.test_admin_calendar_rulebooks import new_version_form

RENAMED = {"D19a": "X19a", "D19b": "X19b", "D02c": "X02c", "D13": "X13", "D16": "X16", "D15": "X15"}


def _other_hall() -> dict:
    text = default_rulebook_path().read_text(encoding="utf-8")
    for old, new in RENAMED.items():
        text = re.sub(rf'"{old}"', f'"{new}"', text)
    rulebook = parse_rulebook_toml(text.replace('key = "anshan-2023"', 'key = "other-hall"'))
    return rulebook_to_dict(rulebook)


def _overdue_and_absences(make, rectification: str, absence: str):
    unit = make.unit("U01")
    # Deadline 2024-02-29 passed, never rectified: the overdue item lands on 2024-03-01.
    make.incident(unit, rectification, at=datetime(2024, 2, 20, 10, 0), deadline=date(2024, 2, 29))
    for day in (4, 5, 6):
        make.incident(unit, absence, at=datetime(2024, 3, day, 9, 0))
    return live_standings(2024, 3).unit("U01")


def test_another_halls_codes_score_the_same(app, make):
    db.session.execute(delete(RulebookVersion))
    publish_version(_other_hall())  # a first set-up: the only version, so it may be dated in the past
    db.session.commit()
    assert rulebook_for_month(2024, 3).key == "other-hall"
    result = _overdue_and_absences(make, "X19a", "X02c")
    overdue = [i for i in result.items if i.derived]
    assert [(i.rule_code, i.occurred_on, i.points) for i in overdue] == [("X19b", date(2024, 3, 1), -5)]
    assert result.deductions == 20 and result.score == 80
    assert result.flag_codes == ["leadership_report", "notice_feedback"]


def test_another_halls_detections_propose_its_codes(app, make):
    db.session.execute(delete(RulebookVersion))
    publish_version(_other_hall())
    db.session.commit()
    unit = make.unit("U01")
    make.staff(unit, "S002", category="C", window=None, start=date(2024, 3, 18))
    result = detections.run(2024, 3)
    assert result["proposed"] == 5
    codes = {i.rule_code for i in detections.pending(2024, 3)}
    assert codes == {"X16"}
    with pytest.raises(DomainError, match="只有 X13 和 X16 由系统检测"):
        detections.run(2024, 3, rules=("D16",))


def test_the_detections_page_names_the_rulebooks_codes(client, login):
    db.session.execute(delete(RulebookVersion))
    publish_version(_other_hall())
    db.session.commit()
    login("admin")
    html = client.get("/admin/detections?month=2024-03").get_data(as_text=True)
    assert "检测人员更换过频(X13)" in html and "综窗后场打卡缺失(X16)" in html
    assert "(D13)" not in html


def _make_legacy() -> None:
    """The shipped version as stored before rule roles existed."""
    row = by_key("anshan-2023")
    data = copy.deepcopy(row.data)
    for name in ROLE_SETTINGS:
        data["settings"].pop(name, None)
    row.data = data
    flag_modified(row, "data")
    db.session.commit()
    _parse.cache_clear()


def test_a_version_stored_before_roles_still_scores_d19b_and_escalation(app, make):
    _make_legacy()
    assert "escalation_rule" not in by_key("anshan-2023").data["settings"]
    result = _overdue_and_absences(make, "D19a", "D02c")
    assert [(i.rule_code, i.occurred_on) for i in result.items if i.derived] == [("D19b", date(2024, 3, 1))]
    assert result.flag_codes == ["leadership_report", "notice_feedback"]
    _parse.cache_clear()


def test_a_new_version_from_a_legacy_one_names_its_roles(client, login):
    _make_legacy()
    login("admin")
    html = client.get("/admin/rulebooks/anshan-2023").get_data(as_text=True)
    assert "D19a 未按要求进驻事项" in html and "每月旷工次数超过此数,书面通报(D02c)" in html
    row = html[html.index('id="rule-D02c"') : html.index('id="rule-D03"')]
    assert '<span class="badge role">每月累计超限即通报的规则(旷工)</span>' in row
    response = client.post("/admin/rulebooks/anshan-2023/new", data=new_version_form())
    assert response.status_code == 302, response.get_data(as_text=True)
    stored = by_key("anshan-2024").data["settings"]
    assert {name: stored[name] for name in ROLE_SETTINGS} == {
        "rectification_rule": "D19a",
        "overdue_rule": "D19b",
        "escalation_rule": "D02c",
        "turnover_rule": "D13",
        "clock_in_rule": "D16",
        "inspection_rule": "D15",
    }
    assert as_rulebook(by_key("anshan-2024")).role_code("escalation_rule") == "D02c"
    _parse.cache_clear()


def test_the_rulebook_page_signs_points_with_signed_points(client, login):
    login("admin")
    html = client.get("/admin/rulebooks/anshan-2023").get_data(as_text=True)
    cells = dict(re.findall(r'id="rule-(\w+)">.*?<td class="num">([^<]*)</td>', html, flags=re.S))
    rulebook = rulebook_for_month(2024, 3)
    assert cells["B02c"] == "+10" and cells["D15"] == "-10" and cells["D12"] == "0"
    assert cells == {r.code: f"{signed_points(r):+d}" if r.points else "0" for r in rulebook.rules}


def test_page_texts_name_the_rulebooks_codes(client, login, make):
    db.session.execute(delete(RulebookVersion))
    publish_version(_other_hall())
    db.session.commit()
    unit = make.unit("U01")
    staff = make.staff(unit, "S001")
    login("admin")
    html = client.get("/admin/calendar?year=2024&month=3").get_data(as_text=True)
    assert "打卡缺失检测(X16)只检查工作日" in html and "故障期间不生成打卡缺失(X16)检测" in html
    html = client.get(f"/admin/staff/{staff.id}").get_data(as_text=True)
    assert "用于计算人员更换(X13)" in html
    html = client.get(
        "/admin/incidents/new",
        query_string={"unit_id": unit.id, "rule_code": "X19a", "occurred_at": "2024-03-18T09:30"},
    ).get_data(as_text=True)
    assert "必填:逾期未整改将另扣 X19b" in html
    assert "D13" not in html and "D16" not in html and "D19b" not in html
