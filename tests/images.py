"""Real small files for upload tests (the upload check decodes them), and the bad ones it must refuse."""

from __future__ import annotations

import io
import struct
import zlib
from functools import cache

from PIL import Image


@cache
def png(width: int = 4, height: int = 4) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (200, 20, 20)).save(out, format="PNG")
    return out.getvalue()


@cache
def jpeg(width: int = 8, height: int = 8) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (20, 120, 200)).save(out, format="JPEG")
    return out.getvalue()


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


@cache
def huge_png(width: int = 20000, height: int = 20000) -> bytes:
    """A well-formed 1-bit PNG of width×height whose every pixel is there, compressed to a few KB: what a
    decompression bomb looks like (20000×20000 = 400 megapixels)."""
    row = b"\x00" + b"\x00" * ((width + 7) // 8)
    compressor = zlib.compressobj(9)
    body = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", body) + _chunk(b"IEND", b"")


def truncated(data: bytes) -> bytes:
    """The first half of a file: its magic number is right, its content stops short."""
    return data[: len(data) // 2]


PDF = (
    b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n"
    b"2 0 obj\n<< /Type /Pages /Kids [] /Count 0 >>\nendobj\n"
    b"trailer\n<< /Root 1 0 R >>\n%%EOF\n"
)


def _box(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", 8 + len(payload)) + kind + payload


def heic(width: int = 4032, height: int = 3024) -> bytes:
    """The box structure of an iPhone HEIC (ftyp, meta with an image size `ispe`, mdat)."""
    ftyp = _box(b"ftyp", b"heic" + b"\x00\x00\x00\x00" + b"mif1heic")
    ispe = _box(b"ispe", b"\x00\x00\x00\x00" + struct.pack(">II", width, height))
    meta = _box(b"meta", b"\x00\x00\x00\x00" + _box(b"iprp", _box(b"ipco", ispe)))
    return ftyp + meta + _box(b"mdat", b"\x00" * 64)
