"""The admin views' one way of making a change: call a service; on DomainError roll back and show the
message on the form; else commit, flash and redirect (post/redirect/get).

    response = flow.apply(
        lambda: save_unit(unit, ...),
        show=form,
        done=lambda saved: _("单位 %(name)s 已保存", name=saved.name),
        to=url_for("admin.unit_list"),
    )
    if response:
        return response
    return render_template(...), 422   # the form, with the service's message on it
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from flask import flash, redirect
from werkzeug.wrappers import Response
from wtforms import Field
from wtforms.form import BaseForm

from models import db
from services import DomainError

T = TypeVar("T")

Show = BaseForm | Field | Callable[[DomainError], Any]


def show_error(show: Show, error: DomainError) -> None:
    """Put a service's message where the page shows it: a form's own errors, a field's, or a callback."""
    message = str(error)
    if isinstance(show, BaseForm):
        if message not in show.form_errors:
            show.form_errors.append(message)
    elif isinstance(show, Field):
        if message not in show.errors:
            show.errors = [*show.errors, message]
    else:
        show(error)


def flash_error(error: DomainError) -> None:
    """A `show` for a page with no form to carry the message: flash it."""
    flash(str(error), "error")


def attempt(
    change: Callable[[], T], *, show: Show, undo: Callable[[T], None] | None = None
) -> tuple[bool, T | None]:
    """Run `change()` (service calls that flush, never commit) and commit it: (True, its result). On
    DomainError roll back, show the message (`show_error`) and return (False, None). `undo(result)` cleans up
    what the database cannot take back (evidence files written) when the commit itself fails.

    For the few answers that cannot be a redirect (a page shown once, such as new users' one-time
    passwords); everything else uses `apply`.
    """
    try:
        result = change()
    except DomainError as error:
        db.session.rollback()
        show_error(show, error)
        return False, None
    except Exception:
        db.session.rollback()
        raise
    try:
        db.session.commit()
    except Exception:
        db.session.rollback()
        if undo is not None:
            undo(result)
        raise
    return True, result


def apply(
    change: Callable[[], T],
    *,
    show: Show,
    done: str | Callable[[T], str] | None,
    to: str | Callable[[T], str],
    undo: Callable[[T], None] | None = None,
) -> Response | None:
    """`attempt(change)`; when it failed return None (the caller re-renders its form with 422), else flash
    `done` (a text, or a function of what `change` returned) and return the redirect to `to` (likewise)."""
    ok, result = attempt(change, show=show, undo=undo)
    if not ok:
        return None
    message = done(result) if callable(done) else done
    if message:
        flash(message, "success")
    return redirect(to(result) if callable(to) else to)
