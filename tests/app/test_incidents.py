"""The desk form, the incidents list and detail, correcting, voiding and the violation notice."""

from __future__ import annotations

import io
from datetime import date, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select

from models import AuditLog, Evidence, Incident, IncidentHistory, IncidentStatus, Warning, db
from services import incidents, months
from services.clock import from_hall
from tests import images
from tests.html import parse, text_of

PNG = images.png()  # real images: uploads are decoded
JPEG = images.jpeg()


@pytest.fixture
def hall(make):
    u1 = make.unit("U01", name="市税务局", windows="1;2", display_order=1)
    u2 = make.unit("U02", name="市人社局", windows="3", display_order=2)
    make.unit("U09", name="已撤出单位", windows="9", display_order=9, active=False)
    w = make.staff(u1, "S001", name="张三", category="W", window="1")
    c = make.staff(u1, "S002", name="李四", category="C", window=None)
    gone = make.staff(
        u1, "S003", name="王五", category="W", window="2", start=date(2023, 1, 1), end=date(2024, 2, 1)
    )
    return {"u1": u1, "u2": u2, "w": w, "c": c, "gone": gone}


def evidence_files(app) -> list[Path]:
    return sorted(Path(app.config["EVIDENCE_DIR"]).glob("*"))


def counts(app) -> tuple[int, int, int, int]:
    return (
        db.session.scalar(select(func.count(Incident.id))),
        db.session.scalar(select(func.count(Evidence.id))),
        len(evidence_files(app)),
        db.session.scalar(select(func.count(Warning.id))),
    )


def form(unit, rule="D01", **extra) -> dict:
    data = {
        "unit_id": str(unit.id),
        "occurred_at": "2024-03-18T09:30",
        "rule_code": rule,
        "count": "1",
        "window": "",
        "staff_pk": "",
        "note": "",
        "public_text": "",
        "action": "save",
    }
    data.update(extra)
    return data


HX = {"HX-Request": "true"}


# ------------------------------------------------------------------ the form and its blocks


def test_form_offers_active_units_in_display_order_and_grouped_rules(client, login, hall):
    login("inspector")
    response = client.get("/admin/incidents/new")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert html.index("市税务局") < html.index("市人社局") and "已撤出单位" not in html
    for group in ("值守窗口纪律", "单位管理", "综窗后场", "加分项目"):
        assert f'<optgroup label="{group}">' in html
    assert 'value="D01"' in html and 'value="B02c"' in html and 'value="D19b"' not in html
    assert 'value="2024-03-20T10:00"' in html  # occurred_at defaults to now, hall time
    assert 'id="rule-filter"' in html and "data-scale-photos" in html


