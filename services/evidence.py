"""Evidence photos of incidents: checked by content, size-limited, stored outside static/ under random names.

Every file a user uploads (incident evidence, patrol photos, the photos of appeals, claims and rectification
reports, notice answers' attachments) is checked here by decoding it, never by its name: a JPEG or PNG is
opened, verified and fully decoded by Pillow, within a pixel limit checked from its header before any
decoding (a decompression bomb is refused without being expanded); a HEIC/HEIF photo, which Pillow cannot
decode without a plug-in, must be a well-formed ISO-BMFF file whose image sizes (`ispe`) are within the
same limit; a PDF must start with its header and end with its trailer.

Uploads are read and checked first (`read_uploads`), so a bad file refuses the whole submission before
anything is written; `store` then writes the files and their rows, and `discard_files` removes what was
written when the transaction that should have kept them fails (no orphan files).
"""

from __future__ import annotations

import io
import secrets
import warnings
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from flask import current_app
from flask_babel import gettext as _
from PIL import Image

from models import Evidence, Incident, db
from services import DomainError
from services.audit import acting_user_id, record
from services.clock import utc_now

# ISO-BMFF brands of HEIF images as iPhones and Android tablets write them.
HEIC_BRANDS = {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"hevm", b"hevs"}
HEIF_BRANDS = {b"mif1", b"msf1", b"heif"}
PDF = "application/pdf"
# The stored names' endings by type (a PDF: only a notice answer's attachment, `read_uploads(pdf=True)`).
EXTENSIONS = {
    "image/jpeg": ".jpg",
    "image/png": ".png",
    "image/heic": ".heic",
    "image/heif": ".heif",
    PDF: ".pdf",
}
# What a browser can show inline; HEIC/HEIF are offered as a download link instead of a thumbnail.
DISPLAYABLE = {"image/jpeg", "image/png"}
# A 40-megapixel photo is more than any phone takes; beyond it a file is a decompression bomb to us.
DEFAULT_MAX_PIXELS = 40_000_000
PIL_FORMATS = {"image/jpeg": "JPEG", "image/png": "PNG"}
# Photos per submission: each is fully decoded, so a form with hundreds of small 40-megapixel JPEGs would
# hold a worker for minutes.
MAX_FILES = 20


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


def file_type(head: bytes) -> str | None:
    """The type of any file we keep from its first bytes: a PDF, or an image's (`sniff`)."""
    return PDF if head.startswith(b"%PDF-") else sniff(head)


def max_bytes() -> int:
    return int(current_app.config["EVIDENCE_MAX_BYTES"])


def max_pixels() -> int:
    return int(current_app.config.get("EVIDENCE_MAX_PIXELS", DEFAULT_MAX_PIXELS))


class _BadFile(Exception):
    """The content does not decode as the type its first bytes claim."""


def _too_many_pixels(name: str) -> DomainError:
    return DomainError(
        _("图片“%(name)s”像素过大(最多 %(mp)d 百万像素),未保存", name=name, mp=max_pixels() // 1_000_000)
    )


def _check_pillow(name: str, data: bytes, content_type: str) -> None:
    """Open (header only), check the pixel count, verify, then decode every pixel: a truncated or forged
    file fails here, a bomb is refused before it is expanded."""
    limit = max_pixels()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=[PIL_FORMATS[content_type]]) as image:
                width, height = image.size
                if width * height > limit:
                    raise _too_many_pixels(name)
                image.verify()
            with Image.open(io.BytesIO(data), formats=[PIL_FORMATS[content_type]]) as image:
                frames = getattr(image, "n_frames", 1)
                if frames > 1 and width * height * frames > limit:  # an animated PNG multiplies the cost
                    raise _too_many_pixels(name)
                image.load()
    except DomainError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        raise _too_many_pixels(name) from error
    except Exception as error:  # Pillow raises many kinds (OSError, SyntaxError, ValueError, struct.error)
        raise _BadFile from error


def _boxes(data: bytes, start: int, end: int):
    """The ISO-BMFF boxes between `start` and `end`: (type, payload start, box end); _BadFile if a size
    does not fit."""
    offset = start
    while offset < end:
        if end - offset < 8:
            raise _BadFile
        size = int.from_bytes(data[offset : offset + 4], "big")
        kind = data[offset + 4 : offset + 8]
        header = 8
        if size == 1:
            if end - offset < 16:
                raise _BadFile
            size = int.from_bytes(data[offset + 8 : offset + 16], "big")
            header = 16
        elif size == 0:
            size = end - offset
        if size < header or offset + size > end:
            raise _BadFile
        yield kind, offset + header, offset + size
        offset += size


def _check_heif(name: str, data: bytes) -> None:
    """A HEIC/HEIF photo: top-level boxes that tile the file exactly, with ftyp first, a meta and an mdat
    box, and every image size (`ispe`) within the pixel limit. (Pillow cannot decode HEIF without the
    pillow-heif plug-in; this structural check is what we can do without it.)"""
    top = list(_boxes(data, 0, len(data)))
    kinds = [kind for kind, _start, _end in top]
    if not kinds or kinds[0] != b"ftyp" or b"meta" not in kinds or b"mdat" not in kinds:
        raise _BadFile
    limit = max_pixels()
    at = data.find(b"ispe")
    while at != -1:
        # ispe: size(4) 'ispe' version+flags(4) width(4) height(4)
        if at + 16 <= len(data):
            width = int.from_bytes(data[at + 8 : at + 12], "big")
            height = int.from_bytes(data[at + 12 : at + 16], "big")
            if width * height > limit:
                raise _too_many_pixels(name)
        at = data.find(b"ispe", at + 4)


