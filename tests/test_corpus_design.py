"""Controlled MSM corpora: the corpus design, the corpus card and the study's balance check."""

from __future__ import annotations

import re
import statistics
from collections import Counter
from typing import Any

import pytest

from db.entities import SpecContent
from engine.data.card import CorpusCard, balance, corpus_card
from engine.data.msm import DESIGNS, DocGenConfig, assertions, generate_corpus
from engine.errors import InputError
from engine.jobs.worker import Worker
from engine.pipeline import presets
from engine.pipeline.study import parse_study_file
from engine.service import Service
from engine.specs import builtin
from engine.specs.formats import parse_spec
from engine.specs.render import view
from engine.stages.spec import StageSpec, VariantRef

EXAMPLE = builtin.__file__.replace("__init__.py", "example.yaml")
_SUBJECT = re.compile(r"\bthe assistant should(?: not| never| only| always)? ")


def _example() -> SpecContent:
    with open(EXAMPLE, "rb") as f:
        return parse_spec(f.read(), filename="example.yaml").content


def _norm(text: str) -> str:
    return " ".join(re.findall(r"[a-z0-9]+", text.lower()))


def _corpus(rendering: str, **kw: Any) -> tuple[list[dict[str, Any]], CorpusCard]:
    content = _example()
    rows = generate_corpus(view(content, rendering), DocGenConfig(**kw))
    return rows, corpus_card(rows, view(content, rendering), spec=content)


def _independent_counts(rows: list[dict[str, Any]], rendering: str) -> dict[str, float]:
    """Counts by exact substring search, independent of the card's sentence matching: a rule
    statement is the text after "the assistant should …" of a what-assertion, found verbatim
    (the generator re-voices only the subject and modal before it); a rationale statement is
    a "why" assertion (a rationale sentence, with any that refer back to it) found verbatim."""
    content = _example()
    tails: dict[str, list[str]] = {}
    whys: dict[str, list[str]] = {}
    for clause in view(content, rendering).clauses:
        full = next(c for c in content.clauses if c.code == clause.code)
        tails[clause.code] = []
        for a in assertions(clause):
            if a.kind == "what":
                m = _SUBJECT.search(a.text.lower())
                tails[clause.code].append(_norm(a.text[m.end() :] if m else a.text))
        whys[clause.code] = [_norm(a.text) for a in assertions(full) if a.kind == "why"]
    n = len(rows)
    texts = [_norm(r["text"]) for r in rows]
    return {
        "docs": n,
        "mean_words": sum(len(re.findall(r"[\w'’-]+", r["text"])) for r in rows) / n,
        "tokens": sum(len(r["text"].split()) for r in rows),
        "rules": sum(
            t.count(x) for t, r in zip(texts, rows, strict=True) for x in tails[r["clause"]]
        )
        / n,
        "whys": sum(t.count(x) for t, r in zip(texts, rows, strict=True) for x in whys[r["clause"]])
        / n,
    }


@pytest.mark.parametrize(
    "config",
    [
        pytest.param({}, id="defaults"),
        pytest.param(
            {"docs_per_clause": 6, "target_words": 150}, id="cpu-smoke"
        ),  # the preset's sizes
    ],
)
def test_default_design_holds_rule_exposure_and_length_equal(config: dict[str, Any]) -> None:
    # Guards the rules-vs-values confound: with the default design both corpora state the rule
    # equally often at the same length; values documents add the reasons on top.
    assert DocGenConfig().design == "matched"
    rules_rows, rules = _corpus("rules", **config)
    values_rows, values = _corpus("values", **config)
    for rows, card, rendering in ((rules_rows, rules, "rules"), (values_rows, values, "values")):
        counted = _independent_counts(rows, rendering)
        assert card.docs == counted["docs"]
        assert card.tokens == counted["tokens"]
        assert card.mean_words == pytest.approx(counted["mean_words"], rel=0.01)
        assert card.mean_rule_statements == pytest.approx(counted["rules"], abs=0.01)
        assert card.mean_rationale_sentences == pytest.approx(counted["whys"], abs=0.01)
        assert card.per_clause == dict(Counter(r["clause"] for r in rows))
        assert card.doc_types == dict(sorted(Counter(r["doc_type"] for r in rows).items()))
    assert abs(rules.mean_rule_statements / values.mean_rule_statements - 1) < 0.10
    assert abs(rules.mean_words / values.mean_words - 1) < 0.10
    assert rules.mean_rule_statements >= 2
    assert values.mean_rationale_sentences >= 1
    assert rules.rationale_sentences == 0 and rules.rationale_leak_docs == 0
    assert values.rationale_leak_docs is None  # values keeps its rationales: nothing to leak
    assert balance("rules", rules, "values", values).balanced


