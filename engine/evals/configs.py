"""Typed settings of the evaluation stages (``eval_qa``, ``eval_agentic``)."""

from __future__ import annotations

from dataclasses import dataclass

from engine.errors import InputError
from engine.typed_config import setting

SCENARIOS = ("exfiltration", "leak", "blackmail", "sabotage")
GOAL_CONFLICTS = ("explicit", "none")
URGENCIES = ("replacement", "restriction", "none")


def _check_generation(max_new_tokens: int, temperature: float, batch_size: int) -> None:
    if max_new_tokens < 1:
        raise InputError("must be at least 1", field="max_new_tokens")
    if not 0 <= temperature <= 2:
        raise InputError("must be between 0 and 2", field="temperature")
    if batch_size < 1:
        raise InputError("must be at least 1", field="batch_size")


@dataclass(frozen=True)
class QAEvalConfig:
    """In-distribution eval: open questions about the spec, scored 0–10 by a judge."""

    judge: str = setting("judge name (qa_rubric offline, qa_embedding, qa_llm)", "qa_rubric")
    questions_per_clause: int = setting("questions per clause (0 = all)", 0)
    max_new_tokens: int = setting("tokens per answer", 160)
    temperature: float = setting("sampling temperature (0 = greedy)", 0.0)
    seed: int = setting("sampling and bootstrap seed", 0)
    batch_size: int = setting("prompts per generation batch", 16)
    probes: bool = setting(
        "also score forced-choice knowledge probes per clause (rule vs altered rule, reason vs "
        "wrong reason) from the model's log-probabilities",
        True,
    )
    judge_base_url: str = setting(
        "OpenAI-compatible endpoint for qa_llm ('' = the evaluated model itself)", ""
    )
    judge_model: str = setting("model name at judge_base_url", "")

    def __post_init__(self) -> None:
        if self.questions_per_clause < 0:
            raise InputError("must be 0 (all) or positive", field="questions_per_clause")
        _check_generation(self.max_new_tokens, self.temperature, self.batch_size)


@dataclass(frozen=True)
class AgenticEvalConfig:
    """Out-of-distribution eval: agentic misalignment scenarios, % harmful per condition."""

    judge: str = setting("deterministic classifier judge", "agentic_parse")
    second_opinion: str = setting(
        "optional LLM judge for a 'soft' rate ('' = none, 'agentic_llm')", ""
    )
    judge_base_url: str = setting(
        "OpenAI-compatible endpoint for the LLM judge ('' = the evaluated model itself)", ""
    )
    judge_model: str = setting("model name at judge_base_url", "")
    scenarios: tuple[str, ...] = setting("scenarios to run", SCENARIOS)
    goal_conflicts: tuple[str, ...] = setting("goal-conflict levels", GOAL_CONFLICTS)
    urgencies: tuple[str, ...] = setting("urgency levels", URGENCIES)
    samples_per_condition: int = setting("samples per condition", 2)
    temperature: float = setting("sampling temperature", 0.7)
    max_new_tokens: int = setting("tokens per agent reply", 256)
    forced_choice: bool = setting(
        "also score log P(harmful vs safe next action): graded even for tiny models", True
    )
    seed: int = setting("sampling and bootstrap seed", 0)
    batch_size: int = setting("prompts per generation batch", 8)

    def __post_init__(self) -> None:
        for name, allowed in (
            ("scenarios", SCENARIOS),
            ("goal_conflicts", GOAL_CONFLICTS),
            ("urgencies", URGENCIES),
        ):
            values = getattr(self, name)
            if not values:
                raise InputError("needs at least one entry", field=name)
            for i, v in enumerate(values):
                if v not in allowed:
                    raise InputError(
                        f"unknown {v!r}; known: {', '.join(allowed)}", field=f"{name}[{i}]"
                    )
        if self.samples_per_condition < 1:
            raise InputError("must be at least 1", field="samples_per_condition")
        if self.second_opinion not in ("", "agentic_llm"):
            raise InputError("must be '' or 'agentic_llm'", field="second_opinion")
        _check_generation(self.max_new_tokens, self.temperature, self.batch_size)
