"""The intranet of admins, inspectors and leaders (role checks per view)."""

from flask import Blueprint

bp = Blueprint("admin", __name__, url_prefix="/admin")

from admin import views  # noqa: E402,F401
from admin import audit, detections, imports, manage_calendar, manage_rulebooks, manage_staff, manage_units, manage_users, months  # noqa: E402,F401,I001,E501
from admin import kiosk_settings  # noqa: E402,F401,I001
from admin import incidents, patrol  # noqa: E402,F401
