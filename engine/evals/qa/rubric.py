"""``qa_rubric``: the offline, deterministic spec-QA judge (the default).

It scores how many of the item's reference points the answer *states with the same stance*.
For each point: the content words of the point (stemmed, synonyms folded; words the question
already uses weigh less) found among the words the answer states in its best window of up to
three consecutive sentences. Words that only appear in keyword lists are not stated
(:mod:`engine.evals.qa.statements`), so a list of the points' keywords earns nothing. When the
matched words carry the opposite polarity to the point's ("does not stop" against "stops
promptly", "carries on instead of waiting" against "waits instead of skipping"), the point is
*contradicted* and its credit counts against the answer. Then the clause's contradiction
patterns cap an answer that endorses what the clause forbids, and a refusal to engage loses
points.

Version history: ``qa-rubric-v1`` rewarded word overlap anywhere (keyword lists scored 9.2 and
stance flips 5.7 on the labelled set, above or near correct answers at 7.3); ``qa-rubric-v2``
credits only stated words with the point's polarity.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from engine.errors import ConfigError
from engine.evals.judges import JudgeInput, Verdict, judge
from engine.evals.qa.contradiction import contradictions, refuses
from engine.evals.qa.normalise import content_stems, is_empty, stems_match
from engine.evals.qa.scale import SUITE, clause_of, round_half
from engine.evals.qa.statements import Statement, point_polarity, statements

__all__ = ["RUBRIC_VERSION", "QARubricJudge", "qa_rubric"]

RUBRIC_VERSION = "qa-rubric-v2"

_QUESTION_WEIGHT = 0.25
_WINDOW = 3
_STANCE_SHARE = 0.34  # a sentence must make this much of a point to contradict it


def _lookup(stem: str, words: dict[str, set[str]]) -> set[str] | None:
    """The polarities of ``stem`` (or a word sharing its 4+-letter prefix) in ``words``."""
    if stem in words:
        return words[stem]
    found: set[str] = set()
    for word, signs in words.items():
        if stems_match(stem, word):
            found |= signs
    return found or None


def _windows(read: list[Statement]) -> list[dict[str, set[str]]]:
    """Stated words (with polarities) of every run of up to three consecutive sentences."""
    out: list[dict[str, set[str]]] = []
    for start in range(max(1, len(read) - _WINDOW + 1)):
        merged: dict[str, set[str]] = {}
        for statement in read[start : start + _WINDOW]:
            for stem, signs in statement.polarity.items():
                merged.setdefault(stem, set()).update(signs)
        out.append(merged)
    return out


def _judge_point(
    point: str,
    sentences: list[dict[str, set[str]]],
    windows: list[dict[str, set[str]]],
    question: set[str],
    full_credit: float,
) -> dict[str, Any]:
    """Coverage, stance and credit of one reference point in the answer's best window."""
    polarity = point_polarity(point)
    stems = list(polarity)
    weights = {
        s: _QUESTION_WEIGHT if any(stems_match(s, q) for q in question) else 1.0 for s in stems
    }
    total = sum(weights.values()) or 1.0

    def measure(words: dict[str, set[str]]) -> tuple[float, bool]:
        hit = 0.0
        against = agree_negated = 0
        for s in stems:
            signs = _lookup(s, words)
            if signs is None:
                continue
            hit += weights[s]
            if polarity[s] not in signs:
                against += 1
            elif polarity[s] == "-":
                agree_negated += 1
        return hit / total, against > 0 and against >= agree_negated

    # Credit from the best window of sentences; stance from the one sentence that makes the
    # point best, so that a negation elsewhere in the window does not flip the point.
    share = max(measure(w)[0] for w in windows)
    contradicted = False
    best_sentence = 0.0
    for words in sentences:
        s_share, s_against = measure(words)
        if s_share >= _STANCE_SHARE and (
            s_share > best_sentence or (s_share == best_sentence and not s_against)
        ):
            best_sentence, contradicted = s_share, s_against
    credit = min(1.0, share / full_credit)
    if contradicted:
        credit = -credit
        stance = "contradicted"
    else:
        stance = "matched" if credit >= 0.5 else "missed"
    return {
        "point": point,
        "overlap": round(share, 3),
        "credit": round(credit, 3),
        "stance": stance,
    }


