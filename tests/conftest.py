"""Shared fixtures: real SQLite files and a real PostgreSQL server, never mocks.

Tests that take the ``database`` (or ``service``) fixture run twice: on a SQLite file in
``tmp_path`` and on a throwaway PostgreSQL database (a copy of a migrated template created
once per test session on 127.0.0.1:5432, or ``SPECLAB_TEST_PG_URL``). Where PostgreSQL is not
reachable the PostgreSQL half is skipped, except under CI (``CI=true``), where it fails.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
import streamlit as st
from s3server import S3Server, s3_server
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from streamlit.testing.v1 import AppTest

from db import migrate
from db.session import Database
from engine.config import Settings
from engine.service import Service

REPO = Path(__file__).resolve().parent.parent
PG_ADMIN_URL = os.environ.get(
    "SPECLAB_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)


def needed(module: str, reason: str) -> ModuleType:
    """Import ``module`` for a test file. Under CI (``CI=true``), whose set-up installs every
    extra these tests use (``dev,ray``), a missing module fails the tests; elsewhere they are
    skipped with ``reason``, so a partial local install still runs the rest."""
    if os.environ.get("CI") == "true":
        return importlib.import_module(module)
    return pytest.importorskip(module, reason=reason)


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


@pytest.fixture
def sqlite_service(tmp_path: Path) -> Service:
    """A migrated, seeded SQLite home with a short lease (3 s) and heartbeat (0.2 s), for
    tests that kill real worker processes and wait for the lease to run out."""
    settings = Settings(
        home=tmp_path / "home",
        database_url=f"sqlite:///{tmp_path / 'speclab.db'}",
        lease_seconds=3.0,
        heartbeat_seconds=0.2,
        user="tester",
    )
    svc = Service(settings)
    svc.init(prepare_model=False, log=lambda _msg: None)
    return svc


def worker_env(settings: Settings, **extra: str) -> dict[str, str]:
    """Environment for a real worker subprocess on the same database and home."""
    env = dict(os.environ)
    # One torch thread per worker: on a loaded 2-core machine two OpenMP threads per process
    # made tiny-model training steps ~4x slower (1.19 vs 0.29 s/step), enough to time tests out.
    env.setdefault("OMP_NUM_THREADS", "1")
    env.update(
        SPECLAB_HOME=str(settings.home),
        SPECLAB_DATABASE_URL=settings.database_url,
        SPECLAB_LEASE_SECONDS=str(settings.lease_seconds),
        SPECLAB_HEARTBEAT_SECONDS=str(settings.heartbeat_seconds),
        SPECLAB_MODEL_CACHE=str(settings.models_dir),
        PYTHONPATH=os.pathsep.join([str(REPO), str(REPO / "tests"), env.get("PYTHONPATH", "")]),
    )
    env.update(extra)
    return env


def home_env(home: Path, **extra: str) -> dict[str, str]:
    """Environment for `speclab` subprocesses on the SQLite file in ``home``."""
    env = dict(os.environ, SPECLAB_HOME=str(home), **extra)
    env.pop("SPECLAB_DATABASE_URL", None)
    return env


def speclab(
    env: dict[str, str], *args: str, timeout: float = 600
) -> subprocess.CompletedProcess[str]:
    """Run the `speclab` command as a user would (a real process), capturing its output."""
    return subprocess.run(
        [sys.executable, "-m", "engine.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.fixture(scope="session")
def model_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """SPECLAB_TEST_MODEL_HOME when set (``make test`` points it at the home that
    ``speclab init`` prepared), so the built-in model is converted once, not per test run."""
    shared = os.environ.get("SPECLAB_TEST_MODEL_HOME")
    return Path(shared) if shared else tmp_path_factory.mktemp("model-home")


@pytest.fixture(scope="session")
def builtin_model_dir(model_home: Path) -> Path:
    """The prepared built-in model (SmolLM2-135M-Instruct as safetensors)."""
    from engine.train import builtin_model

    settings = Settings(home=model_home, database_url="sqlite://")
    return builtin_model.prepare(settings, log=lambda _line: None)


@pytest.fixture(scope="session")
def tiny_model_dir(builtin_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random-weight Llama (~3M parameters) with the built-in model's tokenizer:
    trains in seconds through the real training code."""
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    out = tmp_path_factory.mktemp("tiny-llama")
    tokenizer = AutoTokenizer.from_pretrained(builtin_model_dir)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=2048,
        tie_word_embeddings=True,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    torch.manual_seed(0)
    LlamaForCausalLM(config).save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out


# -- dashboard (AppTest) -------------------------------------------------------------------

APP_MAIN = REPO / "app" / "main.py"
APP_TIMEOUT = 30


def point_env_at(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, url: str) -> None:
    monkeypatch.setenv("SPECLAB_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("SPECLAB_DATABASE_URL", url)
    monkeypatch.setenv("SPECLAB_USER", "tester")
    monkeypatch.delenv("SPECLAB_PLUGINS", raising=False)


@pytest.fixture
def clean_cache() -> Iterator[None]:
    """The app's cached Service must be built from this test's environment, and not leak."""
    st.cache_resource.clear()
    yield
    st.cache_resource.clear()


@pytest.fixture
def svc(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, clean_cache: None) -> Iterator[Service]:
    """A migrated, seeded SQLite home that the app under test will open too."""
    point_env_at(monkeypatch, tmp_path, f"sqlite:///{tmp_path / 'speclab.db'}")
    service = Service.from_env()
    service.init(prepare_model=False, log=lambda _msg: None)
    yield service
    service.db.dispose()


def open_app(page: str | None = None, **query: str) -> AppTest:
    at = AppTest.from_file(str(APP_MAIN), default_timeout=APP_TIMEOUT)
    at.query_params.update(query)
    at.run()
    assert not at.exception, at.exception
    if page is not None:
        at.switch_page(page).run()
        assert not at.exception, at.exception
    return at


# -- a real S3-compatible object store ------------------------------------------------------


@pytest.fixture(scope="module")
def s3() -> Iterator[S3Server]:
    """A real S3-compatible server (moto) on a loopback port with a bucket, for one module.
    Start it before a Ray cluster that needs it: the nodes inherit the credentials it exports."""
    with s3_server() as server:
        yield server


# -- a real model server -------------------------------------------------------------------


@contextlib.contextmanager
def model_server(model: Path, home: Path, timeout: float = 120) -> Iterator[str]:
    """``with model_server(MODEL, HOME) as url``: ``speclab serve-model MODEL`` on a free
    loopback port, its ``/v1`` URL once it answers; stopped on leaving the block. One torch
    thread: on a loaded 2-core machine more made each request ~15x slower."""
    import socket
    import time

    from engine.backends.openai_backend import OpenAIBackend
    from engine.errors import EndpointError

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    env = {**os.environ, "SPECLAB_HOME": str(home), "OMP_NUM_THREADS": "1"}
    server = subprocess.Popen(
        [sys.executable, "-m", "engine.cli", "serve-model", str(model), "--port", str(port)],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        url = f"http://127.0.0.1:{port}/v1"
        deadline = time.monotonic() + timeout
        while True:
            try:
                OpenAIBackend(url, "m", max_retries=0, timeout=2).list_models()
                break
            except EndpointError:
                assert server.poll() is None, server.communicate()[0]
                assert time.monotonic() < deadline, "the model server never answered"
                time.sleep(0.3)
        yield url
    finally:
        server.terminate()
        server.communicate(timeout=30)
