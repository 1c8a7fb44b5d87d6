"""A backup carries every file the data names: incident photos, notice answers' attachments, and the files of
appeals, rectification reports and bonus claims; a restore puts them back."""

from __future__ import annotations

import zipfile
from datetime import date, datetime
from pathlib import Path

import pytest

from models import Appeal, RequestFile, db
from models.notice import Notice, NoticeAttachment
from services import incidents
from services.clock import from_hall
from tests.conftest import wipe


def _file(folder: Path, name: str, content: bytes) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(content)


def test_backup_and_restore_keep_notice_and_request_files(app, runner, make, tmp_path):
    folder = Path(app.config["EVIDENCE_DIR"])
    unit = make.unit("U01", name="市税务局")
    incident = incidents.create(unit, "D01", from_hall(datetime(2024, 3, 5, 9, 0)))
    notice = Notice(
        unit=unit,
        year=2024,
        month=2,
        flag="notice_feedback",
        reasons=[],
        opened_on=date(2024, 3, 4),
        deadline=date(2024, 3, 11),
    )
    appeal = Appeal(incident=incident, unit=unit, reason="当时在为群众办理业务")
    db.session.add_all([notice, appeal])
    db.session.flush()
    db.session.add(
        NoticeAttachment(
            notice=notice, filename="整改.pdf", stored_name="n1.pdf", content_type="application/pdf", size=9
        )
    )
    db.session.add(
        RequestFile(
            unit_id=unit.id,
            appeal_id=appeal.id,
            filename="现场.png",
            stored_name="r1.png",
            content_type="image/png",
            size=8,
        )
    )
    db.session.commit()
    _file(folder, "n1.pdf", b"%PDF-1.4 ")
    _file(folder, "r1.png", b"\x89PNG....")

    path = tmp_path / "hall.zip"
    result = runner.invoke(args=["backup", str(path)])
    assert result.exit_code == 0, result.output
    with zipfile.ZipFile(path) as archive:
        assert {"evidence/n1.pdf", "evidence/r1.png"} <= set(archive.namelist())

    db.session.remove()
    wipe()
    (folder / "n1.pdf").unlink()
    (folder / "r1.png").unlink()
    result = runner.invoke(args=["restore", str(path), "--yes"])
    assert result.exit_code == 0, result.output
    assert (folder / "n1.pdf").read_bytes() == b"%PDF-1.4 "
    assert (folder / "r1.png").read_bytes() == b"\x89PNG...."


def test_a_json_backup_counts_the_notice_and_request_files_it_leaves_out(app, runner, make, tmp_path):
    unit = make.unit("U01", name="市税务局")
    notice = Notice(
        unit=unit,
        year=2024,
        month=2,
        flag="notice_feedback",
        reasons=[],
        opened_on=date(2024, 3, 4),
        deadline=date(2024, 3, 11),
    )
    db.session.add(notice)
    db.session.flush()
    db.session.add(
        NoticeAttachment(
            notice=notice, filename="整改.pdf", stored_name="n1.pdf", content_type="application/pdf", size=9
        )
    )
    db.session.commit()
    result = runner.invoke(args=["backup", str(tmp_path / "hall.json")])
    assert result.exit_code == 0 and "1 个附件文件未备份" in result.output


# ---------------------------------------------------------------- a restore replaces files too, or nothing


def _hall_with_photo(make, folder: Path, unit_code: str, stored: str, content: bytes):
    from models import Evidence

    unit = make.unit(unit_code, name=f"单位{unit_code}")
    incident = incidents.create(unit, "D01", from_hall(datetime(2024, 3, 5, 9, 0)))
    db.session.flush()
    db.session.add(
        Evidence(
            incident=incident,
            filename="现场.jpg",
            stored_name=stored,
            content_type="image/jpeg",
            size=len(content),
        )
    )
    db.session.commit()
    _file(folder, stored, content)
    return unit


def _state(folder: Path) -> tuple:
    from sqlalchemy import select

    from models import Evidence, Unit

    db.session.expire_all()
    units = sorted(db.session.scalars(select(Unit.code)))
    evidence = sorted(db.session.scalars(select(Evidence.stored_name)))
    files = sorted((p.name, p.read_bytes()) for p in folder.iterdir())
    return units, evidence, files


