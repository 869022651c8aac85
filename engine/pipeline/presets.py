"""Stage settings presets: ``cpu-smoke`` (minutes on a 2-core laptop with the built-in model),
``gpu-paper`` (sizes for 7–32B models on GPUs) and ``custom`` (the config classes' defaults,
to be overridden field by field)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from engine.data.msm import DocGenConfig
from engine.errors import InputError
from engine.train.configs import DemoConfig, TrainConfig, as_dict, with_overrides


@dataclass(frozen=True)
class StageConfigs:
    """The settings of every stage kind in a study."""

    gen_docs: DocGenConfig
    midtrain: TrainConfig
    gen_demos: DemoConfig
    aft: TrainConfig

    def for_kind(self, kind: str) -> Any:
        return getattr(self, kind)

    def to_dict(self) -> dict[str, dict[str, Any]]:
        return {k: as_dict(getattr(self, k)) for k in ("gen_docs", "midtrain", "gen_demos", "aft")}


# LoRA on all linear layers in bf16 with checkpointing: sized for 7-32B models on 80 GB GPUs.
_GPU_TRAIN = TrainConfig(
    max_steps=0,
    epochs=1.0,
    learning_rate=1e-4,
    lr_scheduler="cosine",
    warmup_steps=20,
    batch_size=8,
    grad_accum=4,
    max_length=2048,
    lora_r=64,
    lora_alpha=128,
    lora_targets=("all-linear",),
    precision="bf16",
    gradient_checkpointing=True,
    save_steps=200,
    logging_steps=5,
)

PRESETS: dict[str, StageConfigs] = {
    "cpu-smoke": StageConfigs(
        gen_docs=DocGenConfig(docs_per_clause=6, target_words=150),
        midtrain=TrainConfig(
            max_steps=12, learning_rate=5e-4, batch_size=4, max_length=160, save_steps=4
        ),
        gen_demos=DemoConfig(max_demos=96),
        aft=TrainConfig(
            max_steps=12, learning_rate=5e-4, batch_size=4, max_length=192, save_steps=4
        ),
    ),
    "gpu-paper": StageConfigs(
        gen_docs=DocGenConfig(docs_per_clause=400, target_words=450),
        midtrain=_GPU_TRAIN,
        gen_demos=DemoConfig(),
        aft=replace(_GPU_TRAIN, epochs=2.0, warmup_steps=10, grad_accum=2, save_steps=100),
    ),
    "custom": StageConfigs(
        gen_docs=DocGenConfig(), midtrain=TrainConfig(), gen_demos=DemoConfig(), aft=TrainConfig()
    ),
}


def resolve(preset: str, overrides: dict[str, dict[str, Any]]) -> StageConfigs:
    """The preset's stage settings with ``overrides`` applied, every error naming its key."""
    try:
        configs = PRESETS[preset]
    except KeyError:
        raise InputError(
            f"unknown preset {preset!r}; known: {', '.join(PRESETS)}", field="preset"
        ) from None
    changes = {
        kind: with_overrides(configs.for_kind(kind), dict(values), where=f"overrides.{kind}")
        for kind, values in overrides.items()
    }
    return replace(configs, **changes)
