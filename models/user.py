"""Users and roles."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from flask import current_app, has_app_context
from flask_login import UserMixin
from sqlalchemy import ForeignKey, String, false
from sqlalchemy.orm import Mapped, mapped_column, relationship
from werkzeug.security import check_password_hash, generate_password_hash

from models.base import UTCDateTime, db
from models.unit import Unit


class Role(StrEnum):
    ADMIN = "admin"
    INSPECTOR = "inspector"
    LEADER = "leader"
    UNIT = "unit"


class User(UserMixin, db.Model):
    __tablename__ = "user"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(60), default="")
    password_hash: Mapped[str] = mapped_column(String(256))
    role: Mapped[str] = mapped_column(String(12))
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("unit.id"))
    active: Mapped[bool] = mapped_column(default=True)
    # Part of the id a session holds (get_id): raising it ends every session of the user at their next
    # request (a password change, a disable, a role change).
    session_version: Mapped[int] = mapped_column(default=1, server_default="1")
    # Set when an admin or an import chose the password: the user must choose their own before anything else.
    must_change_password: Mapped[bool] = mapped_column(default=False, server_default=false())

    unit: Mapped[Unit | None] = relationship()

    def set_password(self, password: str) -> None:
        # The method is a setting so tests can use a cheap hash; production keeps werkzeug's scrypt.
        method = current_app.config.get("PASSWORD_HASH_METHOD", "scrypt") if has_app_context() else "scrypt"
        self.password_hash = generate_password_hash(password, method=method)

    def check_password(self, password: str) -> bool:
        return check_password_hash(self.password_hash, password)

    def get_id(self) -> str:
        """What the session stores: the id and the session version, so a raised version ends the session."""
        return f"{self.id}.{self.session_version or 1}"

    def end_sessions(self) -> None:
        """Every session of this user ends at its next request (the loader no longer finds it)."""
        self.session_version = (self.session_version or 1) + 1

    @property
    def is_active(self) -> bool:  # Flask-Login refuses inactive users
        return self.active

    @property
    def label(self) -> str:
        return self.display_name or self.username


class EndedSession(db.Model):
    """A login session ended by its logout, kept until it would have expired anyway (`ends_at`).

    The session lives in the signed cookie, so a copy of the cookie taken before the logout would still be
    accepted; the user loader refuses a session whose nonce is listed here (in the same query that loads
    the user, so it costs no extra round trip)."""

    __tablename__ = "ended_session"

    nonce: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"))
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
