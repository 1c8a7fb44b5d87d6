"""Bonus claims (加分申请, issue 9 item 4): a unit claims one of the rulebook's `claimable` bonuses with the
day, a description and photos; an admin approves it once into a confirmed bonus incident (bounded as any
incident is) or rejects it with a reason; the unit is told."""

from __future__ import annotations

import io
from datetime import date

import pytest
from sqlalchemy import func, select

from models import BonusClaim, Evidence, Incident, Notification, RequestFile, Role, db
from scoring import default_rulebook_path, load_rulebook
from services import claims, months, standings
from tests.app.test_appeals import PNG, sign_in
from tests.html import parse


@pytest.fixture
def hall(app, make):
    mine = make.unit("U01", name="市税务局")
    theirs = make.unit("U02", name="市人社局")
    return {
        "mine": mine,
        "theirs": theirs,
        "unit": sign_in(app, make.user(Role.UNIT, username="unit-a", unit=mine)),
        "admin": sign_in(app, make.user(Role.ADMIN, username="admin-a")),
    }


def claim(client, rule="B01", day="2024-03-15", text="办事群众赠送锦旗一面", files=((PNG, "锦旗.png"),)):
    return client.post(
        "/portal/claims/new",
        content_type="multipart/form-data",
        data={
            "rule_code": rule,
            "occurred_on": day,
            "description": text,
            "evidence": [(io.BytesIO(d), n) for d, n in files],
        },
    )


def claim_count() -> int:
    return db.session.scalar(select(func.count(BonusClaim.id)))


def test_the_rulebook_marks_which_bonuses_come_from_outside():
    shipped = load_rulebook(default_rulebook_path())
    assert [r.code for r in shipped.rules if r.claimable] == ["B01", "B02a", "B02b", "B02c", "B03"]


def test_the_claim_form_offers_only_claimable_bonuses(app, hall):
    page = parse(hall["unit"].get("/portal/claims/new").text)
    offered = [o.attrs["value"] for o in page.all("#rule_code option") if o.attrs.get("value")]
    assert offered == ["B01", "B02a", "B02b", "B02c", "B03"]


def test_claim_approved_into_a_bonus_incident_with_its_photos(app, hall):
    assert claim(hall["unit"]).status_code == 302
    row = db.session.scalar(select(BonusClaim))
    assert (row.rule_code, row.occurred_on, row.status) == ("B01", date(2024, 3, 15), "open")
    assert "待处理" in parse(hall["unit"].get("/portal/requests").text).text_of(f"claim-{row.id}")
    page = parse(hall["admin"].get("/admin/requests").text)
    assert page.text_of("count-claims") == "1" and "办事群众赠送锦旗一面" in page.text_of(f"claim-{row.id}")

    standings._cache.clear()
    assert standings.standings(2024, 3).unit("U01").bonus == 0
    ok = hall["admin"].post(
        f"/admin/requests/claims/{row.id}/decide", data={"decision": "approve", "reason": ""}
    )
    assert ok.status_code == 302
    db.session.expire_all()
    row = db.session.get(BonusClaim, row.id)
    incident = db.session.get(Incident, row.incident_id)
    assert (incident.rule_code, incident.status, incident.unit_id, incident.source) == (
        "B01",
        "confirmed",
        hall["mine"].id,
        "claim",
    )
    assert incident.public_text == "办事群众赠送锦旗一面"
    assert [e.filename for e in incident.evidence] == ["锦旗.png"]
    standings._cache.clear()
    assert standings.standings(2024, 3).unit("U01").bonus == 3
    note = db.session.scalar(select(Notification).where(Notification.kind == "claim_decided"))
    assert note.unit_id == hall["mine"].id and "已通过" in note.title
    # The unit sees its new bonus item, whose photo it may open.
    photo = db.session.scalar(select(Evidence).where(Evidence.incident_id == incident.id))
    assert hall["unit"].get(f"/admin/evidence/{photo.id}").data == PNG

    twice = hall["admin"].post(
        f"/admin/requests/claims/{row.id}/decide", data={"decision": "approve", "reason": ""}
    )
    assert twice.status_code == 422 and "该加分申请已经处理,不能重复决定" in twice.text
    assert db.session.scalar(select(func.count(Incident.id)).where(Incident.rule_code == "B01")) == 1