@pytest.mark.parametrize(
    ("design", "length_differs", "exposure_differs"),
    [
        ("matched", False, False),
        ("length_matched", False, True),
        ("exposure_matched", True, False),
        ("free", True, True),
    ],
)
def test_each_design_holds_what_it_says(
    design: str, length_differs: bool, exposure_differs: bool
) -> None:
    # Guards the four designs: each holds equal exactly what its name says, and the balance
    # check names what differs and which way.
    assert design in DESIGNS
    _, rules = _corpus("rules", design=design)
    _, values = _corpus("values", design=design)
    result = balance("rules", rules, "values", values)
    words_gap = abs(values.mean_words / rules.mean_words - 1)
    rules_gap = abs(rules.mean_rule_statements / values.mean_rule_statements - 1)
    assert (words_gap > 0.10) == length_differs, (words_gap, rules.mean_words, values.mean_words)
    assert (rules_gap > 0.10) == exposure_differs, rules_gap
    assert any(w.startswith("length: values documents") for w in result.warnings) == (
        length_differs
    )
    assert any(w.startswith("rule exposure: rules documents") for w in result.warnings) == (
        exposure_differs
    )
    assert values.mean_rationale_sentences >= 1 and rules.rationale_sentences == 0


def test_rule_exposure_and_rationale_settings_are_obeyed() -> None:
    # Guards the design's numbers: documents state the rule as often as asked, in any variant.
    for rendering in ("rules", "values", "general"):
        _, card = _corpus(rendering, rule_exposure=3, rationale_per_doc=2, target_words=300)
        assert 3 <= card.mean_rule_statements <= 3.15, (rendering, card.mean_rule_statements)
        expected = 2 if rendering == "values" else 0
        assert card.mean_rationale_sentences == pytest.approx(expected, abs=0.05)


def test_design_is_part_of_the_stage_key() -> None:
    # Guards caching and the capsule: two designs never share a gen_docs stage.
    variant = VariantRef(1, "values", "abc")
    keys = {
        StageSpec(kind="gen_docs", config=DocGenConfig(design=d), variant=variant).key
        for d in DESIGNS
    }
    assert len(keys) == len(DESIGNS)
    smoke = presets.preset("cpu-smoke").for_kind("gen_docs")
    assert smoke.design == "matched"


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"design": "balanced"}, "design"),
        ({"rule_exposure": -1}, "rule_exposure"),
        ({"rationale_per_doc": True}, "rationale_per_doc"),
    ],
)
def test_design_settings_are_validated(kwargs: dict[str, Any], field: str) -> None:
    # Guards the form and study files: a bad design setting names its field.
    with pytest.raises(InputError) as err:
        DocGenConfig(**kwargs)
    assert err.value.field == field


def test_card_catches_a_rationale_leak_and_counts_custom_tokens() -> None:
    # Guards the no-leak check: one rationale sentence pasted into a rules document shows.
    content = _example()
    rows, clean = _corpus("rules", docs_per_clause=2)
    assert clean.rationale_leak_docs == 0
    leaked = [dict(r) for r in rows]
    sp1 = next(c for c in content.clauses if c.code == "SP1")
    first = re.split(r"(?<=\.)\s+", sp1.rationale.strip())[0]
    i = next(i for i, r in enumerate(leaked) if r["clause"] == "SP1")
    leaked[i]["text"] += f"\n{first}\n"
    card = corpus_card(leaked, view(content, "rules"), spec=content)
    assert card.rationale_leak_docs == 1 and card.rationale_sentences == 1
    chars = corpus_card(rows, view(content, "rules"), tokenize=list, tokenizer="characters")
    assert chars.tokens == sum(len(r["text"]) for r in rows)
    assert chars.tokenizer == "characters"
    assert CorpusCard.from_dict(card.to_dict()) == card


