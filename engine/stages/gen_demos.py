"""Stage ``gen_demos``: AFT demonstrations, as a with-CoT form and its stripped twin.

The demonstrations come from the built-in set, an imported set, or (``source: generate``) a
generator model that writes them with the variant's text in context, filtered by mechanical
checks and optionally an LLM judge (:mod:`engine.data.demo_writer`). Only a generating stage
has a variant and a model, so only its key (and its AFT stages' keys) differs by variant.
"""

from __future__ import annotations

import random
from typing import Any, TypeVar

from db import datasets as datastore
from db import specs as specstore
from engine.data import demo_writer as writer
from engine.data import demos as demodata
from engine.errors import InputError, SpecLabError
from engine.jobs.context import JobContext
from engine.jobs.kinds import Resources
from engine.specs.render import text_hash, variant_text
from engine.stages.io import PREVIEW_ROWS, model_path, store_dataset
from engine.stages.kind import StageKind
from engine.stages.spec import StageSpec
from engine.train.configs import BUILTIN, GENERATE, DemoConfig

#: The artifact role AFT reads, by whether it trains with chain-of-thought.
ROLE = {True: "demos_cot", False: "demos_plain"}
#: The checkpoint of written demonstrations, in the stage's work folder.
CHECKPOINT = "demos.jsonl"
#: Tokens for the LLM judge's reason and verdict.
JUDGE_TOKENS = 160

T = TypeVar("T")


def run(ctx: JobContext, spec: StageSpec, stage_id: int) -> dict[str, Any]:
    config: DemoConfig = spec.config
    provenance: dict[str, Any] = {"source": config.source, "seed": config.seed}
    extra: dict[str, Any] = {}
    if config.source == GENERATE:
        demos, written = _generate(ctx, spec, config)
        provenance |= written
        extra["filter"] = written["filter"]
    else:
        demos = _subsample(_demo_set(ctx, config.source), config)
    ctx.progress(0.95 if config.source == GENERATE else 0.5, f"{len(demos)} demonstrations")
    provenance["n"] = len(demos)
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
    return {"demos": len(demos), **out, "coverage": coverage, **extra}


def _demo_set(ctx: JobContext, source: str) -> list[demodata.Demo]:
    """The built-in demonstrations, or those of the imported dataset with hash ``source``."""
    if source == BUILTIN:
        return demodata.load_builtin()
    with ctx.database.read() as s:
        ds = datastore.by_artifact(s, source)
    return demodata.parse_demos_jsonl(ctx.artifacts.read_bytes(ds.artifact), source=ds.name)


def _subsample(items: list[T], config: DemoConfig) -> list[T]:
    """At most ``max_demos`` of ``items``, drawn by the seed, in their original order."""
    if config.max_demos and len(items) > config.max_demos:
        rng = random.Random(f"gen_demos:{config.seed}")
        chosen = set(rng.sample(range(len(items)), config.max_demos))
        return [x for i, x in enumerate(items) if i in chosen]
    return items


def _generate(
    ctx: JobContext, spec: StageSpec, config: DemoConfig
) -> tuple[list[demodata.Demo], dict[str, Any]]:
    """Demonstrations a generator model writes with the variant's text in context, filtered;
    returns them and what the dataset's provenance records about how."""
    from engine.backends.base import GenerationParams
    from engine.backends.select import make_backend

    if spec.variant is None:
        raise InputError("a gen_demos stage with source 'generate' needs a variant")
    with ctx.database.read() as s:
        variant = specstore.get_variant(s, spec.variant.id)
        version = specstore.get_version_by_id(s, variant.version_id)
    if variant.artifact is not None:
        spec_text = ctx.artifacts.read_bytes(variant.artifact).decode("utf-8")
    else:
        spec_text = variant_text(variant.rendering, variant.custom_text, version.content)
    if text_hash(spec_text) != spec.variant.text_hash:
        raise SpecLabError(
            f"variant {variant.name!r}'s stored text no longer matches the hash this stage "
            "was planned with; launch the study again"
        )
    items = _subsample(writer.prompts_from(_demo_set(ctx, config.prompts)), config)
    clauses = version.content.clauses
    if config.backend == "openai":
        backend = make_backend(
            "openai",
            model_path=spec.model,
            base_url=config.base_url,
            model_name=config.generator_model or None,
        )
    else:
        backend = make_backend(config.backend, model_path=model_path(ctx, spec.model))
    ctx.log(
        f"writing {len(items)} demonstrations from variant {variant.name} with "
        f"{spec.model} on the {backend.name} backend"
    )
    params = GenerationParams(
        max_new_tokens=config.max_new_tokens,
        temperature=config.temperature,
        seed=config.seed,
        batch_size=config.batch_size,
    )
    judge = None
    if config.judge == "llm":
        judge_backend = backend
        if config.judge_base_url:
            judge_backend = make_backend(
                "openai",
                model_path=config.judge_model or "default",
                base_url=config.judge_base_url,
            )
        judge_params = GenerationParams(
            max_new_tokens=JUDGE_TOKENS, temperature=0.0, batch_size=config.batch_size
        )
        # The judge sees each clause's rule (never the rationale), the same for every
        # variant: the filter is one instrument across the variants compared.
        judge = writer.ConsistencyJudge(
            lambda conversations: judge_backend.chat(conversations, judge_params),
            {c.code: f"{c.code}. {c.title}\n{c.rule}" for c in clauses},
        )
    demos, report = writer.write_demos(
        items,
        spec_text=spec_text,
        codes=[c.code for c in clauses],
        generate=lambda conversations: backend.chat(conversations, params),
        checkpoint=writer.Checkpoint(ctx.settings.home / "work" / spec.key / CHECKPOINT),
        batch_size=config.batch_size,
        judge=judge,
        check=ctx.check,
        progress=lambda f, m: ctx.progress(0.9 * f, m),
    )
    summary = report.to_dict()
    ctx.log(
        f"kept {report.kept} of {report.prompts} written demonstrations "
        f"(rejected: {summary['rejected'] or 'none'}; {report.resumed} read back from the "
        "checkpoint)"
    )
    if len(demos) < config.min_kept:
        raise InputError(
            f"{len(demos)} of the {report.prompts} demonstrations written from variant "
            f"{variant.name!r} passed the filter, fewer than min_kept={config.min_kept} "
            f"(rejected: {summary['rejected']}); use a stronger generator model, more "
            "max_new_tokens, or judge: none",
            field="overrides.gen_demos.min_kept",
        )
    return demos, {
        "prompts": config.prompts,
        "spec": version.ref,
        "variant": variant.name,
        "rendering": variant.rendering,
        "text_hash": variant.text_hash,
        "generator": {
            "backend": backend.name,
            "model": spec.model,
            "prompt_version": writer.WRITER_VERSION,
            "max_new_tokens": config.max_new_tokens,
            "temperature": config.temperature,
        },
        "filter": summary,
    }


KIND = StageKind(
    name="gen_demos",
    description="AFT demonstrations: with-CoT form and its stripped twin",
    config=DemoConfig,
    code_version=1,
    resources=Resources(cpus=0.5, memory_gb=0.5),
    run=run,
    outputs=tuple(ROLE.values()),
    key_fields=("config",),
    # Set only with source 'generate': the variant written from and the writing model.
    key_fields_when_set=("text_hash", "model"),
)