def test_unit_block_lists_windows_and_staff_on_that_date(client, login, hall):
    login("admin")
    response = client.get(
        "/admin/incidents/new",
        query_string={"part": "unit_fields", "unit_id": hall["u1"].id, "occurred_at": "2024-03-18T09:30"},
        headers=HX,
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "<html" not in html and 'name="staff_pk"' in html
    assert "1 号窗口" in html and "2 号窗口" in html and "3 号窗口" not in html
    assert "张三" in html and "李四" in html and "王五" not in html  # 王五 left on 2024-02-01
    earlier = client.get(
        "/admin/incidents/new",
        query_string={"part": "unit_fields", "unit_id": hall["u1"].id, "occurred_at": "2024-01-15T09:30"},
        headers=HX,
    )
    assert "王五" in earlier.get_data(as_text=True)


def test_rule_block_shows_points_text_and_extra_fields(client, login, make, hall):
    login("admin")

    def block(rule, **extra):
        html = client.get(
            "/admin/incidents/new",
            headers=HX,
            query_string={
                "part": "rule_fields",
                "unit_id": hall["u1"].id,
                "occurred_at": "2024-03-18T09:30",
                "rule_code": rule,
                **extra,
            },
        ).get_data(as_text=True)
        assert "<html" not in html and 'name="count"' in html and 'name="unit_id"' not in html
        return html

    d01 = block("D01")
    assert text_of(d01, "rule-points") == "-2 分" and "以任何借口提前离开窗口的" in d01
    assert 'name="exempt"' not in d01 and 'name="deadline"' not in d01
    assert 'name="exempt"' in block("D06")
    d19a = block("D19a")
    assert 'name="deadline"' in d19a and 'name="rectified_on"' in d19a
    assert "人数" in block("D08") and text_of(block("B02c"), "rule-points") == "+10 分"
    violation = make.incident(hall["u1"], "D07b", at=datetime(2024, 3, 4, 10, 0), window="1")
    make.incident(hall["u2"], "D07b", at=datetime(2024, 3, 4, 10, 0))  # another unit's: not offered
    d15 = block("D15")
    assert 'name="linked_id"' in d15 and f'value="{violation.id}"' in d15 and d15.count("D07b") == 1
    d04b = block("D04b")
    assert "只记提醒" in d04b and "尚无此项提醒记录" in d04b


def test_preview_shows_score_grade_and_rank_before_and_after(client, login, make, hall):
    make.incident(hall["u2"], "D01")  # U02: 98; U01: 100 and first
    login("inspector")
    html = client.get(
        "/admin/incidents/new",
        headers=HX,
        query_string={
            "part": "preview",
            "unit_id": hall["u1"].id,
            "occurred_at": "2024-03-18T09:30",
            "rule_code": "D02c",
            "count": "3",
        },
    ).get_data(as_text=True)
    assert "<html" not in html
    assert text_of(html, "preview-score-before") == "100" and text_of(html, "preview-score-after") == "85"
    assert text_of(html, "preview-grade-before") == "优秀" and text_of(html, "preview-grade-after") == "良好"
    assert (
        text_of(html, "preview-rank-before") == "第 1 名" and text_of(html, "preview-rank-after") == "第 2 名"
    )
    assert text_of(html, "preview-points") == "-15"
    bonus = client.get(
        "/admin/incidents/new",
        headers=HX,
        query_string={
            "part": "preview",
            "unit_id": hall["u2"].id,
            "occurred_at": "2024-03-18T09:30",
            "rule_code": "B01",
            "count": "1",
        },
    ).get_data(as_text=True)
    assert text_of(bonus, "preview-score-before") == "98" and text_of(bonus, "preview-score-after") == "101"
    assert text_of(bonus, "preview-rank-after") == "第 1 名"
    # Nothing was written by previewing.
    assert db.session.scalar(select(func.count(Incident.id))) == 1


def test_preview_asks_for_the_d19a_deadline(client, login, hall):
    login("admin")
    html = client.get(
        "/admin/incidents/new",
        headers=HX,
        query_string={
            "part": "preview",
            "unit_id": hall["u1"].id,
            "occurred_at": "2024-03-18T09:30",
            "rule_code": "D19a",
            "count": "1",
        },
    ).get_data(as_text=True)
    assert "填写整改期限后显示预览" in html


# ------------------------------------------------------------------ saving


def test_saving_stores_the_incident_with_all_its_evidence(app, client, login, hall):
    before = evidence_files(app)
    user = login("inspector")
    response = client.post(
        "/admin/incidents/new",
        content_type="multipart/form-data",
        data={
            **form(
                hall["u1"],
                "D04a",
                window="1",
                staff_pk=str(hall["w"].id),
                note="内部:第二次发现",
                public_text="09:30 在窗口玩手机",
            ),
            "evidence": [(io.BytesIO(PNG), "a.png"), (io.BytesIO(JPEG), "b.jpg")],
        },
    )
    assert response.status_code == 302
    incident = db.session.scalar(select(Incident))
    assert response.headers["Location"].endswith(f"/admin/incidents/{incident.id}")
    assert (incident.rule_code, incident.count, incident.window, incident.staff_pk) == (
        "D04a",
        1,
        "1",
        hall["w"].id,
    )
    assert incident.occurred_at == from_hall(datetime(2024, 3, 18, 9, 30))
    assert incident.recorded_by_id == user.id and incident.source == "desk"
    assert incident.note == "内部:第二次发现" and incident.public_text == "09:30 在窗口玩手机"
    assert [e.filename for e in incident.evidence] == ["a.png", "b.jpg"]
    assert [e.content_type for e in incident.evidence] == ["image/png", "image/jpeg"]
    assert sorted(p.name for p in evidence_files(app) if p not in before) == sorted(
        e.stored_name for e in incident.evidence
    )
    assert {a.action for a in db.session.scalars(select(AuditLog))} >= {"incident.created", "evidence.add"}
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "已登记 D04a" in page and "附件 2 个" in page


def test_points_cannot_be_typed(client, login, hall):
    login("admin")
    client.post("/admin/incidents/new", data={**form(hall["u1"], "D01"), "points": "-50"})
    from services.standings import standings

    assert standings(2024, 3).unit("U01").score == 98


def test_d15_is_saved_with_its_linked_violation(client, login, make, hall):
    violation = make.incident(hall["u1"], "D07b", at=datetime(2024, 3, 4, 10, 0))
    login("admin")
    response = client.post("/admin/incidents/new", data=form(hall["u1"], "D15", linked_id=str(violation.id)))
    assert response.status_code == 302
    d15 = db.session.scalar(select(Incident).where(Incident.rule_code == "D15"))
    assert d15.linked_id == violation.id
    detail = client.get(f"/admin/incidents/{violation.id}").get_data(as_text=True)
    assert "迎检加扣" in detail and f"/admin/incidents/{d15.id}" in detail


def test_record_a_warning_only(client, login, hall):
    login("inspector")
    response = client.post(
        "/admin/incidents/new",
        data=form(
            hall["u1"],
            "D05b",
            action="warning",
            staff_pk=str(hall["w"].id),
            window="1",
            public_text="未佩戴工牌,已提醒",
        ),
    )
    assert response.status_code == 302
    warning = db.session.scalar(select(Warning))
    assert (warning.rule_code, warning.staff_pk, warning.text) == ("D05b", hall["w"].id, "未佩戴工牌,已提醒")
    assert db.session.scalar(select(func.count(Incident.id))) == 0
    html = client.get(
        "/admin/incidents/new",
        headers=HX,
        query_string={
            "part": "rule_fields",
            "unit_id": hall["u1"].id,
            "occurred_at": "2024-03-18T09:30",
            "rule_code": "D05b",
            "staff_pk": hall["w"].id,
        },
    ).get_data(as_text=True)
    assert "未佩戴工牌,已提醒" in html and "张三" in html
    assert db.session.scalar(select(AuditLog).where(AuditLog.action == "warning.create")) is not None


def test_warning_only_for_warning_rules(client, login, hall):
    login("inspector")
    response = client.post("/admin/incidents/new", data=form(hall["u1"], "D01", action="warning"))
    assert response.status_code == 422 and "只记提醒" in response.get_data(as_text=True)
    assert db.session.scalar(select(func.count(Warning.id))) == 0


def close_february() -> None:
    months.close(2024, 2)
    db.session.commit()


@pytest.mark.parametrize(
    "case, message",
    [
        ("unknown unit", "所选单位不存在或已停用"),
        ("no unit", "请选择单位"),
        ("inactive unit", "所选单位不存在或已停用"),
        ("bad date", "请填写正确的日期和时间"),
        ("future", "日期 2024-03-25 晚于今天(2024-03-20),不能登记未来的记录"),
        ("later today", "发生时间不能晚于现在"),
        ("count 0", "次数(人数)必须是 1 到 99 之间的整数"),
        ("count text", "请填写整数"),
        ("no rule", "请选择考核规则"),
        ("unknown rule", "规则 D99 不存在或不能手工登记"),
        ("derived rule", "规则 D19b 不存在或不能手工登记"),
        ("d19a without deadline", "D19a 必须填写整改期限"),
        ("w rule with c staff", "D01 只适用于值守窗口工作人员"),
        ("exempt without exemption", "D01 没有免扣情形"),
        ("window of another unit", "窗口 3 不属于市税务局"),
        ("staff gone", "该人员在发生日期不在所选单位"),
        ("d15 without link", "D15 必须选择所加扣的违规记录"),
        ("closed month", "2024年2月已关账"),
        ("text as jpg", "不是 JPEG、PNG 或 HEIC 图片"),
    ],
)
def test_bad_input_is_422_in_chinese_and_writes_nothing(app, client, login, make, hall, case, message):
    u1 = hall["u1"]
    data = {
        "unknown unit": form(u1, unit_id="99999"),
        "no unit": form(u1, unit_id=""),
        "inactive unit": form(u1),
        "bad date": form(u1, occurred_at="2024-13-45T25:00"),
        "future": form(u1, occurred_at="2024-03-25T09:00"),
        "later today": form(u1, occurred_at="2024-03-20T15:00"),
        "count 0": form(u1, count="0"),
        "count text": form(u1, count="两"),
        "no rule": form(u1, rule_code=""),
        "unknown rule": form(u1, rule_code="D99"),
        "derived rule": form(u1, rule_code="D19b"),
        "d19a without deadline": form(u1, "D19a"),
        "w rule with c staff": form(u1, "D01", staff_pk=str(hall["c"].id)),
        "exempt without exemption": form(u1, "D01", exempt="y"),
        "window of another unit": form(u1, "D01", window="3"),
        "staff gone": form(u1, "D01", staff_pk=str(hall["gone"].id)),
        "d15 without link": form(u1, "D15"),
        "closed month": form(u1, "D01", occurred_at="2024-02-20T09:00"),
        "text as jpg": {
            **form(u1, "D01"),
            "evidence": [(io.BytesIO(PNG), "ok.png"), (io.BytesIO(b"just some text\n"), "photo.jpg")],
        },
    }[case]
    if case == "inactive unit":
        from models import Unit

        data["unit_id"] = str(db.session.scalar(select(Unit.id).where(Unit.code == "U09")))
    if case == "closed month":
        close_february()
    login("admin")
    before = counts(app)
    response = client.post("/admin/incidents/new", data=data, content_type="multipart/form-data")
    html = response.get_data(as_text=True)
    assert response.status_code == 422, case
    assert message in html, case
    assert "请检查标红的项目" in html
    assert counts(app) == before


def test_too_big_evidence_is_refused(app, client, login, hall, monkeypatch):
    monkeypatch.setitem(app.config, "EVIDENCE_MAX_BYTES", 1024)
    login("admin")
    before = counts(app)
    response = client.post(
        "/admin/incidents/new",
        content_type="multipart/form-data",
        data={**form(hall["u1"]), "evidence": [(io.BytesIO(PNG + b"\x00" * 2048), "big.png")]},
    )
    assert response.status_code == 422 and "超过 0 MB 的大小限制" in response.get_data(as_text=True)
    assert counts(app) == before


def test_no_javascript_refresh_re_renders_without_saving(client, login, hall):
    login("admin")
    response = client.post("/admin/incidents/new", data=form(hall["u1"], action="refresh"))
    assert response.status_code == 200 and "张三" in response.get_data(as_text=True)
    assert db.session.scalar(select(func.count(Incident.id))) == 0


# ------------------------------------------------------------------ roles


ROUTES = [
    ("get", "/admin/incidents/new"),
    ("get", "/admin/incidents"),
    ("get", "/admin/incidents/{id}"),
    ("get", "/admin/incidents/{id}/notice"),
    ("get", "/admin/incidents/{id}/correct"),
    ("post", "/admin/incidents/{id}/correct"),
    ("post", "/admin/incidents/{id}/void"),
    ("post", "/admin/incidents/{id}/evidence"),
    ("post", "/admin/incidents/new"),
]
ALLOWED = {
    "admin": {r for r in ROUTES},
    "inspector": {ROUTES[0], ROUTES[1], ROUTES[2], ROUTES[3], ROUTES[7], ROUTES[8]},
    "leader": {ROUTES[1], ROUTES[2], ROUTES[3]},
    "unit": set(),
}


@pytest.mark.parametrize("role", ["admin", "inspector", "leader", "unit"])
def test_who_may_use_which_route(client, login, make, hall, role):
    incident = make.incident(hall["u1"], "D01")
    login(role, unit=hall["u1"] if role == "unit" else None)
    for method, url in ROUTES:
        response = getattr(client, method)(url.format(id=incident.id), data={})
        if (method, url) in ALLOWED[role]:
            assert response.status_code in (200, 302, 422), (role, method, url)
        else:
            assert response.status_code == 403, (role, method, url, response.status_code)
    assert db.session.get(Incident, incident.id).status == IncidentStatus.CONFIRMED


def test_anonymous_is_sent_to_login(client, make, hall):
    response = client.get("/admin/incidents/new")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


# ------------------------------------------------------------------ list


def test_list_filters_strikes_voided_and_totals_confirmed(client, login, make, hall):
    a = make.incident(hall["u1"], "D01", at=datetime(2024, 3, 4, 9, 0))
    make.incident(hall["u1"], "D02c", at=datetime(2024, 3, 5, 9, 0), count=2)
    voided = make.incident(hall["u1"], "D07b", at=datetime(2024, 3, 6, 9, 0))
    incidents.void(voided, "误录")
    db.session.commit()
    make.incident(hall["u1"], "D07b", at=datetime(2024, 3, 7, 9, 0), status=IncidentStatus.PROPOSED)
    make.incident(hall["u2"], "B01", at=datetime(2024, 3, 8, 9, 0))
    make.incident(hall["u2"], "D06", at=datetime(2024, 3, 8, 10, 0), exempt=True)
    make.incident(hall["u2"], "D01", at=datetime(2024, 2, 8, 9, 0))  # another month
    login("leader")
    html = client.get("/admin/incidents").get_data(as_text=True)
    assert "2024-03 共 6 条" in html
    assert f'<tr class="voided" data-incident="{voided.id}">' in html
    assert text_of(html, "total-deductions") == "-12" and text_of(html, "total-bonus") == "+3"
    only_u1 = client.get(
        "/admin/incidents", query_string={"unit_id": hall["u1"].id, "status": "confirmed"}, headers=HX
    ).get_data(as_text=True)
    assert "<html" not in only_u1 and 'id="incident-table"' in only_u1
    assert "2024-03 共 2 条" in only_u1 and text_of(only_u1, "total-deductions") == "-12"
    by_rule = client.get("/admin/incidents", query_string={"rule_code": "D01", "month": "2024-02"})
    assert "2024-02 共 1 条" in by_rule.get_data(as_text=True)
    assert f'data-incident="{a.id}"' not in by_rule.get_data(as_text=True)


def test_list_filters_by_who_recorded_and_paginates(client, login, make, hall):
    inspector = login("inspector")
    for day in range(1, 4):
        client.post("/admin/incidents/new", data=form(hall["u1"], occurred_at=f"2024-03-0{day}T09:00"))
    for i in range(52):
        make.incident(hall["u2"], "D01", at=datetime(2024, 3, 10, 8, i))
    mine = client.get("/admin/incidents", query_string={"recorded_by": inspector.id}).get_data(as_text=True)
    assert "2024-03 共 3 条" in mine
    first = client.get("/admin/incidents").get_data(as_text=True)
    assert "共 55 条" in first and "第 1 / 2 页" in first and first.count("data-incident=") == 50
    second = client.get("/admin/incidents", query_string={"page": 2}).get_data(as_text=True)
    assert second.count("data-incident=") == 5


def test_list_bad_filters_are_422_in_chinese(client, login, hall):
    login("admin")
    response = client.get("/admin/incidents", query_string={"month": "2024-13"})
    assert response.status_code == 422 and "月份格式应为 YYYY-MM" in response.get_data(as_text=True)
    response = client.get("/admin/incidents", query_string={"status": "nonsense"})
    assert response.status_code == 422 and "筛选条件无效" in response.get_data(as_text=True)


# ------------------------------------------------------------------ detail, correct, void


def test_detail_shows_everything_and_admin_actions(client, login, make, hall):
    incident = make.incident(
        hall["u1"],
        "D19a",
        at=datetime(2024, 3, 4, 9, 0),
        deadline=date(2024, 3, 15),
        staff=hall["w"],
        window="1",
        note="内部记录",
        public_text="未履行一次性告知",
    )
    login("admin")
    html = client.get(f"/admin/incidents/{incident.id}").get_data(as_text=True)
    page = parse(html)
    facts = page.text_of("dl.facts")
    assert text_of(page, "incident-time") == "2024-03-04 09:00" and "张三" in facts and "1 号窗口" in facts
    assert text_of(page, "incident-points") == "-5 分" and "整改期限 2024-03-15" in facts
    assert "未履行一次性告知" in html and "内部记录" in html and "进驻事项" in html
    assert f"/admin/incidents/{incident.id}/notice" in html and f"TZ-2024-03-{incident.id:06d}" in html
    assert (
        f"/admin/incidents/{incident.id}/correct" in html and f"/admin/incidents/{incident.id}/void" in html
    )
    assert 'id="incident-history"' in html and "登记" in html


def test_inspector_and_leader_see_detail_without_admin_actions(client, login, make, hall):
    incident = make.incident(hall["u1"], "D01")
    login("inspector")
    html = client.get(f"/admin/incidents/{incident.id}").get_data(as_text=True)
    assert "迟到或早退" in html and "/correct" not in html and "/void" not in html
    assert f"/admin/incidents/{incident.id}/evidence" in html  # inspectors may add evidence


def test_correct_keeps_history_with_reason(client, login, make, hall):
    incident = make.incident(hall["u1"], "D01", window="1")
    login("admin")
    page = client.get(f"/admin/incidents/{incident.id}/correct").get_data(as_text=True)
    assert 'value="2024-03-05T09:00"' in page
    data = {
        "occurred_at": "2024-03-05T09:00",
        "rule_code": "D02a",
        "count": "2",
        "window": "1",
        "staff_pk": "",
        "note": "",
        "public_text": "两次离岗",
        "reason": "核实为空岗",
    }
    response = client.post(f"/admin/incidents/{incident.id}/correct", data=data)
    assert response.status_code == 302
    db.session.refresh(incident)
    assert (incident.rule_code, incident.count, incident.public_text) == ("D02a", 2, "两次离岗")
    actions = [(h.action, h.reason) for h in incident.history]
    assert actions == [("created", ""), ("corrected", "核实为空岗")]
    detail = client.get(f"/admin/incidents/{incident.id}").get_data(as_text=True)
    assert (
        "核实为空岗" in detail
        and "<del>D01</del> → D02a" in detail
        and text_of(detail, "incident-points") == "-4 分"
    )


@pytest.mark.parametrize(
    "case, message",
    [
        ("no reason", "请填写修改原因"),
        ("nothing changed", "没有任何改动"),
        ("count 0", "次数(人数)必须是 1 到 99 之间的整数"),
        ("exempt on D01", "D01 没有免扣情形"),
        ("into closed month", "2024年2月已关账"),
    ],
)
def test_bad_corrections_change_nothing(client, login, make, hall, case, message):
    incident = make.incident(hall["u1"], "D01", window="1")
    base = {
        "occurred_at": "2024-03-05T09:00",
        "rule_code": "D01",
        "count": "1",
        "window": "1",
        "staff_pk": "",
        "note": "",
        "public_text": "",
        "reason": "更正",
    }
    data = {
        "no reason": {**base, "count": "2", "reason": ""},
        "nothing changed": base,
        "count 0": {**base, "count": "0"},
        "exempt on D01": {**base, "exempt": "y"},
        "into closed month": {**base, "occurred_at": "2024-02-05T09:00"},
    }[case]
    if case == "into closed month":
        close_february()
    login("admin")
    history = db.session.scalar(select(func.count(IncidentHistory.id)))
    response = client.post(f"/admin/incidents/{incident.id}/correct", data=data)
    assert response.status_code == 422 and message in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Incident, incident.id).count == 1
    assert db.session.scalar(select(func.count(IncidentHistory.id))) == history


