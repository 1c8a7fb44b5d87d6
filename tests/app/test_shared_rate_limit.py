"""The login limits are kept in RATELIMIT_STORAGE_URI, so two worker processes count the same failures:
per account over any addresses, and per address over any accounts (Redis db 7, a key prefix per test)."""

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
    # login USERNAMES ADDRESSES COUNT: attempt n is usernames[n % len] from addresses[n % len], wrong password
    names, addresses = sys.argv[2].split(","), sys.argv[3].split(",")
    client = app.test_client()
    codes = []
    for n in range(int(sys.argv[4])):
        response = client.post(
            "/login",
            data={"username": names[n % len(names)], "password": "wrong"},
            environ_base={"REMOTE_ADDR": addresses[n % len(addresses)]},
        )
        codes.append(response.status_code)
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


REDIS = "redis://127.0.0.1:6379/7"


@pytest.fixture
def shared(tmp_path):
    """The environment of two worker processes sharing one database and one Redis (db 7)."""
    import redis

    client = redis.Redis.from_url(REDIS)
    client.ping()  # Redis runs on every machine of this project (README); a failure here is a real one.
    prefix = f"hallscore-test-{uuid.uuid4().hex}"
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'shared.db'}",
        "SECRET_KEY": "shared-secret",
        "RATELIMIT_STORAGE_URI": REDIS,
        "RATELIMIT_KEY_PREFIX": prefix,
        "LOGIN_RATE_LIMIT": "5 per minute",
        "LOGIN_ADDRESS_RATE_LIMIT": "8 per minute",
    }
    _run(tmp_path, env, "setup", "boss")
    yield env
    for key in client.scan_iter(f"*{prefix}*"):
        client.delete(key)


def test_two_processes_share_the_login_limit_through_redis(tmp_path, shared):
    assert _run(tmp_path, shared, "login", "boss", "10.0.0.1", "3") == "422 422 422"
    # The second worker has its own memory but reads the same counter: two more, then refused.
    assert _run(tmp_path, shared, "login", "boss", "10.0.0.1", "3") == "422 422 429"


def test_one_account_from_many_addresses_over_two_processes(tmp_path, shared):
    """A guesser spreading one account over addresses and workers: the account's 5 a minute hold."""
    assert _run(tmp_path, shared, "login", "boss", "10.0.0.1,10.0.0.2,10.0.0.3", "3") == "422 422 422"
    assert _run(tmp_path, shared, "login", "boss", "10.0.0.4,10.0.0.5,10.0.0.6", "3") == "422 422 429"
    # Another account from those addresses is not held by boss's count.
    assert _run(tmp_path, shared, "login", "other", "10.0.0.7", "1") == "422"


def test_one_address_over_many_accounts_over_two_processes(tmp_path, shared):
    """A guesser trying every account from one address, over workers: the address's 8 a minute hold."""
    names = ",".join(f"user{n}" for n in range(5))
    assert _run(tmp_path, shared, "login", names, "192.0.2.7", "5") == "422 422 422 422 422"
    names = ",".join(f"user{n}" for n in range(5, 10))
    assert _run(tmp_path, shared, "login", names, "192.0.2.7", "5") == "422 422 422 429 429"
    # Another address goes on.
    assert _run(tmp_path, shared, "login", "user11", "192.0.2.8", "1") == "422"


def test_production_needs_secret_key_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("HALL_ENV", "production")
    monkeypatch.delenv("SECRET_KEY", raising=False)
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        load_secret_key(str(tmp_path))
    assert not (tmp_path / "secret_key").exists()
    monkeypatch.setenv("SECRET_KEY", "from-the-environment")
    assert load_secret_key(str(tmp_path)) == "from-the-environment"
