"""Evidence photos of incidents: checked by content, size-limited, stored outside static/ under random names.

Uploads are read and checked first (`read_uploads`), so a bad file refuses the whole submission before
anything is written; `store` then writes the files and their rows, and `discard_files` removes what was
written when the transaction that should have kept them fails (no orphan files).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from pathlib import Path

from flask import current_app
from flask_babel import gettext as _

from models import Evidence, Incident, db
from services import DomainError
from services.audit import acting_user_id, record
from services.clock import utc_now

# ISO-BMFF brands of HEIF images as iPhones and Android tablets write them.
HEIC_BRANDS = {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"hevm", b"hevs"}
HEIF_BRANDS = {b"mif1", b"msf1", b"heif"}
EXTENSIONS = {"image/jpeg": ".jpg", "image/png": ".png", "image/heic": ".heic", "image/heif": ".heif"}
# What a browser can show inline; HEIC/HEIF are offered as a download link instead of a thumbnail.
DISPLAYABLE = {"image/jpeg", "image/png"}


@dataclass(frozen=True)
class Upload:
    """A checked upload, held in memory until the incident it belongs to is written."""

    filename: str
    content_type: str
    data: bytes

    @property
    def size(self) -> int:
        return len(self.data)


def sniff(head: bytes) -> str | None:
    """The image type from the first bytes of a file (magic numbers), or None if it is not one we take."""
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if len(head) >= 12 and head[4:8] == b"ftyp":
        brands = {head[8:12]}
        # Compatible brands follow the minor version; the major brand alone is often "mif1".
        box_size = int.from_bytes(head[0:4], "big")
        for offset in range(16, min(box_size, len(head)) - 3, 4):
            brands.add(head[offset : offset + 4])
        if brands & HEIC_BRANDS:
            return "image/heic"
        if brands & HEIF_BRANDS:
            return "image/heif"
    return None


def max_bytes() -> int:
    return int(current_app.config["EVIDENCE_MAX_BYTES"])


def evidence_dir() -> Path:
    path = Path(current_app.config["EVIDENCE_DIR"])
    path.mkdir(parents=True, exist_ok=True)
    return path


def _clean_name(name: str | None) -> str:
    name = Path((name or "").replace("\\", "/")).name.strip()
    return name[:200] or _("照片")


def read_upload(file) -> Upload | None:
    """Check one uploaded file (a werkzeug FileStorage); None for the empty part of an unused file input."""
    if file is None or not getattr(file, "filename", None):
        return None
    name = _clean_name(file.filename)
    limit = max_bytes()
    data = file.stream.read(limit + 1)
    if not data:
        raise DomainError(_("文件“%(name)s”是空的", name=name))
    if len(data) > limit:
        raise DomainError(_("文件“%(name)s”超过 %(mb)s MB 的大小限制", name=name, mb=limit // (1024 * 1024)))
    content_type = sniff(data[:64])
    if content_type is None:
        raise DomainError(_("文件“%(name)s”不是 JPEG、PNG 或 HEIC 图片", name=name))
    return Upload(filename=name, content_type=content_type, data=data)


def read_uploads(files) -> list[Upload]:
    """Check every file of a submission; the first bad one refuses them all (nothing is written yet)."""
    uploads = []
    for file in files or []:
        upload = read_upload(file)
        if upload is not None:
            uploads.append(upload)
    return uploads


def write_files(uploads: list[Upload], make_row, extensions: dict[str, str] = EXTENSIONS) -> list:
    """Write each upload under a fresh stored name and add the row `make_row(upload, stored_name)` builds
    for it (flushed, not committed). On failure nothing stays on disk. Shared by incident evidence,
    notice answers and request files: same folder, same stored-name scheme."""
    directory = evidence_dir()
    rows: list = []
    written: list[Path] = []
    try:
        for upload in uploads:
            stored_name = secrets.token_hex(16) + extensions[upload.content_type]
            written.append(directory / stored_name)
            written[-1].write_bytes(upload.data)
            row = make_row(upload, stored_name)
            rows.append(row)
            db.session.add(row)
        db.session.flush()
    except Exception:
        for path in written:
            path.unlink(missing_ok=True)
        raise
    return rows


def store(incident: Incident, uploads: list[Upload]) -> list[Evidence]:
    """Write the files and their rows (flushed, not committed). On failure nothing stays on disk."""
    rows: list[Evidence] = write_files(
        uploads,
        lambda upload, stored_name: Evidence(
            incident=incident,
            filename=upload.filename,
            stored_name=stored_name,
            content_type=upload.content_type,
            size=upload.size,
            uploaded_at=utc_now(),
            uploaded_by_id=acting_user_id(),
        ),
    )
    if rows:
        record(
            "evidence.add",
            f"incident:{incident.id}",
            after={
                "files": [
                    {"filename": r.filename, "stored_name": r.stored_name, "size": r.size} for r in rows
                ]
            },
        )
    return rows


def discard_files(rows: list[Evidence]) -> None:
    """Remove the files of evidence rows whose transaction was rolled back."""
    directory = Path(current_app.config["EVIDENCE_DIR"])
    for row in rows:
        (directory / row.stored_name).unlink(missing_ok=True)


def path_of(row: Evidence) -> Path:
    """Where the file of an evidence row lives; stored names are ours (hex + extension), never a user's."""
    return Path(current_app.config["EVIDENCE_DIR"]) / Path(row.stored_name).name


def displayable(row: Evidence) -> bool:
    return row.content_type in DISPLAYABLE
