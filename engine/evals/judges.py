"""Judges: the one registry of everything that scores or classifies a model's answer.

A judge takes :class:`JudgeInput` items and returns one :class:`Verdict` each. Built-in judges
(the offline rubric/parse judges, the embedding-similarity judge, the LLM judge on any
generation backend) register with :func:`judge` exactly as an extension would. Every verdict
carries the judge's name and prompt version, and both are stored with every score.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

from engine.backends.base import GenerationParams, Message
from engine.errors import SpecLabError


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


class ChatBackend(Protocol):
    """The part of a generation backend an LLM judge uses."""

    def chat(
        self, conversations: Sequence[Sequence[Message]], params: GenerationParams
    ) -> list[str]: ...


def judge_backend(
    base_url: str, model: str = "", fallback: ChatBackend | None = None
) -> ChatBackend | None:
    """The backend an LLM judge runs on: the OpenAI-compatible endpoint ``base_url`` serving
    ``model`` (``"default"`` when unnamed), else ``fallback`` (the model under test, or
    ``None`` where there is none)."""
    if not base_url:
        return fallback
    from engine.backends.openai_backend import OpenAIBackend

    return OpenAIBackend(base_url, model or "default")


class ChatJudge(ABC):
    """What the LLM judges share: a chat backend, greedy generation settings, a cap on how
    much of a reply the prompt quotes, and one batched call for a list of items. A subclass
    writes :meth:`conversation` and reads the replies of :meth:`ask` into verdicts.

    Args:
        backend: anything with ``chat(conversations, params) -> list[str]``.
        params: generation settings (default: greedy, :attr:`max_new_tokens` new tokens).
        max_response_chars: longer replies are cut to this many characters in the prompt
            (default :attr:`response_chars`).
    """

    name: str
    prompt_version: str
    suites: tuple[str, ...]
    max_new_tokens: ClassVar[int] = 512
    response_chars: ClassVar[int] = 6000

    def __init__(
        self,
        backend: ChatBackend,
        params: GenerationParams | None = None,
        max_response_chars: int | None = None,
    ) -> None:
        self.backend = backend
        self.params = params or GenerationParams(
            max_new_tokens=self.max_new_tokens, temperature=0.0
        )
        self.max_response_chars = max_response_chars or self.response_chars

    @abstractmethod
    def conversation(self, item: JudgeInput) -> list[Message]:
        """The chat messages the judge model is asked about ``item``."""

    def quoted(self, response: str) -> str:
        """``response`` as the prompt quotes it: cut at :attr:`max_response_chars`."""
        if len(response) <= self.max_response_chars:
            return response
        return response[: self.max_response_chars] + "\n[…cut]"

    def ask(self, items: Sequence[JudgeInput]) -> list[str]:
        """The judge model's reply for each item, in order, from one batched call.

        Raises:
            SpecLabError: the backend returned another number of replies.
        """
        if not items:
            return []
        replies = self.backend.chat([self.conversation(i) for i in items], self.params)
        if len(replies) != len(items):
            raise SpecLabError(
                f"judge backend returned {len(replies)} replies for {len(items)} prompts"
            )
        return replies


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
