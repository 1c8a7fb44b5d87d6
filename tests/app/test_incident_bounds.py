"""Issue 8, item 8: an incident's date is bounded on the desk form, the correction form and in the service:
not in the future, not before the first rulebook's effective date (2023-04-19), not in a closed month. A
refused request is a 422 with the Chinese message on the date field and writes nothing (no incident, no
evidence row or file, no warning, no history); a date the form cannot read, or a year like 0001 or 9999,
is a form error too, never a 500."""

from __future__ import annotations

import io
from datetime import datetime

import pytest
from sqlalchemy import func, select

from models import AuditLog, Incident, IncidentHistory, db
from services import DomainError, incidents, months
from services.clock import from_hall
from tests.app.test_incidents import HX, PNG, counts, form
from tests.html import parse

BEFORE_RULEBOOK = "早于考核细则的生效日期 2023-04-19"
UNREADABLE = "请填写正确的日期和时间"


@pytest.fixture
def hall(make):
    u1 = make.unit("U01", name="市税务局", windows="1;2", display_order=1)
    make.staff(u1, "S001", name="张三", category="W", window="1")
    return {"u1": u1}


def field_errors(html: str, field_id: str) -> list[str]:
    """The messages shown under one field of a form (the field macro's p.error beside the input)."""
    page = parse(html)
    for box in page.all("div.field"):
        if box.has(f"#{field_id}") or box.has(f"[name={field_id}]"):
            return box.texts("p.error")
    raise AssertionError(f"no field {field_id}")


def audit_count() -> int:
    return db.session.scalar(select(func.count(AuditLog.id)))


