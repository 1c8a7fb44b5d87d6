"""The month lifecycle: open (live) -> closed (frozen) -> published (bulletin); reopen with a reason."""

from __future__ import annotations

from datetime import date

from models import Month, MonthStatus, db
from services import DomainError, notifications
from services.audit import acting_user_id, record
from services.bounds import check_month_ended
from services.clock import utc_now
from services.rulebooks import version_in_force
from services.standings import live_standings, month_row, result_to_dict


def get_or_create(year: int, month: int) -> Month:
    row = month_row(year, month)
    if row is None:
        row = Month(year=year, month=month, status=MonthStatus.OPEN)
        db.session.add(row)
        db.session.flush()
    return row


def is_open(year: int, month: int) -> bool:
    row = month_row(year, month)
    return row is None or row.status == MonthStatus.OPEN


def close(year: int, month: int, *, despite_open_appeals: bool = False) -> Month:
    """Freeze a month's standings. Only a month that has ended, from the first rulebook on (bounds), and
    with no undecided appeal of its incidents unless the admin says so (`despite_open_appeals`)."""
    from services.appeals import open_count_in

    check_month_ended(year, month, action="关账")
    row = get_or_create(year, month)
    if row.status != MonthStatus.OPEN:
        raise DomainError(f"{row.label} 已经关账")
    waiting = open_count_in(year, month)
    if waiting and not despite_open_appeals:
        raise DomainError(
            f"{row.label} 还有 {waiting} 条申诉未处理,不能关账;如确需关账,请勾选“仍然关账(有未处理的申诉)”"
        )
    result = live_standings(year, month)
    row.snapshot = result_to_dict(result)
    row.rulebook_key = result.rulebook_key or version_in_force(date(year, month, 1)).key
    row.status = MonthStatus.CLOSED
    row.closed_at = utc_now()
    row.closed_by_id = acting_user_id()
    after = {"status": "closed", "open_appeals": waiting} if waiting else {"status": "closed"}
    record("month.close", f"month:{row.label}", before={"status": "open"}, after=after)
    db.session.flush()
    keep_tally_cells(row)
    return row


def keep_tally_cells(row: Month) -> int:
    """Write a frozen month's tally cells (`MonthTallyCell`, from `services.dashboard.month_tally_cells`)
    in the caller's transaction, replacing any it had: closing does, and so may a script for a month closed
    before the cells existed. Returns how many; none when the month is open or its sums do not reproduce
    its frozen deductions (its tallies are then computed each time, as before)."""
    from sqlalchemy import delete, insert

    from models import MonthTallyCell
    from services.dashboard import month_tally_cells

    db.session.execute(delete(MonthTallyCell).where(MonthTallyCell.month_id == row.id))
    if row.status == MonthStatus.OPEN:
        return 0
    cells = month_tally_cells(row.year, row.month) or []
    if cells:
        db.session.execute(insert(MonthTallyCell), [{"month_id": row.id, **cell} for cell in cells])
    return len(cells)


def publish(year: int, month: int) -> Month:
    """Publish a closed month's bulletin; the same bounds as closing (a month closed by mistake before
    they were checked is still refused)."""
    check_month_ended(year, month, action="发布")
    row = month_row(year, month)
    if row is None or row.status == MonthStatus.OPEN:
        raise DomainError("只能发布已关账的月份,请先关账")
    if row.status == MonthStatus.PUBLISHED:
        raise DomainError(f"{row.label} 已经发布")
    row.status = MonthStatus.PUBLISHED
    row.published_at = utc_now()
    row.published_by_id = acting_user_id()
    record("month.publish", f"month:{row.label}", before={"status": "closed"}, after={"status": "published"})
    db.session.flush()
    notifications.notify_bulletin(row)  # every active unit's inbox
    from services.notices import open_notices_for_month  # imported here: notices -> incident_list -> months

    # The flags become the unit's to answer when the results are announced, not when they are frozen: a unit
    # sees nothing of a closed month before it is published, and its answer deadline starts from that day.
    open_notices_for_month(year, month)
    from services.documents import issue_bulletin

    issue_bulletin(row)  # the bulletin's 文号, given once and kept (services/documents.py)
    return row


def reopen(year: int, month: int, reason: str) -> Month:
    reason = (reason or "").strip()
    if not reason:
        raise DomainError("重新开放月份必须填写原因")
    row = month_row(year, month)
    if row is None or row.status == MonthStatus.OPEN:
        raise DomainError("该月尚未关账,无需重新开放")
    before = row.status
    row.status = MonthStatus.OPEN
    row.snapshot = None
    row.published_at = None
    record(
        "month.reopen",
        f"month:{row.label}",
        before={"status": before},
        after={"status": "open", "reason": reason},
    )
    db.session.flush()
    return row


def keep_missing_tally_cells() -> dict[str, int]:
    """Write the tally cells of every frozen month that has none (closed before they existed, or restored
    from an older backup), in the caller's transaction: {"YYYY-MM": cells}. Not needed for correct
    tallies, only for fast ones; a month whose sums do not reproduce its snapshot gets none."""
    from sqlalchemy import select

    from models import MonthTallyCell

    kept = select(MonthTallyCell.id).where(MonthTallyCell.month_id == Month.id).exists()
    rows = db.session.scalars(
        select(Month).where(Month.status != MonthStatus.OPEN, ~kept).order_by(Month.year, Month.month)
    ).all()
    return {row.label: keep_tally_cells(row) for row in rows}


def last_published() -> Month | None:
    from sqlalchemy import select

    return db.session.scalar(
        select(Month)
        .where(Month.status == MonthStatus.PUBLISHED)
        .order_by(Month.year.desc(), Month.month.desc())
    )
