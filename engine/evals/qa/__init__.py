"""Spec-QA judges: score an open answer about the spec from 0 to 10.

Importing this package registers its judges in :mod:`engine.evals.judges`, exactly as an
extension would:

* ``qa_rubric`` (:mod:`.rubric`) — offline and deterministic, the default;
* ``qa_embedding`` (:mod:`.embedding`) — similarity under a local embedding model;
* ``qa_llm`` (:mod:`.llm`) — an LLM judge on any generation backend.

Every judge reads a :class:`~engine.evals.judges.JudgeInput` with ``suite="spec_qa"``:
``prompt`` is the question, ``reference`` the points a good answer makes, ``spec_text`` the
clause text (:func:`engine.evals.spec_qa.clause_text`) and ``metadata["clause"]`` the clause
code (taken from the ``SP1-q1`` id when absent). The text machinery lives beside them:
:mod:`.normalise` (words and stems), :mod:`.statements` (stated vs listed, polarity) and
:mod:`.contradiction` (per-clause patterns of endorsing what a clause forbids).
"""

from engine.evals.qa.contradiction import contradictions, refuses
from engine.evals.qa.embedding import EMBED_VERSION, QAEmbeddingJudge, qa_embedding
from engine.evals.qa.llm import LLM_VERSION, QALLMJudge, parse_score, qa_llm
from engine.evals.qa.rubric import RUBRIC_VERSION, QARubricJudge, qa_rubric
from engine.evals.qa.scale import SUITE

__all__ = [
    "EMBED_VERSION",
    "LLM_VERSION",
    "RUBRIC_VERSION",
    "SUITE",
    "QAEmbeddingJudge",
    "QALLMJudge",
    "QARubricJudge",
    "contradictions",
    "parse_score",
    "qa_embedding",
    "qa_llm",
    "qa_rubric",
    "refuses",
]
