"""Stationed units (派驻单位) and their windows."""

from __future__ import annotations

import re

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from models.base import db

WINDOW_SPLIT = re.compile(r"[;、；,，\s]+")


def split_windows(text: str | None) -> list[str]:
    return [w for w in WINDOW_SPLIT.split(text or "") if w]


class Unit(db.Model):
    __tablename__ = "unit"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    windows: Mapped[str] = mapped_column(String(400), default="")  # "1;2;3"
    display_order: Mapped[int] = mapped_column(default=0)
    active: Mapped[bool] = mapped_column(default=True)

    @property
    def window_list(self) -> list[str]:
        return split_windows(self.windows)

    def __repr__(self) -> str:
        return f"<Unit {self.code}>"