def test_void_with_reason_strikes_it_and_stops_counting(client, login, make, hall):
    incident = make.incident(hall["u1"], "D07b")
    login("admin")
    response = client.post(f"/admin/incidents/{incident.id}/void", data={"reason": ""})
    assert response.status_code == 422 and "请填写作废原因" in response.get_data(as_text=True)
    assert db.session.get(Incident, incident.id).status == IncidentStatus.CONFIRMED
    response = client.post(f"/admin/incidents/{incident.id}/void", data={"reason": "重复登记"})
    assert response.status_code == 302
    db.session.expire_all()
    voided = db.session.get(Incident, incident.id)
    assert voided.status == IncidentStatus.VOIDED and voided.void_reason == "重复登记"
    html = client.get(f"/admin/incidents/{incident.id}").get_data(as_text=True)
    assert "已作废" in html and "重复登记" in html
    from services.standings import standings

    assert standings(2024, 3).unit("U01").score == 100


def test_closed_month_refuses_void_correct_and_evidence(client, login, make, hall):
    incident = make.incident(hall["u1"], "D01", at=datetime(2024, 2, 5, 9, 0))
    close_february()
    login("admin")
    response = client.post(f"/admin/incidents/{incident.id}/void", data={"reason": "误录"})
    assert response.status_code == 422 and "2024年2月已关账" in response.get_data(as_text=True)
    response = client.post(
        f"/admin/incidents/{incident.id}/evidence",
        content_type="multipart/form-data",
        data={"evidence": [(io.BytesIO(PNG), "late.png")]},
    )
    assert response.status_code == 422 and "2024年2月已关账" in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Incident, incident.id).status == IncidentStatus.CONFIRMED
    assert db.session.scalar(select(func.count(Evidence.id))) == 0
    page = client.get(f"/admin/incidents/{incident.id}").get_data(as_text=True)
    assert "已关账" in page and f"/admin/incidents/{incident.id}/void" not in page


