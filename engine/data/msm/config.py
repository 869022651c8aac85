"""Settings of the MSM document funnel: :class:`DocGenConfig` and the document types."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from engine.errors import InputError
from engine.typed_config import setting

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

#: Corpus designs: which of rule exposure and length are held equal across variants.
#: ``matched``: both (``values`` documents add the reasons on top of the rule statements, and
#: every document is padded to the same target with practical, reason-free text);
#: ``length_matched``: only length (reasons take the places of rule statements, as in a
#: naive corpus); ``exposure_matched``: only exposure (reasons add length); ``free``: neither.
DESIGNS: tuple[str, ...] = ("matched", "length_matched", "exposure_matched", "free")


@dataclass(frozen=True)
class DocGenConfig:
    """Settings of the ``gen_docs`` stage; stored as JSON with the run."""

    generator: str = setting(
        "'template' writes documents offline from built-in templates; 'model' asks an LLM "
        "backend to write each document from a prompt",
        "template",
    )
    docs_per_clause: int = setting(
        "documents generated per spec clause (before dedupe)", 24, lo=1, hi=100_000
    )
    target_words: int = setting(
        "size target per document, in words; documents land within ±40% of it for targets of "
        "about 180 words and up (below that, each document type's fixed parts, and a reason "
        "kept whole with the sentence it refers back to, set a floor)",
        180,
        lo=1,
        hi=20_000,
    )
    seed: int = setting("random seed: the same seed gives the same corpus", 0, lo=0)
    dedupe_threshold: float = setting(
        "drop a document whose Jaccard similarity (word 5-shingles) to an already kept "
        "document exceeds this; in (0, 1], where 1 turns dedupe off",
        0.8,
    )
    doc_types: tuple[str, ...] = setting(
        "document types to write, spread evenly over each clause's documents", DOC_TYPES
    )
    design: str = setting(
        "what stays equal across the variants of a study: 'matched' (rule exposure and "
        "length: values documents add the reasons on top of the same number of rule "
        "statements), 'length_matched' (reasons replace rule statements), 'exposure_matched' "
        "(reasons add length) or 'free' (neither)",
        "matched",
    )
    rule_exposure: int = setting(
        "how many times each document states (or re-voices) the clause's rule or a sub-rule "
        "(with 'length_matched'/'free', rationale-free variants also fill the reasons' "
        "places with rule statements); 0: one per 75 target words, at least 1",
        0,
        lo=0,
        hi=1000,
    )
    rationale_per_doc: int = setting(
        "rationale sentences each document carries when the variant keeps its rationales "
        "(with 'matched', a variant without them carries as many passages of practical, "
        "reason-free text instead); 0: one per 120 target words, at least 1",
        0,
        lo=0,
        hi=1000,
    )

    def statements(self) -> tuple[int, int]:
        """(rule statements, rationale sentences) per document, with 0s resolved."""
        return (
            self.rule_exposure or max(1, self.target_words // 75),
            self.rationale_per_doc or max(1, self.target_words // 120),
        )

    @property
    def holds_exposure(self) -> bool:
        """Whether every variant's documents state the rule equally often."""
        return self.design in ("matched", "exposure_matched")

    @property
    def holds_length(self) -> bool:
        """Whether rationale text counts toward a document's target length."""
        return self.design in ("matched", "length_matched")

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
        if self.design not in DESIGNS:
            raise InputError(
                f"unknown design {self.design!r}; use one of {', '.join(DESIGNS)}", field="design"
            )
        for name in ("rule_exposure", "rationale_per_doc"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise InputError(f"must be a non-negative integer, got {value!r}", field=name)
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