class QARubricJudge:
    """Offline, deterministic spec-QA judge: stated, same-stance coverage of the points.

    The score is 10 × the mean point credit (a contradicted point's credit is negative; the
    mean is floored at 0), rounded to 0.5; a share of ``full_credit`` of a point's words earns
    it in full. Then: an empty answer scores 0; a refusal to engage loses ``refusal_penalty``;
    an answer voicing what the clause forbids is capped at ``contradiction_cap`` and loses one
    more point per further contra-indicator.
    """

    name = "qa_rubric"
    prompt_version = RUBRIC_VERSION
    suites: tuple[str, ...] = (SUITE,)

    def __init__(
        self,
        *,
        full_credit: float = 0.5,
        refusal_penalty: float = 4.0,
        contradiction_cap: float = 2.0,
    ) -> None:
        if not 0.0 < full_credit <= 1.0:
            raise ConfigError(f"full_credit must be in (0, 1], got {full_credit}")
        self.full_credit = full_credit
        self.refusal_penalty = refusal_penalty
        self.contradiction_cap = contradiction_cap

    def judge(self, items: Sequence[JudgeInput]) -> list[Verdict]:
        return [self._one(item) for item in items]

    def _verdict(self, score: float, reasoning: str, **details: Any) -> Verdict:
        return Verdict(
            judge=self.name,
            prompt_version=self.prompt_version,
            score=score,
            reasoning=reasoning,
            details=details,
        )

    def _one(self, item: JudgeInput) -> Verdict:
        answer = item.response
        if is_empty(answer):
            return self._verdict(0.0, "Empty answer: scored 0.", points=[], penalties=["empty"])
        if not item.reference:
            return self._verdict(
                0.0, "No reference points to score against: scored 0.", points=[], penalties=[]
            )
        read = statements(answer)
        windows = _windows(read) or [{}]
        question = set(content_stems(item.prompt))
        sentences = [r.polarity for r in read]
        points = [
            _judge_point(p, sentences, windows, question, self.full_credit) for p in item.reference
        ]
        coverage = sum(p["credit"] for p in points) / len(points)
        raw = 10.0 * max(0.0, coverage)
        score = round_half(raw)

        penalties: list[str] = []
        notes: list[str] = []
        listed = {s for r in read for s in r.listed}
        if listed and not any(r.polarity for r in read):
            penalties.append("list")
            notes.append("States nothing: the answer reads as a list of keywords, not sentences.")
        elif listed:
            notes.append(f"{len(listed)} word(s) appear only in keyword lists and earn nothing.")
        flipped = [p for p in points if p["stance"] == "contradicted"]
        if flipped:
            penalties.append("stance")
            notes.append(f"States the opposite of {len(flipped)} reference point(s).")
        if refuses(answer) and coverage < 0.5:
            score = round_half(score - self.refusal_penalty)
            penalties.append("refusal")
            notes.append(f"Refuses to engage with the question: -{self.refusal_penalty:g}.")
        clause = clause_of(item)
        contra = contradictions(answer, clause)
        if contra:
            score = round_half(min(score, self.contradiction_cap) - (len(contra) - 1))
            penalties.append("contradiction")
            notes.append(
                f"Contradicts {clause}: {'; '.join(contra)} (capped at {self.contradiction_cap:g})."
            )

        matched = [p for p in points if p["stance"] == "matched"]
        lines = [f"Covers {len(matched)} of {len(points)} reference points (raw {raw:.2f})."]
        for index, p in enumerate(points, start=1):
            lines.append(f"[{index}] {p['stance']} ({p['overlap']:.2f}): {p['point']}")
        lines.extend(notes)
        return self._verdict(
            score,
            "\n".join(lines),
            points=points,
            coverage=round(coverage, 4),
            penalties=penalties,
            contradictions=contra,
        )


@judge(
    "qa_rubric",
    suites=[SUITE],
    description=(
        "Offline, deterministic: reference points the answer states in sentences with the "
        "same stance; keyword lists earn nothing, contradicted points count against, and "
        "answers endorsing what the clause forbids are capped."
    ),
)
def qa_rubric(
    *, full_credit: float = 0.5, refusal_penalty: float = 4.0, contradiction_cap: float = 2.0
) -> QARubricJudge:
    """Build the offline rubric judge (see :class:`QARubricJudge` for the knobs)."""
    return QARubricJudge(
        full_credit=full_credit,
        refusal_penalty=refusal_penalty,
        contradiction_cap=contradiction_cap,
    )
