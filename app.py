"""The application factory: configuration, extensions, blueprints, error handlers, security headers, CLI."""

from __future__ import annotations

import logging
from pathlib import Path

from flask import Flask, g, has_request_context, make_response, render_template, request
from sqlalchemy import event
from sqlalchemy.engine import Engine
from werkzeug.middleware.proxy_fix import ProxyFix

import htmx
import security
import ui
from extensions import babel, csrf, limiter, login_manager, migrate
from models import User, db
from services.clock import register_template_filters
from ui import ERRORS

CSP = (
    "default-src 'self'; img-src 'self' data: blob:; style-src 'self'; script-src 'self'; "
    "frame-ancestors 'none'; form-action 'self'; base-uri 'self'; object-src 'none'"
)
ROOT = Path(__file__).resolve().parent


def create_app(config: dict | None = None) -> Flask:
    app = Flask(
        __name__,
        instance_relative_config=True,
        template_folder=str(ROOT / "templates"),
        static_folder=str(ROOT / "static"),
    )
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    from config import defaults

    app.config.update(defaults(app.instance_path))
    if config:
        app.config.update(config)
    from config import engine_options  # for the URL finally chosen; options given explicitly win

    url = app.config["SQLALCHEMY_DATABASE_URI"]
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = engine_options(url) | app.config.get(
        "SQLALCHEMY_ENGINE_OPTIONS", {}
    )
    if app.config.get("PROXY_COUNT"):
        # Behind nginx: the client's address (login limits, the screens' contacts) and https come from
        # the X-Forwarded-* headers the trusted proxies set, not from the socket (which is nginx's).
        hops = app.config["PROXY_COUNT"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)
    if app.config.get("TESTING") and not app.config.get("RATELIMIT_ENABLED_IN_TESTS"):
        app.config.setdefault("RATELIMIT_ENABLED", True)

    db.init_app(app)
    migrate.init_app(app, db, directory=str(ROOT / "migrations"))
    csrf.init_app(app)
    limiter.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = None
    babel.init_app(
        app, locale_selector=_select_locale, default_translation_directories=str(ROOT / "translations")
    )

    security.init_app(app)
    _register_blueprints(app)
    _register_errors(app)
    register_template_filters(app)
    htmx.init_app(app)
    ui.init_app(app)

    from cli import register_cli

    register_cli(app)
    _register_acting_user(app)

    from services.jobs import fail_abandoned_at_start

    fail_abandoned_at_start(app)  # jobs a restart cut short are failed, so they can be run again

    @app.after_request
    def security_headers(response):
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault("Permissions-Policy", "camera=(self), geolocation=(), microphone=()")
        return response

    logging.basicConfig(level=logging.INFO)
    return app


def _select_locale() -> str | None:
    """The request's language (?lang= or the lang cookie); outside a request (CLI, background jobs) None,
    which Flask-Babel reads as BABEL_DEFAULT_LOCALE, so translated labels work everywhere."""
    if not has_request_context():
        return None
    lang = request.args.get("lang") or request.cookies.get("lang")
    return lang if lang in ("zh_CN", "en") else "zh_CN"


def _register_acting_user(app: Flask) -> None:
    """Each request acts as its logged-in user (services.audit's context variable), and only while it runs:
    the services below the views never read Flask-Login's current_user."""
    from flask_login import current_user

    from services.audit import reset_acting_user, set_acting_user

    @app.before_request
    def act_as_logged_in_user():
        user_id = current_user.id if current_user.is_authenticated else None
        g._acting_user_token = set_acting_user(user_id)

    @app.teardown_request
    def stop_acting(error=None):
        token = g.pop("_acting_user_token", None)
        if token is not None:
            reset_acting_user(token)


@login_manager.user_loader
def _load_user(user_id: str) -> User | None:
    from auth.sessions import load_user  # the id holds the session version: auth/sessions.py

    return load_user(user_id)


def _register_blueprints(app: Flask) -> None:
    from admin import bp as admin_bp
    from api import bp as api_bp
    from auth import bp as auth_bp
    from kiosk import bp as kiosk_bp
    from portal import bp as portal_bp

    for bp in (auth_bp, admin_bp, portal_bp, kiosk_bp, api_bp):
        app.register_blueprint(bp)


def _register_errors(app: Flask) -> None:
    def handler(code: int):
        def render(error):
            if code == 500:
                db.session.rollback()
            title, message = ERRORS[code]
            if htmx.is_htmx():
                response = make_response(render_template("errors/_fragment.html", code=code), code)
                response.headers["HX-Retarget"] = "#flash"
                response.headers["HX-Reswap"] = "innerHTML"
                return response
            return render_template("errors/error.html", code=code, title=title, message=message), code

        return render

    for code in (400, 403, 404, 405, 413, 429, 500):
        app.register_error_handler(code, handler(code))

    from flask_wtf.csrf import CSRFError

    app.register_error_handler(CSRFError, handler(400))

    import db_outage

    db_outage.init_app(app)  # the database away: a Chinese 503 with Retry-After, not a 500


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection, connection_record):
    # WAL lets the hall screens read while a long import writes; SQLite ignores FKs unless asked.
    # One writer at a time: a login or the desk form waits (up to 30 s) for an import's write, which is
    # one short transaction (services.imports), instead of failing at once with "database is locked".
    if type(dbapi_connection).__module__.startswith("sqlite3"):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()
