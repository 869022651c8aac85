"""Stage ``midtrain``: MSM, continued language-model training on the spec documents."""

from __future__ import annotations

from typing import Any

from engine.jobs.context import JobContext
from engine.jobs.kinds import Resources
from engine.stages.io import input_artifact, read_jsonl
from engine.stages.kind import StageKind
from engine.stages.spec import StageSpec
from engine.stages.training import train_stage
from engine.train.configs import TrainConfig


def run(ctx: JobContext, spec: StageSpec, stage_id: int) -> dict[str, Any]:
    docs = read_jsonl(ctx, input_artifact(ctx, spec, "docs", "docs"))
    return train_stage(ctx, spec, stage_id, [{"text": d["text"]} for d in docs], "text")


KIND = StageKind(
    name="midtrain",
    description="MSM: continued language-model training on the spec documents",
    config=TrainConfig,
    code_version=1,
    resources=Resources(cpus=2, gpus=1, memory_gb=8),
    run=run,
    inputs={"docs": ("gen_docs",)},
    outputs=("adapter", "model"),
    key_fields=("config", "model", "inputs"),
)
