"""Login, logout, own password; the role decorator every view uses; the login session's rules."""

from flask import Blueprint

bp = Blueprint("auth", __name__)

from auth import views  # noqa: E402,F401
from auth.sessions import check_session  # noqa: E402

# On the app, before the acting-user hook (registered after the blueprints), so an ended session acts as
# no one.
bp.before_app_request(check_session)
