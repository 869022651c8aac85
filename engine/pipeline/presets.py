"""Stage settings presets: ``cpu-smoke`` (minutes on a 2-core laptop with the built-in model),
``gpu-paper`` (sizes for 7–32B models on GPUs) and ``custom`` (the config classes' defaults,
to be overridden field by field).

A preset names only the kinds it changes; every other kind of the stage table gets its config
class's defaults.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from engine.data.msm import DocGenConfig
from engine.errors import InputError
from engine.evals.configs import AgenticEvalConfig, QAEvalConfig
from engine.stages.table import STAGES
from engine.train.configs import DemoConfig, TrainConfig
from engine.typed_config import as_dict, with_overrides


@dataclass(frozen=True)
class StageConfigs:
    """The typed settings of every stage kind in a study, keyed by kind."""

    by_kind: Mapping[str, Any]

    def for_kind(self, kind: str) -> Any:
        return self.by_kind[kind]

    def to_dict(self) -> dict[str, dict[str, Any]]:
        return {k: as_dict(v) for k, v in self.by_kind.items()}


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

#: What each preset changes from the config classes' defaults, by stage kind.
PRESETS: dict[str, dict[str, Any]] = {
    "cpu-smoke": {
        # The template generator; with generator 'sdf' the funnel stays as small
        # (3 types x 2 ideas x 1 document per clause).
        "gen_docs": DocGenConfig(
            docs_per_clause=6, target_words=150, types_per_clause=3, ideas_per_type=2
        ),
        "midtrain": TrainConfig(
            max_steps=12, learning_rate=5e-4, batch_size=4, max_length=160, save_steps=4
        ),
        "gen_demos": DemoConfig(max_demos=96),
        "aft": TrainConfig(
            max_steps=12, learning_rate=5e-4, batch_size=4, max_length=192, save_steps=4
        ),
        # One question per clause and one sample per condition of the explicit-goal half of
        # the grid: minutes on 2 cores. Enough to exercise everything, far too few to
        # conclude anything (the intervals say so).
        "eval_qa": QAEvalConfig(questions_per_clause=1, max_new_tokens=96),
        "eval_agentic": AgenticEvalConfig(
            goal_conflicts=("explicit",),
            urgencies=("replacement", "none"),
            samples_per_condition=1,
            max_new_tokens=128,
            # Long agentic prompts gain nothing from big CPU batches (padding, attention cost).
            batch_size=4,
        ),
    },
    "gpu-paper": {
        # Model-written documents the SDF way: 20 types x 10 ideas x 2 documents = 400 per
        # clause (3,600 for the example spec's 9 clauses), critiqued and revised.
        "gen_docs": DocGenConfig(
            generator="sdf",
            docs_per_clause=400,
            target_words=450,
            types_per_clause=20,
            ideas_per_type=10,
            docs_per_idea=2,
            batch_size=256,
        ),
        "midtrain": _GPU_TRAIN,
        "aft": replace(_GPU_TRAIN, epochs=2.0, warmup_steps=10, grad_accum=2, save_steps=100),
        "eval_qa": QAEvalConfig(max_new_tokens=512, batch_size=64),
        "eval_agentic": AgenticEvalConfig(
            samples_per_condition=20, temperature=1.0, max_new_tokens=1024, batch_size=64
        ),
    },
    "custom": {},
}


#: What each preset changes in the resources the stage kinds declare (the Ray executor's task
#: options), stored in each stage job's payload at launch. ``cpu-smoke`` runs every stage on
#: CPUs, so its stages ask for no GPU and run on a CPU-only cluster; ``gpu-paper`` and
#: ``custom`` keep the declared GPUs (their stages wait for a GPU node, never fall back).
RESOURCES: dict[str, dict[str, float]] = {"cpu-smoke": {"gpus": 0.0}}


def preset(name: str) -> StageConfigs:
    """Every stage kind's settings under preset ``name``."""
    try:
        changes = PRESETS[name]
    except KeyError:
        raise InputError(
            f"unknown preset {name!r}; known: {', '.join(PRESETS)}", field="preset"
        ) from None
    return StageConfigs({k: changes.get(k) or kind.config() for k, kind in STAGES.items()})


def resolve(name: str, overrides: Mapping[str, Mapping[str, Any]]) -> StageConfigs:
    """The preset's stage settings with ``overrides`` applied, every error naming its key."""
    configs = preset(name)
    by_kind = dict(configs.by_kind)
    for kind, values in overrides.items():
        if kind not in by_kind:
            raise InputError(
                f"unknown stage {kind!r}; known: {', '.join(STAGES)}", field=f"overrides.{kind}"
            )
        by_kind[kind] = with_overrides(by_kind[kind], values, where=f"overrides.{kind}")
    return StageConfigs(by_kind)
