"""Typed configuration of the training stages, and the presets.

One dataclass per stage kind, every field with a help text, validated on construction. The
same objects are stored as JSON with each stage, shown in the dashboard and overridden from a
study file (``overrides: {midtrain: {max_steps: 5}}``).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Literal

from engine.errors import InputError

Precision = Literal["auto", "fp32", "bf16", "fp16"]
PRECISIONS = ("auto", "fp32", "bf16", "fp16")


def setting(text: str, default: Any) -> Any:
    """A config field with its help text (shown in the dashboard and ``--help``)."""
    if isinstance(default, list | dict):
        raise TypeError("use tuples for sequence defaults")
    return field(default=default, metadata={"help": text})


@dataclass(frozen=True)
class TrainConfig:
    """Settings of one supervised training stage (TRL ``SFTTrainer`` + PEFT)."""

    max_steps: int = setting("optimizer steps; 0 or less means train for `epochs` instead", 20)
    epochs: float = setting("passes over the data when max_steps <= 0", 1.0)
    learning_rate: float = setting("peak learning rate", 2e-4)
    lr_scheduler: str = setting("transformers scheduler name (linear, cosine, constant…)", "linear")
    warmup_steps: int = setting("linear warm-up steps", 0)
    batch_size: int = setting("sequences per device per step", 4)
    grad_accum: int = setting("gradient accumulation steps", 1)
    max_length: int = setting("truncate sequences to this many tokens", 256)
    method: str = setting("'lora' (adapter) or 'full' (all weights)", "lora")
    lora_r: int = setting("LoRA rank", 8)
    lora_alpha: int = setting("LoRA scaling alpha", 16)
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
    save_steps: int = setting("write a resumable checkpoint every N steps", 10)
    logging_steps: int = setting("record loss, learning rate and tokens/s every N steps", 1)
    seed: int = setting("training seed (the study's seed replaces it per run)", 0)

    def __post_init__(self) -> None:
        positive = ("batch_size", "grad_accum", "max_length", "lora_r", "lora_alpha")
        for name in positive:
            if getattr(self, name) < 1:
                raise InputError("must be at least 1", field=name)
        for name in ("save_steps", "logging_steps"):
            if getattr(self, name) < 1:
                raise InputError("must be at least 1", field=name)
        if self.max_steps <= 0 and self.epochs <= 0:
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
    max_demos: int = setting("use at most this many demonstrations (0 = all)", 0)
    seed: int = setting("seed for shuffling and subsampling", 0)

    def __post_init__(self) -> None:
        if self.max_demos < 0:
            raise InputError("must be 0 (all) or positive", field="max_demos")
        if not self.source:
            raise InputError("is required", field="source")


def _from_mapping(cls: type[Any], data: dict[str, Any], where: str) -> Any:
    names = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - set(names))
    if unknown:
        raise InputError(
            f"unknown setting {unknown[0]!r}; known: {', '.join(sorted(names))}",
            field=f"{where}.{unknown[0]}",
        )
    values = dict(data)
    for name, value in data.items():
        if isinstance(value, list):
            values[name] = tuple(value)
    try:
        return cls(**values)
    except InputError as exc:
        raise InputError(exc.detail, field=f"{where}.{exc.field}") from None
    except TypeError as exc:
        raise InputError(str(exc), field=where) from None


def config_from_dict(cls: type[Any], data: dict[str, Any], *, where: str) -> Any:
    """Build a stage config from a mapping, naming ``where.key`` in every error."""
    return _from_mapping(cls, data, where)


def with_overrides(config: Any, overrides: dict[str, Any], *, where: str) -> Any:
    """A copy of ``config`` with ``overrides`` applied and validated."""
    if not isinstance(overrides, dict):
        raise InputError("expected a mapping of settings", field=where)
    return _from_mapping(type(config), {**as_dict(config), **overrides}, where)


def as_dict(config: Any) -> dict[str, Any]:
    """JSON-ready dict of a config (tuples become lists)."""
    out = dataclasses.asdict(config)
    return {k: list(v) if isinstance(v, tuple) else v for k, v in out.items()}


def help_texts(cls: type[Any]) -> dict[str, str]:
    return {f.name: f.metadata.get("help", "") for f in dataclasses.fields(cls)}
