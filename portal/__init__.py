"""The unit portal: a unit user sees its own unit only."""

from flask import Blueprint

bp = Blueprint("portal", __name__, url_prefix="/portal")

from portal import documents, inbox, notices, requests, views  # noqa: E402,F401
