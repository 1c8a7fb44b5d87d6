"""The staff roster and its history: who staffed which unit's window (or back office), from when to when.

Every change keeps the old postings (a move ends the current posting the day before and opens a new one),
because D13 reads replacements from the whole history. The admin's staff pages, the staff import and the
detections all go through these functions, so they validate the same way.
"""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from models import Posting, Staff, Unit, db
from scoring import RosterEntry
from services import DomainError
from services.audit import record

CATEGORIES = ("W", "C")
CATEGORY_LABELS = {"W": "值守窗口工作人员", "C": "纳入综窗的后场工作人员"}


def get_staff(staff_id: str) -> Staff | None:
    return db.session.scalar(select(Staff).where(Staff.staff_id == staff_id))


def posting_dict(posting: Posting) -> dict:
    return {
        "unit": posting.unit.code if posting.unit else posting.unit_id,
        "category": posting.category,
        "window": posting.window,
        "start_date": posting.start_date.isoformat(),
        "end_date": posting.end_date.isoformat() if posting.end_date else None,
    }


def staff_dict(staff: Staff) -> dict:
    return {
        "staff_id": staff.staff_id,
        "name": staff.name,
        "postings": [posting_dict(p) for p in staff.postings],
    }


def _span(start: date, end: date | None) -> str:
    return f"{start.isoformat()} 至 {end.isoformat() if end else '今'}"


def check_posting(
    unit: Unit | None,
    category: str,
    window: str | None,
    start_date: date | None,
    end_date: date | None,
) -> list[tuple[str, str]]:
    """What is wrong with one posting on its own, as (field, Chinese message) pairs (the import shares it)."""
    problems: list[tuple[str, str]] = []
    if unit is None:
        problems.append(("unit", "请选择单位"))
    if category not in CATEGORIES:
        problems.append(("category", f"人员类别 {category or '(空)'} 无效,应为 W(值守窗口)或 C(综窗后场)"))
    if unit is not None and window and window not in unit.window_list:
        windows = "、".join(unit.window_list) or "无"
        problems.append(("window", f"窗口 {window} 不属于{unit.name}(该单位窗口:{windows})"))
    if start_date is None:
        problems.append(("start_date", "请填写开始日期"))
    elif end_date is not None and end_date < start_date:
        problems.append(
            ("end_date", f"结束日期 {end_date.isoformat()} 早于开始日期 {start_date.isoformat()}")
        )
    return problems


def overlapping(
    postings: list[Posting], start: date, end: date | None, skip: Posting | None = None
) -> Posting | None:
    """The first posting whose span meets [start, end] (None = open-ended), if any."""
    for p in postings:
        if p is skip:
            continue
        if p.start_date <= (end or date.max) and start <= (p.end_date or date.max):
            return p
    return None


def _raise(problems: list[tuple[str, str]]) -> None:
    if problems:
        raise DomainError(";".join(message for _, message in problems))


def add_posting(
    staff: Staff,
    unit: Unit,
    category: str,
    window: str | None,
    start_date: date,
    end_date: date | None = None,
    *,
    audit: bool = True,
) -> Posting:
    """Append one span to a staff member's history; it may not overlap another of theirs."""
    category = (category or "").strip().upper()
    window = (window or "").strip() or None
    _raise(check_posting(unit, category, window, start_date, end_date))
    clash = overlapping(list(staff.postings), start_date, end_date)
    if clash is not None:
        raise DomainError(
            f"{staff.name}({staff.staff_id})在 {_span(start_date, end_date)} 的岗位与已有岗位"
            f"({clash.unit.name if clash.unit else ''},{_span(clash.start_date, clash.end_date)})时间重叠"
        )
    posting = Posting(unit=unit, category=category, window=window, start_date=start_date, end_date=end_date)
    staff.postings.append(posting)
    db.session.flush()
    if audit:
        record("staff.posting_add", f"staff:{staff.staff_id}", after=posting_dict(posting))
    return posting