def test_a_restore_removes_the_files_of_the_data_it_replaced(app, runner, make, tmp_path):
    folder = Path(app.config["EVIDENCE_DIR"])
    for old in folder.iterdir():
        old.unlink() if old.is_file() else None
    _hall_with_photo(make, folder, "OLD1", "aaaa1111.jpg", b"\xff\xd8old")
    path = tmp_path / "old.zip"
    assert runner.invoke(args=["backup", str(path)]).exit_code == 0
    db.session.remove()
    wipe()
    (folder / "aaaa1111.jpg").unlink()
    _hall_with_photo(make, folder, "NEW1", "bbbb2222.jpg", b"\xff\xd8new")

    result = runner.invoke(args=["restore", str(path), "--yes"])
    assert result.exit_code == 0, result.output
    units, evidence, files = _state(folder)
    assert units == ["OLD1"] and evidence == ["aaaa1111.jpg"]
    # The replaced data's photo is gone; no staging folder is left behind.
    assert files == [("aaaa1111.jpg", b"\xff\xd8old")]


def _corrupt_member(path: Path, member: str) -> Path:
    """The same zip with one byte of `member`'s stored data flipped (its CRC no longer matches)."""
    raw = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo(member)
    header = info.header_offset
    name_len = int.from_bytes(raw[header + 26 : header + 28], "little")
    extra_len = int.from_bytes(raw[header + 28 : header + 30], "little")
    start = header + 30 + name_len + extra_len
    raw[start + info.compress_size // 2] ^= 0xFF
    bad = path.with_name("corrupt.zip")
    bad.write_bytes(bytes(raw))
    return bad


@pytest.fixture
def two_halls(app, runner, make, tmp_path):
    """A backup of hall OLD (one photo), then the database and folder holding hall NEW (another photo)."""
    folder = Path(app.config["EVIDENCE_DIR"])
    for old in folder.iterdir():
        old.unlink() if old.is_file() else None
    _hall_with_photo(make, folder, "OLD1", "aaaa1111.jpg", b"\xff\xd8old" * 500)
    path = tmp_path / "old.zip"
    assert runner.invoke(args=["backup", str(path)]).exit_code == 0
    db.session.remove()
    wipe()
    (folder / "aaaa1111.jpg").unlink()
    _hall_with_photo(make, folder, "NEW1", "bbbb2222.jpg", b"\xff\xd8new")
    return folder, path, _state(folder)


def test_a_corrupted_archive_member_changes_nothing(runner, two_halls):
    folder, path, before = two_halls
    bad = _corrupt_member(path, "evidence/aaaa1111.jpg")
    result = runner.invoke(args=["restore", str(bad), "--yes"])
    assert result.exit_code == 1 and "备份文件已损坏" in result.output
    assert _state(folder) == before


@pytest.mark.parametrize("where", ["insert", "commit", "move"])
def test_a_restore_failing_half_way_leaves_the_old_data_and_files(runner, two_halls, monkeypatch, where):
    """A failure after rows were deleted and half re-inserted, at the commit, or while staging files: the
    old rows and files are all there, and no staged file is left behind."""
    from services import backup

    folder, path, before = two_halls
    if where == "insert":
        real = backup._reset_sequences

        def failing(tables):
            real(tables)
            raise RuntimeError("injected failure after the inserts")

        monkeypatch.setattr(backup, "_reset_sequences", failing)
    elif where == "commit":
        from sqlalchemy.exc import OperationalError

        def failing_commit():
            raise OperationalError("COMMIT", {}, Exception("injected: the database went away"))

        monkeypatch.setattr(db.session, "commit", failing_commit)
    else:
        real_write = Path.write_bytes
        calls = {"n": 0}

        def failing_write(self, data):
            if ".restore-" in str(self):
                calls["n"] += 1
                raise OSError(28, "No space left on device", str(self))
            return real_write(self, data)

        monkeypatch.setattr(Path, "write_bytes", failing_write)
    result = runner.invoke(args=["restore", str(path), "--yes"])
    monkeypatch.undo()
    assert result.exit_code == 1, result.output
    assert _state(folder) == before
    assert not [p for p in folder.iterdir() if p.name.startswith(".restore-")]
