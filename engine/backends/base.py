"""The generation-backend interface: chat prompts in, completions out, in batches."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

Message = dict[str, str]


@dataclass(frozen=True)
class GenerationParams:
    """Sampling settings shared by every backend."""

    max_new_tokens: int = field(default=128, metadata={"help": "tokens to generate per reply"})
    temperature: float = field(default=0.0, metadata={"help": "0 = greedy"})
    top_p: float = field(default=1.0, metadata={"help": "nucleus sampling mass"})
    seed: int = field(default=0, metadata={"help": "sampling seed"})
    stop: tuple[str, ...] = field(default=(), metadata={"help": "cut replies at these strings"})
    batch_size: int = field(default=16, metadata={"help": "prompts per forward batch"})


class GenerationBackend(Protocol):
    """Anything that turns chat conversations into assistant replies."""

    name: str

    def chat(
        self, conversations: Sequence[Sequence[Message]], params: GenerationParams
    ) -> list[str]:
        """One reply per conversation, in order."""
        ...


def cut_at_stop(text: str, stop: Sequence[str]) -> str:
    """``text`` up to the first stop string (the stop string itself removed)."""
    cut = len(text)
    for s in stop:
        i = text.find(s)
        if s and i != -1:
            cut = min(cut, i)
    return text[:cut]
