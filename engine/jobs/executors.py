"""Executors: where a claimed job's code runs.

The worker claims a job, builds its :class:`JobContext` and hands both to an executor.
``local`` runs the kind in the worker process. Other executors (a Ray cluster, with each
kind's :class:`~engine.jobs.kinds.Resources` as task options) implement the same protocol and
register in :data:`EXECUTORS`; the queue, heartbeats and state transitions stay in the worker.
"""

from __future__ import annotations

from typing import Any, Protocol

from engine.errors import ConfigError
from engine.jobs.context import JobContext
from engine.jobs.kinds import JobKind


class Executor(Protocol):
    name: str

    def execute(self, kind: JobKind, ctx: JobContext) -> dict[str, Any]:
        """Run one attempt of a job; return its result or raise."""
        ...


class LocalExecutor:
    """Runs the job's code in the worker process (the embedded default)."""

    name = "local"

    def execute(self, kind: JobKind, ctx: JobContext) -> dict[str, Any]:
        ctx.check()
        return kind.run(ctx, dict(ctx.job.payload)) or {}


EXECUTORS: dict[str, type[Executor]] = {"local": LocalExecutor}


def get_executor(name: str) -> Executor:
    try:
        return EXECUTORS[name]()
    except KeyError:
        known = ", ".join(sorted(EXECUTORS))
        raise ConfigError(f"unknown executor {name!r} (known: {known})") from None
