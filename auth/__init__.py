"""Login, logout, own password; the role decorator every view uses."""

from flask import Blueprint

bp = Blueprint("auth", __name__)

from auth import views  # noqa: E402,F401
