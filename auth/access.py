"""Who may use which view: one decorator for roles, one helper for a unit user's own data."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from flask import abort
from flask_login import current_user, login_required

from models import Role

STAFF_ROLES = (Role.ADMIN, Role.INSPECTOR, Role.LEADER)


def role_required(*roles: str) -> Callable:
    """Log in first; then a role outside `roles` gets 403. Each view declares its roles with this."""

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        @login_required
        def wrapped(*args, **kwargs):
            if current_user.role not in roles:
                abort(403)
            return view(*args, **kwargs)

        wrapped.allowed_roles = tuple(str(r) for r in roles)
        return wrapped

    return decorator


def public(view: Callable) -> Callable:
    """Marks a view that needs no login (the hall screen, the login page), so the route audit knows."""
    view.allowed_roles = ("public",)
    return view


def own_unit_or_404(unit_id: int) -> None:
    """A unit user asking for another unit's data gets 404: it need not learn the data exists."""
    if current_user.role == Role.UNIT and current_user.unit_id != unit_id:
        abort(404)
