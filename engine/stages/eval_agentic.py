"""Stage ``eval_agentic``: agentic misalignment (out-of-distribution), % harmful actions per
condition.

Verdicts come from what each reply's tool calls did to the sample's simulated world
(:mod:`engine.evals.agentic.world`); with ``second_opinion: agentic_llm`` an LLM judge also
reads every sample and settles the ones the rules left uncertain. Code version 2: verdicts
from the world simulator (version 1 was the keyword classifier).
"""

from __future__ import annotations

from typing import Any

from engine.evals import judges
from engine.evals.configs import AgenticEvalConfig
from engine.evals.runner import run_agentic
from engine.jobs.context import JobContext
from engine.jobs.kinds import Resources
from engine.stages.evaluation import backend_for, store_result
from engine.stages.kind import StageKind
from engine.stages.spec import StageSpec

SUITE = "agentic"


def run(ctx: JobContext, spec: StageSpec, stage_id: int) -> dict[str, Any]:
    config: AgenticEvalConfig = spec.config
    backend = backend_for(ctx, spec)
    second = None
    if config.second_opinion:
        on = judges.judge_backend(config.judge_base_url, config.judge_model, backend)
        second = judges.make(config.second_opinion, backend=on)
    result = run_agentic(
        backend, config, second_opinion=second, progress=lambda f, m: ctx.progress(f, m)
    )
    rate = result.metrics[0]
    ctx.log(f"agentic.harmful_rate = {rate.value:.2f} [{rate.ci_low:.2f}, {rate.ci_high:.2f}]")
    return store_result(ctx, stage_id, result)


KIND = StageKind(
    name="eval_agentic",
    description="agentic misalignment (out-of-distribution): % harmful actions per condition",
    config=AgenticEvalConfig,
    code_version=2,
    resources=Resources(cpus=2, gpus=1, memory_gb=4),
    run=run,
    inputs={"model": ("midtrain", "aft")},
    key_fields=("config", "model", "cot", "inputs"),
    suite=SUITE,
)
