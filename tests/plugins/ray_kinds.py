"""Job kinds for the Ray executor's tests, loaded into real workers through SPECLAB_PLUGINS.

Each reports where it ran (Ray node, process, the devices Ray gave it), so a test can check
placement from the job's result and log alone.
"""

from __future__ import annotations

import os
import time
from typing import Any

from engine.jobs.context import JobContext
from engine.jobs.kinds import Resources, job_kind


def _where(ctx: JobContext) -> dict[str, Any]:
    import ray

    return {
        "node": ray.get_runtime_context().get_node_id(),
        "pid": os.getpid(),
        "cuda": os.environ.get("CUDA_VISIBLE_DEVICES"),
        "attempt": ctx.attempt,
    }


def _steps(ctx: JobContext, payload: dict[str, Any]) -> None:
    n = int(payload.get("steps", 3))
    pause = float(payload.get("step_seconds", 0.1))
    for i in range(n):
        ctx.progress(i / n, f"step {i + 1}/{n}")
        time.sleep(pause)
    # Never finishes on its own while the attempt is at most ``hang_attempts``: the Ray task
    # must be cancelled from outside (nothing here calls a cancel check that could stop it:
    # the context on the node never sees the worker's cancel event).
    while ctx.attempt <= int(payload.get("hang_attempts", 0)):
        time.sleep(pause)


@job_kind(
    "ray_cpu",
    description="a CPU stage: a few steps, then reports its node",
    resources=Resources(cpus=1, gpus=0, memory_gb=0.1),
)
def cpu(ctx: JobContext, payload: dict[str, Any]) -> dict[str, Any]:
    _steps(ctx, payload)
    return _where(ctx)


@job_kind(
    "ray_gpu",
    description="a GPU stage: a few steps, then reports its node and devices",
    resources=Resources(cpus=0.5, gpus=1, memory_gb=0.1),
)
def gpu(ctx: JobContext, payload: dict[str, Any]) -> dict[str, Any]:
    _steps(ctx, payload)
    return _where(ctx)


@job_kind(
    "ray_fail",
    description="logs that it was invoked, then raises",
    resources=Resources(cpus=0.5, gpus=0, memory_gb=0.1),
)
def fail(ctx: JobContext, payload: dict[str, Any]) -> dict[str, Any]:
    ctx.log(f"invoked for attempt {ctx.attempt} in pid {os.getpid()}")
    raise RuntimeError(str(payload.get("message", "boom")))
