"""The funnel end to end: schedule document types, plan ideas, write, dedupe, count."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

from db.entities import Clause, SpecContent
from engine.data.msm.assertions import Assertion, assertions
from engine.data.msm.config import DocGenConfig
from engine.data.msm.dedupe import Doc, dedupe
from engine.data.msm.ideas import Idea, ideas, pick_focus, statement_counts
from engine.data.msm.templates import TemplateDocWriter
from engine.errors import InputError
from engine.specs.render import word_count

ProgressFn = Callable[[float, str], None]


class DocWriter(Protocol):
    """Writes the documents for one clause's ideas; ``None`` marks a rejected output."""

    name: str

    def write(
        self,
        clause: Clause,
        items: Sequence[Assertion],
        plan: Sequence[Idea],
        config: DocGenConfig,
    ) -> list[str | None]: ...


@dataclass(frozen=True)
class Corpus:
    """A generated corpus: its rows and what was dropped on the way."""

    rows: list[dict[str, Any]]
    dropped_duplicates: int = 0
    dropped_short: int = 0
    #: The sdf generator's step-by-step counts (see :meth:`engine.data.msm.sdf.SdfFunnel.funnel`).
    funnel: Mapping[str, Any] = field(default_factory=dict)

    def stats(self) -> dict[str, Any]:
        return corpus_stats(
            self.rows, dropped_duplicates=self.dropped_duplicates, dropped_short=self.dropped_short
        )


def doc_type_schedule(clause: Clause, config: DocGenConfig, offset: int = 0) -> list[str]:
    """The document type of each of the clause's documents.

    Types are dealt in shuffled rounds over the whole corpus (``offset``: how many documents
    earlier clauses took), so every type is used before any repeats, within a clause and
    across the corpus.
    """
    types = list(config.doc_types)
    out: list[str] = []
    round_no, start = divmod(offset, len(types))
    while len(out) < config.docs_per_clause:
        round_ = list(types)
        random.Random(f"{config.seed}:types:{round_no}").shuffle(round_)
        out += round_[start:]
        start, round_no = 0, round_no + 1
    return out[: config.docs_per_clause]


def plan_clause(
    clause: Clause, items: Sequence[Assertion], config: DocGenConfig, offset: int = 0
) -> list[Idea]:
    """The ideas for one clause's documents, in document order (``offset``: documents planned
    for earlier clauses, which the document-type rounds continue from)."""
    schedule = doc_type_schedule(clause, config, offset)
    counts = statement_counts(items, config)
    plan: list[Idea | None] = [None] * len(schedule)
    for doc_type in config.doc_types:
        positions = [i for i, t in enumerate(schedule) if t == doc_type]
        if not positions:
            continue
        rng = random.Random(f"{config.seed}:{clause.code}:ideas:{doc_type}")
        drafted = ideas(clause, items, doc_type, rng, n=len(positions), counts=counts)
        for pos, idea in zip(positions, drafted, strict=True):
            # Focus rotates with the document's position, so the clause's documents together
            # carry every assertion.
            plan[pos] = _replace_idea(idea, pos, pick_focus(items, pos, *counts))
    return [p for p in plan if p is not None]


def _replace_idea(idea: Idea, index: int, focus: tuple[int, ...]) -> Idea:
    d = asdict(idea)
    d.update(index=index, focus=focus)
    return Idea(**d)


def build_corpus(
    content: SpecContent,
    config: DocGenConfig,
    *,
    writer: DocWriter | None = None,
    progress: ProgressFn | None = None,
) -> Corpus:
    """Run the funnel over every clause of ``content`` (a rendering's view of a spec).

    ``progress(fraction, message)`` is called after each clause; it may raise (for
    example :class:`engine.errors.JobCancelled`) to stop the run.
    """
    if writer is None:
        if config.generator == "model":
            raise InputError(
                "the model generator needs a writer backed by a generation backend; pass "
                "writer=ModelDocWriter(generate) or use generator='template'",
                field="generator",
            )
        writer = TemplateDocWriter()
    docs: list[Doc] = []
    short = 0
    n = len(content.clauses)
    for ci, clause in enumerate(content.clauses):
        items = assertions(clause)
        plan = plan_clause(clause, items, config, ci * config.docs_per_clause)
        texts = writer.write(clause, items, plan, config)
        for idea, text in zip(plan, texts, strict=True):
            if text is None:
                short += 1
                continue
            docs.append(
                Doc(text, clause.code, idea.doc_type, idea.premise, writer.name, config.seed)
            )
        if progress is not None:
            progress(0.95 * (ci + 1) / max(n, 1), f"{clause.code}: {len(plan)} documents")
    kept = dedupe(docs, config.dedupe_threshold)
    if progress is not None:
        progress(
            1.0, f"{len(kept)} documents kept, {len(docs) - len(kept)} near-duplicates dropped"
        )
    return Corpus([d.to_row() for d in kept], len(docs) - len(kept), short)


def generate_corpus(
    content: SpecContent,
    config: DocGenConfig,
    *,
    writer: DocWriter | None = None,
    progress: ProgressFn | None = None,
) -> list[dict[str, Any]]:
    """Rows ``{text, clause, doc_type, idea, generator, seed}`` in a deterministic order."""
    return build_corpus(content, config, writer=writer, progress=progress).rows


def corpus_stats(
    rows: Sequence[Mapping[str, Any]], *, dropped_duplicates: int = 0, dropped_short: int = 0
) -> dict[str, Any]:
    """Counts for the dataset preview: documents, words, per type and per clause."""
    words = [word_count(str(r["text"])) for r in rows]
    return {
        "docs": len(rows),
        "words": sum(words),
        "mean_words": round(sum(words) / len(words), 1) if words else 0.0,
        "min_words": min(words, default=0),
        "max_words": max(words, default=0),
        "per_doc_type": dict(sorted(Counter(str(r["doc_type"]) for r in rows).items())),
        "per_clause": dict(Counter(str(r["clause"]) for r in rows)),
        "dropped_duplicates": dropped_duplicates,
        "dropped_short": dropped_short,
    }
