"""The hall's big screen: /kiosk, no login."""

from flask import Blueprint

bp = Blueprint("kiosk", __name__, url_prefix="/kiosk")

from kiosk import views  # noqa: E402,F401
