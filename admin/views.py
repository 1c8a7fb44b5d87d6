from __future__ import annotations

from flask import render_template

from admin import bp
from auth.access import STAFF_ROLES, role_required


@bp.route("/")
@role_required(*STAFF_ROLES)
def dashboard():
    return render_template("admin/dashboard.html")
