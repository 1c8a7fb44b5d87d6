"""Issue 8, item 13: one helper for "call a service; on DomainError roll back and show the form error; else
commit, flash, redirect" (admin.flow), used by the admin views; thin incident views over services.incidents
and services.warnings; one closed-month guard (services.bounds)."""

from __future__ import annotations

import ast
import io
from pathlib import Path

import pytest
from flask import get_flashed_messages
from sqlalchemy import func, select

from models import Evidence, Unit, db
from services import DomainError
from tests import images

ROOT = Path(__file__).resolve().parents[2]


def unit_count() -> int:
    return db.session.scalar(select(func.count(Unit.id)))


# ------------------------------------------------------------------ the helper itself


def test_apply_commits_flashes_and_redirects(app):
    from admin import flow
    from admin.forms import UnitForm

    with app.test_request_context("/admin/units/new", method="POST"):
        form = UnitForm(unit=None, formdata=None)

        def change():
            unit = Unit(code="F01", name="流程单位", windows="1", display_order=1, active=True)
            db.session.add(unit)
            db.session.flush()
            return unit

        response = flow.apply(
            change,
            show=form,
            done=lambda unit: f"已保存 {unit.name}",
            to=lambda unit: f"/admin/units/{unit.id}",
        )
        assert response.status_code == 302 and response.headers["Location"].startswith("/admin/units/")
        assert get_flashed_messages(with_categories=True) == [("success", "已保存 流程单位")]
        assert form.form_errors == []
    db.session.remove()
    assert db.session.scalar(select(Unit.name).where(Unit.code == "F01")) == "流程单位"  # committed


@pytest.mark.parametrize("where", ["form", "field", "callback"])
def test_apply_rolls_back_and_shows_the_domain_error(app, where):
    from admin import flow
    from admin.forms import UnitForm

    shown: list[str] = []
    with app.test_request_context("/admin/units/new", method="POST"):
        form = UnitForm(unit=None, formdata=None)
        target = {"form": form, "field": form.name, "callback": lambda error: shown.append(str(error))}[where]

        def change():
            db.session.add(Unit(code="F02", name="不该留下", windows="1", display_order=1, active=True))
            db.session.flush()
            raise DomainError("单位名称已被使用")

        response = flow.apply(change, show=target, done="不该出现", to="/admin/units")
        assert response is None
        assert get_flashed_messages() == []
        messages = {"form": form.form_errors, "field": list(form.name.errors), "callback": shown}[where]
        assert messages == ["单位名称已被使用"]
    db.session.remove()
    assert db.session.scalar(select(func.count(Unit.id)).where(Unit.code == "F02")) == 0


def test_apply_undoes_what_the_database_cannot_take_back_when_the_commit_fails(app, monkeypatch):
    from admin import flow

    undone: list[str] = []

    def failing_commit():
        raise RuntimeError("database went away")

    with app.test_request_context("/", method="POST"):
        monkeypatch.setattr(db.session, "commit", failing_commit)
        with pytest.raises(RuntimeError):
            flow.apply(lambda: "written.jpg", show=lambda e: None, done="x", to="/", undo=undone.append)
        monkeypatch.undo()
    assert undone == ["written.jpg"]


# ------------------------------------------------------------------ through the pages


def test_unit_form_shows_the_service_refusal_and_writes_nothing(client, login, make):
    make.unit("U01", name="市税务局")
    login("admin")
    before = unit_count()
    response = client.post(
        "/admin/units/new",
        data={"code": "U01", "name": "另一个单位", "windows": "1", "display_order": "2", "active": "y"},
    )
    assert response.status_code == 422 and "U01" in response.get_data(as_text=True)
    assert unit_count() == before
    response = client.post(
        "/admin/units/new",
        data={"code": "U02", "name": "市人社局", "windows": "3", "display_order": "2", "active": "y"},
    )
    assert response.status_code == 302 and response.headers["Location"].endswith("/admin/units")
    assert "单位 市人社局 已保存" in client.get("/admin/units").get_data(as_text=True)


def test_desk_evidence_files_are_removed_when_the_commit_fails(app, client, login, make, monkeypatch):
    unit = make.unit("U01", name="市税务局", windows="1")
    login("inspector")
    folder = Path(app.config["EVIDENCE_DIR"])
    before = set(folder.glob("*"))

    def failing_commit():
        raise RuntimeError("database went away")

    monkeypatch.setattr(db.session, "commit", failing_commit)
    with pytest.raises(RuntimeError):
        client.post(
            "/admin/incidents/new",
            content_type="multipart/form-data",
            data={
                "unit_id": str(unit.id),
                "occurred_at": "2024-03-18T09:30",
                "rule_code": "D01",
                "count": "1",
                "action": "save",
                "evidence": [(io.BytesIO(images.png()), "a.png")],
            },
        )
    monkeypatch.undo()
    db.session.rollback()
    assert set(folder.glob("*")) == before
    assert db.session.scalar(select(func.count(Evidence.id))) == 0


# ------------------------------------------------------------------ where the code lives


def source(path: str) -> str:
    return (ROOT / path).read_text(encoding="utf-8")


@pytest.mark.parametrize(
    "path",
    ["admin/incidents.py", "admin/manage_units.py", "admin/manage_staff.py", "admin/manage_users.py"],
)
def test_admin_views_commit_only_through_the_flow_helper(path):
    text = source(path)
    assert "flow.apply(" in text
    for call in ("db.session.commit()", "db.session.rollback()", "except DomainError"):
        assert call not in text, (path, call)


def test_incident_views_are_thin():
    """Queries, checks and writes of incidents and warnings live in services.incidents / services.warnings."""
    text = source("admin/incidents.py")
    for forbidden in (
        "Warning(",
        "record(",
        "is_open(",
        "db.session.add(",
        "select(Posting",
        "select(Staff",
        "select(Warning",
        "rule_problems(",
        "已关账",
        "utc_now()",
    ):
        assert forbidden not in text, forbidden
    tree = ast.parse(text)
    views = {
        node.name: node.end_lineno - node.lineno + 1
        for node in tree.body
        if isinstance(node, ast.FunctionDef)
        and any("route" in ast.unparse(d) for d in node.decorator_list)
        and node.name != "incident_list"  # another engineer's (paginated in SQL)
    }
    assert views and all(length <= 45 for length in views.values()), views


def test_one_closed_month_guard():
    """The closed-month message is written once, in services.bounds; the others call it."""
    paths = [
        "services/bounds.py",
        "services/months.py",
        "services/incidents.py",
        "services/warnings.py",
        "services/incidents_preview.py",
        "admin/incidents.py",
    ]
    homes = [p for p in paths if "已关账,不能登记或修改" in source(p) or "已关账,不能修改" in source(p)]
    assert homes == ["services/bounds.py"]
    assert "check_month_open" in source("services/incidents.py")
    assert "check_incident_day" in source("services/incidents.py")
