from __future__ import annotations

from flask import jsonify, request

from api import bp
from auth.access import public
from extensions import csrf
from scoring import parse_month
from services.clock import hall_today
from services.standings import check_month_in_range, standings_json


@bp.route("/standings")
@public
def standings():
    """Public like the hall screen: only the unit-level ranking, no items or personal data."""
    text = request.args.get("month") or hall_today().strftime("%Y-%m")
    try:
        year, month = parse_month(text)
        check_month_in_range(year, month)
    except ValueError as error:  # DomainError is a ValueError too
        return jsonify({"error": str(error)}), 400
    response = jsonify(standings_json(year, month))
    response.headers["Cache-Control"] = "no-cache"
    return response


csrf.exempt(bp)
