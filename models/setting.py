"""Small key/value settings an admin changes (kiosk rotation, panels) and the hall screens' last contact."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from models.base import UTCDateTime, db, utcnow


class Setting(db.Model):
    __tablename__ = "setting"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[dict | list | str | int | bool | None] = mapped_column(JSON)


class KioskScreen(db.Model):
    """A hall screen an admin registered: its address carries a random token (`/kiosk/?screen=<token>`),
    of which only the SHA-256 is kept. A screen without a known token still shows the public page but is
    never written here, so no stranger can add rows."""

    __tablename__ = "kiosk_screen"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    orientation: Mapped[str] = mapped_column(String(16), default="landscape", server_default="landscape")
    registered_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=utcnow)
    registered_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    last_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # None: never polled yet
    address: Mapped[str] = mapped_column(String(64), default="")