def add_staff(
    staff_id: str,
    name: str,
    unit: Unit,
    category: str,
    window: str | None,
    start_date: date,
    end_date: date | None = None,
) -> Staff:
    """A new staff member with their first posting. The staff id is the hall's (and the clock-in device's)."""
    staff_id = (staff_id or "").strip()
    name = (name or "").strip()
    problems: list[tuple[str, str]] = []
    if not staff_id:
        problems.append(("staff_id", "请填写工号"))
    elif len(staff_id) > 32:
        problems.append(("staff_id", "工号不能超过 32 个字符"))
    elif get_staff(staff_id) is not None:
        problems.append(("staff_id", f"工号 {staff_id} 已存在"))
    if not name:
        problems.append(("name", "请填写姓名"))
    elif len(name) > 60:
        problems.append(("name", "姓名不能超过 60 个字符"))
    problems += check_posting(
        unit, (category or "").strip().upper(), (window or "").strip() or None, start_date, end_date
    )
    _raise(problems)
    staff = Staff(staff_id=staff_id, name=name)
    db.session.add(staff)
    add_posting(staff, unit, category, window, start_date, end_date, audit=False)
    record("staff.create", f"staff:{staff_id}", after=staff_dict(staff))
    return staff


def open_posting(staff: Staff, on: date | None = None) -> Posting | None:
    """The posting held on `on` (or, without a day, the latest one that has not ended)."""
    if on is not None:
        return staff.posting_on(on)
    current = [p for p in staff.postings if p.end_date is None]
    return current[-1] if current else None


def move_staff(staff: Staff, unit: Unit, window: str | None, category: str, from_date: date) -> Posting:
    """Move a staff member from `from_date`: the posting held then ends the day before, a new one opens."""
    category = (category or "").strip().upper()
    window = (window or "").strip() or None
    _raise(check_posting(unit, category, window, from_date, None))
    later = [p for p in staff.postings if p.start_date >= from_date]
    if later:
        raise DomainError(
            f"{staff.name}已有 {later[0].start_date.isoformat()} 起的岗位,调岗日期必须晚于该岗位的开始日期"
        )
    before = staff_dict(staff)
    current = staff.posting_on(from_date)
    if current is not None:
        current.end_date = from_date - timedelta(days=1)
    posting = add_posting(staff, unit, category, window, from_date, None, audit=False)
    record("staff.move", f"staff:{staff.staff_id}", before=before, after=staff_dict(staff))
    return posting


def end_staff(staff: Staff, end_date: date) -> Posting:
    """A staff member leaves: their current posting ends on `end_date` (their last day)."""
    current = open_posting(staff)
    if current is None:
        raise DomainError(f"{staff.name}({staff.staff_id})没有在岗的岗位")
    if end_date < current.start_date:
        raise DomainError(
            f"离岗日期 {end_date.isoformat()} 早于当前岗位的开始日期 {current.start_date.isoformat()}"
        )
    before = staff_dict(staff)
    current.end_date = end_date
    db.session.flush()
    record("staff.end", f"staff:{staff.staff_id}", before=before, after=staff_dict(staff))
    return current


def roster_entries() -> list[RosterEntry]:
    """Every posting of every staff member as the scoring's roster (D13 replacements, D16 C staff)."""
    rows = db.session.execute(
        select(
            Staff.staff_id, Unit.code, Posting.category, Posting.window, Posting.start_date, Posting.end_date
        )
        .join(Posting, Posting.staff_pk == Staff.id)
        .join(Unit, Unit.id == Posting.unit_id)
        .order_by(Posting.start_date, Staff.staff_id)
    )
    return [
        RosterEntry(staff_id=s, unit_code=u, category=c, window=w, start_date=start, end_date=end)
        for s, u, c, w, start, end in rows
    ]


def all_staff() -> list[Staff]:
    return list(
        db.session.scalars(select(Staff).options(selectinload(Staff.postings)).order_by(Staff.staff_id))
    )
