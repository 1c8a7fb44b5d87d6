"""Evidence photos: checked by content and size, stored outside static/, served only to who may see them."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from sqlalchemy import func, select

from models import Evidence, db
from services import evidence
from tests import images

PNG = images.png()  # real images: uploads are decoded
JPEG = images.jpeg()
HEIC = images.heic()
HEIF = b"\x00\x00\x00\x14ftypmif1\x00\x00\x00\x00mif1" + b"\x00" * 16


@pytest.fixture
def hall(make):
    u1 = make.unit("U01", name="市税务局")
    u2 = make.unit("U02", name="市人社局")
    return {"u1": u1, "u2": u2, "mine": make.incident(u1, "D01"), "theirs": make.incident(u2, "D01")}


def files(app) -> list[Path]:
    return sorted(Path(app.config["EVIDENCE_DIR"]).glob("*"))


@pytest.mark.parametrize(
    "data, kind",
    [
        (PNG, "image/png"),
        (JPEG, "image/jpeg"),
        (HEIC, "image/heic"),
        (HEIF, "image/heif"),
        (b"GIF89a" + b"\x00" * 20, None),
        (b"%PDF-1.7", None),
        (b"hello, this is text", None),
        (b"", None),
        (b"\x00\x00\x00\x18ftypisom\x00\x00\x00\x00isomavc1", None),  # an MP4 video
    ],
)
def test_sniff_reads_the_content_not_the_name(data, kind):
    assert evidence.sniff(data) == kind


def test_store_and_serve_a_png_with_private_headers(app, client, login, hall):
    before = files(app)
    login("inspector")
    response = client.post(
        f"/admin/incidents/{hall['mine'].id}/evidence",
        content_type="multipart/form-data",
        data={"evidence": [(io.BytesIO(PNG), "现场照片.png")]},
    )
    assert response.status_code == 302
    row = db.session.scalar(select(Evidence))
    assert (row.filename, row.content_type, row.size, row.incident_id) == (
        "现场照片.png",
        "image/png",
        len(PNG),
        hall["mine"].id,
    )
    stored = [p for p in files(app) if p not in before]
    assert [p.name for p in stored] == [row.stored_name] and stored[0].read_bytes() == PNG
    assert "现场照片" not in row.stored_name and row.stored_name.endswith(".png")
    static = Path(app.static_folder).resolve()
    assert static not in stored[0].resolve().parents
    served = client.get(f"/admin/evidence/{row.id}")
    assert served.status_code == 200 and served.data == PNG
    assert served.headers["Content-Type"] == "image/png"
    assert served.headers["Cache-Control"].startswith("private")
    assert served.headers["X-Content-Type-Options"] == "nosniff"
    assert served.headers["Content-Disposition"].startswith("inline")
    detail = client.get(f"/admin/incidents/{hall['mine'].id}").get_data(as_text=True)
    assert f'<img src="/admin/evidence/{row.id}"' in detail and "已添加附件 1 个" in detail


def test_a_text_file_named_jpg_is_refused(app, client, login, hall):
    before = files(app)
    login("admin")
    response = client.post(
        f"/admin/incidents/{hall['mine'].id}/evidence",
        content_type="multipart/form-data",
        data={"evidence": [(io.BytesIO(b"not a photo at all"), "photo.jpg", "image/jpeg")]},
    )
    assert response.status_code == 422
    assert "“photo.jpg”不是 JPEG、PNG 或 HEIC 图片" in response.get_data(as_text=True)
    assert db.session.scalar(select(func.count(Evidence.id))) == 0 and files(app) == before


def test_too_big_is_refused(app, client, login, hall, monkeypatch):
    before = files(app)
    monkeypatch.setitem(app.config, "EVIDENCE_MAX_BYTES", 2 * 1024 * 1024)
    login("admin")
    big = PNG + b"\x00" * (2 * 1024 * 1024)
    response = client.post(
        f"/admin/incidents/{hall['mine'].id}/evidence",
        content_type="multipart/form-data",
        data={"evidence": [(io.BytesIO(PNG), "small.png"), (io.BytesIO(big), "big.png")]},
    )
    assert response.status_code == 422 and "“big.png”超过 2 MB 的大小限制" in response.get_data(as_text=True)
    assert db.session.scalar(select(func.count(Evidence.id))) == 0 and files(app) == before


def test_nothing_chosen_is_refused(client, login, hall):
    login("admin")
    response = client.post(
        f"/admin/incidents/{hall['mine'].id}/evidence",
        content_type="multipart/form-data",
        data={"evidence": [(io.BytesIO(b""), "")]},
    )
    assert response.status_code == 422 and "请选择要添加的照片" in response.get_data(as_text=True)


def test_heic_is_kept_and_offered_as_a_link(client, login, hall):
    login("admin")
    client.post(
        f"/admin/incidents/{hall['mine'].id}/evidence",
        content_type="multipart/form-data",
        data={"evidence": [(io.BytesIO(HEIC), "IMG_0001.HEIC")]},
    )
    row = db.session.scalar(select(Evidence))
    assert row.content_type == "image/heic" and row.stored_name.endswith(".heic")
    detail = client.get(f"/admin/incidents/{hall['mine'].id}").get_data(as_text=True)
    assert (
        f'href="/admin/evidence/{row.id}"' in detail and f'<img src="/admin/evidence/{row.id}"' not in detail
    )


def stored(hall) -> tuple[int, int]:
    own = evidence.store(hall["mine"], [evidence.Upload("own.png", "image/png", PNG)])[0]
    theirs = evidence.store(hall["theirs"], [evidence.Upload("theirs.jpg", "image/jpeg", JPEG)])[0]
    db.session.commit()
    return own.id, theirs.id


@pytest.mark.parametrize("role", ["admin", "inspector", "leader"])
def test_staff_roles_see_every_units_evidence(client, login, hall, role):
    own, theirs = stored(hall)
    login(role)
    assert client.get(f"/admin/evidence/{own}").data == PNG
    assert client.get(f"/admin/evidence/{theirs}").data == JPEG


def test_a_unit_user_sees_only_its_own_units_evidence(client, login, hall):
    own, theirs = stored(hall)
    login("unit", unit=hall["u1"])
    assert client.get(f"/admin/evidence/{own}").data == PNG
    response = client.get(f"/admin/evidence/{theirs}")
    assert response.status_code == 404 and response.data != JPEG
    assert client.get("/admin/evidence/999999").status_code == 404
    # Adding evidence is for admins and inspectors only.
    assert client.post(f"/admin/incidents/{hall['mine'].id}/evidence").status_code == 403


def test_anonymous_gets_no_evidence(client, hall):
    own, _theirs = stored(hall)
    response = client.get(f"/admin/evidence/{own}")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_leader_may_not_add_evidence(client, login, hall):
    login("leader")
    response = client.post(
        f"/admin/incidents/{hall['mine'].id}/evidence",
        content_type="multipart/form-data",
        data={"evidence": [(io.BytesIO(PNG), "a.png")]},
    )
    assert response.status_code == 403
    assert db.session.scalar(select(func.count(Evidence.id))) == 0


def test_a_missing_file_is_404(app, client, login, hall):
    own, _theirs = stored(hall)
    evidence.path_of(db.session.get(Evidence, own)).unlink()
    login("admin")
    assert client.get(f"/admin/evidence/{own}").status_code == 404


def test_a_failed_store_leaves_no_file(app, hall, monkeypatch):
    before = files(app)
    calls = []
    original = Path.write_bytes

    def flaky(self, data):
        calls.append(self)
        if len(calls) == 2:
            raise OSError("disk full")
        return original(self, data)

    monkeypatch.setattr(Path, "write_bytes", flaky)
    with pytest.raises(OSError):
        evidence.store(
            hall["mine"],
            [evidence.Upload("a.png", "image/png", PNG), evidence.Upload("b.png", "image/png", PNG)],
        )
    db.session.rollback()
    assert len(calls) == 2 and files(app) == before


def test_write_files_is_the_one_writer_for_evidence_notices_and_requests(app, hall, monkeypatch):
    """Incident evidence, notice answers and request files all go through evidence.write_files."""
    from types import SimpleNamespace

    from models import Incident
    from models.notice import Notice
    from services import appeals, notices

    seen = []

    def spy(uploads, make_row, extensions=evidence.EXTENSIONS):
        rows = [make_row(u, "x" + extensions[u.content_type]) for u in uploads]
        seen.append((type(rows[0]).__name__, rows[0].stored_name, rows[0].filename))
        return []

    monkeypatch.setattr(evidence, "write_files", spy)
    png = [evidence.Upload("a.png", "image/png", PNG)]
    evidence.store(Incident(), png)
    notices._store(Notice(), [evidence.Upload("b.pdf", "application/pdf", b"%PDF-1.7")], None, None)
    appeals.store_files(png, hall["u1"].id, appeal=SimpleNamespace(id=7))
    assert seen == [
        ("Evidence", "x.png", "a.png"),
        ("NoticeAttachment", "x.pdf", "b.pdf"),
        ("RequestFile", "x.png", "a.png"),
    ]


def test_write_files_removes_what_it_wrote_when_a_row_fails(app, hall):
    before = files(app)
    made = []

    def make_row(upload, stored_name):
        made.append(stored_name)
        if len(made) == 2:
            raise ValueError("bad row")
        return Evidence(
            incident=hall["mine"],
            filename=upload.filename,
            stored_name=stored_name,
            content_type=upload.content_type,
            size=upload.size,
        )

    with pytest.raises(ValueError):
        evidence.write_files(
            [evidence.Upload("a.png", "image/png", PNG), evidence.Upload("b.jpg", "image/jpeg", JPEG)],
            make_row,
        )
    db.session.rollback()
    assert made[0].endswith(".png") and made[1].endswith(".jpg") and files(app) == before
