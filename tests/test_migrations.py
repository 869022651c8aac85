"""Alembic is the only schema path: head equals the models, and stale databases are refused."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from db import migrate
from db.models import Base
from db.session import Database
from engine.errors import SchemaOutOfDateError


def test_head_matches_models(database: Database) -> None:
    # Guards against a model change without a migration (on SQLite and PostgreSQL).
    with database.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []
    assert migrate.current_revision(database) == migrate.head_revision()


def test_empty_database_is_refused_with_the_fix(tmp_path) -> None:  # type: ignore[no-untyped-def]
    # Guards the startup check: an empty DB names the command that fixes it.
    database = Database(f"sqlite:///{tmp_path / 'empty.db'}")
    with pytest.raises(SchemaOutOfDateError, match="speclab init"):
        migrate.check(database)
    migrate.upgrade(database)
    migrate.check(database)


def test_downgrade_to_base_and_back(tmp_path) -> None:  # type: ignore[no-untyped-def]
    # Guards the downgrade path of every revision.
    database = Database(f"sqlite:///{tmp_path / 'x.db'}")
    migrate.upgrade(database)
    migrate.upgrade(database, "head")
    from alembic import command

    command.downgrade(migrate.alembic_config(database.url), "base")
    assert migrate.current_revision(database) is None
    migrate.upgrade(database)
    assert migrate.current_revision(database) == migrate.head_revision()


def test_sqlite_runs_in_wal_with_foreign_keys(tmp_path) -> None:  # type: ignore[no-untyped-def]
    # Guards concurrent dashboard + workers on one SQLite file.
    database = Database(f"sqlite:///{tmp_path / 'w.db'}")
    migrate.upgrade(database)
    with database.read() as s:
        assert s.connection().exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert s.connection().exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


@pytest.mark.parametrize("url", ["not a url", "nosuchdb://x/y", "postgresql+nodriver://h/d"])
def test_bad_database_url_is_a_config_error(url: str) -> None:
    # Guards start-up with a mistyped SPECLAB_DATABASE_URL: a message, not a traceback.
    from engine.errors import ConfigError

    with pytest.raises(ConfigError, match="SPECLAB_DATABASE_URL"):
        Database(url)
