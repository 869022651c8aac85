"""Executors: where a claimed job's code runs.

The worker claims a job, builds its :class:`JobContext` and hands both to an executor.
``local`` runs the kind in the worker process; ``ray`` (:mod:`engine.jobs.ray_executor`) runs
it as a Ray task with the kind's :class:`~engine.jobs.kinds.Resources` as task options.
Executors register in :data:`EXECUTORS`; the queue, heartbeats and state transitions stay in
the worker whichever executor runs the code.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from engine.config import Settings
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


def _local(_settings: Settings | None) -> Executor:
    return LocalExecutor()


def _ray(settings: Settings | None) -> Executor:
    # Imported here: the module is cheap, but it is only needed by workers that ask for Ray.
    from engine.jobs.ray_executor import RayExecutor

    return RayExecutor(address=settings.ray_address if settings else None)


#: Executor factories by name; each builds an executor from the settings (or defaults).
EXECUTORS: dict[str, Callable[[Settings | None], Executor]] = {"local": _local, "ray": _ray}


def get_executor(name: str, settings: Settings | None = None) -> Executor:
    try:
        factory = EXECUTORS[name]
    except KeyError:
        known = ", ".join(sorted(EXECUTORS))
        raise ConfigError(f"unknown executor {name!r} (known: {known})") from None
    return factory(settings)
