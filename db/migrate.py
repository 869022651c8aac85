"""Schema management through Alembic, the only path by which the schema changes.

``upgrade`` brings a database to head; ``check`` refuses a database that is not at head with
the exact command that fixes it.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from db.errors import SchemaOutOfDateError
from db.session import Database

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"
FIX_COMMAND = "speclab init"


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    # ConfigParser interpolation would choke on a '%' in a password.
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def head_revision() -> str:
    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    head = script.get_current_head()
    assert head is not None, "migrations/versions holds no revision"
    return head


def current_revision(database: Database) -> str | None:
    with database.engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade(database: Database, revision: str = "head") -> None:
    """Create or upgrade the schema of ``database`` to ``revision``."""
    command.upgrade(alembic_config(database.url), revision)


def check(database: Database) -> None:
    """Raise :class:`SchemaOutOfDateError` unless the database is at the code's head."""
    current = current_revision(database)
    head = head_revision()
    if current == head:
        return
    if current is None:
        state = "has no SpecLab schema yet"
    else:
        state = f"is at schema revision {current}, this code needs {head}"
    raise SchemaOutOfDateError(
        f"The database {database.safe_url} {state}. "
        f"Run `{FIX_COMMAND}` (with the same SPECLAB_DATABASE_URL) to create or upgrade it."
    )
