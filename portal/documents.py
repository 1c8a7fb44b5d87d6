"""The unit's official documents: its notices as PDF, the published bulletin, its own detail table.

A unit user sees only its own unit: another unit's items are 404 (the notice's view checks), and the
detail table is always the user's own unit's. The bulletin is the month's public result (every unit's
standings, as the portal's rankings show them), once published; before that it is 404.
"""

from __future__ import annotations

from flask import abort, url_for
from flask_babel import gettext as _

from admin.documents import document_page, pdf_of
from auth.access import role_required
from models import Role, db
from page_cache import kept_page
from portal import bp
from portal.inbox import bulletin_opened, reader_version
from portal.views import _month_or_404, _unit, item_notice
from services import documents, portal
from services.rulebooks import rulebook_for_month
from services.standings import month_row, standings


@bp.route("/items/<int:incident_id>/notice.pdf")
@role_required(Role.UNIT)
def item_notice_pdf(incident_id: int):
    return pdf_of(item_notice, incident_id)


def _published_or_404(year: int, month: int):
    row = month_row(year, month)
    if row is None or row.status != "published":
        abort(404)
    return row


@bp.route("/months/<month>/bulletin")
@role_required(Role.UNIT)
@kept_page(version=reader_version)
def month_bulletin(month: str):
    """月度考核通报 of a published month (404 before it is published)."""
    _unit()
    year, m = _month_or_404(month)
    row = _published_or_404(year, m)
    bulletin_opened(row)  # the unit's read receipt (portal/inbox.py)
    meta = documents.bulletin_meta(row)
    db.session.commit()  # a month published before documents had numbers gets its number once
    return document_page(
        "documents/bulletin.html",
        filename=_("%(y)d年%(m)d月考核通报.pdf", y=year, m=m),
        result=standings(year, m),
        status=row.status,
        year=year,
        month=m,
        rulebook=rulebook_for_month(year, m),
        back_url=url_for("portal.month_detail", month=month),
        pdf_url=url_for("portal.month_bulletin_pdf", month=month),
        **meta,
    )


@bp.route("/months/<month>/bulletin.pdf")
@role_required(Role.UNIT)
def month_bulletin_pdf(month: str):
    return pdf_of(month_bulletin, month)


@bp.route("/months/<month>/details")
@role_required(Role.UNIT)
@kept_page(version=reader_version)
def month_details(month: str):
    """The unit's own 考核评分明细表 of a released month (as its .xlsx)."""
    unit = _unit()
    year, m = _month_or_404(month)
    row = month_row(year, m)
    if not portal.is_released(year, m, row=row):
        abort(404)
    return document_page(
        "documents/details.html",
        filename=_("%(u)s %(y)d年%(m)d月考核评分明细表.pdf", u=unit.name, y=year, m=m),
        views=[(unit, portal.unit_month(unit, year, m, row=row))],
        year=year,
        month=m,
        status=row.status if row is not None else "open",
        doc_number="",
        issued_on=None,
        back_url=url_for("portal.month_detail", month=month),
        pdf_url=url_for("portal.month_details_pdf", month=month),
    )


@bp.route("/months/<month>/details.pdf")
@role_required(Role.UNIT)
def month_details_pdf(month: str):
    return pdf_of(month_details, month)
