from __future__ import annotations

from flask import jsonify, request
from flask_login import current_user

from api import bp
from auth.access import STAFF_ROLES, public
from extensions import csrf
from scoring import parse_month
from services.bounds import check_month_in_range
from services.clock import hall_today
from services.standings import month_status, standings_json


@bp.route("/standings")
@public
def standings():
    """Public like the hall screen: only the unit-level ranking, no items or personal data.

    A closed month is frozen but not yet announced: only the center's staff see it before it is published.
    """
    text = request.args.get("month") or hall_today().strftime("%Y-%m")
    try:
        year, month = parse_month(text)
        check_month_in_range(year, month)
    except ValueError as error:  # DomainError is a ValueError too
        return jsonify({"error": str(error)}), 400
    if month_status(year, month) == "closed" and not _is_staff():
        return jsonify({"error": f"{year}年{month}月的考核结果尚未发布"}), 403
    response = jsonify(standings_json(year, month))
    response.headers["Cache-Control"] = "no-cache"
    return response


def _is_staff() -> bool:
    return current_user.is_authenticated and current_user.role in STAFF_ROLES


csrf.exempt(bp)
