"""Configuration from the environment: DATABASE_URL, SECRET_KEY, HALL_TZ and a few limits."""

from __future__ import annotations

import os
import secrets
from pathlib import Path


class ConfigError(RuntimeError):
    """The environment cannot run the app as asked; the message says what to set."""


def is_production() -> bool:
    return os.environ.get("HALL_ENV", "development") == "production"


def load_secret_key(instance_path: str) -> str:
    """SECRET_KEY from the environment, else one generated once into the instance folder.

    In production every app server must sign with the same key, so it must come from the environment:
    a key generated into one server's instance folder would log users out on the next server.
    """
    if os.environ.get("SECRET_KEY"):
        return os.environ["SECRET_KEY"]
    if is_production():
        raise ConfigError("HALL_ENV=production 时必须在环境变量中设置 SECRET_KEY(例如 64 位十六进制字符)")
    path = Path(instance_path) / "secret_key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
    return path.read_text().strip()


def database_url(instance_path: str) -> str:
    url = os.environ.get("DATABASE_URL") or f"sqlite:///{Path(instance_path) / 'hallscore.db'}"
    # Heroku-style and libpq URLs name the driver "postgres"; SQLAlchemy wants psycopg 3.
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def engine_options(url: str) -> dict:
    """SQLAlchemy engine options for the database at `url`.

    PostgreSQL: `pool_pre_ping` tests each pooled connection as it is checked out, so after the database
    restarts the dead ones are replaced at once instead of failing one request each (the app recovers
    without a restart; while it is away, requests get the 503 of db_outage.py).
    """
    if url.startswith("postgresql"):
        # connect_timeout: a database host that does not answer at all fails the request in seconds.
        return {"pool_pre_ping": True, "connect_args": {"connect_timeout": 5}}
    return {}


def defaults(instance_path: str) -> dict:
    return {
        "SECRET_KEY": load_secret_key(instance_path),
        "SQLALCHEMY_DATABASE_URI": database_url(instance_path),
        "HALL_TZ": os.environ.get("HALL_TZ", "Asia/Shanghai"),
        "HALL_NAME": os.environ.get("HALL_NAME", "市政务服务大厅"),
        # The hall screens' version moves at most once per this many seconds (services.kiosk); production
        # defaults to 5 so desks logging all day do not make every poll of 100 screens a new render.
        "KIOSK_SETTLE_SECONDS": int(os.environ.get("KIOSK_SETTLE_SECONDS", "5" if is_production() else "0")),
        "EVIDENCE_DIR": os.environ.get("EVIDENCE_DIR", str(Path(instance_path) / "evidence")),
        # An uploaded import waits here between its preview and its confirmation, which another app server
        # may answer: with several servers, a directory they share (as EVIDENCE_DIR).
        "IMPORT_DIR": os.environ.get("IMPORT_DIR", str(Path(instance_path) / "imports")),
        # The file an export job made (services.export_jobs, maybe on the RQ worker's machine) waits here for
        # its download from any app server: with several servers, a directory they share (as IMPORT_DIR).
        "EXPORT_DIR": os.environ.get("EXPORT_DIR", str(Path(instance_path) / "exports")),
        # How many proxies in front set X-Forwarded-For/-Proto/-Host (1 behind the hall's nginx); 0: none.
        "PROXY_COUNT": int(os.environ.get("PROXY_COUNT", "0")),
        "MAX_CONTENT_LENGTH": 40 * 1024 * 1024,
        "EVIDENCE_MAX_BYTES": 10 * 1024 * 1024,
        "BABEL_DEFAULT_LOCALE": "zh_CN",
        "BABEL_DEFAULT_TIMEZONE": os.environ.get("HALL_TZ", "Asia/Shanghai"),
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": os.environ.get("SESSION_COOKIE_SECURE", "0") == "1",
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        "WTF_CSRF_TIME_LIMIT": None,
        # Failed logins (auth/views.py): per account from any address, and per address over any accounts.
        "LOGIN_RATE_LIMIT": os.environ.get("LOGIN_RATE_LIMIT", "5 per minute; 20 per hour"),
        "LOGIN_ADDRESS_RATE_LIMIT": os.environ.get("LOGIN_ADDRESS_RATE_LIMIT", "20 per minute; 100 per hour"),
        # A login session ends after this long without a request, and this long after the login anyway.
        "SESSION_IDLE_MINUTES": int(os.environ.get("SESSION_IDLE_MINUTES", "30")),
        "SESSION_MAX_HOURS": int(os.environ.get("SESSION_MAX_HOURS", "12")),
        # Unit users (the portal, often on a phone) may be given longer; unset, the same as everyone.
        "UNIT_SESSION_IDLE_MINUTES": int(os.environ.get("UNIT_SESSION_IDLE_MINUTES", "0")) or None,
        # Shared by every worker and app server in production (redis://…); per process by default.
        "RATELIMIT_STORAGE_URI": os.environ.get("RATELIMIT_STORAGE_URI", "memory://"),
        "RATELIMIT_KEY_PREFIX": os.environ.get("RATELIMIT_KEY_PREFIX", "hallscore"),
        "RATELIMIT_HEADERS_ENABLED": False,
    }
