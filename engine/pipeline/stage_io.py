"""What stage jobs share: loading their stage, reading inputs, storing outputs, and finding
the model a stage trains or evaluates."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from db import artifacts as artifactstore
from db import datasets as datastore
from db import jobs as jobstore
from db import studies as studystore
from db.entities import Artifact, Stage
from engine.errors import SpecLabError
from engine.jobs.context import JobContext

PREVIEW_ROWS = 5


def load_stage(ctx: JobContext, payload: dict[str, Any]) -> Stage:
    with ctx.database.read() as s:
        return studystore.get_stage(s, stage_id=int(payload["stage_id"]))


def input_stage(ctx: JobContext, stage: Stage, role: str) -> Stage:
    key = stage.config["inputs"][role]
    with ctx.database.read() as s:
        return studystore.get_stage(s, key=key)


def require(stage: Stage, role: str) -> Artifact:
    art = stage.artifact(role)
    if art is None:
        raise SpecLabError(f"stage {stage.kind} {stage.key[:12]} has no '{role}' artifact")
    return art


def jsonl_bytes(rows: list[dict[str, Any]]) -> bytes:
    return "".join(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n" for r in rows).encode(
        "utf-8"
    )


def read_jsonl(ctx: JobContext, art: Artifact) -> list[dict[str, Any]]:
    text = ctx.artifacts.read_bytes(art).decode("utf-8")
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def store_dataset(
    ctx: JobContext,
    stage: Stage,
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
            provenance={**provenance, "stage_key": stage.key},
            preview=preview if preview is not None else rows[:PREVIEW_ROWS],
            created_by=ctx.job.created_by,
        )
        studystore.add_stage_artifact(s, stage.id, art.id, role)
    return art


def model_path(ctx: JobContext, model_id: str) -> str:
    from engine.train import builtin_model, registry

    ref = registry.resolve(model_id, ctx.settings)
    if ref.source == "builtin" and not registry.is_prepared(ctx.settings, model_id):
        ctx.log("preparing the built-in model (first use)")
        builtin_model.prepare(ctx.settings, model_id=model_id, log=ctx.log)
    return str(ref.path) if ref.path is not None else ref.id


def model_under(ctx: JobContext, stage: Stage) -> tuple[str, list[Path]]:
    """(base model path, adapters to apply in order) for the model a stage consumes: the
    base model itself, or the final model of its ``model`` input stage (its lineage)."""
    path = model_path(ctx, str(stage.config["model"]))
    key = stage.config.get("inputs", {}).get("model")
    if not key:
        return path, []
    target = input_stage(ctx, stage, "model")
    if target.job_id is None:
        raise SpecLabError(f"stage {target.kind} {target.key[:12]} has no job")
    with ctx.database.read() as s:
        lineage = jobstore.get(s, target.job_id).result.get("lineage", [])
        arts = [artifactstore.get_by_sha(s, sha) for sha in lineage]
    adapters: list[Path] = []
    for art in arts:
        if art.kind == "model":  # a full fine-tune replaces the base; later adapters stack
            path, adapters = str(ctx.artifacts.path(art)), []
        else:
            adapters.append(ctx.artifacts.path(art))
    return path, adapters
