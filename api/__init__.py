"""JSON endpoints: /api/standings prints the same JSON as `flask standings --json`."""

from flask import Blueprint

bp = Blueprint("api", __name__, url_prefix="/api")

from api import views  # noqa: E402,F401
