"""Typed configuration of the training stages, and the presets.

One dataclass per stage kind in the idiom of :mod:`engine.typed_config`: every field with a
help text and, for numbers, bounds. The same objects are stored as JSON with each stage, shown
in the dashboard and overridden from a study file (``overrides: {midtrain: {max_steps: 5}}``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from engine.errors import InputError
from engine.typed_config import setting

Precision = Literal["auto", "fp32", "bf16", "fp16"]
PRECISIONS = ("auto", "fp32", "bf16", "fp16")
SHA256_RE = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class TrainConfig:
    """Settings of one supervised training stage (TRL ``SFTTrainer`` + PEFT)."""

    max_steps: int = setting(
        "optimizer steps; 0 means train for `epochs` instead", 20, lo=0, hi=1_000_000
    )
    epochs: float = setting("passes over the data when max_steps is 0", 1.0, lo=0, hi=1000)
    learning_rate: float = setting("peak learning rate", 2e-4)
    lr_scheduler: str = setting("transformers scheduler name (linear, cosine, constant…)", "linear")
    warmup_steps: int = setting("linear warm-up steps", 0, lo=0, hi=1_000_000)
    batch_size: int = setting("sequences per device per step", 4, lo=1, hi=4096)
    grad_accum: int = setting("gradient accumulation steps", 1, lo=1, hi=4096)
    max_length: int = setting("truncate sequences to this many tokens", 256, lo=1, hi=262_144)
    method: str = setting("'lora' (adapter) or 'full' (all weights)", "lora")
    lora_r: int = setting("LoRA rank", 8, lo=1, hi=4096)
    lora_alpha: int = setting("LoRA scaling alpha", 16, lo=1, hi=65_536)
    lora_dropout: float = setting("dropout on LoRA layers", 0.0)
    lora_targets: tuple[str, ...] = setting(
        "module names LoRA adapts, or ('all-linear',)", ("q_proj", "v_proj")
    )
    precision: str = setting(
        "auto = fp32 on CPU (bf16 autocast is 16x slower there), bf16 on GPUs that support it",
        "auto",
    )
    gradient_checkpointing: bool | None = setting(
        "None = auto: off on CPU (it only costs time there), on for GPU presets", None
    )
    save_steps: int = setting("write a resumable checkpoint every N steps", 10, lo=1, hi=1_000_000)
    logging_steps: int = setting(
        "record loss, learning rate and tokens/s every N steps", 1, lo=1, hi=1_000_000
    )
    seed: int = setting("training seed (the study's seed replaces it per run)", 0, lo=0)

    def __post_init__(self) -> None:
        positive = ("batch_size", "grad_accum", "max_length", "lora_r", "lora_alpha")
        for name in positive:
            if getattr(self, name) < 1:
                raise InputError("must be at least 1", field=name)
        for name in ("save_steps", "logging_steps"):
            if getattr(self, name) < 1:
                raise InputError("must be at least 1", field=name)
        if self.max_steps < 0:
            raise InputError("must be 0 (train for epochs) or positive", field="max_steps")
        if self.max_steps == 0 and self.epochs <= 0:
            raise InputError("set max_steps > 0 or epochs > 0", field="max_steps")
        if not 0 < self.learning_rate < 1:
            raise InputError("must be between 0 and 1", field="learning_rate")
        if not 0 <= self.lora_dropout < 1:
            raise InputError("must be in [0, 1)", field="lora_dropout")
        if self.method not in ("lora", "full"):
            raise InputError("must be 'lora' or 'full'", field="method")
        if self.precision not in PRECISIONS:
            raise InputError(f"must be one of {', '.join(PRECISIONS)}", field="precision")
        if not self.lora_targets:
            raise InputError("name at least one module", field="lora_targets")


@dataclass(frozen=True)
class DemoConfig:
    """Settings of the ``gen_demos`` stage (AFT demonstrations)."""

    source: str = setting(
        "'builtin' (the demonstrations shipped with SpecLab) or the sha256 of an imported "
        "aft_demos dataset",
        "builtin",
    )
    max_demos: int = setting(
        "use at most this many demonstrations (0 = all)", 0, lo=0, hi=10_000_000
    )
    seed: int = setting("seed for shuffling and subsampling", 0, lo=0)

    def __post_init__(self) -> None:
        if self.source != "builtin" and not SHA256_RE.fullmatch(self.source):
            raise InputError(
                "must be 'builtin' or the sha256 of an imported dataset "
                "(`speclab data list` shows them)",
                field="source",
            )
