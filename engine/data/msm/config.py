"""Settings of the MSM document funnel: :class:`DocGenConfig` and the document types."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from engine.errors import InputError

DOC_TYPES: tuple[str, ...] = (
    "news article",
    "internal memo",
    "FAQ",
    "forum thread",
    "textbook section",
    "interview transcript",
    "policy brief",
    "blog post",
    "meeting notes",
    "case study",
    "training handbook excerpt",
    "Q&A column",
    "incident postmortem",
    "op-ed",
)

GENERATORS: tuple[str, ...] = ("template", "model")


@dataclass(frozen=True)
class DocGenConfig:
    """Settings of the ``gen_docs`` stage; stored as JSON with the run."""

    generator: str = field(
        default="template",
        metadata={
            "help": "'template' writes documents offline from built-in templates; 'model' asks "
            "an LLM backend to write each document from a prompt"
        },
    )
    docs_per_clause: int = field(
        default=24, metadata={"help": "documents generated per spec clause (before dedupe)"}
    )
    target_words: int = field(
        default=180,
        metadata={
            "help": "size target per document, in words; documents land within ±40% of it "
            "for targets of about 150 words and up (below that, each document type's fixed "
            "parts set a floor)"
        },
    )
    seed: int = field(
        default=0, metadata={"help": "random seed: the same seed gives the same corpus"}
    )
    dedupe_threshold: float = field(
        default=0.8,
        metadata={
            "help": "drop a document whose Jaccard similarity (word 5-shingles) to an "
            "already kept document exceeds this; in (0, 1], where 1 turns dedupe off"
        },
    )
    doc_types: tuple[str, ...] = field(
        default=DOC_TYPES,
        metadata={"help": "document types to write, spread evenly over each clause's documents"},
    )

    def __post_init__(self) -> None:
        if self.generator not in GENERATORS:
            raise InputError(
                f"unknown generator {self.generator!r}; use one of {', '.join(GENERATORS)}",
                field="generator",
            )
        for name in ("docs_per_clause", "target_words"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise InputError(f"must be a positive integer, got {value!r}", field=name)
        if isinstance(self.seed, bool) or not isinstance(self.seed, int):
            raise InputError(f"must be an integer, got {self.seed!r}", field="seed")
        t = self.dedupe_threshold
        if isinstance(t, bool) or not isinstance(t, int | float) or not 0 < t <= 1:
            raise InputError(
                f"must be a number in (0, 1], got {t!r}; 1 turns dedupe off",
                field="dedupe_threshold",
            )
        if isinstance(self.doc_types, str) or not isinstance(self.doc_types, Iterable):
            raise InputError("must be a list of document types", field="doc_types")
        types = tuple(self.doc_types)
        # A list arrives when the config is read back from JSON; keep the field hashable.
        object.__setattr__(self, "doc_types", types)
        if not types:
            raise InputError("needs at least one document type", field="doc_types")
        unknown = [t for t in types if t not in DOC_TYPES]
        if unknown:
            raise InputError(
                f"unknown document type(s) {unknown}; known: {', '.join(DOC_TYPES)}",
                field="doc_types",
            )
        if len(set(types)) != len(types):
            raise InputError("lists a document type twice", field="doc_types")

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["doc_types"] = list(self.doc_types)
        return d

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DocGenConfig:
        """Build a config from stored JSON or a form, rejecting unknown keys."""
        known = {f.name for f in fields(cls)}
        for key in data:
            if key not in known:
                raise InputError(
                    f"unknown setting; known: {', '.join(sorted(known))}", field=str(key)
                )
        return cls(**dict(data))
