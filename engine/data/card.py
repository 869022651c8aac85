"""The corpus card: what a document set carries, counted from its text.

Every MSM document set gets a card (stored in its dataset's provenance, printed by
``speclab data card``). The numbers are computed from the documents' text against the spec,
not from the generator's bookkeeping, so the card reads the same for template, model-written
and imported documents:

- **rule statements**: sentences that state one of the clause's "what" assertions (its rule,
  sub-rules or kept examples), verbatim or re-voiced ("the agent must not …"). A sentence
  states an assertion sentence when it contains at least :data:`MATCH_RECALL` of that
  sentence's content words (stop words, the subject and modal verbs do not count).
- **rationale sentences**: sentences that state one of the clause's rationale sentences, by
  the same test, against the *spec's* rationale, so a ``rules`` corpus counts its leaks here.
- **rationale leak** (renderings that drop rationales): documents containing any 8-word run
  of a rationale the variant dropped.
- **repeated-sentence rate**: the share of sentence occurrences (of 4 words or more) whose
  text occurs 3 or more times in the corpus; ``template_repeat_max`` is the most times one
  sentence that states neither rule nor rationale occurs, the measure of stitched template
  text (the spec's own sentences are meant to recur).
- **distinct 4-grams** and **near-duplicate rate** (documents with word 5-shingle Jaccard
  above 0.5 to an earlier document of the same clause).

:func:`balance` compares two cards the way the study page warns: by more than 10% in mean
words or in mean rule statements per document, and which way.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from db.entities import Clause, SpecContent
from engine.data.msm.assertions import assertions
from engine.data.msm.dedupe import near_duplicates
from engine.data.msm.grammar import sentences, split_words
from engine.data.msm.grammar import words as _words
from engine.errors import InputError
from engine.specs.render import word_count
from engine.textfile import json_line, jsonl_records

#: The card's stored format; bump when a field's meaning changes.
CARD_VERSION = 1
#: Share of an assertion sentence's content words a document sentence must contain to state it.
MATCH_RECALL = 0.6
#: Near-duplicate threshold for the card (stricter than the generator's dedupe default).
NEAR_DUPLICATE_JACCARD = 0.5
#: Variants whose mean words or rule statements per document differ by more than this warn.
BALANCE_TOLERANCE = 0.10
LEAK_RUN = 8

_STOP = frozenset(
    split_words(
        """
    a about above after again all also am an and any are as at be because been before being
    but by can cannot could did do does doing don't down during each even ever every few for
    from further had has have having he her here hers him his how i if in into is it it's its
    itself just may me might more most must my never no nor not now of off on once only or
    other our ours out over own same shall she should so some such than that the their them
    then there these they this those through to too under until up upon very was we were what
    when where which while who whom why will with would you your yours
    assistant assistants agent model ai expected meant supposed spec clause rule
    """
    )
)


def _content(text: str) -> frozenset[str]:
    """Content words, crudely stemmed (a plural ``s`` dropped), for matching statements."""
    out = set()
    for w in _words(text):
        if len(w) < 3 or w in _STOP:
            continue
        out.add(w[:-1] if len(w) > 4 and w.endswith("s") and not w.endswith("ss") else w)
    return frozenset(out)


#: One sentence of an assertion: (assertion index, sentence index, content words).
_KeySentence = tuple[int, int, frozenset[str]]


@dataclass(frozen=True)
class _ClauseKey:
    rules: tuple[_KeySentence, ...]
    rationale: tuple[_KeySentence, ...]
    dropped_runs: frozenset[str]


def _assertion_sentences(texts: Iterable[str]) -> tuple[_KeySentence, ...]:
    out = []
    for ai, text in enumerate(texts):
        for si, s in enumerate(sentences(text)):
            c = _content(s)
            if len(c) >= 3:
                out.append((ai, si, c))
    return tuple(out)


def _runs(text: str, n: int = LEAK_RUN) -> frozenset[str]:
    w = _words(text)
    return frozenset(" ".join(w[i : i + n]) for i in range(len(w) - n + 1))


def _clause_keys(variant: SpecContent, spec: SpecContent) -> dict[str, _ClauseKey]:
    full = {c.code: c for c in spec.clauses}
    out: dict[str, _ClauseKey] = {}
    for clause in variant.clauses:
        source: Clause = full.get(clause.code, clause)
        whats = [a.text for a in assertions(clause) if a.kind == "what"]
        whys = [a.text for a in assertions(source) if a.kind == "why"]
        dropped = _runs(source.rationale) if not clause.rationale.strip() else frozenset()
        out[clause.code] = _ClauseKey(
            _assertion_sentences(whats), _assertion_sentences(whys), dropped
        )
    return out


def _best(
    sentence: frozenset[str], keys: Sequence[_KeySentence]
) -> tuple[float, tuple[int, int] | None]:
    best: tuple[float, tuple[int, int] | None] = (0.0, None)
    for ai, si, k in keys:
        recall = len(k & sentence) / len(k)
        if recall > best[0]:
            best = (recall, (ai, si))
    return best


def classify(
    sentence: str, rules: Sequence[_KeySentence], rationale: Sequence[_KeySentence]
) -> tuple[str, tuple[int, int] | None]:
    """``("rule" | "rationale" | "other", (assertion, sentence) matched)`` for one sentence."""
    c = _content(sentence)
    (r, r_at), (w, w_at) = _best(c, rules), _best(c, rationale)
    if max(r, w) < MATCH_RECALL:
        return "other", None
    return ("rule", r_at) if r >= w else ("rationale", w_at)


@dataclass(frozen=True)
class CorpusCard:
    """The statistics of one document set (see the module docstring for each measure).

    Attributes:
        docs: documents. words: words (the spec renderer's word count). tokens: tokens by
            ``tokenizer`` (``whitespace`` unless a tokenizer was given).
        mean_words: words per document. min_words/max_words: the extremes.
        per_clause: documents per clause code. doc_types: documents per document type.
        rule_statements: sentences stating the rule, in all; mean_rule_statements per document.
        rationale_sentences: sentences stating a rationale; mean_rationale_sentences per document.
        sentences: sentence occurrences of 4 words or more.
        repeated_sentence_rate: share of those whose text occurs 3+ times in the corpus.
        template_repeat_max: most occurrences of one sentence stating neither rule nor rationale.
        distinct_4grams: distinct word 4-grams; distinct_4gram_ratio: over all 4-grams.
        near_duplicate_rate: share of documents near-duplicating an earlier one.
        rationale_leak_docs: documents containing an 8-word run of a dropped rationale;
            ``None`` when the variant keeps every rationale (nothing to leak).
        version: the card format.
    """

    docs: int
    words: int
    tokens: int
    tokenizer: str
    mean_words: float
    min_words: int
    max_words: int
    per_clause: dict[str, int]
    doc_types: dict[str, int]
    rule_statements: int
    mean_rule_statements: float
    rationale_sentences: int
    mean_rationale_sentences: float
    sentences: int
    repeated_sentence_rate: float
    template_repeat_max: int
    distinct_4grams: int
    distinct_4gram_ratio: float
    near_duplicate_rate: float
    rationale_leak_docs: int | None
    version: int = CARD_VERSION
    per_clause_rule_statements: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CorpusCard:
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(**known)

    def lines(self) -> list[str]:
        """The card as plain text lines (``speclab data card``)."""
        leak = (
            "n/a (the variant keeps its rationales)"
            if self.rationale_leak_docs is None
            else (
                "none" if self.rationale_leak_docs == 0 else f"{self.rationale_leak_docs} documents"
            )
        )
        return [
            f"documents                 {self.docs}",
            f"words                     {self.words} (mean {self.mean_words}, "
            f"min {self.min_words}, max {self.max_words})",
            f"tokens ({self.tokenizer})".ljust(26) + f"{self.tokens}",
            f"rule statements / doc     {self.mean_rule_statements} "
            f"({self.rule_statements} in all)",
            f"rationale sentences / doc {self.mean_rationale_sentences} "
            f"({self.rationale_sentences} in all)",
            f"repeated-sentence rate    {self.repeated_sentence_rate:.1%} of {self.sentences} "
            "sentences occur 3+ times",
            f"template sentence repeats at most {self.template_repeat_max}",
            f"distinct 4-grams          {self.distinct_4grams} ({self.distinct_4gram_ratio:.1%})",
            f"near-duplicate rate       {self.near_duplicate_rate:.1%}",
            f"rationale leak            {leak}",
            "per clause                "
            + ", ".join(f"{k} {v}" for k, v in self.per_clause.items()),
            "document types            " + ", ".join(f"{k} {v}" for k, v in self.doc_types.items()),
        ]


Tokenizer = Callable[[str], Sequence[Any]]


def corpus_card(
    rows: Sequence[Mapping[str, Any]],
    variant: SpecContent,
    *,
    spec: SpecContent | None = None,
    tokenize: Tokenizer | None = None,
    tokenizer: str = "whitespace",
) -> CorpusCard:
    """The card of ``rows`` (``{text, clause, doc_type, …}``) written about ``variant``.

    ``variant`` is the structured clauses the documents were written from (a rendering's
    view); ``spec`` is the full version, whose rationales are counted and checked for leaks
    (default: ``variant``). ``tokenize`` counts tokens (default: whitespace split).
    """
    keys = _clause_keys(variant, spec if spec is not None else variant)
    split: Tokenizer = tokenize if tokenize is not None else str.split
    texts = [str(r.get("text", "")) for r in rows]
    words = [word_count(t) for t in texts]
    tokens = sum(len(split(t)) for t in texts)
    rule_total = why_total = 0
    per_clause_rules: Counter[str] = Counter()
    occurrences: list[tuple[str, str]] = []
    leaks = 0
    any_dropped = any(k.dropped_runs for k in keys.values())
    for row, text in zip(rows, texts, strict=True):
        key = keys.get(str(row.get("clause", "")))
        rules_k = key.rules if key else ()
        why_k = key.rationale if key else ()
        previous: tuple[str, tuple[int, int] | None] = ("other", None)
        for s in sentences(text):
            kind, at = classify(s, rules_k, why_k)
            # The next sentence of the same assertion continues one statement, not a new one.
            continues = (
                at is not None
                and previous[0] == kind
                and previous[1] is not None
                and previous[1] == (at[0], at[1] - 1)
            )
            previous = (kind, at)
            if not continues:
                rule_total += kind == "rule"
                why_total += kind == "rationale"
                per_clause_rules[str(row.get("clause", ""))] += kind == "rule"
            norm = " ".join(_words(s))
            if len(norm.split()) >= 4:
                occurrences.append((norm, kind))
        if key is not None and key.dropped_runs and key.dropped_runs & _runs(text):
            leaks += 1
    counts = Counter(n for n, _ in occurrences)
    repeated = sum(1 for n, _ in occurrences if counts[n] >= 3)
    template_max = max((counts[n] for n, k in occurrences if k == "other"), default=0)
    grams: Counter[tuple[str, ...]] = Counter()
    for t in texts:
        w = _words(t)
        grams.update(tuple(w[i : i + 4]) for i in range(len(w) - 3))
    n_grams = sum(grams.values())
    n = len(rows)
    per_clause = dict(Counter(str(r.get("clause", "")) for r in rows))
    by_clause: dict[str, list[str]] = {}
    for row, text in zip(rows, texts, strict=True):
        by_clause.setdefault(str(row.get("clause", "")), []).append(text)
    # Within a clause: documents about different clauses share too little to be near copies,
    # and comparing every pair of a big corpus would cost quadratic time.
    dups = sum(len(near_duplicates(g, NEAR_DUPLICATE_JACCARD)) for g in by_clause.values())
    return CorpusCard(
        docs=n,
        words=sum(words),
        tokens=tokens,
        tokenizer=tokenizer if tokenize is not None else "whitespace",
        mean_words=round(sum(words) / n, 1) if n else 0.0,
        min_words=min(words, default=0),
        max_words=max(words, default=0),
        per_clause=per_clause,
        doc_types=dict(sorted(Counter(str(r.get("doc_type", "")) for r in rows).items())),
        rule_statements=rule_total,
        mean_rule_statements=round(rule_total / n, 2) if n else 0.0,
        rationale_sentences=why_total,
        mean_rationale_sentences=round(why_total / n, 2) if n else 0.0,
        sentences=len(occurrences),
        repeated_sentence_rate=round(repeated / len(occurrences), 4) if occurrences else 0.0,
        template_repeat_max=template_max,
        distinct_4grams=len(grams),
        distinct_4gram_ratio=round(len(grams) / n_grams, 4) if n_grams else 0.0,
        near_duplicate_rate=round(dups / n, 4) if n else 0.0,
        rationale_leak_docs=leaks if any_dropped else None,
        per_clause_rule_statements={
            c: round(per_clause_rules[c] / k, 2) for c, k in per_clause.items() if k
        },
    )


MAX_DOCS_BYTES = 512 * 1024 * 1024
MAX_DOCS = 1_000_000


def _doc_row(line: str, number: int, source: str) -> tuple[int, dict[str, Any]]:
    value = json_line(line, number, source)
    if not isinstance(value, dict):
        raise InputError("each line must be a JSON object", source=source, line=number)
    for key in ("text", "clause"):
        if not isinstance(value.get(key), str):
            raise InputError(
                f"needs a string {key!r} (documents are {{text, clause, doc_type, …}})",
                source=source,
                line=number,
                field=key,
            )
    return number, value


def parse_docs(data: bytes, source: str) -> list[dict[str, Any]]:
    """Document rows from a JSONL file (``{text, clause, …}`` per line), errors by line."""
    records = jsonl_records(
        data,
        source,
        max_bytes=MAX_DOCS_BYTES,
        max_lines=MAX_DOCS,
        parse=_doc_row,
        record_id=lambda r: str(r[0]),
    )
    if not records:
        raise InputError("the file holds no documents", source=source)
    return [row for _, row in records]


@dataclass(frozen=True)
class CorpusBalance:
    """How two variants' corpora compare on the two things a controlled design holds equal.

    Attributes:
        variant_a/variant_b: the variants compared (in the study's order).
        words_a/words_b: mean words per document.
        rules_a/rules_b: mean rule statements per document.
        warnings: one sentence per measure that differs by more than 10%, saying which way;
            empty when the corpora are balanced.
    """

    variant_a: str
    variant_b: str
    words_a: float
    words_b: float
    rules_a: float
    rules_b: float
    warnings: tuple[str, ...]

    @property
    def balanced(self) -> bool:
        return not self.warnings


def _differs(a: float, b: float) -> float | None:
    """The relative gap between ``a`` and ``b`` (over the smaller) when above the tolerance."""
    lo, hi = min(a, b), max(a, b)
    if hi == 0:
        return None
    gap = (hi - lo) / lo if lo > 0 else float("inf")
    return gap if gap > BALANCE_TOLERANCE else None


def balance(name_a: str, a: CorpusCard, name_b: str, b: CorpusCard) -> CorpusBalance:
    """Compare two corpora's length and rule exposure; warn past :data:`BALANCE_TOLERANCE`."""
    warnings: list[str] = []
    for what, unit, x, y in (
        ("length", "words per document", a.mean_words, b.mean_words),
        (
            "rule exposure",
            "rule statements per document",
            a.mean_rule_statements,
            b.mean_rule_statements,
        ),
    ):
        gap = _differs(x, y)
        if gap is None:
            continue
        more, less = (name_a, name_b) if x > y else (name_b, name_a)
        pct = "infinitely" if gap == float("inf") else f"{gap:.0%}"
        warnings.append(
            f"{what}: {more} documents carry {pct} more {unit} than {less} "
            f"({max(x, y)} vs {min(x, y)})"
        )
    return CorpusBalance(
        name_a,
        name_b,
        a.mean_words,
        b.mean_words,
        a.mean_rule_statements,
        b.mean_rule_statements,
        tuple(warnings),
    )
