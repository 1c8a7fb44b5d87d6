from __future__ import annotations

from flask import render_template

from auth.access import role_required
from portal import bp


@bp.route("/")
@role_required("unit")
def home():
    return render_template("portal/home.html")
