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

GENERATORS: tuple[str, ...] = ("template", "model", "sdf")

#: The generators that write with a model (and so need a generation backend).
MODEL_GENERATORS: tuple[str, ...] = ("model", "sdf")

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
        "backend to write each document of a templated plan from a prompt; 'sdf' runs the "
        "synthetic-document-finetuning funnel: per clause the model brainstorms document "
        "types, then ideas per type, writes documents and (with revise) critiques and revises "
        "them",
        "template",
    )
    docs_per_clause: int = setting(
        "documents generated per spec clause (before dedupe) by the template and model "
        "generators; the sdf generator writes types_per_clause x ideas_per_type x "
        "docs_per_idea instead",
        24,
        lo=1,
        hi=100_000,
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

    backend: str = setting(
        "generation backend of the model and sdf generators: 'auto' (vLLM on a CUDA GPU where "
        "installed, else transformers), 'transformers', 'vllm', or 'openai' (an "
        "OpenAI-compatible endpoint at base_url, e.g. speclab serve-model or vllm serve)",
        "auto",
    )
    base_url: str = setting(
        "API root of the endpoint for backend 'openai', e.g. http://127.0.0.1:8000/v1 (the "
        "key is read from SPECLAB_OPENAI_API_KEY or OPENAI_API_KEY)",
        "",
    )
    generator_model: str = setting(
        "the model that writes (model and sdf generators): a model id or folder, or with "
        "backend 'openai' the endpoint's model name; '' = the study's model",
        "",
    )
    temperature: float = setting(
        "sampling temperature of the model and sdf generators (0 = greedy)", 0.8, lo=0, hi=2
    )
    batch_size: int = setting(
        "prompts per generation batch (model and sdf generators); sdf saves its progress "
        "after every batch, so a re-queued stage keeps what was written",
        16,
        lo=1,
        hi=4096,
    )
    types_per_clause: int = setting(
        "sdf: document types the model brainstorms per clause (its list is parsed, "
        "deduplicated and capped at this; up to 3 rounds fill a short list)",
        8,
        lo=1,
        hi=200,
    )
    ideas_per_type: int = setting(
        "sdf: document ideas the model brainstorms per document type and clause (ideas it "
        "marks UNSUITABLE are dropped and counted)",
        3,
        lo=1,
        hi=200,
    )
    docs_per_idea: int = setting("sdf: documents written per idea", 1, lo=1, hi=3)
    revise: bool = setting(
        "sdf: the model critiques every document (consistent with the clause, realistic, not "
        "copying the spec) and revises those it or the mechanical checks (placeholders such as "
        "'[Name]', long verbatim runs of the clause's text) find fault with; off: documents "
        "failing the mechanical checks are rejected",
        True,
    )

    @property
    def uses_model(self) -> bool:
        """Whether documents are written by a model through a generation backend."""
        return self.generator in MODEL_GENERATORS

    @property
    def runs_local_model(self) -> bool:
        """Whether the stage loads a model itself (not an endpoint): on a cluster it then
        asks for a GPU like the other model stages (:mod:`engine.pipeline.launch`)."""
        return self.uses_model and self.backend != "openai"

    @property
    def needs_study_model(self) -> bool:
        """Whether the study's model writes the documents (so belongs in the stage key)."""
        return self.uses_model and not self.generator_model

    def sdf_docs_per_clause(self) -> int:
        """Documents the sdf generator asks for per clause (before any is dropped)."""
        return self.types_per_clause * self.ideas_per_type * self.docs_per_idea

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
        self._check_generation()

    def _check_generation(self) -> None:
        from engine.backends.select import KINDS

        if self.backend not in KINDS:
            raise InputError(
                f"unknown backend {self.backend!r}; use one of {', '.join(KINDS)}",
                field="backend",
            )
        if self.backend == "openai" and self.uses_model and not self.base_url.strip():
            raise InputError(
                "backend 'openai' needs the endpoint's base_url, e.g. http://127.0.0.1:8000/v1",
                field="base_url",
            )
        t = self.temperature
        if isinstance(t, bool) or not isinstance(t, int | float) or not 0 <= t <= 2:
            raise InputError(f"must be a number from 0 to 2, got {t!r}", field="temperature")
        for name, hi in (
            ("batch_size", 4096),
            ("types_per_clause", 200),
            ("ideas_per_type", 200),
            ("docs_per_idea", 3),
        ):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= hi:
                raise InputError(f"must be an integer from 1 to {hi}, got {value!r}", field=name)
        if not isinstance(self.revise, bool):
            raise InputError(f"must be true or false, got {self.revise!r}", field="revise")
