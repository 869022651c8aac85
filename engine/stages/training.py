"""What the two training stages (``midtrain``, ``aft``) share: TRL + PEFT training with
per-step metrics, resumable checkpoints and cancellation, and storing the trained weights."""

from __future__ import annotations

from typing import Any, Literal

from db import studies as studystore
from db.entities import MetricPoint
from engine.jobs.context import JobContext
from engine.stages.io import model_under
from engine.stages.spec import StageSpec
from engine.train.configs import TrainConfig


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

    outcome = train(
        model_path=base_path,
        rows=rows,
        form=form,
        config=config,
        work_dir=ctx.settings.home / "work" / spec.key,
        merge_adapters=merge,
        report=report,
        check=ctx.check,
        log=ctx.log,
    )
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
