from __future__ import annotations

from flask import current_app, jsonify, request
from flask_login import current_user

from api import bp
from auth.access import STAFF_ROLES, public
from extensions import csrf
from models import MonthStatus
from scoring import parse_month
from services.bounds import check_month_in_range
from services.clock import hall_today
from services.memo import kept_for
from services.standings import month_row, results_json
from services.standings import standings as standings_of


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
    row = month_row(year, month)
    status = str(row.status if row else MonthStatus.OPEN)
    if status == MonthStatus.CLOSED and not _is_staff():
        return jsonify({"error": f"{year}年{month}月的考核结果尚未发布"}), 403
    result = standings_of(year, month, row=row)
    # The same body for every reader while the results are the same object (kept until their data change).
    body = kept_for(result, ("api", status), lambda: _body(results_json(result, status)))
    response = current_app.response_class(body, mimetype="application/json")
    response.headers["Cache-Control"] = "no-cache"
    return response


def _body(data: dict) -> str:
    return current_app.json.dumps(data) + "\n"  # as jsonify writes it


def _is_staff() -> bool:
    return current_user.is_authenticated and current_user.role in STAFF_ROLES


csrf.exempt(bp)
