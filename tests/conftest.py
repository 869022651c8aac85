"""Shared fixtures: real SQLite files and a real PostgreSQL server, never mocks.

Tests that take the ``database`` (or ``service``) fixture run twice: on a SQLite file in
``tmp_path`` and on a throwaway PostgreSQL database (a copy of a migrated template created
once per test session on 127.0.0.1:5432, or ``SPECLAB_TEST_PG_URL``). Where PostgreSQL is not
reachable the PostgreSQL half is skipped, except under CI (``CI=true``), where it fails.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from db import migrate
from db.session import Database
from engine.config import Settings
from engine.service import Service

REPO = Path(__file__).resolve().parent.parent
PG_ADMIN_URL = os.environ.get(
    "SPECLAB_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)


def _admin_engine():  # type: ignore[no-untyped-def]
    return create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")


def _drop(admin, name: str) -> None:  # type: ignore[no-untyped-def]
    with admin.connect() as c:
        c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="session")
def pg_template() -> Iterator[str]:
    """Name of a migrated template database on the PostgreSQL server."""
    try:
        admin = _admin_engine()
        with admin.connect() as c:
            c.execute(text("SELECT 1"))
    except Exception as exc:  # the server is simply not there
        if os.environ.get("CI") == "true":
            pytest.fail(f"PostgreSQL is required in CI but unreachable at {PG_ADMIN_URL}: {exc}")
        pytest.skip(f"PostgreSQL not reachable at {PG_ADMIN_URL}: {exc}")
    name = f"speclab_tmpl_{uuid.uuid4().hex[:10]}"
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    database = Database(url)
    migrate.upgrade(database)
    database.dispose()
    yield name
    _drop(admin, name)
    admin.dispose()


@pytest.fixture
def pg_url(pg_template: str) -> Iterator[str]:
    """A fresh, migrated PostgreSQL database for one test."""
    admin = _admin_engine()
    name = f"speclab_t_{uuid.uuid4().hex[:10]}"
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{pg_template}"'))
    yield make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    _drop(admin, name)
    admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A migrated database URL: SQLite file, then PostgreSQL."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'speclab.db'}"
        database = Database(url)
        migrate.upgrade(database)
        database.dispose()
        return url
    return str(request.getfixturevalue("pg_url"))


@pytest.fixture
def database(db_url: str) -> Iterator[Database]:
    database = Database(db_url)
    yield database
    database.dispose()


@pytest.fixture
def settings(tmp_path: Path, db_url: str) -> Settings:
    home = tmp_path / "home"
    s = Settings(
        home=home,
        database_url=db_url,
        lease_seconds=3.0,
        heartbeat_seconds=0.2,
        user="tester",
    )
    s.ensure_dirs()
    return s


@pytest.fixture
def service(settings: Settings, database: Database) -> Service:
    return Service(settings, database)


@pytest.fixture
def seeded(service: Service) -> Service:
    """A service whose database holds the built-in example spec and its variants."""
    service.seed_builtin()
    return service


def worker_env(settings: Settings, **extra: str) -> dict[str, str]:
    """Environment for a real worker subprocess on the same database and home."""
    env = dict(os.environ)
    env.update(
        SPECLAB_HOME=str(settings.home),
        SPECLAB_DATABASE_URL=settings.database_url,
        SPECLAB_LEASE_SECONDS=str(settings.lease_seconds),
        SPECLAB_HEARTBEAT_SECONDS=str(settings.heartbeat_seconds),
        PYTHONPATH=os.pathsep.join([str(REPO), str(REPO / "tests"), env.get("PYTHONPATH", "")]),
    )
    env.update(extra)
    return env
