"""The registry of job kinds: the one place that says what work a job can do.

A kind is a function ``run(ctx, payload) -> dict`` plus the resources it needs and how often
the queue may run it. The built-in kinds are the pipeline's stage kinds, declared in the table
of :mod:`engine.stages.table`, and the tasks of :mod:`engine.tasks`; plugin modules named in
``SPECLAB_PLUGINS`` register more with :func:`job_kind`. Executors look kinds up here; nothing
else dispatches on kind names.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from engine.errors import ConfigError, NotFoundError

if TYPE_CHECKING:
    from engine.jobs.context import JobContext

RunFn = Callable[["JobContext", dict[str, Any]], dict[str, Any] | None]


@dataclass(frozen=True)
class Resources:
    """What one execution of a kind needs; the Ray executor turns this into task options."""

    cpus: float = 1.0
    gpus: float = 0.0
    memory_gb: float = 1.0


@dataclass(frozen=True)
class JobKind:
    name: str
    run: RunFn
    description: str
    resources: Resources
    max_attempts: int


_KINDS: dict[str, JobKind] = {}


def job_kind(
    name: str,
    *,
    description: str,
    resources: Resources | None = None,
    max_attempts: int = 3,
) -> Callable[[RunFn], RunFn]:
    """Register ``fn`` as the code for jobs of kind ``name``."""

    def register(fn: RunFn) -> RunFn:
        existing = _KINDS.get(name)
        if existing is not None and existing.run is not fn:
            raise ConfigError(f"job kind {name!r} is registered twice")
        _KINDS[name] = JobKind(
            name=name,
            run=fn,
            description=description,
            resources=resources or Resources(),
            max_attempts=max_attempts,
        )
        return fn

    return register


def load(plugins: Iterable[str] = ()) -> dict[str, JobKind]:
    """Register the stage kinds, the tasks and any plugin modules; return the registry."""
    from engine.stages.table import job_kinds  # the stages import this module
    from engine.tasks import job_kinds as task_kinds

    for kind in [*job_kinds(), *task_kinds()]:
        _KINDS.setdefault(kind.name, kind)
    for module in plugins:
        try:
            importlib.import_module(module)
        except ImportError as exc:
            raise ConfigError(f"cannot import job-kind module {module!r}: {exc}") from exc
    return dict(_KINDS)


def get(name: str) -> JobKind:
    try:
        return _KINDS[name]
    except KeyError:
        known = ", ".join(sorted(_KINDS)) or "none loaded"
        raise NotFoundError(f"no job kind {name!r} (known: {known})") from None
