"""Stage ``gen_docs``: the MSM corpus, synthetic documents about one spec variant."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from db import specs as specstore
from db.entities import SpecContent, SpecVersion, Variant
from engine.data import msm
from engine.data.card import corpus_card
from engine.errors import InputError
from engine.jobs.context import JobContext
from engine.jobs.kinds import Resources
from engine.specs import formats
from engine.specs.render import CUSTOM, view
from engine.stages.io import model_path, store_dataset
from engine.stages.kind import StageKind
from engine.stages.spec import StageSpec


def variant_clauses(variant: Variant, version: SpecVersion) -> SpecContent:
    """The structured clauses a variant trains on: the version's clauses seen through the
    variant's rendering, or, for hand-edited text, that text's own clauses."""
    if variant.rendering != CUSTOM:
        return view(version.content, variant.rendering)
    try:
        return formats.parse_spec(
            (variant.custom_text or "").encode("utf-8"), filename=f"{variant.name}.md"
        ).content
    except InputError as exc:
        raise InputError(
            f"hand-edited variant {variant.name!r} must keep the '## CODE. Title' clause "
            f"structure for MSM document generation: {exc}"
        ) from exc


def write_corpus(
    content: SpecContent,
    config: msm.DocGenConfig,
    *,
    model_dir: str | None = None,
    check: Callable[[], None] | None = None,
    progress: msm.ProgressFn | None = None,
) -> list[dict[str, Any]]:
    """The documents a ``gen_docs`` stage writes about ``content`` (a variant's clauses); the
    stage and ``speclab data docs`` both call this. ``model_dir``: the writing model, for the
    ``model`` generator; ``check`` runs before each batch (it raises to cancel)."""
    writer = None
    if config.generator == "model":
        if model_dir is None:
            raise InputError("the model generator needs a model to write with", field="generator")
        from engine.backends.base import GenerationParams
        from engine.backends.transformers_backend import TransformersBackend

        backend = TransformersBackend(model_dir)
        params = GenerationParams(
            max_new_tokens=min(2 * config.target_words, 1024), temperature=0.8, seed=config.seed
        )

        def generate(prompts: list[str]) -> list[str]:
            if check is not None:
                check()
            return backend.chat([[{"role": "user", "content": p}] for p in prompts], params)

        writer = msm.ModelDocWriter(generate)
    return msm.generate_corpus(content, config, writer=writer, progress=progress)


def run(ctx: JobContext, spec: StageSpec, stage_id: int) -> dict[str, Any]:
    config: msm.DocGenConfig = spec.config
    if spec.variant is None:
        raise InputError("a gen_docs stage needs a variant")
    with ctx.database.read() as s:
        variant = specstore.get_variant(s, spec.variant.id)
        version = specstore.get_version_by_id(s, variant.version_id)
    content = variant_clauses(variant, version)
    rows = write_corpus(
        content,
        config,
        model_dir=model_path(ctx, spec.model) if config.generator == "model" else None,
        check=ctx.check,
        progress=lambda f, m: ctx.progress(0.9 * f, m),
    )
    stats = msm.corpus_stats(rows)
    card = corpus_card(rows, content, spec=version.content).to_dict()
    ctx.log(
        f"{len(rows)} documents, {stats.get('words', 0)} words for variant {variant.name}; "
        f"{card['mean_rule_statements']} rule statements and "
        f"{card['mean_rationale_sentences']} rationale sentences per document"
    )
    art = store_dataset(
        ctx,
        stage_id,
        spec.key,
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
            "design": config.design,
            "card": card,
        },
    )
    return {"docs": len(rows), "artifact": art.sha256, "stats": stats, "card": card}


KIND = StageKind(
    name="gen_docs",
    description="MSM corpus: synthetic documents about a spec variant",
    config=msm.DocGenConfig,
    # 2: documents are written from the variant's structured clauses, not its re-parsed text.
    # 3: corpus designs (rule exposure and length held equal across variants by default).
    code_version=3,
    resources=Resources(cpus=1, memory_gb=1),
    run=run,
    outputs=("docs",),
    key_fields=("config", "text_hash", "model"),
)
