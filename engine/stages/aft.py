"""Stage ``aft``: alignment fine-tuning on demonstrations (loss on the reply only), on the
base model or on top of the midtrained one."""

from __future__ import annotations

from typing import Any

from engine.jobs.context import JobContext
from engine.jobs.kinds import Resources
from engine.stages.gen_demos import ROLE
from engine.stages.io import input_artifact, read_jsonl
from engine.stages.kind import StageKind
from engine.stages.spec import StageSpec
from engine.stages.training import train_stage
from engine.train.configs import TrainConfig


def run(ctx: JobContext, spec: StageSpec, stage_id: int) -> dict[str, Any]:
    rows = read_jsonl(ctx, input_artifact(ctx, spec, "demos", ROLE[spec.cot]))
    return train_stage(ctx, spec, stage_id, rows, "prompt_completion")


KIND = StageKind(
    name="aft",
    description="AFT: supervised fine-tuning on demonstrations (reply-only loss)",
    config=TrainConfig,
    code_version=1,
    resources=Resources(cpus=2, gpus=1, memory_gb=8),
    run=run,
    inputs={"demos": ("gen_demos",), "base": ("midtrain",)},
    outputs=("adapter", "model"),
    key_fields=("config", "model", "cot", "inputs"),
)
