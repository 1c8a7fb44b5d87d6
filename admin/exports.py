"""The month's rankings as .xlsx (product.md §12: "the detail table and rankings as .xlsx"), for the hall's
own people; a unit's detail table is the portal's."""

from __future__ import annotations

from flask import abort, current_app

from admin import bp
from auth.access import STAFF_ROLES, role_required
from scoring import parse_month
from services import DomainError, exports
from services.standings import check_month_in_range


@bp.route("/standings/<month>/rankings.xlsx")
@role_required(*STAFF_ROLES)
def rankings_export(month: str):
    try:
        year, mon = parse_month(month)
        check_month_in_range(year, mon)  # a month not begun has no ranking to download
    except (ValueError, DomainError):
        abort(404)
    response = current_app.response_class(exports.rankings_xlsx(year, mon), mimetype=exports.XLSX_MIMETYPE)
    response.headers["Content-Disposition"] = exports.content_disposition(
        exports.rankings_filename(year, mon), exports.rankings_ascii_name(year, mon)
    )
    # An open month changes with every incident: never serve a stale ranking from a cache.
    response.headers["Cache-Control"] = "no-store"
    return response
