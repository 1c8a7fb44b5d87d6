"""Issue 10 item 14: every upload path decodes what it is given. A text file renamed .png, a truncated photo
and a 20000×20000 PNG (a decompression bomb of 48 KB) are refused with a Chinese message and nothing is
written (no row, no file); an accepted file comes back only to who may see it, with its type from its
content, `inline` for a photo and `attachment` otherwise, a safe filename and `nosniff`."""

from __future__ import annotations

import io
import re
import uuid
from datetime import date, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select

from models import Evidence, Incident, IncidentStatus, RequestFile, Role, db
from models.notice import NoticeAttachment
from services import evidence, months
from tests import images
from tests.app.test_incidents import form as desk_form

HX = {"HX-Request": "true"}

BAD = {
    "renamed text": (b"<html><script>alert(1)</script></html>", "photo.png", "不是 JPEG、PNG"),
    "text after a PNG signature": (b"\x89PNG\r\n\x1a\n<script>alert(1)</script>", "a.png", "已损坏或不完整"),
    "truncated PNG": (images.truncated(images.png(64, 64)), "cut.png", "已损坏或不完整"),
    "truncated JPEG": (images.truncated(images.jpeg(64, 64)), "cut.jpg", "已损坏或不完整"),
    "huge-pixel PNG": (images.huge_png(), "bomb.png", "像素过大(最多 40 百万像素)"),
    "broken HEIC": (images.heic()[:40], "IMG_1.HEIC", "已损坏或不完整"),
    "huge HEIC": (images.heic(20000, 20000), "IMG_2.HEIC", "像素过大"),
}


@pytest.fixture
def hall(make):
    u1 = make.unit("U01", name="市税务局")
    u2 = make.unit("U02", name="市人社局")
    return {
        "u1": u1,
        "u2": u2,
        "d01": make.incident(u1, "D01", at=datetime(2024, 3, 19, 9, 0)),
        "d19a": make.incident(u1, "D19a", at=datetime(2024, 3, 12, 9, 0), deadline=date(2024, 3, 19)),
        # February: a D04b opens a notice needing an answer once the month is published.
        "d04b": make.incident(u1, "D04b", at=datetime(2024, 2, 6, 9, 30), window="1"),
    }


def _files(data: bytes, name: str) -> list:
    return [(io.BytesIO(data), name)]


def _count(model) -> int:
    return db.session.scalar(select(func.count(model.id))) or 0


def _stored(app) -> list[Path]:
    return sorted(Path(app.config["EVIDENCE_DIR"]).glob("*"))


# Each path: who logs in, how its form is sent, which table its files land in.
def _evidence_add(client, hall, data, name):
    return client.post(
        f"/admin/incidents/{hall['d01'].id}/evidence",
        content_type="multipart/form-data",
        data={"evidence": _files(data, name)},
    )


def _desk(client, hall, data, name):
    return client.post(
        "/admin/incidents/new",
        content_type="multipart/form-data",
        data={**desk_form(hall["u1"], "D01"), "evidence": _files(data, name)},
    )


def _patrol(client, hall, data, name):
    client.post(
        "/admin/patrol/tap",
        headers=HX,
        data={
            "unit_id": hall["u1"].id,
            "window": "1",
            "rule_code": "D01",
            "client_key": str(uuid.uuid4()),
            "date": "2024-03-20",
        },
    )
    tapped = db.session.scalar(select(Incident).order_by(Incident.id.desc()))
    return client.post(
        f"/admin/patrol/record/{tapped.id}",
        headers=HX,
        content_type="multipart/form-data",
        data={"staff_pk": "", "note": "", "evidence": _files(data, name)},
    )


def _appeal(client, hall, data, name):
    return client.post(
        f"/portal/items/{hall['d01'].id}/appeal",
        content_type="multipart/form-data",
        data={"reason": "当日经批准外出培训", "evidence": _files(data, name)},
    )


def _rectified(client, hall, data, name):
    return client.post(
        f"/portal/items/{hall['d19a'].id}/rectified",
        content_type="multipart/form-data",
        data={"rectified_on": "2024-03-19", "description": "已整改", "evidence": _files(data, name)},
    )


def _claim(client, hall, data, name):
    return client.post(
        "/portal/claims/new",
        content_type="multipart/form-data",
        data={
            "rule_code": "B01",
            "occurred_on": "2024-03-15",
            "description": "锦旗",
            "evidence": _files(data, name),
        },
    )


