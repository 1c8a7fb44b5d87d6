"""The intranet of admins, inspectors and leaders (role checks per view)."""

from flask import Blueprint

bp = Blueprint("admin", __name__, url_prefix="/admin")

from admin import (  # noqa: E402,F401,I001,E501  # noqa: E402,F401
    audit,
    detections,
    documents,
    exports,
    honors,
    imports,
    incidents,
    kiosk_settings,  # noqa: E402,F401,I001
    manage_calendar,
    manage_rulebooks,
    manage_staff,
    manage_units,
    manage_users,
    months,
    notices,
    patrol,
    receipts,
    requests,
    views,  # noqa: E402,F401
)
