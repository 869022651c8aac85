"""Job kinds used only by tests, loaded into real workers through SPECLAB_PLUGINS.

They register exactly like built-in kinds do, so the worker under test is the real one.
"""

from __future__ import annotations

import os
import signal
import time
from typing import Any

from engine.errors import InputError
from engine.jobs import kinds
from engine.jobs.context import JobContext
from engine.jobs.kinds import Resources, job_kind


@job_kind(
    "test_steps",
    description="steps with progress and cancellation points",
    resources=Resources(cpus=0.1),
)
def steps(ctx: JobContext, payload: dict[str, Any]) -> dict[str, Any]:
    n = int(payload.get("steps", 10))
    pause = float(payload.get("step_seconds", 0.1))
    for i in range(n):
        ctx.progress(i / n, f"step {i + 1}/{n}")
        time.sleep(pause)
    # Attempts up to ``hang_attempts`` never finish on their own: a test that kills, stops or
    # cancels them cannot lose a race against the job completing first on a slow machine.
    while ctx.attempt <= int(payload.get("hang_attempts", 0)):
        ctx.progress((n - 1) / n if n else 0.0, "waiting to be stopped")
        time.sleep(pause)
    ctx.log(f"attempt {ctx.attempt} finished {n} steps")
    return {"steps": n, "attempt": ctx.attempt, "worker": ctx.worker_id}


@job_kind("test_write", description="stores payload['text'] as a content-addressed artifact")
def write(ctx: JobContext, payload: dict[str, Any]) -> dict[str, Any]:
    art = ctx.artifacts.put_bytes(
        str(payload["text"]).encode("utf-8"), kind="test_text", media_type="text/plain"
    )
    return {"artifact": art.sha256, "worker": ctx.worker_id}


@job_kind("test_fail", description="always raises")
def fail(ctx: JobContext, payload: dict[str, Any]) -> dict[str, Any]:
    raise RuntimeError(payload.get("message", "boom"))


@job_kind(
    "test_die_after",
    description="runs the kind named in payload['run'] (if any), then SIGKILLs its own worker "
    "while the attempt is at most payload['die_attempts']: a worker killed after the work was "
    "done and before the queue recorded its success",
)
def die_after(ctx: JobContext, payload: dict[str, Any]) -> dict[str, Any]:
    inner = payload.get("run")
    result = (kinds.get(str(inner)).run(ctx, payload) or {}) if inner else {}
    if ctx.attempt <= int(payload.get("die_attempts", 0)):
        ctx.log(f"attempt {ctx.attempt} done; killing worker {ctx.worker_id} before success")
        os.kill(os.getpid(), signal.SIGKILL)
    return {**result, "attempt": ctx.attempt, "worker": ctx.worker_id}


@job_kind("test_bad_input", description="refuses its input, as a stage with bad settings does")
def bad_input(ctx: JobContext, payload: dict[str, Any]) -> dict[str, Any]:
    raise InputError("must be at least 1", field="max_steps")