def _check_pdf(data: bytes) -> None:
    """A PDF: its header first and its end-of-file marker in its last kilobyte (a truncated or renamed
    file fails). We do not render it; it is only ever served as a download."""
    if not data.startswith(b"%PDF-") or b"%%EOF" not in data[-1024:]:
        raise _BadFile


def check_content(name: str, data: bytes, content_type: str) -> None:
    """Decode (or, for HEIF and PDF, check the structure of) a file whose first bytes say `content_type`;
    a DomainError in Chinese if it is not what it claims, truncated, or too many pixels."""
    try:
        if content_type in PIL_FORMATS:
            _check_pillow(name, data, content_type)
        elif content_type in ("image/heic", "image/heif"):
            _check_heif(name, data)
        elif content_type == PDF:
            _check_pdf(data)
        else:
            raise _BadFile
    except _BadFile as error:
        raise DomainError(_("文件“%(name)s”已损坏或不完整,无法识别,未保存", name=name)) from error


def evidence_dir() -> Path:
    path = Path(current_app.config["EVIDENCE_DIR"])
    path.mkdir(parents=True, exist_ok=True)
    return path


def _clean_name(name: str | None, default: str) -> str:
    name = Path((name or "").replace("\\", "/")).name.strip()
    return name[:200] or default


def read_upload(file, *, pdf: bool = False) -> Upload | None:
    """Check one uploaded file (a werkzeug FileStorage); None for the empty part of an unused file input.
    A photo (JPEG, PNG, HEIC/HEIF), or with `pdf` a PDF too (a notice answer's attachment)."""
    if file is None or not getattr(file, "filename", None):
        return None
    name = _clean_name(file.filename, _("附件") if pdf else _("照片"))
    limit = max_bytes()
    data = file.stream.read(limit + 1)
    if not data:
        raise DomainError(_("文件“%(name)s”是空的", name=name))
    if len(data) > limit:
        raise DomainError(_("文件“%(name)s”超过 %(mb)s MB 的大小限制", name=name, mb=limit // (1024 * 1024)))
    content_type = file_type(data[:64]) if pdf else sniff(data[:64])
    if content_type is None:
        if pdf:
            raise DomainError(_("文件“%(name)s”不是 JPEG、PNG、HEIC 图片或 PDF 文件", name=name))
        raise DomainError(_("文件“%(name)s”不是 JPEG、PNG 或 HEIC 图片", name=name))
    check_content(name, data, content_type)  # decoded, not trusted by its first bytes
    return Upload(filename=name, content_type=content_type, data=data)


def read_uploads(files, *, pdf: bool = False, max_files: int = MAX_FILES) -> list[Upload]:
    """Check every file of a submission (photos; with `pdf` PDFs too, as attachments); the first bad one
    refuses them all (nothing is written yet). More than `max_files` is refused before any is decoded."""
    chosen = [f for f in files or [] if f is not None and getattr(f, "filename", None)]
    if len(chosen) > max_files:
        if pdf:
            raise DomainError(_("最多上传 %(n)d 个附件", n=max_files))
        raise DomainError(_("一次最多上传 %(n)d 张照片", n=max_files))
    return [upload for upload in (read_upload(f, pdf=pdf) for f in chosen) if upload is not None]


def file_summary(rows: list) -> list[dict]:
    """The stored files of an upload as the audit log records them."""
    return [{"filename": r.filename, "stored_name": r.stored_name, "size": r.size} for r in rows]


def file_columns(upload: Upload, stored_name: str, at: datetime, by: int | None) -> dict:
    """The columns every stored file's row has (evidence, notice attachments, request files): the name
    the user gave, ours on disk, the type, the size, when and by whom."""
    return {
        "filename": upload.filename,
        "stored_name": stored_name,
        "content_type": upload.content_type,
        "size": upload.size,
        "uploaded_at": at,
        "uploaded_by_id": by,
    }


def write_files(uploads: list[Upload], make_row) -> list:
    """Write each upload under a fresh stored name and add the row `make_row(upload, stored_name)` builds
    for it (flushed, not committed). On failure nothing stays on disk. Shared by incident evidence,
    notice answers and request files: same folder, same stored-name scheme."""
    directory = evidence_dir()
    rows: list = []
    written: list[Path] = []
    try:
        for upload in uploads:
            stored_name = secrets.token_hex(16) + EXTENSIONS[upload.content_type]
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
            incident=incident, **file_columns(upload, stored_name, utc_now(), acting_user_id())
        ),
    )
    if rows:
        record("evidence.add", f"incident:{incident.id}", after={"files": file_summary(rows)})
    return rows


def discard_files(rows: list) -> None:
    """Remove the files of rows (evidence, notice attachments, request files) whose transaction was rolled
    back."""
    for row in rows:
        path_of(row).unlink(missing_ok=True)


def path_of(row) -> Path:
    """Where the file of a stored row lives (evidence, notice attachments, request files: one folder);
    stored names are ours (hex + extension), never a user's."""
    return Path(current_app.config["EVIDENCE_DIR"]) / Path(row.stored_name).name


def displayable(row: Evidence) -> bool:
    return row.content_type in DISPLAYABLE