def _notice_answer(client, hall, data, name):
    from models.notice import Notice

    months.close(2024, 2)
    months.publish(2024, 2)
    db.session.commit()
    notice = db.session.scalar(select(Notice).where(Notice.unit_id == hall["u1"].id))
    return client.post(
        f"/portal/notices/{notice.id}/answer",
        content_type="multipart/form-data",
        data={"text": "已整改", "files": _files(data, name)},
    )


PATHS = {
    "incident evidence": ("inspector", _evidence_add, Evidence),
    "desk form": ("inspector", _desk, Evidence),
    "patrol record": ("inspector", _patrol, Evidence),
    "appeal": ("unit", _appeal, RequestFile),
    "rectification": ("unit", _rectified, RequestFile),
    "claim": ("unit", _claim, RequestFile),
    "notice answer": ("unit", _notice_answer, NoticeAttachment),
}


def _sign_in(login, hall, role):
    return login(role, unit=hall["u1"] if role == Role.UNIT else None)


@pytest.mark.parametrize("bad", list(BAD))
@pytest.mark.parametrize("path", list(PATHS))
def test_every_upload_path_refuses_what_does_not_decode(app, client, login, hall, path, bad):
    role, send, model = PATHS[path]
    _sign_in(login, hall, role)
    data, name, message = BAD[bad]
    before_files, before_incidents = _stored(app), _count(Incident)
    response = send(client, hall, data, name)
    assert response.status_code in (200, 422), response.status_code  # the patrol panel answers htmx with 200
    text = response.get_data(as_text=True)
    assert message in text and name in text
    assert _count(model) == 0 and _stored(app) == before_files
    if path == "desk form":
        assert _count(Incident) == before_incidents  # the incident is not logged without its photo


@pytest.mark.parametrize("path", list(PATHS))
def test_every_upload_path_stores_a_real_photo_and_serves_it_safely(app, client, login, hall, path):
    role, send, model = PATHS[path]
    _sign_in(login, hall, role)
    response = send(client, hall, images.png(), '现场"照片";.png')
    assert response.status_code in (200, 302), response.get_data(as_text=True)
    row = db.session.scalar(select(model))
    assert row.content_type == "image/png" and len(row.stored_name) == 32 + 4  # 128 random bits + ".png"
    url = {
        Evidence: f"/admin/evidence/{row.id}",
        RequestFile: f"/admin/requests/files/{row.id}",
        NoticeAttachment: f"/portal/notices/attachments/{row.id}",
    }[model]
    if model is Evidence:  # the photo of an incident logged by the desk is seen by its unit too
        db.session.get(Incident, row.incident_id).status = IncidentStatus.CONFIRMED
        db.session.commit()
    served = client.get(url)
    assert served.status_code == 200 and served.data == images.png()
    assert served.mimetype == "image/png"
    assert served.headers["X-Content-Type-Options"] == "nosniff"
    assert served.headers["Cache-Control"].startswith("private")
    disposition = served.headers["Content-Disposition"]
    safe = r"""inline; filename="[^";\\]+\.png"; filename\*=UTF-8''[A-Za-z0-9%._-]+\.png"""
    assert re.fullmatch(safe, disposition), disposition
    assert "sandbox" in served.headers["Content-Security-Policy"]


def test_a_pdf_answer_is_an_attachment_typed_by_its_content(app, client, login, hall):
    login("unit", unit=hall["u1"])
    assert _notice_answer(client, hall, images.PDF, "报告.html").status_code == 302
    row = db.session.scalar(select(NoticeAttachment))
    served = client.get(f"/portal/notices/attachments/{row.id}")
    assert served.mimetype == "application/pdf" and served.data == images.PDF
    assert served.headers["Content-Disposition"].startswith("attachment;")
    assert served.headers["Content-Disposition"].endswith("%E6%8A%A5%E5%91%8A.pdf")  # 报告.pdf, not .html


def test_a_truncated_pdf_is_refused(app, client, login, hall):
    login("unit", unit=hall["u1"])
    response = _notice_answer(client, hall, images.PDF[:60], "报告.pdf")
    assert response.status_code == 422 and "“报告.pdf”已损坏或不完整" in response.get_data(as_text=True)
    assert _count(NoticeAttachment) == 0


