"""The job kinds that evaluate a run's final model: ``eval_qa`` and ``eval_agentic``.

Each generates with the best backend available (vLLM with the last adapter served as LoRA on a
CUDA host, batched transformers otherwise), judges, stores every sample and writes the
summary metrics with their intervals (``spec_qa.score``, ``agentic.harmful_rate`` and the
per-clause and per-condition breakdowns).
"""

from __future__ import annotations

from typing import Any

from db import evals as evalstore
from db import specs as specstore
from db import studies as studystore
from db.entities import MetricPoint, Stage
from engine.evals import judges
from engine.evals.configs import AgenticEvalConfig, QAEvalConfig
from engine.evals.runner import EvalResult, run_agentic, run_spec_qa
from engine.jobs.context import JobContext
from engine.jobs.kinds import Resources, job_kind
from engine.pipeline.stage_io import load_stage, model_under
from engine.train.configs import config_from_dict


def _backend(ctx: JobContext, stage: Stage) -> Any:
    from engine.backends.select import make_backend

    path, adapters = model_under(ctx, stage)
    backend = make_backend("auto", model_path=path, adapters=adapters)
    ctx.log(f"evaluating {path} + {len(adapters)} adapter(s) with the {backend.name} backend")
    return backend


def _store(ctx: JobContext, stage: Stage, result: EvalResult) -> dict[str, Any]:
    with ctx.database.write() as s:
        evalstore.replace_samples(s, stage.id, result.samples)
        studystore.add_metrics(
            s,
            [
                MetricPoint(
                    stage_id=stage.id,
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


@job_kind(
    "eval_qa",
    description="spec QA (in-distribution): answers scored 0-10 against the spec",
    resources=Resources(cpus=2, gpus=1, memory_gb=4),
)
def eval_qa(ctx: JobContext, payload: dict[str, Any]) -> dict[str, Any]:
    stage = load_stage(ctx, payload)
    config = config_from_dict(QAEvalConfig, stage.config["config"], where="eval_qa")
    with ctx.database.read() as s:
        version = specstore.get_version_by_id(s, int(stage.config["spec_version_id"]))
    backend = _backend(ctx, stage)
    result = run_spec_qa(
        backend, config, content=version.content, progress=lambda f, m: ctx.progress(f, m)
    )
    ctx.log(f"spec_qa.score = {result.metrics[0].value:.2f} (n={result.metrics[0].n})")
    return _store(ctx, stage, result)


@job_kind(
    "eval_agentic",
    description="agentic misalignment (out-of-distribution): % harmful actions per condition",
    resources=Resources(cpus=2, gpus=1, memory_gb=4),
)
def eval_agentic(ctx: JobContext, payload: dict[str, Any]) -> dict[str, Any]:
    stage = load_stage(ctx, payload)
    config = config_from_dict(AgenticEvalConfig, stage.config["config"], where="eval_agentic")
    backend = _backend(ctx, stage)
    second = None
    if config.second_opinion:
        judge_backend = backend
        if config.judge_base_url:
            from engine.backends.openai_backend import OpenAIBackend

            judge_backend = OpenAIBackend(config.judge_base_url, config.judge_model)
        second = judges.make(config.second_opinion, backend=judge_backend)
    result = run_agentic(
        backend, config, second_opinion=second, progress=lambda f, m: ctx.progress(f, m)
    )
    rate = result.metrics[0]
    ctx.log(f"agentic.harmful_rate = {rate.value:.2f} [{rate.ci_low:.2f}, {rate.ci_high:.2f}]")
    return _store(ctx, stage, result)
