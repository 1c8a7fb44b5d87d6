"""The staff list's query: each staff member with the posting the list shows, filtered and paginated in
the database (a hall of 2,000 staff is not read whole to show 50).

The posting shown is the one held today, else the latest posting not yet ended (a start in the future),
else the latest one (the staff member has left): ranked per staff member by one window function. A member
"on duty" has one of the first two; the list hides the others unless asked. A page costs three queries
whatever the roster holds: the count, the page's staff with their postings, their units.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import case, func, select
from sqlalchemy.orm import selectinload

from models import Posting, Staff, db
from services.incident_list import MAX_INT, ListPage

PAGE_SIZE = 50


def _shown_postings(today: date):
    """Per staff member: the id of the posting the list shows and its rank (0 today, 1 open, 2 ended)."""
    rank = case(
        (
            (Posting.start_date <= today) & (Posting.end_date.is_(None) | (Posting.end_date >= today)),
            0,
        ),
        (Posting.end_date.is_(None), 1),
        else_=2,
    )
    order = func.row_number().over(
        partition_by=Posting.staff_pk,
        # today's posting: the earliest that covers today (Staff.posting_on); else the latest start
        order_by=(rank, case((rank == 0, Posting.start_date)).asc(), Posting.start_date.desc()),
    )
    ranked = select(
        Posting.staff_pk.label("staff_pk"),
        Posting.id.label("posting_id"),
        Posting.unit_id.label("unit_id"),
        rank.label("rank"),
        order.label("n"),
    ).subquery()
    return (
        select(ranked.c.staff_pk, ranked.c.posting_id, ranked.c.unit_id, ranked.c.rank)
        .where(ranked.c.n == 1)
        .subquery("shown")
    )


def staff_page(
    today: date, unit_id: int | None, show_ended: bool, page: int, per_page: int = PAGE_SIZE
) -> ListPage:
    """One page (from 1) of the staff list by staff id: rows of (staff, the posting shown, on duty)."""
    shown = _shown_postings(today)
    query = select(Staff.id, shown.c.posting_id, shown.c.rank).outerjoin(shown, shown.c.staff_pk == Staff.id)
    if unit_id is not None:
        query = query.where(shown.c.unit_id == unit_id)
    if not show_ended:
        query = query.where(shown.c.rank <= 1)
    total = db.session.scalar(select(func.count()).select_from(query.subquery())) or 0
    pages = max(1, -(-total // per_page))
    page = min(max(page, 1), MAX_INT)
    result = ListPage(rows=[], total=total, page=page, pages=pages)
    if page > pages or total == 0:
        return result
    picked = db.session.execute(
        query.order_by(Staff.staff_id).limit(per_page).offset((page - 1) * per_page)
    ).all()
    staff = {
        s.id: s
        for s in db.session.scalars(
            select(Staff)
            .where(Staff.id.in_([staff_pk for staff_pk, _p, _r in picked]))
            .options(selectinload(Staff.postings).joinedload(Posting.unit))
        )
    }
    rows = []
    for staff_pk, posting_id, rank in picked:
        member = staff[staff_pk]
        posting = next((p for p in member.postings if p.id == posting_id), None)
        rows.append((member, posting, rank is not None and rank <= 1))
    result.rows = rows
    return result
