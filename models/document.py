"""Official documents (公文): the per-year 文号 counter and the numbers given to documents once issued.

A number is given once and kept: `IssuedDocument.key` names what was issued (e.g. "bulletin:2026-10",
"letter:discipline:12"), so a reprint or a PDF of the same document shows the same 文号.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from models.base import UTCDateTime, db, utcnow


class DocumentCounter(db.Model):
    """The last sequence number given in a year (one row per year, incremented in the issuing transaction)."""

    __tablename__ = "document_counter"

    year: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    last: Mapped[int] = mapped_column(default=0)


class IssuedDocument(db.Model):
    __tablename__ = "issued_document"
    __table_args__ = (UniqueConstraint("year", "seq"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(96), unique=True)
    kind: Mapped[str] = mapped_column(String(32))
    year: Mapped[int]
    seq: Mapped[int]
    number: Mapped[str] = mapped_column(String(96))  # as printed, with the prefix in force when issued
    issued_on: Mapped[date]
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