def test_claim_rejected_with_a_reason_the_unit_reads(app, hall):
    assert claim(hall["unit"], rule="B02a", text="市电视台报道").status_code == 302
    row = db.session.scalar(select(BonusClaim))
    empty = hall["admin"].post(
        f"/admin/requests/claims/{row.id}/decide", data={"decision": "reject", "reason": " "}
    )
    assert empty.status_code == 422 and "请填写不予通过的理由" in empty.text
    ok = hall["admin"].post(
        f"/admin/requests/claims/{row.id}/decide",
        data={"decision": "reject", "reason": "所附为内部简报,不是媒体报道"},
    )
    assert ok.status_code == 302
    db.session.expire_all()
    assert db.session.get(BonusClaim, row.id).status == "rejected"
    assert db.session.scalar(select(func.count(Incident.id)).where(Incident.rule_code == "B02a")) == 0
    page = parse(hall["unit"].get("/portal/requests").text)
    assert "所附为内部简报,不是媒体报道" in page.text_of(f"claim-{row.id}")
    again = hall["admin"].post(f"/admin/requests/claims/{row.id}/decide", data={"decision": "approve"})
    assert again.status_code == 422
    assert db.session.scalar(select(func.count(Incident.id)).where(Incident.rule_code == "B02a")) == 0


@pytest.mark.parametrize(
    "rule, day, text, files, message",
    [
        ("B04", "2024-03-15", "合理化建议", ((PNG, "a.png"),), "不是单位可以申请的加分项"),
        ("D01", "2024-03-15", "x", ((PNG, "a.png"),), "不是单位可以申请的加分项"),
        ("", "2024-03-15", "x", ((PNG, "a.png"),), "不是单位可以申请的加分项"),
        ("B01", "", "锦旗", ((PNG, "a.png"),), "请填写获得表扬或报道的日期"),
        ("B01", "2024-03-21", "锦旗", ((PNG, "a.png"),), "不能登记未来的记录"),
        ("B01", "2020-01-01", "锦旗", ((PNG, "a.png"),), "早于考核细则的生效日期"),
        ("B01", "2024-03-15", "", ((PNG, "a.png"),), "请填写申请说明"),
        ("B01", "2024-03-15", "锦旗", (), "请上传至少一张证明材料的照片"),
        ("B01", "2024-03-15", "锦旗", ((b"GIF89a" + b"\x00" * 20, "a.gif"),), "不是 JPEG、PNG 或 HEIC 图片"),
    ],
)
def test_bad_claims_are_refused_in_chinese_and_write_nothing(app, hall, rule, day, text, files, message):
    response = claim(hall["unit"], rule=rule, day=day, text=text, files=files)
    assert response.status_code == 422 and message in response.text
    assert claim_count() == 0 and db.session.scalar(select(func.count(RequestFile.id))) == 0


def test_a_claim_in_a_closed_month_is_refused(app, hall):
    months.close(2024, 2)
    db.session.commit()
    response = claim(hall["unit"], day="2024-02-20")
    assert response.status_code == 422 and "已关账" in response.text
    assert claim_count() == 0


def test_approval_is_bounded_like_any_incident(app, hall):
    """A claim of February waits while February closes: approving it then is refused, nothing written."""
    assert claim(hall["unit"], day="2024-02-20").status_code == 302
    months.close(2024, 2)
    db.session.commit()
    row = db.session.scalar(select(BonusClaim))
    refused = hall["admin"].post(f"/admin/requests/claims/{row.id}/decide", data={"decision": "approve"})
    assert refused.status_code == 422 and "已关账" in refused.text
    db.session.expire_all()
    assert db.session.get(BonusClaim, row.id).status == "open"
    assert db.session.scalar(select(func.count(Incident.id))) == 0


def test_another_units_claims_and_files_are_not_ours(app, hall, make):
    them = sign_in(app, make.user(Role.UNIT, username="unit-b", unit=hall["theirs"]))
    assert claim(them, text="他单位的锦旗").status_code == 302
    row = db.session.scalar(select(BonusClaim))
    assert "他单位的锦旗" not in hall["unit"].get("/portal/requests").text
    [photo] = row.files
    assert hall["unit"].get(f"/admin/requests/files/{photo.id}").status_code == 404
    assert (
        hall["unit"].post(f"/admin/requests/claims/{row.id}/decide", data={"decision": "approve"}).status_code
        == 403
    )
    db.session.expire_all()
    assert db.session.get(BonusClaim, row.id).status == "open"


def test_service_refuses_a_second_approval_directly(app, hall):
    assert claim(hall["unit"]).status_code == 302
    row = db.session.scalar(select(BonusClaim))
    claims.decide(row, True)
    db.session.commit()
    from services import DomainError

    with pytest.raises(DomainError, match="不能重复决定"):
        claims.decide(row, True)
    db.session.rollback()
    assert db.session.scalar(select(func.count(Incident.id))) == 1


def test_claimable_is_checked_by_the_rulebook_reader():
    from scoring import RulebookError, rulebook_from_dict, rulebook_to_dict

    data = rulebook_to_dict(load_rulebook(default_rulebook_path()))
    for rule in data["rules"]:
        if rule["code"] == "D01":
            rule["claimable"] = True
    with pytest.raises(RulebookError, match="不是加分项,字段 claimable 不能为 true"):
        rulebook_from_dict(data)
    for rule in data["rules"]:
        rule.pop("claimable")
    # A version stored before the field existed reads with nothing claimable.
    assert not any(r.claimable for r in rulebook_from_dict(data).rules)
