"""The login limit is kept in RATELIMIT_STORAGE_URI, so two worker processes count the same failures."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path

import pytest

from config import ConfigError, load_secret_key

ROOT = Path(__file__).resolve().parents[2]

WORKER = textwrap.dedent(
    """
    import sys
    from app import create_app
    from models import User, db

    app = create_app({"TESTING": True, "WTF_CSRF_ENABLED": False, "RATELIMIT_ENABLED": True,
                      "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000"})
    with app.app_context():
        if sys.argv[1] == "setup":
            from flask_migrate import upgrade
            upgrade()
            user = User(username=sys.argv[2], role="admin", display_name="x")
            user.set_password("right-password-1")
            db.session.add(user)
            db.session.commit()
            sys.exit(0)
    client = app.test_client()
    codes = [client.post("/login", data={"username": sys.argv[2], "password": "wrong"}).status_code
             for _ in range(int(sys.argv[3]))]
    print(" ".join(map(str, codes)))
    """
)


def _run(tmp_path: Path, env: dict, *args: str) -> str:
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    done = subprocess.run(
        [sys.executable, str(script), *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_two_processes_share_the_login_limit_through_redis(tmp_path):
    import redis

    client = redis.Redis.from_url("redis://127.0.0.1:6379/15")
    client.ping()  # Redis runs on every machine of this project (README); a failure here is a real one.
    prefix = f"hallscore-test-{uuid.uuid4().hex}"
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'shared.db'}",
        "SECRET_KEY": "shared-secret",
        "RATELIMIT_STORAGE_URI": "redis://127.0.0.1:6379/15",
        "RATELIMIT_KEY_PREFIX": prefix,
    }
    _run(tmp_path, env, "setup", "boss")
    try:
        assert _run(tmp_path, env, "login", "boss", "3") == "422 422 422"
        # The second worker has its own memory but reads the same counter: two more, then refused.
        assert _run(tmp_path, env, "login", "boss", "3") == "422 422 429"
    finally:
        for key in client.scan_iter(f"*{prefix}*"):
            client.delete(key)


def test_production_needs_secret_key_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("HALL_ENV", "production")
    monkeypatch.delenv("SECRET_KEY", raising=False)
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        load_secret_key(str(tmp_path))
    assert not (tmp_path / "secret_key").exists()
    monkeypatch.setenv("SECRET_KEY", "from-the-environment")
    assert load_secret_key(str(tmp_path)) == "from-the-environment"
