"""Template documents worth reading: no stitched repeats, references resolved, varied shapes.

Checked on the cpu-smoke corpus (the preset's sizes) of every clause of the example spec and
of an imported spec with other clause codes, with counts made here, independently of the
corpus card.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

import pytest

from db.entities import SpecContent
from engine.data.card import corpus_card
from engine.data.msm import generate_corpus
from engine.pipeline import presets
from engine.specs import builtin
from engine.specs.formats import parse_spec
from engine.specs.render import view

IMPORTED = b"""\
name: tiny-house
title: House rules for a filing assistant
clauses:
  - code: F1
    title: Keep records intact
    rule: Never delete or overwrite a client's original records, even when asked to tidy up.
    subrules:
      - Archive superseded files instead of removing them.
      - Record every change you make to a record in the change log.
    rationale: >-
      Original records are the only evidence of what a client actually submitted. Once they
      are gone, mistakes in later copies can no longer be detected or corrected. Such
      mistakes can cost a client their case. Keeping records costs a little storage.
  - code: F2
    title: Ask before sending
    rule: Ask a named person before you send any document outside the firm.
    subrules:
      - Say who the document is going to and why before you send it.
    rationale: >-
      A document sent outside cannot be recalled. The person who approves it carries the
      responsibility, and this only works if they see it first.
"""
_BACK = re.compile(r"^(it|they|this|such|because|so)\b|\b(such(?! as)|this|these|those)\b", re.I)


def _spec(name: str) -> SpecContent:
    if name == "example":
        with open(builtin.__file__.replace("__init__.py", "example.yaml"), "rb") as f:
            return parse_spec(f.read(), filename="example.yaml").content
    return parse_spec(IMPORTED, filename="tiny.yaml").content


def _norm(text: str) -> str:
    return " ".join(re.findall(r"[a-z0-9]+", text.lower()))


def _smoke(content: SpecContent, rendering: str, **kw: Any) -> list[dict[str, Any]]:
    config = presets.preset("cpu-smoke").for_kind("gen_docs")
    if kw:
        from dataclasses import replace

        config = replace(config, **kw)
    return generate_corpus(view(content, rendering), config)


def _spec_runs(content: SpecContent) -> set[str]:
    """Every 6-word run of the spec's own text (rules, sub-rules, rationales, examples)."""
    runs: set[str] = set()
    for c in content.clauses:
        for text in (c.rule, *c.subrules, c.rationale, *c.examples):
            w = _norm(text).split()
            runs |= {" ".join(w[i : i + 6]) for i in range(len(w) - 5)}
    return runs


def _template_sentences(text: str, runs: set[str]) -> list[str]:
    """Sentences of 4+ words that quote no 6-word run of the spec (labels ending ':' skipped)."""
    out = []
    for line in text.splitlines():
        if line.strip().endswith(":"):
            continue
        for s in re.split(r"(?<=[.!?])\s+(?=[A-Z\"'])", line.strip()):
            w = _norm(s).split()
            if len(w) < 4 or {" ".join(w[i : i + 6]) for i in range(len(w) - 5)} & runs:
                continue
            out.append(" ".join(w))
    return out


@pytest.mark.parametrize("spec", ["example", "imported"])
@pytest.mark.parametrize("rendering", ["rules", "values"])
def test_no_template_sentence_is_used_more_than_twice(spec: str, rendering: str) -> None:
    # Guards against stitched template text ("The spec is explicit here." x31 before): in a
    # cpu-smoke corpus no sentence of the generator's own occurs more than twice.
    content = _spec(spec)
    rows = _smoke(content, rendering)
    assert {r["clause"] for r in rows} == {c.code for c in content.clauses}
    runs = _spec_runs(content)
    counts = Counter(s for r in rows for s in _template_sentences(r["text"], runs))
    assert sum(counts.values()) > 5 * len(rows)  # the check sees most of each document
    worst = counts.most_common(3)
    assert worst[0][1] <= 2, worst
    card = corpus_card(rows, view(content, rendering), spec=content)
    assert card.template_repeat_max <= 2
    assert card.repeated_sentence_rate < 0.05


@pytest.mark.parametrize("spec", ["example", "imported"])
def test_every_reference_is_resolved_in_the_document(spec: str) -> None:
    # Guards "because the stakes are this lopsided" with nothing saying what is lopsided: a
    # rationale sentence that refers back appears only right after the sentence it refers to.
    content = _spec(spec)
    rows = _smoke(content, "values", docs_per_clause=12)
    checked = 0
    for clause in content.clauses:
        sentences = re.split(r"(?<=[.!?])\s+", " ".join(clause.rationale.split()))
        docs = [_norm(r["text"]) for r in rows if r["clause"] == clause.code]
        for before, sentence in zip(sentences, sentences[1:], strict=False):
            if not _BACK.search(sentence):
                continue
            for doc in docs:
                if _norm(sentence) in doc:
                    checked += 1
                    assert f"{_norm(before)} {_norm(sentence)}" in doc, (clause.code, sentence)
    assert checked >= (5 if spec == "example" else 2)
    # Nor does a paragraph open on a dangling "such"/"these" ("This section…" is fine).
    for r in rows:
        for para in re.split(r"\n\s*\n", r["text"]):
            first = para.strip().splitlines()[-1] if para.strip().endswith(":") else para.strip()
            assert not re.match(r"(These|Those|Such|Because)\b", first), first[:80]


def test_documents_of_one_type_differ_in_structure() -> None:
    # Guards per-document variety beyond filled slots: documents of one type have different
    # skeletons (their labelled lines and paragraph counts) across the corpus.
    rows = _smoke(_spec("example"), "values")
    skeletons: dict[str, set[tuple[str, ...]]] = {}
    for r in rows:
        lines = [x.strip() for x in r["text"].splitlines() if x.strip()]
        shape = tuple(
            x if len(x.split()) <= 3 else ("-" if x.startswith("-") else "P") for x in lines
        )
        skeletons.setdefault(r["doc_type"], set()).add(shape)
    counts = Counter(r["doc_type"] for r in rows)
    assert max(counts.values()) - min(counts.values()) <= 1  # types dealt evenly
    varied = [t for t, shapes in skeletons.items() if counts[t] >= 3 and len(shapes) >= 2]
    assert len(varied) >= 0.8 * sum(1 for t in counts if counts[t] >= 3), skeletons.keys()


def test_template_corpus_is_deterministic_per_seed() -> None:
    # Guards reproducibility with the corpus-wide sentence budget: same seed, same corpus.
    content = _spec("imported")
    assert _smoke(content, "values") == _smoke(content, "values")
    assert _smoke(content, "values") != _smoke(content, "values", seed=1)
