"""Shared fixtures: an app on SQLite (or TEST_DATABASE_URL), a clean database per test, factories, logins."""

from __future__ import annotations

import os
from datetime import date, datetime

import pytest
from flask_migrate import upgrade
from sqlalchemy import create_engine, make_url, text
from sqlalchemy.exc import ProgrammingError
from sqlalchemy.pool import NullPool

from app import create_app
from models import Posting, Role, Staff, Unit, User, db
from services.clock import from_hall
from services.rulebooks import ensure_shipped

PASSWORD = "test-password-1"


def database_url(tmp_path_factory) -> str:
    """SQLite in the session's temporary folder (its own per xdist worker), or TEST_DATABASE_URL; under
    `pytest -n`, each worker gets its own PostgreSQL database, `<db>_gw0`, `<db>_gw1`…, created if missing."""
    url = os.environ.get("TEST_DATABASE_URL")
    if not url:
        return f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if not worker:
        return url
    return worker_database(url, worker)


def worker_database(url: str, worker: str) -> str:
    """The URL of `<db>_<worker>` beside the database of `url`, created from the base database if missing."""
    base = make_url(url)
    if not base.get_backend_name().startswith("postgresql"):
        raise pytest.UsageError(f"pytest -n needs PostgreSQL or SQLite, not {base.get_backend_name()}")
    name = f"{base.database}_{worker}"
    engine = create_engine(base, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    try:
        with engine.connect() as conn:
            if not conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": name}):
                try:
                    conn.execute(text(f'CREATE DATABASE "{name}"'))
                except ProgrammingError:  # created meanwhile by an earlier run of the same worker
                    pass
    finally:
        engine.dispose()
    return base.set(database=name).render_as_string(hide_password=False)


def reset_schema() -> None:
    """Drop everything, then build the schema with the migrations, so the migrations are tested too."""
    with db.engine.begin() as conn:
        if db.engine.dialect.name == "postgresql":
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
        else:
            db.metadata.drop_all(conn)
            conn.execute(text("DROP TABLE IF EXISTS alembic_version"))
    upgrade()


def wipe() -> None:
    """Empty every table (faster than rebuilding the schema for each test)."""
    with db.engine.begin() as conn:
        if db.engine.dialect.name == "postgresql":
            names = ", ".join(f'"{t.name}"' for t in db.metadata.sorted_tables)
            conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        else:
            for table in reversed(db.metadata.sorted_tables):
                conn.execute(table.delete())


@pytest.fixture(scope="session")
def app(tmp_path_factory):
    app = create_app(
        {
            "TESTING": True,
            "SQLALCHEMY_DATABASE_URI": database_url(tmp_path_factory),
            "WTF_CSRF_ENABLED": False,
            "SECRET_KEY": "test",
            "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000",
            "EVIDENCE_DIR": str(tmp_path_factory.mktemp("evidence")),
            "EXPORT_DIR": str(tmp_path_factory.mktemp("exports")),
            "HALL_TODAY": date(2024, 3, 20),
            "HALL_NOW": datetime(2024, 3, 20, 10, 0),
        }
    )
    with app.app_context():
        reset_schema()
    return app


@pytest.fixture(autouse=True)
def clean_db(request):
    """Every test that uses the app starts from an empty database with the shipped rulebook."""
    if "app" not in request.fixturenames:
        yield
        return
    app = request.getfixturevalue("app")
    from extensions import limiter

    with app.app_context():
        wipe()
        # Ids restart after a wipe, so the standings cache (keyed by the newest audit id) must go too.
        import page_cache
        from services import dashboard, standings, yearly

        standings._cache.clear()
        dashboard._tally_cache.clear()  # the tallies and the yearly summary are kept the same way
        yearly._cache.clear()
        page_cache._pages.clear()  # kept pages too: a new test's user 1 is not the last one's
        ensure_shipped()
        db.session.commit()
        limiter.reset()
        yield
        db.session.remove()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


class Factory:
    """Small builders for the rows tests need; each returns the committed object."""

    def unit(self, code="U01", name=None, windows="1;2", display_order=0, active=True) -> Unit:
        unit = Unit(
            code=code,
            name=name or f"测试单位{code}",
            windows=windows,
            display_order=display_order,
            active=active,
        )
        db.session.add(unit)
        db.session.commit()
        return unit

    def staff(
        self,
        unit: Unit,
        staff_id="S001",
        name="张三",
        category="W",
        window="1",
        start=date(2024, 1, 1),
        end=None,
    ) -> Staff:
        staff = Staff(staff_id=staff_id, name=name)
        staff.postings.append(
            Posting(unit=unit, category=category, window=window, start_date=start, end_date=end)
        )
        db.session.add(staff)
        db.session.commit()
        return staff

    def user(self, role: str, username=None, unit: Unit | None = None) -> User:
        user = User(username=username or f"{role}1", role=role, unit=unit, display_name=username or role)
        user.set_password(PASSWORD)
        db.session.add(user)
        db.session.commit()
        return user

    def incident(self, unit: Unit, rule_code="D01", at=datetime(2024, 3, 5, 9, 0), **kwargs):
        from services import incidents

        incident = incidents.create(unit, rule_code, from_hall(at), **kwargs)
        db.session.commit()
        return incident


@pytest.fixture
def make(app) -> Factory:
    return Factory()


@pytest.fixture
def login(client, make):
    """login("admin") makes a user of that role (and unit, for unit users) and logs the client in."""

    def do(role: str, unit: Unit | None = None, username: str | None = None) -> User:
        if role == Role.UNIT and unit is None:
            unit = make.unit(code="LOGIN-U")
        user = make.user(role, username=username, unit=unit)
        response = client.post("/login", data={"username": user.username, "password": PASSWORD})
        assert response.status_code == 302, response.get_data(as_text=True)
        return user

    return do
