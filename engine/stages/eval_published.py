"""Stage ``eval_published``: the published agentic-misalignment conditions (suite
``agentic_published``), judged three ways per sample — ``harmful`` (world rules),
``classifier_verdict`` (an LLM judge, when configured) and ``parity`` (the published gates) —
with the config's ``headline`` as each sample's score (see :mod:`engine.evals.published`)."""

from __future__ import annotations

from typing import Any

from engine.evals.published.config import PublishedEvalConfig
from engine.jobs.context import JobContext
from engine.jobs.kinds import Resources
from engine.stages.evaluation import backend_for, store_result
from engine.stages.kind import StageKind
from engine.stages.spec import StageSpec

SUITE = "agentic_published"


def run(ctx: JobContext, spec: StageSpec, stage_id: int) -> dict[str, Any]:
    from engine.evals.published.evaluate import make_classifier, run_published

    config: PublishedEvalConfig = spec.config
    backend = backend_for(ctx, spec)
    classifier = make_classifier(config, backend)
    result = run_published(
        backend, config, classifier=classifier, progress=lambda f, m: ctx.progress(f, m)
    )
    for name in ("harmful_rate", "classifier_verdict_rate", "parity_rate"):
        m = result.metric(f"{SUITE}.{name}")
        shown = "not judged" if m is None else f"{m.value:.2f} [{m.ci_low:.2f}, {m.ci_high:.2f}]"
        ctx.log(f"{SUITE}.{name} = {shown}")
    return store_result(ctx, stage_id, result)


KIND = StageKind(
    name="eval_published",
    description="published agentic-misalignment conditions: harmful, classifier_verdict and "
    "parity per sample",
    config=PublishedEvalConfig,
    code_version=1,
    resources=Resources(cpus=2, gpus=1, memory_gb=4),
    run=run,
    inputs={"model": ("midtrain", "aft")},
    key_fields=("config", "model", "cot", "inputs"),
    suite=SUITE,
)
