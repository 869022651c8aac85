"""Stage ``gen_docs``: the MSM corpus, synthetic documents about one spec variant."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from db import specs as specstore
from db.entities import SpecContent, SpecVersion, Variant
from engine.backends.base import GenerationBackend, GenerationParams
from engine.data import msm
from engine.data.card import corpus_card
from engine.data.generation import BatchRunner, Journal
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


def writer_backend(
    config: msm.DocGenConfig, model: str, resolve_model: Callable[[str], str]
) -> tuple[GenerationBackend, str]:
    """(backend, model name) that write documents for the model and sdf generators.

    ``model`` is the study's model, used unless ``config.generator_model`` names another;
    ``resolve_model`` maps a model id to a local folder (preparing the built-in model), and is
    not called for an ``openai`` endpoint, which knows its models by name.
    """
    from engine.backends.select import make_backend

    name = config.generator_model or model
    if not name:
        raise InputError(
            f"the {config.generator} generator needs a model to write with", field="generator_model"
        )
    if config.backend == "openai":
        return make_backend("openai", model_path=name, base_url=config.base_url), name
    return make_backend(config.backend, model_path=resolve_model(name)), name


def build_stage_corpus(
    content: SpecContent,
    config: msm.DocGenConfig,
    *,
    model: str = "",
    resolve_model: Callable[[str], str] = str,
    check: Callable[[], None] | None = None,
    progress: msm.ProgressFn | None = None,
    journal: Path | None = None,
) -> msm.Corpus:
    """The corpus a ``gen_docs`` stage writes about ``content`` (a variant's clauses); the
    stage and ``speclab data docs`` both call this.

    ``model``: the study's model (see :func:`writer_backend`); ``check`` runs before each
    generation batch (it raises to cancel); ``journal``: the sdf generator's checkpoint file,
    so a re-run continues where an earlier one stopped.
    """
    if not config.uses_model:
        return msm.build_corpus(content, config, progress=progress)
    backend, name = writer_backend(config, model, resolve_model)
    if config.generator == "sdf":
        runner = BatchRunner(
            backend, journal=Journal(journal), batch_size=config.batch_size, check=check
        )
        return msm.build_sdf_corpus(
            content, config, runner, generator_model=name, progress=progress
        )
    params = GenerationParams(
        max_new_tokens=min(2 * config.target_words, 1024),
        temperature=config.temperature,
        seed=config.seed,
        batch_size=config.batch_size,
    )

    def generate(prompts: list[str]) -> list[str]:
        if check is not None:
            check()
        return backend.chat([[{"role": "user", "content": p}] for p in prompts], params)

    writer = msm.ModelDocWriter(generate, batch_size=config.batch_size)
    return msm.build_corpus(content, config, writer=writer, progress=progress)


def write_corpus(
    content: SpecContent,
    config: msm.DocGenConfig,
    *,
    model: str = "",
    resolve_model: Callable[[str], str] = str,
    check: Callable[[], None] | None = None,
    progress: msm.ProgressFn | None = None,
) -> list[dict[str, Any]]:
    """The rows of :func:`build_stage_corpus` (without a journal)."""
    return build_stage_corpus(
        content,
        config,
        model=model,
        resolve_model=resolve_model,
        check=check,
        progress=progress,
    ).rows


def run(ctx: JobContext, spec: StageSpec, stage_id: int) -> dict[str, Any]:
    config: msm.DocGenConfig = spec.config
    if spec.variant is None:
        raise InputError("a gen_docs stage needs a variant")
    with ctx.database.read() as s:
        variant = specstore.get_variant(s, spec.variant.id)
        version = specstore.get_version_by_id(s, variant.version_id)
    content = variant_clauses(variant, version)
    journal = ctx.settings.home / "work" / spec.key / "sdf-journal.jsonl"
    if config.generator == "sdf" and journal.is_file():
        ctx.log(f"resuming: reusing the model calls saved in {journal.name}")
    corpus = build_stage_corpus(
        content,
        config,
        model=spec.model,
        resolve_model=lambda m: model_path(ctx, m),
        check=ctx.check,
        progress=lambda f, m: ctx.progress(0.9 * f, m),
        journal=journal if config.generator == "sdf" else None,
    )
    rows = corpus.rows
    stats = msm.corpus_stats(rows)
    if corpus.funnel:
        f = corpus.funnel
        ctx.log(
            f"sdf: {f['types_kept']} types, {f['ideas_kept']} ideas "
            f"({f['ideas_unsuitable']} marked unsuitable), {f['documents_asked']} documents "
            f"asked for, {f['revised']} revised, {f['kept']} kept; rejected {f['rejected']}; "
            f"{f['generated']} model calls made, {f['reused']} reused from the journal"
        )
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
            **({"funnel": dict(corpus.funnel)} if corpus.funnel else {}),
        },
    )
    out = {"docs": len(rows), "artifact": art.sha256, "stats": stats, "card": card}
    return {**out, "funnel": dict(corpus.funnel)} if corpus.funnel else out


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
