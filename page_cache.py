"""Pages answered from the text they gave last time, while nothing they show can have changed.

`@kept_page` (below the role check, so the check runs first) keeps a GET page's HTML under: the address
(scheme, host, endpoint, path values, query), the htmx headers a view answers by (a fragment is not the
page), the reader (the user, or for `shared` documents their role and unit), the language, the hall's day
and the newest audit row. Every write the app makes is audited (services.audit), so a new audit row means
"anything may have changed"; deadlines and windows are counted in days. What else a page shows is named by
its `version`: the time of day (the desk form's default time, `minute_version`), or an unaudited write (a
unit's messages, the bulletin receipts, the hall screens' contacts); `version()` returning None, or
`bypass()` true, answers afresh (a patrol sheet with an undo running, a job's progress). Nothing else
changes a key, so a page is not made again on the minute while twenty readers wait for it.

Not kept: another method, a page with a flashed message (waiting, or flashed by the view), anything but
text (a PDF, a redirect, a page answered with an error status). The form token is the reader's session's,
so it is swapped on the way out: each answer carries the token of the session it answers.

Why: on a large hall's 2-core server, a list of 50–200 rows costs 5–40 ms to read and render, and with
20 desks at once the queue makes that 200–800 ms; a kept page costs about what a login check does.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from flask import g, request, session
from flask.globals import request_ctx
from flask_babel import get_locale
from flask_login import current_user
from flask_wtf.csrf import generate_csrf

from services.clock import hall_now, hall_today
from services.memo import database_key, newest_change, remember

_pages: dict[tuple, tuple[object, bool]] = {}  # key -> (the answer, kept)
# Where the form token stood: NUL is refused in every input, so no page holds it otherwise.
_TOKEN = "\x00form-token\x00"
# The request headers a view answers by (htmx.is_htmx: a fragment is not the page); not HX-Current-URL,
# which differs with every page a boosted link is followed from.
_HTMX_HEADERS = ("HX-Request", "HX-Boosted", "HX-History-Restore-Request")


def _reader(shared: bool) -> tuple:
    if shared:
        return (current_user.role, current_user.unit_id)
    return (current_user.get_id(), current_user.role, current_user.unit_id)


def _key(shared: bool, extra: tuple) -> tuple:
    return (
        database_key(),
        request.scheme,  # an address given in full (a screen's link) names the scheme and host asked on
        request.host,
        request.endpoint,
        tuple(sorted(request.view_args.items())),
        request.query_string,
        tuple(request.headers.get(h) for h in _HTMX_HEADERS),
        _reader(shared),
        str(get_locale()),
        hall_today(),
        newest_change(),
        extra,
    )


def _flashed() -> bool:
    """The view flashed a message (shown on this page, or left for the next): the page is not kept."""
    return bool(request_ctx.flashes or session.get("_flashes"))


def _made(view: Callable, args, kwargs) -> tuple[object, bool]:
    """The view's answer, and whether it may be kept: text with this session's form token taken out. A
    `(text, 422)` form with errors, a redirect, a PDF or a page that flashed a message is not kept."""
    answer = view(*args, **kwargs)
    if isinstance(answer, tuple) and len(answer) == 2 and isinstance(answer[0], str) and answer[1] == 200:
        answer = answer[0]
    if not isinstance(answer, str) or _flashed():
        return answer, False
    token = g.get("csrf_token")
    return (answer.replace(token, _TOKEN) if token else answer), True


def minute_version() -> tuple:
    """For a page that shows the hall's time of day (to the minute)."""
    return (hall_now().replace(second=0, microsecond=0),)


def kept_page(
    view: Callable | None = None,
    *,
    shared: bool = False,
    version: Callable[[], tuple | None] | None = None,
    bypass: Callable[[], bool] | None = None,
):
    """`@kept_page`, or `@kept_page(version=…, shared=…, bypass=…)`: see the module's text. `shared`: one
    copy per role and unit (documents, which show no reader); `bypass()` true answers afresh."""

    def decorate(view: Callable) -> Callable:
        @wraps(view)
        def wrapped(*args, **kwargs):
            if request.method != "GET" or session.get("_flashes") or (bypass is not None and bypass()):
                return view(*args, **kwargs)
            extra = () if version is None else version()
            if extra is None:
                return view(*args, **kwargs)
            answer, kept = remember(
                _pages, _key(shared, extra), lambda: _made(view, args, kwargs), most=256, keep=lambda v: v[1]
            )
            if kept and _TOKEN in answer:
                return answer.replace(_TOKEN, generate_csrf())
            return answer

        return wrapped

    return decorate(view) if view is not None else decorate
