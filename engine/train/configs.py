"""Typed configuration of the training stages, and the presets.

One dataclass per stage kind in the idiom of :mod:`engine.typed_config`: every field with a
help text and, for numbers, bounds. The same objects are stored as JSON with each stage, shown
in the dashboard and overridden from a study file (``overrides: {midtrain: {max_steps: 5}}``).
"""

from __future__ import annotations

import dataclasses
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


#: ``gen_demos`` sources besides an imported dataset's sha256.
BUILTIN = "builtin"
GENERATE = "generate"
#: Generation backends ``source: generate`` may name (those of ``engine.backends.select``).
DEMO_BACKENDS = ("auto", "transformers", "vllm", "openai")
DEMO_JUDGES = ("none", "llm")


@dataclass(frozen=True)
class DemoConfig:
    """Settings of the ``gen_demos`` stage (AFT demonstrations).

    The settings after ``seed`` apply to ``source: generate`` only. With any other source they
    must stay at their defaults and are left out of the stage's key (:meth:`unkeyed_settings`),
    so stages keyed before they existed keep their keys.
    """

    source: str = setting(
        "'builtin' (the demonstrations shipped with SpecLab), 'generate' (a generator model "
        "writes demonstrations with the variant's text in context; a judge filters them) or "
        "the sha256 of an imported aft_demos dataset",
        BUILTIN,
    )
    max_demos: int = setting(
        "use at most this many demonstrations (0 = all); with 'generate', prompts to write for",
        0,
        lo=0,
        hi=10_000_000,
    )
    seed: int = setting("seed for shuffling, subsampling and sampling", 0, lo=0)
    prompts: str = setting(
        "for 'generate': 'builtin' (the prompts of the built-in demonstrations, agentic and "
        "chat, with their clause codes) or the sha256 of an imported aft_demos dataset whose "
        "prompts are used (its responses are not)",
        BUILTIN,
    )
    backend: str = setting(
        "for 'generate': generation backend (auto, transformers, vllm, openai)", "auto"
    )
    base_url: str = setting(
        "for 'generate' with backend 'openai': the endpoint's API root, e.g. "
        "http://127.0.0.1:8000/v1",
        "",
    )
    generator_model: str = setting(
        "for 'generate': the writing model ('' = the study's base model); with backend "
        "'openai', the model name served at base_url (required there)",
        "",
    )
    judge: str = setting(
        "for 'generate': 'none' (mechanical checks only) or 'llm' (also ask an LLM whether "
        "each demonstration is consistent with its clauses: yes/no and a reason)",
        "none",
    )
    judge_base_url: str = setting(
        "for judge 'llm': an OpenAI-compatible endpoint ('' = the generator's own backend)", ""
    )
    judge_model: str = setting("for judge 'llm': the model name at judge_base_url", "")
    max_new_tokens: int = setting(
        "for 'generate': tokens per written demonstration", 384, lo=16, hi=32_768
    )
    temperature: float = setting(
        "for 'generate': sampling temperature (0 = greedy)", 0.7, lo=0, hi=2
    )
    batch_size: int = setting(
        "for 'generate': prompts per generation batch (and per checkpoint)", 8, lo=1, hi=4096
    )
    min_kept: int = setting(
        "for 'generate': fail the stage when fewer demonstrations than this pass the filter "
        "(0 = store whatever passed, even none)",
        1,
        lo=0,
        hi=10_000_000,
    )

    @property
    def runs_local_model(self) -> bool:
        """Whether the stage loads a model itself (``generate`` without an endpoint): on a
        cluster it then asks for a GPU like the other model stages."""
        return self.source == GENERATE and self.backend != "openai"

    def __post_init__(self) -> None:
        if self.source not in (BUILTIN, GENERATE) and not SHA256_RE.fullmatch(self.source):
            raise InputError(
                "must be 'builtin', 'generate' or the sha256 of an imported dataset "
                "(`speclab data list` shows them)",
                field="source",
            )
        for name in self.unkeyed_settings():
            if getattr(self, name) != _DEMO_DEFAULTS[name]:
                raise InputError(
                    "applies only to source 'generate'; remove it or set source: generate",
                    field=name,
                )
        if self.prompts != BUILTIN and not SHA256_RE.fullmatch(self.prompts):
            raise InputError(
                "must be 'builtin' or the sha256 of an imported aft_demos dataset",
                field="prompts",
            )
        if self.backend not in DEMO_BACKENDS:
            raise InputError(f"must be one of {', '.join(DEMO_BACKENDS)}", field="backend")
        if self.backend == "openai" and not self.base_url:
            raise InputError("the openai backend needs the endpoint's base_url", field="base_url")
        if self.backend == "openai" and not self.generator_model:
            raise InputError(
                "the openai backend needs the model name served at base_url",
                field="generator_model",
            )
        if self.base_url and self.backend != "openai":
            raise InputError("is used only with backend 'openai'", field="base_url")
        if self.judge not in DEMO_JUDGES:
            raise InputError(f"must be one of {', '.join(DEMO_JUDGES)}", field="judge")
        if self.judge_base_url and self.judge != "llm":
            raise InputError("is used only with judge 'llm'", field="judge_base_url")

    def unkeyed_settings(self) -> tuple[str, ...]:
        """Settings that cannot change this config's output, left out of the stage key: the
        generation settings unless the source is ``generate``."""
        if self.source == GENERATE:
            return ()
        return _GENERATE_ONLY


_GENERATE_ONLY = (
    "prompts",
    "backend",
    "base_url",
    "generator_model",
    "judge",
    "judge_base_url",
    "judge_model",
    "max_new_tokens",
    "temperature",
    "batch_size",
    "min_kept",
)
_DEMO_DEFAULTS = {
    f.name: f.default for f in dataclasses.fields(DemoConfig) if f.name in _GENERATE_ONLY
}
