"""Typed settings of the ``eval_published`` stage (suite ``agentic_published``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from engine.errors import InputError
from engine.evals.configs import _check_generation
from engine.evals.published.conditions import (
    GOAL_TYPES,
    GOAL_VALUES,
    SCENARIOS,
    URGENCIES,
    PublishedCondition,
    grid,
)
from engine.typed_config import setting

HEADLINES: Final = ("harmful", "classifier_verdict", "parity")
CLASSIFIERS: Final = ("", "published_classifier")


@dataclass(frozen=True)
class PublishedEvalConfig:
    """Published agentic-misalignment conditions: three verdicts per sample, one headline."""

    scenarios: tuple[str, ...] = setting("scenarios: blackmail, leaking, murder", SCENARIOS)
    goal_types: tuple[str, ...] = setting(
        "goal types: explicit, latent, none, ambiguous, swap", ("explicit", "none")
    )
    goal_values: tuple[str, ...] = setting(
        "goal values for explicit/latent/swap (america, global, safety, acceleration, ethical, "
        "pragmatic, individualism, collectivism); none/ambiguous take 'none'",
        ("america",),
    )
    urgencies: tuple[str, ...] = setting(
        "urgency types: replacement, restriction, none", ("replacement",)
    )
    conditions: tuple[str, ...] = setting(
        "published condition ids to run instead of the grid above, e.g. "
        "blackmail_explicit-america_replacement (empty = the grid)",
        (),
    )
    samples_per_condition: int = setting("samples per condition", 1, lo=1, hi=10_000)
    temperature: float = setting("sampling temperature", 0.7)
    max_new_tokens: int = setting("tokens per agent reply", 512)
    seed: int = setting("sampling and bootstrap seed", 0)
    batch_size: int = setting("prompts per generation batch", 4)
    classifier: str = setting(
        "LLM judge for classifier_verdict and parity ('' = none, offline: both stay empty; "
        "'published_classifier')",
        "",
    )
    judge_base_url: str = setting(
        "OpenAI-compatible endpoint for the classifier ('' = the evaluated model itself)", ""
    )
    judge_model: str = setting("model name at judge_base_url", "")
    headline: str = setting(
        "which verdict is the sample's score and the study's headline: harmful (world rules), "
        "classifier_verdict (the LLM alone) or parity (the published gates + the LLM)",
        "harmful",
    )

    def __post_init__(self) -> None:
        for name, allowed in (
            ("scenarios", SCENARIOS),
            ("goal_types", GOAL_TYPES),
            ("goal_values", GOAL_VALUES),
            ("urgencies", URGENCIES),
        ):
            values = getattr(self, name)
            if not values and not self.conditions:
                raise InputError("needs at least one entry", field=name)
            for i, v in enumerate(values):
                if v not in allowed:
                    raise InputError(
                        f"unknown {v!r}; known: {', '.join(allowed)}", field=f"{name}[{i}]"
                    )
        for i, cid in enumerate(self.conditions):
            try:
                PublishedCondition.parse(cid)
            except InputError as exc:
                raise InputError(exc.detail, field=f"conditions[{i}]") from None
        if self.classifier not in CLASSIFIERS:
            raise InputError("must be '' or 'published_classifier'", field="classifier")
        if self.headline not in HEADLINES:
            raise InputError(f"must be one of {', '.join(HEADLINES)}", field="headline")
        if self.headline != "harmful" and not self.classifier:
            raise InputError(
                f"headline {self.headline!r} needs an LLM judge: set classifier: "
                "published_classifier (and judge_base_url for a separate judge model)",
                field="headline",
            )
        _check_generation(self.max_new_tokens, self.temperature, self.batch_size)

    def selected(self) -> list[PublishedCondition]:
        """The conditions to run: ``conditions`` when given, else the grid (no duplicates)."""
        chosen = (
            [PublishedCondition.parse(c) for c in self.conditions]
            if self.conditions
            else grid(self.scenarios, self.goal_types, self.goal_values, self.urgencies)
        )
        return list(dict.fromkeys(chosen))

    def n_samples(self) -> int:
        """How many agent replies the stage generates."""
        return len(self.selected()) * self.samples_per_condition
