"""Job kinds for the cluster tests, loaded into Ray nodes through SPECLAB_PLUGINS."""

from __future__ import annotations

from typing import Any

from engine.jobs import kinds
from engine.jobs.context import JobContext
from engine.jobs.kinds import Resources, job_kind


@job_kind(
    "cluster_midtrain",
    description="the real midtrain stage, declared as a one-CPU task (the test cluster has "
    "no GPU and two one-CPU nodes)",
    resources=Resources(cpus=1, gpus=0, memory_gb=0.1),
    max_attempts=1,
)
def midtrain(ctx: JobContext, payload: dict[str, Any]) -> dict[str, Any]:
    return kinds.get("midtrain").run(ctx, payload) or {}


@job_kind(
    "cluster_gen_docs",
    description="the real gen_docs stage, declared as a one-CPU task",
    resources=Resources(cpus=1, gpus=0, memory_gb=0.1),
)
def gen_docs(ctx: JobContext, payload: dict[str, Any]) -> dict[str, Any]:
    return kinds.get("gen_docs").run(ctx, payload) or {}