@pytest.mark.parametrize(
    "typed, message",
    [
        ("0001-01-01T00:00", "日期 0001-01-01 " + BEFORE_RULEBOOK),
        ("0001-01-02T09:00", "日期 0001-01-02 " + BEFORE_RULEBOOK),
        ("2023-04-18T09:00", "日期 2023-04-18 " + BEFORE_RULEBOOK),
        ("9999-12-31T23:59", "日期 9999-12-31 晚于今天(2024-03-20),不能登记未来的记录"),
        ("2024-03-21T08:30", "日期 2024-03-21 晚于今天(2024-03-20),不能登记未来的记录"),
        ("2024-02-30T09:00", UNREADABLE),
        ("10000-01-01T00:00", UNREADABLE),
        ("昨天上午", UNREADABLE),
    ],
)
def test_desk_form_refuses_a_date_out_of_bounds_and_writes_nothing(app, client, login, hall, typed, message):
    login("admin")
    before, audits = counts(app), audit_count()
    response = client.post(
        "/admin/incidents/new",
        content_type="multipart/form-data",
        data={**form(hall["u1"], "D01", occurred_at=typed), "evidence": [(io.BytesIO(PNG), "a.png")]},
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert any(message in e for e in field_errors(html, "occurred_at")), field_errors(html, "occurred_at")
    assert field_errors(html, "rule_code") == []  # the date's message is on the date, not elsewhere
    assert counts(app) == before and audit_count() == audits
    # Nothing was stored, so the pages that once looped from the oldest incident still answer.
    for url in ("/admin/incidents", "/admin/months", "/admin/"):
        assert client.get(url).status_code == 200, url


@pytest.mark.parametrize("typed", ["0001-01-01T00:00", "9999-12-31T23:59", "2024-02-30T09:00"])
def test_desk_form_blocks_answer_for_any_typed_date(client, login, make, hall, typed):
    """The htmx blocks re-render while the date is being typed: no 500, and the preview says why not."""
    make.incident(hall["u1"], "D07b", at=datetime(2024, 3, 4, 10, 0))
    login("inspector")
    for part, rule in (("unit_fields", "D01"), ("rule_fields", "D15"), ("preview", "D01")):
        response = client.get(
            "/admin/incidents/new",
            headers=HX,
            query_string={"part": part, "unit_id": hall["u1"].id, "occurred_at": typed, "rule_code": rule},
        )
        assert response.status_code == 200, (part, typed)
    preview = client.get(
        "/admin/incidents/new",
        headers=HX,
        query_string={"part": "preview", "unit_id": hall["u1"].id, "occurred_at": typed, "rule_code": "D01"},
    ).get_data(as_text=True)
    assert "preview-score-after" not in preview
    if typed.startswith("0001"):
        assert BEFORE_RULEBOOK in preview
    if typed.startswith("9999"):
        assert "不能登记未来的记录" in preview


def test_desk_form_refuses_a_closed_month_on_the_date_field(app, client, login, hall):
    months.close(2024, 2)
    db.session.commit()
    login("admin")
    before = counts(app)
    response = client.post("/admin/incidents/new", data=form(hall["u1"], occurred_at="2024-02-20T09:00"))
    assert response.status_code == 422
    assert field_errors(response.get_data(as_text=True), "occurred_at") == [
        "2024年2月已关账,不能登记或修改该月的记录;如确需修改,请先重新开放该月"
    ]
    assert counts(app) == before


@pytest.mark.parametrize(
    "typed, message",
    [
        ("0001-01-02T09:00", BEFORE_RULEBOOK),
        ("0001-01-01T00:00", BEFORE_RULEBOOK),
        ("9999-12-31T23:59", "不能登记未来的记录"),
        ("2024-02-20T09:00", "2024年2月已关账"),
    ],
)
def test_warning_only_is_bounded_too(app, client, login, hall, typed, message):
    months.close(2024, 2)
    db.session.commit()
    login("inspector")
    before = counts(app)
    response = client.post(
        "/admin/incidents/new",
        data=form(hall["u1"], "D05b", action="warning", occurred_at=typed, public_text="已提醒"),
    )
    assert response.status_code == 422
    assert any(message in e for e in field_errors(response.get_data(as_text=True), "occurred_at"))
    assert counts(app) == before  # no warning row


@pytest.mark.parametrize(
    "typed, message",
    [
        ("0001-01-01T00:00", "日期 0001-01-01 " + BEFORE_RULEBOOK),
        ("2023-01-05T09:00", "日期 2023-01-05 " + BEFORE_RULEBOOK),
        ("9999-12-31T23:59", "不能登记未来的记录"),
        ("2024-03-28T09:00", "日期 2024-03-28 晚于今天(2024-03-20)"),
        ("2024-02-31T09:00", UNREADABLE),
    ],
)
def test_correction_refuses_a_date_out_of_bounds_and_changes_nothing(
    client, login, make, hall, typed, message
):
    incident = make.incident(hall["u1"], "D01", window="1")
    login("admin")
    history, audits = db.session.scalar(select(func.count(IncidentHistory.id))), audit_count()
    data = {
        "occurred_at": typed,
        "rule_code": "D01",
        "count": "1",
        "window": "1",
        "staff_pk": "",
        "note": "",
        "public_text": "",
        "reason": "改日期",
    }
    response = client.post(f"/admin/incidents/{incident.id}/correct", data=data)
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert any(message in e for e in field_errors(html, "occurred_at")), field_errors(html, "occurred_at")
    db.session.expire_all()
    assert db.session.get(Incident, incident.id).occurred_at == from_hall(datetime(2024, 3, 5, 9, 0))
    assert db.session.scalar(select(func.count(IncidentHistory.id))) == history
    assert audit_count() == audits


@pytest.mark.parametrize(
    "at, message",
    [
        (datetime(1, 1, 2, 12, 0), BEFORE_RULEBOOK),
        (datetime(2023, 4, 18, 9, 0), BEFORE_RULEBOOK),
        (datetime(2024, 3, 21, 9, 0), "不能登记未来的记录"),
        (datetime(9999, 12, 31, 9, 0), "不能登记未来的记录"),
        (datetime(2024, 2, 20, 9, 0), "2024年2月已关账"),
    ],
)
def test_the_service_refuses_every_entry_path(make, hall, at, message):
    """services.incidents.create (desk, patrol, imports, detections) and correct check the same bounds."""
    months.close(2024, 2)
    db.session.commit()
    with pytest.raises(DomainError, match=message):
        incidents.create(hall["u1"], "D01", from_hall(at))
    db.session.rollback()
    assert db.session.scalar(select(func.count(Incident.id))) == 0
    incident = make.incident(hall["u1"], "D01")
    with pytest.raises(DomainError, match=message):
        incidents.correct(incident, {"occurred_at": from_hall(at)}, "改日期")
    db.session.rollback()
    assert db.session.get(Incident, incident.id).occurred_at == from_hall(datetime(2024, 3, 5, 9, 0))


def test_the_first_rulebook_day_and_today_are_allowed(client, login, hall):
    login("admin")
    for typed in ("2023-04-19T08:00", "2024-03-20T09:55"):
        response = client.post("/admin/incidents/new", data=form(hall["u1"], "D01", occurred_at=typed))
        assert response.status_code == 302, typed
    days = sorted(i.occurred_at for i in db.session.scalars(select(Incident)))
    assert [from_hall(datetime(2023, 4, 19, 8, 0)), from_hall(datetime(2024, 3, 20, 9, 55))] == days


@pytest.mark.parametrize(
    "deadline, rectified, field_id, message",
    [
        ("0001-01-01", "", "deadline", "整改期限早于发生日期"),
        ("2024-03-17", "", "deadline", "整改期限早于发生日期"),
        ("2024-03-25", "9999-12-31", "rectified_on", "整改完成日期不能晚于今天"),
        ("2024-03-25", "0001-01-01", "rectified_on", "整改完成日期早于发生日期"),
        ("10000-01-01", "", "deadline", "请填写正确的日期"),
    ],
)
def test_d19a_deadline_and_rectification_are_bounded_too(
    app, client, login, hall, deadline, rectified, field_id, message
):
    """A deadline before the violation would date its D19b in an earlier month: refused, like the import."""
    login("admin")
    before = counts(app)
    response = client.post(
        "/admin/incidents/new", data=form(hall["u1"], "D19a", deadline=deadline, rectified_on=rectified)
    )
    assert response.status_code == 422
    assert any(message in e for e in field_errors(response.get_data(as_text=True), field_id))
    assert counts(app) == before
    with pytest.raises(DomainError, match="早于发生日期"):
        incidents.create(
            hall["u1"], "D19a", from_hall(datetime(2024, 3, 18, 9, 30)), deadline=datetime(2024, 3, 1).date()
        )
    db.session.rollback()
    assert counts(app) == before
