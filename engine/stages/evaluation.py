"""What the evaluation stages share: the generation backend for the model under test, and
storing samples and summary metrics (with their intervals) for the stage."""

from __future__ import annotations

from typing import Any

from db import evals as evalstore
from db import studies as studystore
from db.entities import MetricPoint
from engine.evals.runner import EvalResult
from engine.jobs.context import JobContext
from engine.stages.io import model_under
from engine.stages.spec import StageSpec


def backend_for(ctx: JobContext, spec: StageSpec) -> Any:
    """The best generation backend for the stage's model (vLLM on CUDA, else transformers)."""
    from engine.backends.select import make_backend

    path, adapters = model_under(ctx, spec)
    backend = make_backend("auto", model_path=path, adapters=adapters)
    ctx.log(f"evaluating {path} + {len(adapters)} adapter(s) with the {backend.name} backend")
    return backend


def store_result(ctx: JobContext, stage_id: int, result: EvalResult) -> dict[str, Any]:
    """Write every sample and metric of ``result``; return the stage's summary."""
    with ctx.database.write() as s:
        evalstore.replace_samples(s, stage_id, result.samples)
        studystore.add_metrics(
            s,
            [
                MetricPoint(
                    stage_id=stage_id,
                    run_id=None,
                    name=m.name,
                    step=0,
                    value=m.value,
                    ci_low=m.ci_low,
                    ci_high=m.ci_high,
                    n=m.n,
                )
                for m in result.metrics
            ],
        )
    for note in result.notes:
        ctx.log(note)
    return {
        "samples": len(result.samples),
        "metrics": {
            m.name: {"value": m.value, "ci_low": m.ci_low, "ci_high": m.ci_high, "n": m.n}
            for m in result.metrics
            if "/" not in m.name
        },
        "notes": result.notes,
    }