# ------------------------------------------------------------------ the notice


def test_notice_prints_the_incident_for_the_unit(client, login, make, hall):
    recorder = make.user("inspector", username="巡查员小王")
    incident = incidents.create(
        hall["u1"],
        "D04a",
        from_hall(datetime(2024, 3, 4, 9, 15)),
        staff=hall["w"],
        window="1",
        note="内部备注勿印",
        public_text="上班时间玩手机游戏",
    )
    incident.recorded_by_id = recorder.id
    db.session.commit()
    login("leader")
    html = client.get(f"/admin/incidents/{incident.id}/notice").get_data(as_text=True)
    assert text_of(html, "notice-number") == f"TZ-2024-03-{incident.id:06d}"
    assert text_of(html, "notice-unit") == "市税务局" and text_of(html, "notice-staff") == "张三"
    assert text_of(html, "notice-time") == "2024-03-04 09:15" and text_of(html, "notice-place") == "1 号窗口"
    assert "D04a" in text_of(html, "notice-rule") and "炒股、看娱乐视频" in text_of(html, "td.notice-text")
    assert text_of(html, "notice-points").startswith("-3 分")
    assert text_of(html, "notice-public-text") == "上班时间玩手机游戏" and "内部备注勿印" not in html
    assert text_of(html, "notice-recorder") == "巡查员小王"
    assert (
        "违规违纪通知单" in html and "单位签收" in html and "单位反馈" in html and "css/documents.css" in html
    )


