"""The audit log (admins and leaders): every change, newest first, filtered and paginated, with the
before/after of each change as readable key: value lines."""

from __future__ import annotations

from flask import request

from admin import bp
from admin.forms import AuditFilterForm
from auth.access import role_required
from htmx import render_page_or_block
from models import Role
from services.dashboard import AuditFilter, audit_actions, audit_diff, audit_page, audit_users
from ui import action_label

PER_PAGE = 50


@bp.route("/audit")
@role_required(Role.ADMIN, Role.LEADER)
def audit_list():
    form = AuditFilterForm(request.args)
    form.action.choices = [("", "—")] + [(a, action_label(a)) for a in audit_actions()]
    form.user.choices = [(0, "—")] + [(u.id, u.label) for u in audit_users()]
    valid = form.validate()
    filters = AuditFilter()
    if valid:
        filters = AuditFilter(
            action=form.action.data or "",
            user_id=form.user.data or None,
            target=(form.target.data or "").strip(),
            date_from=form.date_from.data,
            date_to=form.date_to.data,
        )
    page_text = request.args.get("page", "1")
    page = int(page_text) if page_text.isdigit() and 0 < int(page_text) < 100000 else 1
    rows, total = audit_page(filters, page, PER_PAGE)
    pages = max(1, (total + PER_PAGE - 1) // PER_PAGE)
    args = {k: v for k, v in request.args.items() if k != "page" and v}
    return render_page_or_block(
        "admin/audit_list.html",
        "audit_rows",
        form=form,
        rows=rows,
        total=total,
        page=page,
        pages=pages,
        args=args,
        diff=audit_diff,
    ), 200 if valid else 422
