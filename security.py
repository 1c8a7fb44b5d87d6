"""Request hygiene that every route shares: bounded ids in URLs, no NUL bytes, safe redirects after login."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Flask, abort, request
from werkzeug.routing import IntegerConverter

# The largest id an id column holds (INTEGER: 32 bits on PostgreSQL): a bigger one can name no row, and
# the databases raise (rather than find nothing) when asked for it.
MAX_ID = 2**31 - 1


class BoundedIntConverter(IntegerConverter):
    """`<int:…>` in a URL: a number beyond any id is a 404, like any id that names no row."""

    def __init__(self, map, *args, **kwargs):  # noqa: A002 - werkzeug's signature
        kwargs.setdefault("max", MAX_ID)
        super().__init__(map, *args, **kwargs)


def whole_number(text: str | None, *, low: int = 1, high: int = MAX_ID) -> int | None:
    """`text` as a whole number in low..high, else None. Only ASCII digits count: `str.isdigit()` is also
    true of "²" and "①", which `int()` refuses, and of "١٢" (Arabic-Indic), which no form sends."""
    text = (text or "").strip()
    if not text or len(text) > len(str(high)) or not (text.isascii() and text.isdigit()):
        return None
    value = int(text)
    return value if low <= value <= high else None


def row_id(value) -> int:
    """WTForms' `coerce` for a field that names a row: text of a whole number in 0..MAX_ID, else ValueError (a
    form error), so an id beyond any id column never reaches a query (SQLite and PostgreSQL raise on it)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value  # a choice of the form's own (0 for "all"), compared when the select is drawn
    number = whole_number(str(value) if value is not None else None, low=0)
    if number is None:
        raise ValueError(f"not an id: {value!r}")
    return number


def int_arg(name: str) -> int | None:
    """A query parameter that names a row or a page: a whole number in 1..MAX_ID, else None (so a page
    falls back to the first and an id names nothing, instead of a database error)."""
    return whole_number(request.args.get(name))


def safe_next(target: str | None) -> str | None:
    """`target` if it stays on this site as the browser will resolve it, else None.

    Browsers drop tabs and newlines inside a URL and read a backslash as a slash, so `/\\t/evil.example`
    and `/\\\\evil.example` both lead off-site although they start with one slash.
    """
    if not target:
        return None
    if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in target):
        return None
    cleaned = target.replace("\\", "/")
    if not cleaned.startswith("/") or cleaned.startswith("//"):
        return None
    parts = urlsplit(cleaned)
    if parts.scheme or parts.netloc:
        return None
    return target


def _has_nul(values) -> bool:
    return any("\x00" in value for value in values)


def refuse_nul_bytes() -> None:
    """No text the app stores or looks up may hold a NUL byte (PostgreSQL refuses it with an error)."""
    if "\x00" in request.path or _has_nul(request.args.values()) or _has_nul(request.args.keys()):
        abort(400)
    if request.method in ("POST", "PUT", "PATCH") and request.mimetype in (
        "application/x-www-form-urlencoded",
        "multipart/form-data",
    ):
        if _has_nul(request.form.values()) or _has_nul(request.form.keys()):
            abort(400)


def init_app(app: Flask) -> None:
    """Call before the blueprints are registered: their rules take the converter when they are added."""
    app.url_map.converters["int"] = BoundedIntConverter
    app.before_request(refuse_nul_bytes)
