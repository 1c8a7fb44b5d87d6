"""A backup carries every file the data names: incident photos, notice answers' attachments, and the files of
appeals, rectification reports and bonus claims; a restore puts them back."""

from __future__ import annotations

import zipfile
from datetime import date, datetime
from pathlib import Path

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
