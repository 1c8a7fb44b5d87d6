"""Bulletin read receipts: for a published month, which units have opened its bulletin in the portal.

Admins and leaders (the ones who publish) reach it from the months page and the bulletin. A month not
published has no receipts: the page says so. A unit's first opening counts; publishing again after a
reopen starts the receipts over.
"""

from __future__ import annotations

from flask import abort, render_template

from admin import bp
from auth.access import role_required
from models import MonthStatus, Role
from page_cache import kept_page
from scoring import parse_month
from services.notifications import bulletin_receipts, receipts_version
from services.standings import month_row


@bp.route("/months/<month>/receipts")
@role_required(Role.ADMIN, Role.LEADER)
@kept_page(version=receipts_version)
def month_receipts(month: str):
    try:
        year, mon = parse_month(month)
    except ValueError:
        abort(404)
    row = month_row(year, mon)
    published = row is not None and row.status == MonthStatus.PUBLISHED
    receipts = bulletin_receipts(row) if published else []
    unread = [r for r in receipts if r.read_at is None]
    return render_template(
        "admin/month_receipts.html",
        label=month,
        year=year,
        month=mon,
        row=row,
        published=published,
        receipts=receipts,
        unread=unread,
    )
