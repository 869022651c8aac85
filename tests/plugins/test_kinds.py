"""Job kinds used only by tests, loaded into real workers through SPECLAB_PLUGINS.

They register exactly like built-in kinds do, so the worker under test is the real one.
"""

from __future__ import annotations

import time
from typing import Any

from engine.jobs.context import JobContext
from engine.jobs.kinds import Resources, job_kind


@job_kind(
    "test_steps",
    description="steps with progress and cancellation points",
    resources=Resources(cpus=0.1),
)
def steps(ctx: JobContext, payload: dict[str, Any]) -> dict[str, Any]:
    n = int(payload.get("steps", 10))
    for i in range(n):
        ctx.progress(i / n, f"step {i + 1}/{n}")
        time.sleep(float(payload.get("step_seconds", 0.1)))
    ctx.log(f"attempt {ctx.attempt} finished {n} steps")
    return {"steps": n, "attempt": ctx.attempt, "worker": ctx.worker_id}


@job_kind("test_fail", description="always raises")
def fail(ctx: JobContext, payload: dict[str, Any]) -> dict[str, Any]:
    raise RuntimeError(payload.get("message", "boom"))
