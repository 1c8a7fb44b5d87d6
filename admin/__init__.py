"""The intranet of admins, inspectors and leaders (role checks per view)."""

from flask import Blueprint

bp = Blueprint("admin", __name__, url_prefix="/admin")

from admin import views  # noqa: E402,F401
