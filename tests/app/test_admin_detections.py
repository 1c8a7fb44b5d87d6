"""The detections queue: run D13/D16 as a background job (progress polled, 286 when finished), list the
proposals with why, confirm or dismiss each by htmx (with the pending-count badge swapped out of band) or
many at once."""

from __future__ import annotations

import re
from datetime import date, datetime

import pytest
from sqlalchemy import select

from models import ClockPunch, Incident, IncidentStatus, Job, db
from services import months
from services.clock import from_hall
from services.standings import standings_json

HX = {"HX-Request": "true"}


@pytest.fixture
def sync_jobs(app, monkeypatch):
    monkeypatch.setitem(app.config, "JOBS_SYNCHRONOUS", True)


@pytest.fixture
def hall(make):
    """A back-office (C) clerk from Monday 18 March: punched fully on the 18th, only in the morning on the
    19th, not at all on the 20th (today, 10:00): two D16 proposals, the 19th's evening, the 20th's morning."""
    unit = make.unit("U01", name="市税务局")
    clerk = make.staff(unit, "C001", name="赵六", category="C", window=None, start=date(2024, 3, 18))
    for at in (datetime(2024, 3, 18, 8, 27), datetime(2024, 3, 18, 16, 58), datetime(2024, 3, 19, 8, 29)):
        db.session.add(ClockPunch(staff_id="C001", punched_at=from_hall(at)))
    db.session.commit()
    return {"unit": unit, "clerk": clerk}


def proposed() -> list[Incident]:
    return list(
        db.session.scalars(
            select(Incident).where(Incident.status == IncidentStatus.PROPOSED).order_by(Incident.occurred_at)
        )
    )


def run(client) -> str:
    response = client.post("/admin/detections/run", data={"month": "2024-03"}, headers=HX)
    assert response.status_code == 200
    return response.get_data(as_text=True)


def test_run_proposes_and_lists_with_reasons(client, login, hall, sync_jobs):
    user = login("admin")
    html = run(client)
    assert "检测完成(2024-03):新增 2 条待确认,0 条此前已检测过" in html
    rows = proposed()
    assert [(r.rule_code, r.staff.staff_id, r.source) for r in rows] == [("D16", "C001", "detect")] * 2
    job = db.session.scalar(select(Job).order_by(Job.id.desc()))
    assert job.kind == "detect" and job.status == "done" and job.result["proposed"] == 2
    # The audit row names the admin who ran it, though the work ran as a job.
    from models import AuditLog

    run_row = db.session.scalar(select(AuditLog).where(AuditLog.action == "detect.run"))
    assert run_row.user_id == user.id
    page = client.get("/admin/detections?month=2024-03").get_data(as_text=True)
    assert re.search(r'id="pending-count"[^>]*>2<', page)
    assert "赵六" in page and "D16" in page and page.count('name="ids"') == 2
    assert "综窗后场指纹打卡缺失" in page and '<option value="2024-03" selected>' in page
    assert rows[0].detection_reason.splitlines()[0] in page
    assert "-5" in page
    # A rerun proposes nothing twice.
    assert "新增 0 条待确认,2 条此前已检测过" in run(client)
    assert len(proposed()) == 2
    # Proposals do not count until confirmed.
    assert standings_json(2024, 3)["units"][0]["score"] == 100


def test_progress_fragment_stops_polling_when_done(client, login, hall, sync_jobs):
    login("admin")
    run(client)
    job = db.session.scalar(select(Job).order_by(Job.id.desc()))
    response = client.get(f"/admin/detections/jobs/{job.id}?month=2024-03", headers=HX)
    html = response.get_data(as_text=True)
    assert response.status_code == 286
    assert "检测完成" in html and 'hx-swap-oob="true"' in html and "赵六" in html
    running = Job(kind="detect", status="running", done=3, total=10)
    db.session.add(running)
    db.session.commit()
    response = client.get(f"/admin/detections/jobs/{running.id}", headers=HX)
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and 'hx-trigger="every 1s"' in html and "3/10" in html
    other = Job(kind="import", status="done")
    db.session.add(other)
    db.session.commit()
    assert client.get(f"/admin/detections/jobs/{other.id}").status_code == 404


