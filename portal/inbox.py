"""The unit's inbox: notifications newest first, a page at a time; opening one marks it read for this user.

The header's unread count (`inbox_unread()` in templates) is one COUNT, run once per page and only for
unit users. Another unit's notification is a 404.
"""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf import FlaskForm

from auth.access import role_required
from models import Month, MonthStatus, Role, db
from page_cache import kept_page
from portal import bp
from security import safe_next
from services import notifications

_UNREAD_KEY = "hallscore.inbox_unread"


class InboxActionForm(FlaskForm):
    """The "mark all read" button: only its CSRF token."""


def unread_for_header() -> int:
    """The signed-in unit user's unread notifications (0 for anyone else); counted once per request."""
    if not current_user.is_authenticated or current_user.role != Role.UNIT:
        return 0
    # Kept on the request (not `g`, which outlives a request when an app context is already pushed).
    if _UNREAD_KEY not in request.environ:
        request.environ[_UNREAD_KEY] = notifications.unread_count(current_user)
    return request.environ[_UNREAD_KEY]


def reader_version() -> tuple:
    """What a kept portal page shows of the reader's own unaudited state (page_cache): the unit's newest
    message (the daily reminders are sent without an audit row) and the unread count (reading one writes
    none). Between two new messages the count only falls, so the pair names the inbox as it stands."""
    unit_id = current_user.unit_id if current_user.is_authenticated else None
    return (unread_for_header(), notifications.newest_notification(unit_id))


@bp.app_context_processor
def inbox_helpers():
    return {"inbox_unread": unread_for_header}


def bulletin_opened(row: Month | None) -> None:
    """A unit user opened a month's page in the portal: once the month is published, that page is the
    unit's bulletin, and its first opening is the unit's read receipt (committed here, on a GET)."""
    if row is not None and row.status == MonthStatus.PUBLISHED and current_user.role == Role.UNIT:
        if notifications.record_bulletin_read(current_user, row):
            db.session.commit()


def _page_arg() -> int:
    page = request.args.get("page", type=int)
    return page if page and page > 0 else 1


@bp.route("/inbox")
@role_required(Role.UNIT)
@kept_page(version=reader_version)
def inbox():
    if current_user.unit_id is None:
        abort(403)
    listed = notifications.inbox_page(current_user, _page_arg())
    request.environ[_UNREAD_KEY] = listed.unread  # the header shows the page's own count: no second COUNT
    return render_template(
        "portal/inbox.html",
        listed=listed,
        form=InboxActionForm(formdata=None),
    )


@bp.route("/inbox/<int:notification_id>")
@role_required(Role.UNIT)
def inbox_open(notification_id: int):
    """Open a notification: read from now on (for this user), then on to what it is about."""
    row = notifications.notification_for(current_user, notification_id)
    if row is None:
        abort(404)
    notifications.mark_read(current_user, row)
    db.session.commit()
    return redirect(safe_next(row.link) or url_for("portal.inbox"))


@bp.route("/inbox/read-all", methods=["POST"])
@role_required(Role.UNIT)
def inbox_read_all():
    form = InboxActionForm()
    if not form.validate_on_submit():
        abort(400)
    if current_user.unit_id is None:
        abort(403)
    done = notifications.mark_all_read(current_user)
    db.session.commit()
    flash(_("已将 %(n)d 条消息标为已读", n=done) if done else _("没有未读消息"), "success")
    return redirect(url_for("portal.inbox"))
