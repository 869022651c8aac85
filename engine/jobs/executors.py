"""Executors: where a claimed job's code runs.

The worker claims a job, builds its :class:`JobContext` and hands both to an executor.
``local`` runs the kind in the worker process; ``ray`` (:mod:`engine.jobs.ray_executor`) runs
it as a Ray task with the kind's :class:`~engine.jobs.kinds.Resources` as task options.
Executors register in :data:`EXECUTORS`; the queue, heartbeats and state transitions stay in
the worker whichever executor runs the code.
"""

from __future__ import annotations

import re
import socket
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any, Protocol

from db import jobs as jobstore
from engine.config import Settings
from engine.errors import ConfigError
from engine.jobs.context import JobContext
from engine.jobs.kinds import JobKind, Resources

_RAY_NODE_RE = re.compile(r"\(Ray ([0-9a-f]+)")


def node_label(ray_node_id: str | None = None, ip: str | None = None) -> str:
    """How an attempt's node is recorded: this host's name, and with Ray its node id and IP
    (``gpu-7 (Ray 3f2a…, 10.0.0.7)``)."""
    host = socket.gethostname()
    return f"{host} (Ray {ray_node_id}, {ip})" if ray_node_id else host


def ray_node_of(label: str) -> str | None:
    """The Ray node id in a label :func:`node_label` wrote, if any."""
    found = _RAY_NODE_RE.search(label)
    return found.group(1) if found else None


def job_resources(kind: JobKind, payload: Mapping[str, Any]) -> Resources:
    """What one attempt needs: the kind's declared resources with the job's own scaling
    (``payload["resources"]``, e.g. ``{"gpus": 0}`` written at launch by a CPU preset)."""
    scale = payload.get("resources") or {}
    if not isinstance(scale, Mapping):
        raise ConfigError(f"job payload 'resources' must be a mapping, not {scale!r}")
    unknown = set(scale) - {"cpus", "gpus", "memory_gb"}
    if unknown:
        raise ConfigError(f"job payload 'resources' has unknown fields: {sorted(unknown)}")
    return replace(kind.resources, **{k: float(v) for k, v in scale.items()})


def record_node(ctx: JobContext, label: str) -> None:
    """Record on the job's events that this attempt runs on the node ``label`` names."""
    with ctx.database.write() as s:
        jobstore.record_node(s, ctx.job.id, ctx.attempt, label)


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
        record_node(ctx, node_label())
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
