"""Job kind ``render_variant``: render a spec variant to a content-addressed text artifact.

The training pipeline trains on this artifact, so a variant's text is fixed by its hash.
"""

from __future__ import annotations

from typing import Any

from db import specs as specstore
from engine.jobs.context import JobContext
from engine.jobs.kinds import Resources, job_kind
from engine.specs.render import variant_text, word_count


@job_kind(
    "render_variant",
    description="render a spec variant to a content-addressed text artifact",
    resources=Resources(cpus=0.1, memory_gb=0.2),
)
def render_variant(ctx: JobContext, payload: dict[str, Any]) -> dict[str, Any]:
    variant_id = int(payload["variant_id"])
    with ctx.database.read() as s:
        variant = specstore.get_variant(s, variant_id)
        version = specstore.get_version_by_id(s, variant.version_id)
    ctx.log(f"rendering {version.ref} as {variant.name} ({variant.rendering})")
    text = variant_text(variant.rendering, variant.custom_text, version.content)
    ctx.progress(0.5, "writing artifact")
    artifact = ctx.artifacts.put_bytes(
        text.encode("utf-8"), kind="variant_text", media_type="text/markdown"
    )
    with ctx.database.write() as s:
        specstore.set_variant_artifact(s, variant_id, artifact.id)
    ctx.log(f"artifact {artifact.sha256} ({artifact.bytes} bytes, {word_count(text)} words)")
    return {"artifact": artifact.sha256, "bytes": artifact.bytes, "words": word_count(text)}
