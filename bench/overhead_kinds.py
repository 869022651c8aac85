"""The trivial job kind ``bench/executor_overhead.py`` runs (loaded through SPECLAB_PLUGINS,
also into Ray's worker processes): it does nothing, so a job's time is the executor's."""

from __future__ import annotations

from typing import Any

from engine.jobs.context import JobContext
from engine.jobs.kinds import Resources, job_kind


@job_kind(
    "bench_noop",
    description="does nothing: measures the queue and executor around a job",
    resources=Resources(cpus=1, gpus=0, memory_gb=0),
)
def noop(ctx: JobContext, payload: dict[str, Any]) -> dict[str, Any]:
    return {"i": payload.get("i")}
