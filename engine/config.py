"""Settings read from the environment.

=========================  ==================================================================
variable                   meaning
=========================  ==================================================================
``SPECLAB_HOME``           folder for the SQLite file, artifacts, model cache and logs
                           (default ``~/.speclab``)
``SPECLAB_DATABASE_URL``   SQLAlchemy URL (default: SQLite file ``speclab.db`` in the home);
                           teams use ``postgresql+psycopg://user@host/db``
``SPECLAB_LEASE_SECONDS``  a running job whose worker has not heartbeated for this long is
                           re-queued (default 30)
``SPECLAB_HEARTBEAT_SECONDS``  how often workers heartbeat and look for cancels (default 1)
``SPECLAB_MAX_LOST_WORKERS``  a job fails once its worker was lost (killed, crashed or
                           stopped mid-job) on this many attempts (default 10); such attempts
                           do not count against the job's own attempt limit
``SPECLAB_PLUGINS``        comma-separated modules to import for extra job kinds
``SPECLAB_USER``           the name recorded as author of edits and launches (default: the
                           login name)
``SPECLAB_MODEL_CACHE``    folder of prepared models, shareable between homes (default
                           ``$SPECLAB_HOME/models``)
``SPECLAB_OPENAI_API_KEY`` key for OpenAI-compatible generation/judge endpoints (falls back
                           to ``OPENAI_API_KEY``)
``SPECLAB_EXECUTOR``       where workers run claimed jobs: ``local`` (default) or ``ray``
``SPECLAB_RAY_ADDRESS``    Ray cluster the ``ray`` executor connects to (default: Ray's own
                           choice: ``RAY_ADDRESS``, a cluster on this machine, or a new one)
``SPECLAB_ARTIFACTS``      artifact store: a folder (default ``$SPECLAB_HOME/artifacts``) or
                           an fsspec URL every node can reach (``s3://bucket/prefix``); with
                           a URL, each node caches what it reads in
                           ``$SPECLAB_HOME/artifact-cache``
``SPECLAB_ARTIFACTS_ENDPOINT``  endpoint URL of an S3-compatible store (MinIO, Ceph…);
                           credentials come from the usual ``AWS_*`` variables
=========================  ==================================================================

A test fails when a variable used in the code is missing from this table.
"""

from __future__ import annotations

import getpass
import os
from dataclasses import dataclass, field
from pathlib import Path

from db.jobs import DEFAULT_MAX_LOST_WORKERS
from engine.errors import ConfigError

ENV_VARS = (
    "SPECLAB_HOME",
    "SPECLAB_DATABASE_URL",
    "SPECLAB_LEASE_SECONDS",
    "SPECLAB_HEARTBEAT_SECONDS",
    "SPECLAB_MAX_LOST_WORKERS",
    "SPECLAB_PLUGINS",
    "SPECLAB_USER",
    "SPECLAB_MODEL_CACHE",
    "SPECLAB_OPENAI_API_KEY",
    "SPECLAB_EXECUTOR",
    "SPECLAB_RAY_ADDRESS",
    "SPECLAB_ARTIFACTS",
    "SPECLAB_ARTIFACTS_ENDPOINT",
)


def _float(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a number") from None
    if value <= 0:
        raise ConfigError(f"{name}={raw!r} must be positive")
    return value


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a whole number") from None
    if value < 1:
        raise ConfigError(f"{name}={raw!r} must be at least 1")
    return value


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "local"


@dataclass(frozen=True)
class Settings:
    """Where SpecLab keeps its things and how its workers behave."""

    home: Path = field(metadata={"help": "folder for the database, artifacts, models, logs"})
    database_url: str = field(metadata={"help": "SQLAlchemy URL of the database"})
    lease_seconds: float = field(
        default=30.0, metadata={"help": "heartbeat age after which a running job is re-queued"}
    )
    heartbeat_seconds: float = field(
        default=1.0, metadata={"help": "how often a worker heartbeats and checks for cancels"}
    )
    max_lost_workers: int = field(
        default=DEFAULT_MAX_LOST_WORKERS,
        metadata={
            "help": "attempts of one job that may lose their worker (killed, crashed, stopped) "
            "before the job fails; they do not count against the job's own attempts"
        },
    )
    plugins: tuple[str, ...] = field(
        default=(), metadata={"help": "extra modules that register job kinds"}
    )
    user: str = field(default="local", metadata={"help": "author recorded for edits"})
    model_cache: Path | None = field(
        default=None, metadata={"help": "prepared models folder (default: home/models)"}
    )
    executor: str = field(
        default="local", metadata={"help": "where workers run claimed jobs: local or ray"}
    )
    ray_address: str | None = field(
        default=None, metadata={"help": "Ray cluster address for the ray executor"}
    )
    artifacts_url: str | None = field(
        default=None,
        metadata={"help": "artifact store folder or fsspec URL (default: home/artifacts)"},
    )
    artifacts_endpoint: str | None = field(
        default=None, metadata={"help": "endpoint URL of an S3-compatible artifact store"}
    )

    @classmethod
    def from_env(cls) -> Settings:
        home = Path(os.environ.get("SPECLAB_HOME") or Path.home() / ".speclab").expanduser()
        url = os.environ.get("SPECLAB_DATABASE_URL") or f"sqlite:///{home / 'speclab.db'}"
        plugins = tuple(
            p.strip() for p in os.environ.get("SPECLAB_PLUGINS", "").split(",") if p.strip()
        )
        return cls(
            home=home,
            database_url=url,
            lease_seconds=_float("SPECLAB_LEASE_SECONDS", 30.0),
            heartbeat_seconds=_float("SPECLAB_HEARTBEAT_SECONDS", 1.0),
            max_lost_workers=_int("SPECLAB_MAX_LOST_WORKERS", DEFAULT_MAX_LOST_WORKERS),
            plugins=plugins,
            user=os.environ.get("SPECLAB_USER") or _user(),
            model_cache=Path(cache).expanduser()
            if (cache := os.environ.get("SPECLAB_MODEL_CACHE"))
            else None,
            executor=os.environ.get("SPECLAB_EXECUTOR") or "local",
            ray_address=os.environ.get("SPECLAB_RAY_ADDRESS") or None,
            artifacts_url=os.environ.get("SPECLAB_ARTIFACTS") or None,
            artifacts_endpoint=os.environ.get("SPECLAB_ARTIFACTS_ENDPOINT") or None,
        )

    @property
    def artifacts_dir(self) -> Path:
        return self.home / "artifacts"

    @property
    def artifact_cache_dir(self) -> Path:
        """This node's copies of a remote store's artifacts (unused for a local store)."""
        return self.home / "artifact-cache"

    @property
    def models_dir(self) -> Path:
        return self.model_cache or self.home / "models"

    @property
    def logs_dir(self) -> Path:
        return self.home / "logs"

    def ensure_dirs(self) -> None:
        for d in (self.home, self.artifacts_dir, self.models_dir, self.logs_dir):
            d.mkdir(parents=True, exist_ok=True)
