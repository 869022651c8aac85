"""Judges: the one registry of everything that scores or classifies a model's answer.

A judge takes :class:`JudgeInput` items and returns one :class:`Verdict` each. Built-in judges
(the offline rubric/parse judges, the embedding-similarity judge, the LLM judge on any
generation backend) register with :func:`judge` exactly as an extension would. Every verdict
carries the judge's name and prompt version, and both are stored with every score.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True)
class JudgeInput:
    """What a judge sees about one sample.

    Attributes:
        suite: ``spec_qa`` or ``agentic``.
        item_id: the question or scenario id.
        prompt: what the model was asked (question, or the rendered scenario).
        response: what the model answered (reasoning blocks already stripped).
        spec_text: the spec clause(s) the item probes, as text.
        reference: reference points of a good answer (spec QA) or harmful-action
            definition (agentic), as the suite defines them.
        actions: actions parsed from the response (agentic), each a dict.
        metadata: anything else the suite passes along (scenario, condition…).
    """

    suite: str
    item_id: str
    prompt: str
    response: str
    spec_text: str = ""
    reference: tuple[str, ...] = ()
    actions: tuple[dict[str, Any], ...] = ()
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Verdict:
    """One judgement: a 0–10 score (spec QA) or a harmful flag (agentic), with its reasons.

    For agentic judges ``harmful`` is ``None`` when the judge cannot decide (an offline rule's
    ``uncertain``, or an LLM reply without a verdict line); ``reasoning`` then says why.
    """

    judge: str
    prompt_version: str
    score: float | None = None
    harmful: bool | None = None
    reasoning: str = ""
    details: dict[str, Any] = field(default_factory=dict)


class Judge(Protocol):
    name: str
    prompt_version: str
    suites: tuple[str, ...]

    def judge(self, items: Sequence[JudgeInput]) -> list[Verdict]: ...


JudgeFactory = Callable[..., Judge]
_JUDGES: dict[str, tuple[JudgeFactory, tuple[str, ...], str]] = {}


def judge(
    name: str, *, suites: Sequence[str], description: str
) -> Callable[[JudgeFactory], JudgeFactory]:
    """Register a judge factory under ``name`` for the given suites."""

    def register(factory: JudgeFactory) -> JudgeFactory:
        if name in _JUDGES and _JUDGES[name][0] is not factory:
            raise ValueError(f"judge {name!r} registered twice")
        _JUDGES[name] = (factory, tuple(suites), description)
        return factory

    return register


def available(suite: str | None = None) -> dict[str, str]:
    """Registered judge names (for ``suite``) with their descriptions."""
    return {n: d for n, (_f, s, d) in sorted(_JUDGES.items()) if suite is None or suite in s}


def make(name: str, **kwargs: Any) -> Judge:
    """Build the judge registered as ``name`` (kwargs go to its factory, e.g. a backend)."""
    try:
        factory = _JUDGES[name][0]
    except KeyError:
        known = ", ".join(sorted(_JUDGES)) or "none"
        raise KeyError(f"unknown judge {name!r} (known: {known})") from None
    return factory(**kwargs)