def test_heic_is_served_as_a_download(app, client, login, hall):
    login("inspector")
    assert _evidence_add(client, hall, images.heic(), "IMG_0001.HEIC").status_code == 302
    row = db.session.scalar(select(Evidence))
    served = client.get(f"/admin/evidence/{row.id}")
    assert served.mimetype == "image/heic" and served.headers["Content-Disposition"].startswith("attachment;")


def test_the_served_type_is_the_contents_even_if_the_row_says_otherwise(app, client, login, hall):
    [row] = evidence.store(hall["d01"], [evidence.Upload("a.png", "image/png", images.png())])
    row.content_type = "text/html"  # a row from before the check, or tampered
    db.session.commit()
    login("admin")
    served = client.get(f"/admin/evidence/{row.id}")
    assert served.mimetype == "image/png"


def test_a_pixel_limit_below_a_photo_refuses_it(app, client, login, hall, monkeypatch):
    monkeypatch.setitem(app.config, "EVIDENCE_MAX_PIXELS", 1_000_000)
    login("inspector")
    response = _evidence_add(client, hall, images.png(1001, 1000), "big.png")
    assert response.status_code == 422 and "像素过大(最多 1 百万像素)" in response.get_data(as_text=True)
    assert _evidence_add(client, hall, images.png(1000, 1000), "ok.png").status_code == 302


def test_a_unit_gets_404_for_another_units_evidence_and_for_a_proposals(app, client, login, hall, make):
    mine = evidence.store(hall["d01"], [evidence.Upload("mine.png", "image/png", images.png())])[0]
    theirs_incident = make.incident(hall["u2"], "D01", at=datetime(2024, 3, 19, 9, 0))
    theirs = evidence.store(theirs_incident, [evidence.Upload("t.png", "image/png", images.png())])[0]
    at = datetime(2024, 3, 18, 9, 0)
    proposal = make.incident(hall["u1"], "D01", at=at, status=IncidentStatus.PROPOSED)
    proposed = evidence.store(proposal, [evidence.Upload("p.png", "image/png", images.png())])[0]
    db.session.commit()
    login("unit", unit=hall["u1"])
    assert client.get(f"/admin/evidence/{mine.id}").data == images.png()
    for row in (theirs, proposed):
        response = client.get(f"/admin/evidence/{row.id}")
        assert response.status_code == 404 and response.data != images.png()


def test_too_many_photos_at_once_are_refused_before_any_is_decoded(app, client, login, hall, monkeypatch):
    decoded = []
    original = evidence.check_content
    monkeypatch.setattr(evidence, "check_content", lambda *a: decoded.append(a) or original(*a))
    login("inspector")
    files = [(io.BytesIO(images.png()), f"{i}.png") for i in range(evidence.MAX_FILES + 1)]
    url = f"/admin/incidents/{hall['d01'].id}/evidence"
    response = client.post(url, content_type="multipart/form-data", data={"evidence": files})
    assert response.status_code == 422 and "一次最多上传 20 张照片" in response.get_data(as_text=True)
    assert decoded == [] and _count(Evidence) == 0


def test_another_units_files_are_404_for_a_unit_user(app, client, login, hall):
    from werkzeug.datastructures import FileStorage

    from models.notice import Notice
    from services import appeals, notices

    photo = evidence.Upload("mine.png", "image/png", images.png())
    [own_photo] = evidence.store(hall["d01"], [photo])
    appeal = appeals.submit(
        hall["d01"], hall["u1"], "理由", [FileStorage(io.BytesIO(images.png()), filename="a.png")]
    )
    months.close(2024, 2)
    months.publish(2024, 2)
    notice = db.session.scalar(select(Notice).where(Notice.unit_id == hall["u1"].id))
    [attachment] = notices.answer(notice, "已整改", [evidence.Upload("r.pdf", "application/pdf", images.PDF)])
    db.session.commit()
    [request_file] = appeal.stored_files
    urls = [
        f"/admin/evidence/{own_photo.id}",
        f"/admin/requests/files/{request_file.id}",
        f"/portal/notices/attachments/{attachment.id}",
    ]
    login("unit", unit=hall["u2"])
    for url in urls:
        response = client.get(url)
        assert response.status_code == 404 and response.data not in (images.png(), images.PDF), url
    client.post("/logout")
    login("unit", unit=hall["u1"], username="own-unit")
    for url in urls:
        assert client.get(url).status_code == 200, url
