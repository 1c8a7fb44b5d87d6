"""Assessment months and their lifecycle: open (live) -> closed (frozen) -> published (bulletin)."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import JSON, ForeignKey, String, UniqueConstraint, delete, event, false, inspect
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from models.base import UTCDateTime, db


class MonthStatus(StrEnum):
    OPEN = "open"
    CLOSED = "closed"
    PUBLISHED = "published"


class Month(db.Model):
    __tablename__ = "month"
    __table_args__ = (UniqueConstraint("year", "month"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    year: Mapped[int]
    month: Mapped[int]
    status: Mapped[str] = mapped_column(String(12), default=MonthStatus.OPEN)
    rulebook_key: Mapped[str | None] = mapped_column(String(64))
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    published_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))

    # A random version of the snapshot, new whenever it changes (`_keep_unit_results`): the key under which
    # a process keeps the decoded results (the close time is no version: a pinned clock repeats it).
    snapshot_key: Mapped[str | None] = mapped_column(String(32))
    # The standings frozen at closing, declared (and stored) last: on SQLite a column after a large value
    # is read by walking that value's overflow pages (migration a8d2f6c4e0b7). Deferred: loaded only when
    # read, since a large hall's is megabytes of JSON and most readers of a month want its status (a
    # decoded copy is kept per `snapshot_key`: services.standings.frozen_result).
    snapshot: Mapped[dict | None] = mapped_column(JSON, deferred=True)
    # One row per unit of the snapshot, kept equal to it by `_keep_unit_results` below.
    unit_results: Mapped[list[MonthUnitResult]] = relationship(
        back_populates="month_row", cascade="all, delete-orphan"
    )

    @property
    def label(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"


class MonthUnitResult(db.Model):
    """One unit's line of a frozen month's snapshot, as a row.

    The live standings need the grades of the year's earlier months (`replace_staff`): a small indexed
    query on these rows instead of reading eleven snapshots of every item of every unit. The snapshot stays
    the record; these rows are rewritten from it whenever it changes, and are read only while the month is
    not open (a month without them, e.g. restored from an older backup, is read from its snapshot).
    """

    __tablename__ = "month_unit_result"

    id: Mapped[int] = mapped_column(primary_key=True)
    month_id: Mapped[int] = mapped_column(ForeignKey("month.id"), index=True)
    unit_code: Mapped[str] = mapped_column(String(32))
    rank: Mapped[int]
    score: Mapped[int]
    deductions: Mapped[int]
    bonus: Mapped[int]
    grade: Mapped[str] = mapped_column(String(12))
    flags: Mapped[str] = mapped_column(String(200), default="", server_default="")  # codes, space-separated

    month_row: Mapped[Month] = relationship(back_populates="unit_results")


class MonthTallyCell(db.Model):
    """One cell of a frozen month's per-staff and per-window tallies (`services.dashboard.tallies`): the
    month's confirmed deduction points and items of one unit, staff member and window, kept when the month is
    closed so that a year of closed months is not summed again from its incidents after every change. The
    derived D19b are not kept (their D19a may lie in an open month): they are computed each time.

    Each kept month also has one roster row (no unit, `roster_key` set): a digest of the postings within the
    month of the staff whose window-less incidents took their posting's window (`posted`). A roster corrected
    later changes the digest, and the month is then summed again (as a live month would place those items).

    The cells are deleted whenever the month's snapshot changes (`_keep_unit_results`: reopen, a new close)
    and written again by `services.months.close`; a closed month without them (closed before they existed)
    is summed from its incidents as before.
    """

    __tablename__ = "month_tally_cell"

    id: Mapped[int] = mapped_column(primary_key=True)
    month_id: Mapped[int] = mapped_column(ForeignKey("month.id", ondelete="CASCADE"), index=True)
    unit_code: Mapped[str] = mapped_column(String(32))
    staff_pk: Mapped[int | None]
    window: Mapped[str | None] = mapped_column(String(20))
    posted: Mapped[bool] = mapped_column(default=False, server_default=false())
    roster_key: Mapped[str | None] = mapped_column(String(32))
    points: Mapped[int]
    items: Mapped[int]


def unit_results_of(snapshot: dict | None) -> list[MonthUnitResult]:
    """The rows of a snapshot (`services.standings.result_to_dict`'s form)."""
    return [
        MonthUnitResult(
            unit_code=u["code"],
            rank=u["rank"],
            score=u["score"],
            deductions=u["deductions"],
            bonus=u["bonus"],
            grade=u["grade"],
            flags=" ".join(sorted({f["code"] for f in u.get("flags", [])})),
        )
        for u in (snapshot or {}).get("units", [])
    ]


@event.listens_for(Session, "before_flush")
def _keep_unit_results(session: Session, _context, _instances) -> None:
    """Whoever sets a month's snapshot (close, reopen, a test), its rows follow in the same flush, and its
    tally cells, made from the incidents rather than the snapshot, are dropped (`services.months.close`
    writes them again once the month's rows are flushed)."""
    for row in [*session.new, *session.dirty]:
        if not isinstance(row, Month):
            continue
        if row in session.new or inspect(row).attrs.snapshot.history.has_changes():
            with session.no_autoflush:
                row.unit_results = unit_results_of(row.snapshot)
                row.snapshot_key = uuid.uuid4().hex if row.snapshot else None
                if row.id is not None:
                    session.execute(delete(MonthTallyCell).where(MonthTallyCell.month_id == row.id))
