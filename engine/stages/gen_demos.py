"""Stage ``gen_demos``: AFT demonstrations, as a with-CoT form and its stripped twin."""

from __future__ import annotations

import random
from typing import Any

from db import datasets as datastore
from engine.data import demos as demodata
from engine.jobs.context import JobContext
from engine.jobs.kinds import Resources
from engine.stages.io import PREVIEW_ROWS, store_dataset
from engine.stages.kind import StageKind
from engine.stages.spec import StageSpec
from engine.train.configs import DemoConfig

#: The artifact role AFT reads, by whether it trains with chain-of-thought.
ROLE = {True: "demos_cot", False: "demos_plain"}


def run(ctx: JobContext, spec: StageSpec, stage_id: int) -> dict[str, Any]:
    config: DemoConfig = spec.config
    if config.source == "builtin":
        demos = demodata.load_builtin()
    else:
        with ctx.database.read() as s:
            ds = datastore.by_artifact(s, config.source)
        demos = demodata.parse_demos_jsonl(ctx.artifacts.read_bytes(ds.artifact), source=ds.name)
    if config.max_demos and len(demos) > config.max_demos:
        rng = random.Random(f"gen_demos:{config.seed}")
        demos = sorted(rng.sample(demos, config.max_demos), key=lambda d: d.id)
    ctx.progress(0.5, f"{len(demos)} demonstrations")
    provenance = {"source": config.source, "seed": config.seed, "n": len(demos)}
    preview = [
        {
            "id": d.id,
            "clauses": list(d.clauses),
            "prompt": d.prompt,
            "reasoning": d.reasoning,
            "response": d.response,
        }
        for d in demos[:PREVIEW_ROWS]
    ]
    out = {}
    for cot, role in ROLE.items():
        art = store_dataset(
            ctx,
            stage_id,
            spec.key,
            demodata.to_aft_rows(demos, cot=cot),
            kind="aft_demos",
            role=role,
            name=f"aft demos ({'with' if cot else 'without'} CoT)",
            provenance={**provenance, "cot": cot},
            preview=preview,
        )
        out[role] = art.sha256
    coverage = demodata.coverage(demos)
    ctx.log(f"coverage by clause: {coverage}")
    return {"demos": len(demos), **out, "coverage": coverage}


KIND = StageKind(
    name="gen_demos",
    description="AFT demonstrations: with-CoT form and its stripped twin",
    config=DemoConfig,
    code_version=1,
    resources=Resources(cpus=0.5, memory_gb=0.5),
    run=run,
    outputs=tuple(ROLE.values()),
    key_fields=("config",),
)
