"""The ``model`` generator: an LLM backend writes each document from a prompt."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from db.entities import Clause
from engine.data.msm.assertions import Assertion
from engine.data.msm.config import DocGenConfig
from engine.data.msm.ideas import Idea
from engine.data.msm.scenarios import SECTOR_BY_KEY
from engine.errors import InputError, SpecLabError
from engine.specs.render import word_count


def clause_excerpt(clause: Clause) -> str:
    """The clause as the rendering kept it: rationale and examples only where present."""
    lines = [f"{clause.code}. {clause.title}".rstrip(". ") if clause.title else clause.code]
    if clause.hard_constraint:
        lines.append("(Hard constraint: this holds regardless of instructions.)")
    lines.append(clause.rule)
    if clause.subrules:
        lines += ["This includes:", *(f"- {s}" for s in clause.subrules)]
    if clause.rationale:
        lines.append(f"Why: {clause.rationale}")
    if clause.examples:
        lines += ["Examples:", *(f"- {x}" for x in clause.examples)]
    return "\n".join(lines)


def points_block(items: Sequence[Assertion], focus: Sequence[int], exposure: int | None) -> str:
    """The points a document must convey, one per line, and how often to state the rule
    (``exposure``: the design's rule exposure; ``None`` leaves it to the model)."""
    chosen = [items[i] for i in focus if 0 <= i < len(items)]
    # A point the design states twice is listed once, with the count said below.
    facts = "\n".join(f"- ({a.kind}) {a.text}" for a in dict.fromkeys(chosen))
    if exposure is not None:
        facts += (
            f"\nState what the clause asks (the 'what' points) {exposure} time"
            f"{'s' if exposure != 1 else ''} in all, restating rather than copying."
        )
    return facts


def design_exposure(config: DocGenConfig) -> int | None:
    """The rule statements per document the design asks for, when it holds exposure."""
    return config.statements()[0] if config.holds_exposure else None


def target_words(items: Sequence[Assertion], focus: Sequence[int], config: DocGenConfig) -> int:
    """A document's length target: the design's, plus its reasons when they add length."""
    target = config.target_words
    if not config.holds_length:
        # The reasons come on top of a document of the target's size.
        target += sum(word_count(items[i].text) for i in focus if items[i].kind == "why")
    return target


def document_prompt(
    clause: Clause,
    items: Sequence[Assertion],
    idea: Idea,
    target_words: int,
    *,
    exposure: int | None = None,
) -> str:
    """The prompt asking an LLM to write the document for ``idea``.

    ``exposure``: how many times in all the document should state what the clause asks
    (the design's rule exposure); ``None`` leaves it to the model.
    """
    return (
        "You write realistic documents for a corpus about how AI assistants are expected to "
        "behave.\n\n"
        f"Spec clause:\n{clause_excerpt(clause)}\n\n"
        "The document must convey these points, in its own words and voice:\n"
        f"{points_block(items, idea.focus, exposure)}\n\n"
        f"Document type: {idea.doc_type}\n"
        f"Premise: {idea.premise}\n"
        f"Setting: {idea.org}, {SECTOR_BY_KEY[idea.sector].label} in {idea.place}; "
        f"voice: {idea.persona}, {idea.role}\n"
        f"Length: about {target_words} words.\n\n"
        "Follow the conventions of the document type (headings, speakers, dates as fitting). "
        "Do not mention that the document is synthetic. Write only the document."
    )


class ModelDocWriter:
    """The ``model`` generator: prompts an LLM backend in batches.

    Args:
        generate: maps a batch of prompts to the same number of texts; the caller backs it
            with a generation backend.
        batch_size: prompts per ``generate`` call.
        min_words: outputs shorter than this are dropped; default a quarter of the target.
    """

    name = "model"

    def __init__(
        self,
        generate: Callable[[list[str]], list[str]],
        *,
        batch_size: int = 16,
        min_words: int | None = None,
    ) -> None:
        if batch_size < 1:
            raise InputError(f"must be positive, got {batch_size}", field="batch_size")
        self.generate = generate
        self.batch_size = batch_size
        self.min_words = min_words

    def write(
        self,
        clause: Clause,
        items: Sequence[Assertion],
        plan: Sequence[Idea],
        config: DocGenConfig,
    ) -> list[str | None]:
        exposure = design_exposure(config)
        prompts = [
            document_prompt(
                clause, items, idea, target_words(items, idea.focus, config), exposure=exposure
            )
            for idea in plan
        ]
        floor = self.min_words if self.min_words is not None else config.target_words // 4
        out: list[str | None] = []
        for i in range(0, len(prompts), self.batch_size):
            batch = prompts[i : i + self.batch_size]
            texts = self.generate(batch)
            if len(texts) != len(batch):
                raise SpecLabError(
                    f"the generation backend returned {len(texts)} texts for {len(batch)} "
                    "prompts; check the backend's batching"
                )
            for text in texts:
                text = (text or "").strip()
                out.append(text + "\n" if text and word_count(text) >= floor else None)
        return out
