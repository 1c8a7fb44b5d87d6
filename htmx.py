"""The only htmx-aware Python: is_htmx(), render a page or one of its blocks, and the Vary header."""

from __future__ import annotations

from flask import Flask, current_app, request
from flask import render_template as _render_template


def is_htmx() -> bool:
    """An htmx request that wants a fragment (not a boosted navigation, not a history restore)."""
    return (
        request.headers.get("HX-Request") == "true"
        and request.headers.get("HX-Boosted") != "true"
        and request.headers.get("HX-History-Restore-Request") != "true"
    )


def render_block(template_name: str, block: str, **context) -> str:
    """Render one named block of a page template with the page's context (jinja2-fragments' technique)."""
    env = current_app.jinja_env
    template = env.get_or_select_template(template_name)
    current_app.update_template_context(context)
    ctx = template.new_context(context)
    return "".join(template.blocks[block](ctx))


def render_page_or_block(template_name: str, block: str, **context) -> str:
    if is_htmx():
        return render_block(template_name, block, **context)
    return _render_template(template_name, **context)


def init_app(app: Flask) -> None:
    @app.after_request
    def vary(response):
        response.vary.add("HX-Request")
        return response
