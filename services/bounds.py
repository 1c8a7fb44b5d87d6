"""The bounds every date the system is given must keep: one home, so every entry path says the same thing.

An incident's day: not in the future, not before the first rulebook took effect, not in a closed month.
A month to show (standings, records, documents): it has begun, and it is not before the first rulebook.
A month to close or publish: it has ended, and it is not before the first rulebook.
"""

from __future__ import annotations

from datetime import date, datetime

from flask_babel import gettext as _
from sqlalchemy import func, select

from models import RulebookVersion, db
from services import DomainError
from services.clock import hall_today, to_hall


def first_rulebook_day() -> date | None:
    """The effective date of the earliest rulebook: nothing is assessed before it."""
    return db.session.scalar(select(func.min(RulebookVersion.effective_from)))


def typed_day(text: str | None, *, missing: str | None = None) -> date | None:
    """A day typed in a form (YYYY-MM-DD): None when left empty, or DomainError(`missing`) when it must be
    given; DomainError in Chinese when it is not a date."""
    text = (text or "").strip()
    if not text:
        if missing is not None:
            raise DomainError(missing)
        return None
    try:
        return date.fromisoformat(text)
    except ValueError as error:
        raise DomainError(_("日期格式应为 YYYY-MM-DD,如 2024-03-20")) from error


def _as_day(at: datetime | date) -> date:
    return to_hall(at).date() if isinstance(at, datetime) else at


def incident_day_problem(at: datetime | date, *, today: date | None = None) -> str | None:
    """Why an incident may not be dated `at` (hall time), in Chinese; None when it may.

    `today` is the hall's date (a parameter so that a batch checks every row against one day).
    """
    day = _as_day(at)
    today = today or hall_today()
    if day > today:
        return f"日期 {day.isoformat()} 晚于今天({today.isoformat()}),不能登记未来的记录"
    first = first_rulebook_day()
    if first is not None and day < first:
        return f"日期 {day.isoformat()} 早于考核细则的生效日期 {first.isoformat()}"
    return closed_month_problem(day)


def closed_month_problem(at: datetime | date) -> str | None:
    """Why nothing dated `at` may change (its month is closed), in Chinese; None when its month is open.

    The one closed-month guard: logging, correcting, voiding, confirming and adding evidence all use it.
    """
    from services.months import is_open

    day = _as_day(at)
    if not is_open(day.year, day.month):
        return f"{day.year}年{day.month}月已关账,不能登记或修改该月的记录;如确需修改,请先重新开放该月"
    return None


def check_month_open(at: datetime | date) -> None:
    problem = closed_month_problem(at)
    if problem:
        raise DomainError(problem)


def check_incident_day(at: datetime | date, *, today: date | None = None) -> None:
    problem = incident_day_problem(at, today=today)
    if problem:
        raise DomainError(problem)


def check_month_ended(year: int, month: int, *, action: str) -> None:
    """A month can be closed or published only once it has ended, and only from the first rulebook on.

    `action` is the Chinese verb shown in the message (关账, 发布).
    """
    if not 1 <= month <= 12 or not 1 <= year <= 9998:
        raise DomainError(f"月份 {year:04d}-{month:02d} 无效")
    today = hall_today()
    if (year, month) >= (today.year, today.month):
        raise DomainError(f"{year}年{month}月尚未结束,不能{action}")
    first = _before_first_rulebook(year, month)
    if first is not None:
        raise DomainError(f"{year}年{month}月早于考核细则的生效日期 {first.isoformat()},不能{action}")


def _before_first_rulebook(year: int, month: int) -> date | None:
    """The first rulebook's effective date when the month is before that date's month, else None."""
    first = first_rulebook_day()
    return first if first is not None and (year, month) < (first.year, first.month) else None


def month_range_problem(year: int, month: int, *, nothing: str = "没有考核结果") -> str | None:
    """Why a month has nothing to show, in Chinese: it has not begun (9999-12 among them), or it is
    before the first rulebook took effect (0001-01); None when it is in range. `nothing` ends the message
    (没有考核结果, 没有记录)."""
    today = hall_today()
    if (year, month) > (today.year, today.month):
        return f"{year:04d}-{month:02d} 尚未开始,{nothing}"
    first = _before_first_rulebook(year, month)
    if first is not None:
        return f"{year:04d}-{month:02d} 早于考核细则的生效日期 {first.isoformat()},{nothing}"
    return None


def check_month_in_range(year: int, month: int) -> None:
    """Refuse (DomainError) a month that has not begun, or one before the first rulebook took effect: its
    "standings" would be an invented ranking of every unit at 100."""
    problem = month_range_problem(year, month)
    if problem:
        raise DomainError(problem)
