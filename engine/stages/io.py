"""What stage code shares: reading its spec and inputs, storing outputs, and finding the model
a stage trains on or evaluates.

Outputs travel one way: a stage links its artifacts to its row (with a role), and whoever
consumes it reads them from there, following the input keys of the specs. A model's lineage
(base weights, then each adapter in order) is found the same way, never from a job's result.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from db import datasets as datastore
from db import studies as studystore
from db.entities import Artifact, Stage
from db.session import Database
from engine.errors import SpecLabError
from engine.jobs.context import JobContext
from engine.stages.spec import StageSpec

PREVIEW_ROWS = 5
#: Input roles that carry a model (the one a stage trains on top of, or evaluates).
MODEL_INPUTS = ("base", "model")


def stage_row(ctx: JobContext, key: str) -> Stage:
    with ctx.database.read() as s:
        return studystore.get_stage(s, key=key)


def require(stage: Stage, role: str) -> Artifact:
    art = stage.artifact(role)
    if art is None:
        raise SpecLabError(f"stage {stage.kind} {stage.key[:12]} has no '{role}' artifact")
    return art


def input_artifact(ctx: JobContext, spec: StageSpec, role: str, output: str) -> Artifact:
    """The ``output`` artifact of the stage that fills input ``role`` of ``spec``."""
    return require(stage_row(ctx, spec.inputs[role]), output)


def jsonl_bytes(rows: list[dict[str, Any]]) -> bytes:
    return "".join(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n" for r in rows).encode(
        "utf-8"
    )


def read_jsonl(ctx: JobContext, art: Artifact) -> list[dict[str, Any]]:
    text = ctx.artifacts.read_bytes(art).decode("utf-8")
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def store_dataset(
    ctx: JobContext,
    stage_id: int,
    key: str,
    rows: list[dict[str, Any]],
    *,
    kind: str,
    role: str,
    name: str,
    provenance: dict[str, Any],
    preview: list[dict[str, Any]] | None = None,
) -> Artifact:
    art = ctx.artifacts.put_bytes(jsonl_bytes(rows), kind=kind, media_type="application/jsonl")
    with ctx.database.write() as s:
        datastore.add(
            s,
            kind=kind,
            name=name,
            artifact_id=art.id,
            n_rows=len(rows),
            provenance={**provenance, "stage_key": key},
            preview=preview if preview is not None else rows[:PREVIEW_ROWS],
            created_by=ctx.job.created_by,
        )
        studystore.add_stage_artifact(s, stage_id, art.id, role)
    return art


def model_path(ctx: JobContext, model_id: str) -> str:
    """A local path (or hub id) for a base model id, preparing the built-in model once."""
    from engine.train import builtin_model, registry

    ref = registry.resolve(model_id, ctx.settings)
    if ref.source == "builtin" and not registry.is_prepared(ctx.settings, model_id):
        ctx.log("preparing the built-in model (first use)")
        builtin_model.prepare(ctx.settings, model_id=model_id, log=ctx.log)
    return str(ref.path) if ref.path is not None else ref.id


def lineage(database: Database, key: str) -> list[Artifact]:
    """The trained artifacts, oldest first, that make up the model stage ``key`` produced
    (for a training stage) or consumed (for any other stage)."""
    with database.read() as s:
        stage = studystore.get_stage(s, key=key)
    spec = StageSpec.from_json(stage.kind, stage.config)
    below = next((spec.inputs[r] for r in MODEL_INPUTS if r in spec.inputs), None)
    chain = lineage(database, below) if below else []
    own = stage.artifact("adapter") or stage.artifact("model")
    return [*chain, own] if own is not None else chain


def model_under(ctx: JobContext, spec: StageSpec) -> tuple[str, list[Path]]:
    """(base model path, adapters to apply in order) for the model a stage consumes: the
    base model itself, or the final model of its ``base``/``model`` input stage."""
    path = model_path(ctx, spec.model)
    below = next((spec.inputs[r] for r in MODEL_INPUTS if r in spec.inputs), None)
    adapters: list[Path] = []
    for art in lineage(ctx.database, below) if below else []:
        if art.kind == "model":  # a full fine-tune replaces the base; later adapters stack
            path, adapters = str(ctx.artifacts.path(art)), []
        else:
            adapters.append(ctx.artifacts.path(art))
    return path, adapters
