"""Sending a stored upload (evidence photo, request file, notice attachment) back to who may see it.

The caller has checked who may see the row; this answers with the file's type as its content says (not
its name, nor what was recorded), `inline` only for a photo a browser shows (JPEG, PNG) and `attachment`
for everything else, under a filename cleaned of anything a header could be split on, with the extension
of the real type, `nosniff`, and a sandboxing Content-Security-Policy so even a file that got past the
checks cannot run script in the hall's origin.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import quote

from flask import abort, send_file

from services import evidence

EXTENSIONS = {**evidence.EXTENSIONS, "application/octet-stream": ".bin"}
# Characters a filename in a header must not carry: controls, quotes, separators, path parts.
UNSAFE = re.compile(r'[\x00-\x1f\x7f"\\/;:<>|*?%]')


def content_type_of(path: Path) -> str:
    """The type of a stored file from its first bytes (what `evidence.check_content` decoded at upload)."""
    with path.open("rb") as handle:
        head = handle.read(64)
    return evidence.file_type(head) or "application/octet-stream"


def safe_filename(filename: str | None, content_type: str) -> str:
    """The user's filename without anything unsafe in a header, ending in the real type's extension."""
    stem = Path(UNSAFE.sub("_", (filename or "").replace("\\", "/").split("/")[-1])).stem.strip(" .")
    return (stem[:100] or "file") + EXTENSIONS[content_type]


def disposition(kind: str, filename: str) -> str:
    """RFC 6266: an ASCII fallback name for old clients, the UTF-8 name by RFC 5987."""
    ascii_name = filename.encode("ascii", "ignore").decode() or "file" + Path(filename).suffix
    if ascii_name.startswith("."):
        ascii_name = "file" + ascii_name
    return f"{kind}; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename, safe='')}"


def send_stored(path: Path, filename: str | None):
    """The stored file at `path` as a private response (404 if it is gone)."""
    if not path.is_file():
        abort(404)
    content_type = content_type_of(path)
    name = safe_filename(filename, content_type)
    response = send_file(path, mimetype=content_type, conditional=True, max_age=0)
    kind = "inline" if content_type in evidence.DISPLAYABLE else "attachment"
    response.headers["Content-Disposition"] = disposition(kind, name)
    response.headers["Cache-Control"] = "private, max-age=3600"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "default-src 'none'; img-src 'self'; sandbox"
    return response
