"""Stage ``eval_qa``: spec QA (in-distribution), answers scored 0–10 against the spec."""

from __future__ import annotations

from typing import Any

from db import specs as specstore
from engine.errors import InputError
from engine.evals import judges
from engine.evals.configs import QAEvalConfig
from engine.evals.runner import run_spec_qa
from engine.jobs.context import JobContext
from engine.jobs.kinds import Resources
from engine.stages.evaluation import backend_for, store_result
from engine.stages.kind import StageKind
from engine.stages.spec import StageSpec

SUITE = "spec_qa"


def run(ctx: JobContext, spec: StageSpec, stage_id: int) -> dict[str, Any]:
    if spec.spec is None:
        raise InputError("an eval_qa stage needs the spec version it judges against")
    with ctx.database.read() as s:
        version = specstore.get_version_by_id(s, spec.spec.version_id)
    config: QAEvalConfig = spec.config
    backend = backend_for(ctx, spec)
    judge_kwargs: dict[str, Any] = {}
    if config.judge == "qa_llm":
        # The LLM judge runs on any backend: a named endpoint, or the evaluated model itself.
        judge_kwargs["backend"] = judges.judge_backend(
            config.judge_base_url, config.judge_model, backend
        )
    result = run_spec_qa(
        backend,
        config,
        content=version.content,
        judge_kwargs=judge_kwargs,
        progress=lambda f, m: ctx.progress(f, m),
    )
    ctx.log(f"spec_qa.score = {result.metrics[0].value:.2f} (n={result.metrics[0].n})")
    return store_result(ctx, stage_id, result)


KIND = StageKind(
    name="eval_qa",
    description="spec QA (in-distribution): answers scored 0-10 against the spec",
    config=QAEvalConfig,
    # 2: qa-rubric-v2 (stated, same-stance coverage) and forced-choice knowledge probes.
    code_version=2,
    resources=Resources(cpus=2, gpus=1, memory_gb=4),
    run=run,
    inputs={"model": ("midtrain", "aft")},
    key_fields=("config", "model", "cot", "inputs", "spec_hash"),
    suite=SUITE,
)
