"""Connections and transactions.

:class:`Database` owns the SQLAlchemy engines for one URL. ``db.write()`` and ``db.read()``
are the only ways code touches the database: each is a context manager that commits or rolls
back and translates driver errors into :class:`db.errors.StoreError`.

On SQLite the file runs in WAL mode with foreign keys on and a busy timeout, and write
transactions start with ``BEGIN IMMEDIATE`` so that a read-then-write transaction can never
fail half-way with a stale snapshot while other processes (workers, the dashboard) write.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, IntegrityError, NoSuchModuleError
from sqlalchemy.orm import Session, sessionmaker

from db.errors import ConfigError, ConflictError, SpecLabError, StoreError

SQLITE_BUSY_TIMEOUT_MS = 30_000


def _sqlite_engine(url: str, begin: str) -> Engine:
    engine = create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Let SQLAlchemy, not pysqlite, decide when transactions begin.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql(begin)

    return engine


class Database:
    """The engines and sessions for one database URL."""

    def __init__(self, url: str) -> None:
        self.url = url
        try:
            parsed = make_url(url)
            self.dialect = parsed.get_backend_name()
            if self.dialect == "sqlite":
                self.engine = _sqlite_engine(url, "BEGIN IMMEDIATE")
                self.read_engine = _sqlite_engine(url, "BEGIN")
            else:
                self.engine = create_engine(url, pool_pre_ping=True)
                self.read_engine = self.engine
        except (ArgumentError, NoSuchModuleError, ImportError) as exc:
            raise ConfigError(
                f"SPECLAB_DATABASE_URL / database URL {url!r} is not usable: {exc}. "
                "Use sqlite:///path/to/file.db or postgresql+psycopg://user@host/db"
            ) from exc
        self._write = sessionmaker(self.engine, expire_on_commit=False)
        self._read = sessionmaker(self.read_engine, expire_on_commit=False)

    @property
    def is_sqlite(self) -> bool:
        return self.dialect == "sqlite"

    @contextmanager
    def write(self) -> Iterator[Session]:
        """A session whose work is committed on success and rolled back on any error."""
        with self._scope(self._write) as session:
            yield session

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A session for queries; anything it changes is rolled back."""
        with self._scope(self._read, commit=False) as session:
            yield session

    @contextmanager
    def _scope(self, factory: sessionmaker[Session], commit: bool = True) -> Iterator[Session]:
        session = factory()
        try:
            yield session
            if commit:
                session.commit()
            else:
                session.rollback()
        except IntegrityError as exc:
            session.rollback()
            raise ConflictError(f"the change clashes with stored data: {exc.orig}") from exc
        except DBAPIError as exc:
            session.rollback()
            raise StoreError(f"database error on {self.safe_url}: {exc.orig}") from exc
        except SpecLabError:
            session.rollback()
            raise
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    @property
    def safe_url(self) -> str:
        """The URL with any password hidden, for messages."""
        return make_url(self.url).render_as_string(hide_password=True)

    def dispose(self) -> None:
        self.engine.dispose()
        if self.read_engine is not self.engine:
            self.read_engine.dispose()
