"""What the two training stages (``midtrain``, ``aft``) share: TRL + PEFT training with
per-step metrics, resumable checkpoints and cancellation, and storing the trained weights."""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from db import studies as studystore
from db.entities import MetricPoint
from engine.jobs.context import JobContext
from engine.stages.io import model_under
from engine.stages.spec import StageSpec
from engine.train.configs import TrainConfig

if TYPE_CHECKING:
    from engine.train.sft import TrainOutcome


def train_stage(
    ctx: JobContext,
    spec: StageSpec,
    stage_id: int,
    rows: list[dict[str, Any]],
    form: Literal["text", "prompt_completion"],
) -> dict[str, Any]:
    """Train on ``rows`` on top of the model the stage's ``base`` input made (or the base
    model), store the adapter (or full weights) and return the run's summary."""
    from engine.train.sft import train

    config: TrainConfig = spec.config
    base_path, merge = model_under(ctx, spec)
    total = config.max_steps if config.max_steps > 0 else None

    def report(step: int, values: dict[str, float]) -> None:
        with ctx.database.write() as s:
            studystore.add_metrics(
                s,
                [
                    MetricPoint(
                        stage_id=stage_id, run_id=None, name=f"train/{k}", step=step, value=v
                    )
                    for k, v in values.items()
                ],
            )
        fraction = step / total if total else 0.0
        ctx.progress(
            min(fraction, 0.99),
            f"step {step}{f'/{total}' if total else ''}, loss {values['loss']:.3f}",
        )

    with _work_dir(ctx, spec, stage_id) as (work_dir, saved):
        outcome = train(
            model_path=base_path,
            rows=rows,
            form=form,
            config=config,
            work_dir=work_dir,
            merge_adapters=merge,
            report=report,
            check=ctx.check,
            log=ctx.log,
            saved=saved,
        )
        return _store_outcome(ctx, stage_id, config, outcome)


def _store_outcome(
    ctx: JobContext, stage_id: int, config: TrainConfig, outcome: TrainOutcome
) -> dict[str, Any]:
    role = "adapter" if config.method == "lora" else "model"
    art = ctx.artifacts.put_dir(outcome.output_dir, kind=role)
    with ctx.database.write() as s:
        studystore.add_stage_artifact(s, stage_id, art.id, role)
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
    }


#: The stage's link to its newest checkpoint in a remote artifact store.
CHECKPOINT_ROLE = "checkpoint"

Saved = Callable[[Path], None] | None


@contextmanager
def _work_dir(ctx: JobContext, spec: StageSpec, stage_id: int) -> Iterator[tuple[Path, Saved]]:
    """Where this attempt trains, and what to do with each checkpoint it saves.

    With a local artifact store, checkpoints stay in ``$SPECLAB_HOME/work/<stage key>``: the
    re-run of a stage whose worker died runs on the same machine and resumes from there.
    With a remote store (a cluster), the attempt may run on any node, so each checkpoint is
    stored as an artifact and linked to the stage as its ``checkpoint`` (the newest replaces
    the older link); a new attempt trains in a fresh scratch folder, seeded with that
    checkpoint downloaded from the store (hash-checked), and removes the folder afterwards.
    """
    if ctx.artifacts.remote is None:
        yield ctx.settings.home / "work" / spec.key, None
        return

    def saved(folder: Path) -> None:
        art = ctx.artifacts.put_dir(folder, kind=CHECKPOINT_ROLE)
        with ctx.database.write() as s:
            studystore.add_stage_artifact(s, stage_id, art.id, CHECKPOINT_ROLE)
        ctx.log(f"stored {folder.name} as artifact {art.sha256[:12]} in the artifact store")

    scratch = ctx.settings.home / "work" / "attempts"
    scratch.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f"{spec.key[:16]}-", dir=scratch))
    try:
        with ctx.database.read() as s:
            latest = studystore.get_stage(s, stage_id=stage_id).artifact(CHECKPOINT_ROLE)
        if latest is not None:
            source = ctx.artifacts.path(latest)
            state = json.loads((source / "trainer_state.json").read_text("utf-8"))
            step = int(state["global_step"])
            shutil.copytree(source, work / "checkpoints" / f"checkpoint-{step}")
            ctx.log(f"fetched checkpoint-{step} ({latest.sha256[:12]}) from the artifact store")
        yield work, saved
    finally:
        shutil.rmtree(work, ignore_errors=True)
