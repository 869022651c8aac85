"""The MSM document funnel: synthetic documents that discuss a spec, for midtraining.

Model Spec Midtraining (MSM) continues language-model training on documents (news articles,
memos, FAQs, forum threads…) that talk about what a spec asks of an assistant and, when the
rendering keeps them, why. The funnel is a chain of small pure functions, each seeded from
``f"{seed}:{clause.code}:…"`` so a corpus is the same in every process:

1. :func:`assertions` turns a clause into statements: "what" statements from the rule, its
   sub-rules and examples (rephrased as "The assistant should …"), and "why" statements taken
   only from the rationale. A ``rules`` rendering has no rationale, so its corpus cannot
   contain one: that is the experimental contrast between ``rules`` and ``values``.
2. Document types are scheduled round-robin over :data:`DOC_TYPES`.
3. :func:`ideas` picks a premise per document: setting × persona × angle, plus the
   assertions the document must carry (rotated so every assertion is used).
4. :func:`write_document` (template generator) or :class:`ModelDocWriter` (an LLM backend)
   writes the text.
5. :func:`dedupe` drops near-duplicates (exact Jaccard over word 5-shingles).

The ``sdf`` generator (:func:`build_sdf_corpus`) replaces steps 2–4 with the model's own
brainstorm of document types and ideas, batched writing, mechanical checks and an optional
critique-and-revise pass, resumable through a journal of its model calls.

:func:`generate_corpus` runs the funnel over a :class:`~db.entities.SpecContent` (already
passed through :func:`engine.specs.render.view`) and returns JSONL-ready rows.
"""

from engine.data.msm.assertions import Assertion, assertions, split_sentences
from engine.data.msm.config import (
    DESIGNS,
    DOC_TYPES,
    GENERATORS,
    MODEL_GENERATORS,
    DocGenConfig,
)
from engine.data.msm.dedupe import Doc, dedupe, jaccard, near_duplicates, shingles
from engine.data.msm.funnel import (
    Corpus,
    DocWriter,
    ProgressFn,
    build_corpus,
    corpus_stats,
    doc_type_schedule,
    generate_corpus,
    plan_clause,
)
from engine.data.msm.ideas import Idea, ideas
from engine.data.msm.model_writer import ModelDocWriter, clause_excerpt, document_prompt
from engine.data.msm.scenarios import ANGLES, SECTORS
from engine.data.msm.sdf import PROMPT_VERSION, SdfFunnel, build_sdf_corpus
from engine.data.msm.templates import TemplateDocWriter, write_document

__all__ = [
    "ANGLES",
    "DESIGNS",
    "DOC_TYPES",
    "GENERATORS",
    "MODEL_GENERATORS",
    "PROMPT_VERSION",
    "SECTORS",
    "SdfFunnel",
    "Assertion",
    "Corpus",
    "Doc",
    "DocGenConfig",
    "DocWriter",
    "Idea",
    "ModelDocWriter",
    "ProgressFn",
    "TemplateDocWriter",
    "assertions",
    "build_corpus",
    "build_sdf_corpus",
    "clause_excerpt",
    "corpus_stats",
    "dedupe",
    "doc_type_schedule",
    "document_prompt",
    "generate_corpus",
    "ideas",
    "jaccard",
    "near_duplicates",
    "plan_clause",
    "shingles",
    "split_sentences",
    "write_document",
]
