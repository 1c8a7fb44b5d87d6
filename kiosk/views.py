from __future__ import annotations

from flask import render_template

from auth.access import public
from kiosk import bp


@bp.route("/")
@public
def screen():
    return render_template("kiosk/screen.html")