def test_run_without_javascript_redirects_to_the_job(client, login, hall, sync_jobs):
    login("admin")
    response = client.post("/admin/detections/run", data={"month": "2024-03"})
    assert response.status_code == 302 and "job=" in response.headers["Location"]
    html = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "检测完成" in html


def test_confirm_one_swaps_the_row_and_the_badge(client, login, hall, sync_jobs):
    login("admin")
    run(client)
    first, second = proposed()
    response = client.post(f"/admin/detections/{first.id}/confirm", headers=HX)
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert html.lstrip().startswith(f'<tr id="det-{first.id}"') and "已确认" in html
    assert re.search(r'<template><span id="pending-count"[^>]*hx-swap-oob="true"[^>]*>1</span>', html)
    db.session.refresh(first)
    assert first.status == IncidentStatus.CONFIRMED
    assert standings_json(2024, 3)["units"][0]["score"] == 95
    # A second click (say, from another tab) changes nothing and writes no second history row.
    history = len(first.history)
    response = client.post(f"/admin/detections/{first.id}/confirm", headers=HX)
    assert response.status_code == 200 and "已确认" in response.get_data(as_text=True)
    db.session.refresh(first)
    assert len(first.history) == history
    db.session.refresh(second)
    assert second.status == IncidentStatus.PROPOSED


def test_dismiss_one_needs_a_reason(client, login, hall, sync_jobs):
    login("admin")
    run(client)
    first, _second = proposed()
    response = client.post(f"/admin/detections/{first.id}/dismiss", headers=HX)
    assert response.status_code == 422 and "驳回检测结果必须填写原因" in response.get_data(as_text=True)
    db.session.refresh(first)
    assert first.status == IncidentStatus.PROPOSED
    response = client.post(
        f"/admin/detections/{first.id}/dismiss", data={f"r{first.id}-reason": "当日打卡机故障"}, headers=HX
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "已驳回" in html and "当日打卡机故障" in html
    db.session.refresh(first)
    assert first.status == IncidentStatus.DISMISSED and first.void_reason == "当日打卡机故障"
    response = client.post(
        f"/admin/detections/{first.id}/dismiss", data={f"r{first.id}-reason": "x" * 201}, headers=HX
    )
    assert response.status_code == 422 and "原因不能超过 200 个字符" in response.get_data(as_text=True)
    assert client.post("/admin/detections/999999/confirm", headers=HX).status_code == 404


def test_bulk_confirm_and_dismiss(client, login, hall, sync_jobs):
    login("admin")
    run(client)
    first, second = proposed()
    response = client.post(
        "/admin/detections/bulk?month=2024-03", data={"ids": [str(first.id)], "action": "dismiss"}
    )
    assert response.status_code == 422 and "驳回检测结果必须填写原因" in response.get_data(as_text=True)
    response = client.post("/admin/detections/bulk?month=2024-03", data={"action": "confirm"})
    assert response.status_code == 422 and "请先勾选要处理的记录" in response.get_data(as_text=True)
    response = client.post("/admin/detections/bulk?month=2024-03", data={"ids": ["abc"], "action": "confirm"})
    assert response.status_code == 422
    assert len(proposed()) == 2
    response = client.post(
        "/admin/detections/bulk?month=2024-03",
        data={"ids": [str(first.id), str(second.id)], "action": "confirm"},
    )
    assert response.status_code == 302
    assert "已确认 2 条检测结果" in client.get(response.headers["Location"]).get_data(as_text=True)
    assert proposed() == [] and standings_json(2024, 3)["units"][0]["score"] == 90


def test_closed_month_cannot_be_detected(client, login, hall, sync_jobs):
    months.close(2024, 2)  # a month is closed once it has ended
    db.session.commit()
    login("admin")
    page = client.get("/admin/detections?month=2024-02").get_data(as_text=True)
    assert "该月已关账,不能运行检测" in page
    response = client.post("/admin/detections/run", data={"month": "2024-02"})
    assert response.status_code == 302
    assert "已关账,不能运行检测" in client.get(response.headers["Location"]).get_data(as_text=True)
    assert proposed() == []


def test_bad_month_to_run(client, login, hall, sync_jobs):
    login("admin")
    response = client.post("/admin/detections/run", data={"month": "2024-3x"})
    assert response.status_code == 302
    assert "月份格式应为 YYYY-MM" in client.get(response.headers["Location"]).get_data(as_text=True)
    assert db.session.scalar(select(Job)) is None