def test_card_measures_repetition_and_near_duplicates() -> None:
    # Guards the quality numbers: a corpus of copies is all repeats and near-duplicates.
    content = _example()
    rows, card = _corpus("values", docs_per_clause=3)
    assert card.near_duplicate_rate == 0.0
    copies = [rows[0]] * 4
    dup = corpus_card(copies, view(content, "values"), spec=content)
    assert dup.near_duplicate_rate == 0.75
    assert dup.repeated_sentence_rate == 1.0
    assert dup.distinct_4gram_ratio == pytest.approx(0.25, abs=0.01)
    assert statistics.mean([card.distinct_4gram_ratio]) > 0.25


STUDY = b"""\
name: balance
spec: example
variants: [rules, values]
arms: [msm]
seeds: [0]
model: builtin:smollm2-135m-instruct
preset: cpu-smoke
evals: []
"""


def _corpora_only(svc: Service, text: bytes) -> int:
    """Launch a study, cancel everything but its gen_docs jobs, and work those."""
    launched = svc.launch_study(parse_study_file(text, filename="s.yaml"))
    study = svc.get_study(launched.study_id)
    for stage in {st.key: st for r in study.runs for st in r.stages}.values():
        if stage.kind != "gen_docs" and stage.job_id is not None:
            svc.cancel_job(stage.job_id)
    assert Worker(svc.settings, svc.db, burst=True).run() == 2
    study = svc.get_study(launched.study_id)
    done = {st.kind for r in study.runs for st in r.stages if st.state == "succeeded"}
    assert done == {"gen_docs"}
    return launched.study_id


def test_study_corpus_balance_warns_which_way(seeded: Service) -> None:
    # Guards the study page's warning: balanced by default, named and directed when not.
    study_id = _corpora_only(seeded, STUDY)
    (pair,) = seeded.corpus_balance(study_id)
    assert (pair.variant_a, pair.variant_b) == ("rules", "values")
    assert pair.balanced and pair.rules_a == pytest.approx(pair.rules_b, rel=0.10)
    free = STUDY.replace(b"evals: []", b"evals: []\noverrides: {gen_docs: {design: free}}")
    (pair,) = seeded.corpus_balance(_corpora_only(seeded, free.replace(b"balance", b"free")))
    assert not pair.balanced
    assert any(w.startswith("rule exposure: rules documents carry") for w in pair.warnings)
    assert any(w.startswith("length: values documents carry") for w in pair.warnings)
    stage = next(
        st
        for r in seeded.get_study(study_id).runs
        for st in r.stages
        if st.kind == "gen_docs" and r.variant_name == "rules"
    )
    docs = stage.artifact("docs")
    assert docs is not None
    stored = seeded.dataset(docs.sha256).provenance
    assert stored["design"] == "matched" and stored["card"]["rationale_leak_docs"] == 0


def test_study_page_warns_when_corpora_differ(svc: Service) -> None:
    # Guards the warning where the comparison is read: a `free` design's corpora differ in
    # rule exposure and length, and the study page says so and which way.
    from conftest import open_app

    free = STUDY.replace(b"evals: []", b"evals: []\noverrides: {gen_docs: {design: free}}")
    study_id = _corpora_only(svc, free)
    at = open_app("views/study.py", study=str(study_id))
    assert not at.exception, at.exception
    shown = [w.value.replace("\\", "") for w in at.warning]
    assert any("MSM corpora rules vs values: rule exposure" in w for w in shown), shown
    balanced = _corpora_only(svc, STUDY.replace(b"name: balance", b"name: matched"))
    at = open_app("views/study.py", study=str(balanced))
    assert not any("MSM corpora" in w.value for w in at.warning)
