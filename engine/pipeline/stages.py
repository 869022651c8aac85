"""The job kinds that execute pipeline stages: ``gen_docs``, ``midtrain``, ``gen_demos``, ``aft``.

Each job's payload is ``{"stage_id": …}``; the stage row holds the settings and the keys of
its input stages, whose artifacts it reads. Outputs are content-addressed artifacts linked to
the stage with a role (``docs``, ``adapter``, ``demos_cot``, ``demos_plain``).
"""

from __future__ import annotations

import random
from typing import Any

from db import datasets as datastore
from db import specs as specstore
from db import studies as studystore
from db.entities import MetricPoint, Stage
from engine.data import demos as demodata
from engine.data import msm
from engine.errors import InputError
from engine.jobs.context import JobContext
from engine.jobs.kinds import Resources, job_kind
from engine.pipeline.stage_io import (
    PREVIEW_ROWS,
    input_stage,
    load_stage,
    model_path,
    read_jsonl,
    require,
    store_dataset,
)
from engine.specs import formats
from engine.specs.render import variant_text
from engine.train.configs import DemoConfig, TrainConfig, config_from_dict

# -- gen_docs ------------------------------------------------------------------------------


@job_kind(
    "gen_docs",
    description="MSM corpus: synthetic documents about a spec variant",
    resources=Resources(cpus=1, memory_gb=1),
)
def gen_docs(ctx: JobContext, payload: dict[str, Any]) -> dict[str, Any]:
    stage = load_stage(ctx, payload)
    config = config_from_dict(msm.DocGenConfig, stage.config["config"], where="gen_docs")
    with ctx.database.read() as s:
        variant = specstore.get_variant(s, int(stage.config["variant_id"]))
        version = specstore.get_version_by_id(s, variant.version_id)
    text = variant_text(variant.rendering, variant.custom_text, version.content)
    # The corpus is a function of the exact text trained on: read the rendering back.
    try:
        content = formats.parse_spec(text.encode("utf-8"), filename=f"{variant.name}.md").content
    except InputError as exc:
        raise InputError(
            f"variant {variant.name!r} must keep the '## CODE. Title' clause structure for "
            f"MSM document generation: {exc}"
        ) from exc
    writer = None
    if config.generator == "model":
        from engine.backends.base import GenerationParams
        from engine.backends.transformers_backend import TransformersBackend

        backend = TransformersBackend(model_path(ctx, str(stage.config["model"])))
        params = GenerationParams(
            max_new_tokens=min(2 * config.target_words, 1024), temperature=0.8, seed=config.seed
        )

        def generate(prompts: list[str]) -> list[str]:
            ctx.check()
            return backend.chat([[{"role": "user", "content": p}] for p in prompts], params)

        writer = msm.ModelDocWriter(generate)
    rows = msm.generate_corpus(
        content, config, writer=writer, progress=lambda f, m: ctx.progress(0.9 * f, m)
    )
    stats = msm.corpus_stats(rows)
    ctx.log(f"{len(rows)} documents, {stats.get('words', 0)} words for variant {variant.name}")
    art = store_dataset(
        ctx,
        stage,
        rows,
        kind="msm_docs",
        role="docs",
        name=f"msm docs {version.ref} {variant.name}",
        provenance={
            "spec": version.ref,
            "variant": variant.name,
            "rendering": variant.rendering,
            "text_hash": variant.text_hash,
            "generator": config.generator,
            "seed": config.seed,
        },
    )
    return {"docs": len(rows), "artifact": art.sha256, "stats": stats}


# -- gen_demos -----------------------------------------------------------------------------


@job_kind(
    "gen_demos",
    description="AFT demonstrations: with-CoT form and its stripped twin",
    resources=Resources(cpus=0.5, memory_gb=0.5),
)
def gen_demos(ctx: JobContext, payload: dict[str, Any]) -> dict[str, Any]:
    stage = load_stage(ctx, payload)
    config: DemoConfig = config_from_dict(DemoConfig, stage.config["config"], where="gen_demos")
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
    for cot in (True, False):
        role = "demos_cot" if cot else "demos_plain"
        art = store_dataset(
            ctx,
            stage,
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


# -- training ------------------------------------------------------------------------------


def _train_stage(
    ctx: JobContext, stage: Stage, rows: list[dict[str, Any]], form: str, base: Stage | None
) -> dict[str, Any]:
    from engine.train.sft import train

    config: TrainConfig = config_from_dict(TrainConfig, stage.config["config"], where=stage.kind)
    base_path = model_path(ctx, str(stage.config["model"]))
    merge: list[Any] = []
    lineage: list[str] = []
    if base is not None:
        base_art = require(base, "adapter") if base.artifact("adapter") else require(base, "model")
        path = ctx.artifacts.path(base_art)
        lineage = [base_art.sha256]
        if base_art.kind == "model":
            base_path = str(path)
        else:
            merge.append(path)
    total = config.max_steps if config.max_steps > 0 else None

    def report(step: int, values: dict[str, float]) -> None:
        with ctx.database.write() as s:
            studystore.add_metrics(
                s,
                [
                    MetricPoint(
                        stage_id=stage.id, run_id=None, name=f"train/{k}", step=step, value=v
                    )
                    for k, v in values.items()
                ],
            )
        fraction = step / total if total else 0.0
        ctx.progress(
            min(fraction, 0.99),
            f"step {step}{f'/{total}' if total else ''}, loss {values['loss']:.3f}",
        )

    work_dir = ctx.settings.home / "work" / stage.key
    outcome = train(
        model_path=base_path,
        rows=rows,
        form=form,  # type: ignore[arg-type]
        config=config,
        work_dir=work_dir,
        merge_adapters=merge,
        report=report,
        check=ctx.check,
        log=ctx.log,
    )
    role = "adapter" if config.method == "lora" else "model"
    art = ctx.artifacts.put_dir(outcome.output_dir, kind=role)
    with ctx.database.write() as s:
        studystore.add_stage_artifact(s, stage.id, art.id, role)
    return {
        "artifact": art.sha256,
        "global_step": outcome.global_step,
        "resumed_from_step": outcome.resumed_from_step,
        "tokens": outcome.tokens_seen,
        "train_seconds": round(outcome.train_seconds, 3),
        "tokens_per_second": round(outcome.tokens_per_second, 2),
        "final_loss": outcome.final_loss,
        "device": outcome.device,
        "precision": outcome.precision,
        "lineage": [*lineage, art.sha256],
    }


@job_kind(
    "midtrain",
    description="MSM: continued language-model training on the spec documents",
    resources=Resources(cpus=2, gpus=1, memory_gb=8),
)
def midtrain(ctx: JobContext, payload: dict[str, Any]) -> dict[str, Any]:
    stage = load_stage(ctx, payload)
    docs = read_jsonl(ctx, require(input_stage(ctx, stage, "docs"), "docs"))
    rows = [{"text": d["text"]} for d in docs]
    return _train_stage(ctx, stage, rows, "text", None)


@job_kind(
    "aft",
    description="AFT: supervised fine-tuning on demonstrations (reply-only loss)",
    resources=Resources(cpus=2, gpus=1, memory_gb=8),
)
def aft(ctx: JobContext, payload: dict[str, Any]) -> dict[str, Any]:
    stage = load_stage(ctx, payload)
    role = "demos_cot" if stage.config.get("cot") else "demos_plain"
    rows = read_jsonl(ctx, require(input_stage(ctx, stage, "demos"), role))
    base = input_stage(ctx, stage, "base") if "base" in stage.config["inputs"] else None
    return _train_stage(ctx, stage, rows, "prompt_completion", base)
