"""Trial-user fixes: Chinese labels in the audit log and incident history, closed-but-unpublished months on
the dashboard, a standings unit page opened directly renders the whole layout, plain Chinese rule notes."""

from __future__ import annotations

from datetime import datetime

from models import db
from services import incidents, months
from services.audit import record
from services.rulebooks import current_rulebook


def test_audit_log_shows_chinese_actions_fields_and_values(client, login, make):
    unit = make.unit("U01", name="市税务局")
    incident = make.incident(unit, "D01", at=datetime(2024, 3, 5, 9, 0))
    incidents.void(incident, "重复登记")
    months.close(2024, 2)
    record("incident.corrected", f"incident:{incident.id}", before={"exempt": False}, after={"exempt": True})
    record("something.new", "thing:1", after={"weird_key": "x"})
    db.session.commit()
    login("admin")
    html = client.get("/admin/audit").get_data(as_text=True)
    table = html[html.index('id="audit-table"') :]
    for text in ("登录", "关账", "作废扣加分", "登记扣加分", "修改扣加分"):
        assert f">{text}</td>" in table, text
    assert '<span class="k">状态:</span> <del>进行中(实时)</del> → <ins>已关账</ins>' in table
    assert '<span class="k">状态:</span> <del>已确认</del> → <ins>已作废</ins>' in table
    assert '<span class="k">免扣:</span> <del>否</del> → <ins>是</ins>' in table
    assert '<span class="k">规则:</span>' in table and "rule_code:" not in table
    assert ">open</del>" not in table and "confirmed</del>" not in table
    # Unknown codes show as themselves.
    assert ">something.new</td>" in table and '<span class="k">weird_key:</span>' in table
    # The action filter offers the Chinese labels.
    assert '<option value="month.close">关账</option>' in html


def test_incident_history_shows_chinese_status_values(client, login, make):
    unit = make.unit("U01", name="市税务局")
    incident = make.incident(unit, "D01", at=datetime(2024, 3, 5, 9, 0))
    incidents.void(incident, "重复登记")
    db.session.commit()
    login("admin")
    html = client.get(f"/admin/incidents/{incident.id}").get_data(as_text=True)
    history = html[html.index('id="incident-history"') :]
    assert "状态:<del>已确认</del> → 已作废" in history
    assert "confirmed" not in history and "voided</" not in history


def test_dashboard_lists_closed_unpublished_months(client, login, make):
    unit = make.unit("U01")
    make.incident(unit, "D01", at=datetime(2024, 1, 5, 9, 0))
    months.close(2024, 1)
    months.close(2024, 2)
    months.publish(2024, 1)
    db.session.commit()
    for role in ("admin", "leader"):
        login(role)
        html = client.get("/admin/").get_data(as_text=True)
        waiting = html[html.index('id="waiting"') :]
        assert "2024-02 已关账,待发布" in waiting and '/admin/months#month-2024-02"' in waiting
        assert "2024-01 已关账,待发布" not in waiting  # published
        client.post("/logout")


def test_standings_unit_page_opened_directly_has_the_layout(client, login, make):
    unit = make.unit("U01", name="市税务局")
    make.incident(unit, "D01", at=datetime(2024, 3, 5, 9, 0), public_text="迟到五分钟")
    login("admin")
    html = client.get(f"/admin/standings/2024-03/units/{unit.id}").get_data(as_text=True)
    assert html.lstrip().lower().startswith("<!doctype html")
    assert "考核排名 2024-03" in html and "工作台" in html  # page heading and the nav
    assert 'id="unit-items"' in html and "市税务局 · 2024-03 扣加分明细" in html and "迟到五分钟" in html
    fragment = client.get(f"/admin/standings/2024-03/units/{unit.id}", headers={"HX-Request": "true"})
    assert fragment.get_data(as_text=True).lstrip().startswith(f'<tr id="items-{unit.id}"')


def test_rule_notes_use_plain_chinese(app):
    rulebook = current_rulebook()
    note = rulebook.rule("D02c").note
    assert "当月旷工次数合计超过 2 次时" in note and "书面通报派驻单位并要求反馈" in note
    for rule in rulebook.rules:
        assert "_" not in rule.note, rule.code
        assert "notice_feedback" not in rule.note