def test_correcting_the_note_keeps_a_tap_time_with_seconds(client, login, make, hall):
    """The form shows minutes; a patrol tap keeps its seconds when only the note is corrected."""
    incident = incidents.create(
        hall["u1"], "D01", from_hall(datetime(2024, 3, 5, 9, 0, 41)), window="1", source="patrol"
    )
    db.session.commit()
    login("admin")
    data = {
        "occurred_at": "2024-03-05T09:00",
        "rule_code": "D01",
        "count": "1",
        "window": "1",
        "staff_pk": "",
        "note": "核实",
        "public_text": "",
        "reason": "补充备注",
    }
    response = client.post(f"/admin/incidents/{incident.id}/correct", data=data)
    assert response.status_code == 302
    db.session.expire_all()
    corrected = db.session.get(Incident, incident.id)
    assert corrected.note == "核实" and corrected.occurred_at == from_hall(datetime(2024, 3, 5, 9, 0, 41))
    before, after = (h.snapshot for h in corrected.history)
    assert {k for k in after if before.get(k) != after[k]} == {"note"}


def test_the_detail_pages_photo_picker_is_the_shared_one_and_shows_its_error(client, login, make, hall):
    """The 补充证据 form uses portal/request_file_input.html: its label, accept list, hint and error."""
    from admin.incident_forms import EVIDENCE_ACCEPT

    incident = make.incident(hall["u1"], "D01")
    login("admin")
    page = parse(client.get(f"/admin/incidents/{incident.id}").text)
    picker = page.one("form.evidence-add .file-picker input#evidence")
    assert picker.get("accept") == EVIDENCE_ACCEPT and picker.get("name") == "evidence"
    assert page.text_of("form.evidence-add .field-title") == "添加证据照片"
    assert page.text_of("form.evidence-add #evidence-count") == "JPEG、PNG 或 HEIC,每张不超过 10 MB。"
    bad = client.post(
        f"/admin/incidents/{incident.id}/evidence",
        data={"evidence": [(io.BytesIO(b"not a photo"), "x.txt")]},
        content_type="multipart/form-data",
    )
    refused = parse(bad.text)
    assert bad.status_code == 422 and refused.has("form.evidence-add .field.has-error")
    assert "不是 JPEG、PNG 或 HEIC 图片" in refused.text_of("form.evidence-add .field .error")
