"""Re-judging spec-QA answers from a file, and validating a QA judge on a labelled set.

Two JSON Lines formats, both keyed by the built-in question ids (``SP1-q1``…):

* answers to (re-)judge — ``{"id": ..., "question_id": "SP1-q1", "response": "..."}``;
  :func:`rejudge` returns one ``{"id", "judge", "score", "reasons"}`` per line;
* a labelled validation set — the same fields plus ``"kind"`` (``correct``, ``keywords``,
  ``stance_flip``, ``off_topic``, ``partial`` or any word of your own) and ``"acceptable"``
  (``true``/``false``, or ``null`` for "no binary truth"). The built-in set
  (``engine/evals/data/qa_validation.jsonl``: 45 answers of each of the five kinds over 45
  built-in questions) is what :func:`validate` reads by default.

A score of :data:`ACCEPTABLE_AT` (5) or more counts as "acceptable" when a judge's scores are
compared with the labels (accuracy, recall, specificity, Cohen's kappa from
:func:`engine.evals.validation.agreement`); the per-kind mean scores are reported beside them.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any

from engine.errors import InputError
from engine.evals import judges
from engine.evals.judges import JudgeInput, Verdict
from engine.evals.spec_qa import QAItem, load_builtin
from engine.evals.validation import Agreement, agreement
from engine.textfile import json_kind, json_line, jsonl_records

__all__ = [
    "ACCEPTABLE_AT",
    "Answer",
    "QAValidation",
    "load_builtin_validation",
    "parse_answers",
    "rejudge",
    "validate",
]

ACCEPTABLE_AT = 5.0
MAX_BYTES = 10 * 1024 * 1024
MAX_LINES = 100_000
MAX_RESPONSE = 20_000
_BUILTIN_FILE = "qa_validation.jsonl"


@dataclass(frozen=True)
class Answer:
    """One answer to judge: its id, the built-in question it answers, the text, and (in a
    validation set) its kind and label."""

    id: str
    question_id: str
    response: str
    kind: str = ""
    acceptable: bool | None = None


@dataclass(frozen=True)
class QAValidation:
    """A QA judge measured on a labelled set.

    Attributes:
        judge: the judge's name. prompt_version: its prompt or rule version.
        means: per kind, (mean score, n), in the set's order of first appearance.
        agreement: scores ≥ :data:`ACCEPTABLE_AT` against the ``acceptable`` labels.
        misses: ``(id, kind, score)`` of every answer whose verdict disagrees with its label.
    """

    judge: str
    prompt_version: str
    means: dict[str, tuple[float, int]]
    agreement: Agreement
    misses: tuple[tuple[str, str, float | None], ...]


def _parser(labelled: bool, questions: dict[str, QAItem]) -> Any:
    allowed = {"id", "question_id", "response"} | ({"kind", "acceptable"} if labelled else set())
    form = '{"id": ..., "question_id": "SP1-q1", "response": ...' + (
        ', "kind": ..., "acceptable": true|false|null}' if labelled else "}"
    )

    def parse(line: str, number: int, source: str) -> Answer:
        def error(message: str, field: str | None = None) -> InputError:
            return InputError(message, source=source, line=number, field=field)

        obj = json_line(line, number, source)
        if not isinstance(obj, dict):
            raise error(f"expected a JSON object, got {json_kind(obj)}; a line is {form}")
        unknown = sorted(set(obj) - allowed)
        if unknown:
            raise error(f"unknown field; a line is {form}", unknown[0])
        values: dict[str, str] = {}
        for name in ("id", "question_id", "response") + (("kind",) if labelled else ()):
            value = obj.get(name)
            if not isinstance(value, str):
                raise error(f"expected a string, got {json_kind(value)}", name)
            if len(value) > MAX_RESPONSE:
                raise error(f"is {len(value):,} characters; the limit is {MAX_RESPONSE:,}", name)
            values[name] = value
        if values["question_id"] not in questions:
            raise error(
                f"unknown question {values['question_id']!r}; use a built-in id such as SP1-q1",
                "question_id",
            )
        label = obj.get("acceptable")
        if labelled and label is not None and not isinstance(label, bool):
            raise error(f"expected true, false or null, got {json_kind(label)}", "acceptable")
        return Answer(
            values["id"],
            values["question_id"],
            values["response"],
            values.get("kind", ""),
            label,
        )

    return parse


def parse_answers(data: bytes, *, source: str, labelled: bool = False) -> list[Answer]:
    """Validate an answers file (or, with ``labelled``, a validation set) line by line.

    Raises:
        InputError: naming ``source``, the line and the field at fault.
    """
    questions = {q.id: q for q in load_builtin()}
    return jsonl_records(
        data,
        source,
        max_bytes=MAX_BYTES,
        max_lines=MAX_LINES,
        parse=_parser(labelled, questions),
        record_id=lambda a: a.id,
    )


def load_builtin_validation() -> list[Answer]:
    """The built-in labelled QA validation set, in file order."""
    data = resources.files("engine.evals.data").joinpath(_BUILTIN_FILE).read_bytes()
    return parse_answers(data, source=f"built-in {_BUILTIN_FILE}", labelled=True)


def _judge(answers: Sequence[Answer], judge: judges.Judge) -> list[Verdict]:
    questions = {q.id: q for q in load_builtin()}
    items = []
    for a in answers:
        q = questions[a.question_id]
        items.append(
            JudgeInput(
                suite="spec_qa",
                item_id=q.id,
                prompt=q.question,
                response=a.response,
                reference=q.reference,
                metadata={"clause": q.clause, "kind": q.kind},
            )
        )
    return judge.judge(items) if items else []


def rejudge(answers: Sequence[Answer], judge: judges.Judge) -> list[dict[str, Any]]:
    """One ``{"id", "judge", "score", "reasons"}`` per answer (``judge`` is ``name@version``)."""
    return [
        {
            "id": a.id,
            "judge": f"{v.judge}@{v.prompt_version}",
            "score": v.score,
            "reasons": v.reasoning,
        }
        for a, v in zip(answers, _judge(answers, judge), strict=True)
    ]


def validate(judge: judges.Judge, answers: Sequence[Answer] | None = None) -> QAValidation:
    """Score a labelled set with ``judge``: per-kind means and agreement with the labels."""
    rows = list(answers) if answers is not None else load_builtin_validation()
    verdicts = _judge(rows, judge)
    by_kind: dict[str, list[float]] = {}
    labels: list[bool | None] = []
    predictions: list[bool | None] = []
    misses: list[tuple[str, str, float | None]] = []
    for a, v in zip(rows, verdicts, strict=True):
        if v.score is not None:
            by_kind.setdefault(a.kind or "(no kind)", []).append(v.score)
        predicted = None if v.score is None else v.score >= ACCEPTABLE_AT
        labels.append(a.acceptable)
        predictions.append(predicted)
        if a.acceptable is not None and predicted is not a.acceptable:
            misses.append((a.id, a.kind, v.score))
    return QAValidation(
        judge=getattr(judge, "name", "?"),
        prompt_version=getattr(judge, "prompt_version", "?"),
        means={k: (statistics.fmean(v), len(v)) for k, v in by_kind.items()},
        agreement=agreement(labels, predictions),
        misses=tuple(misses),
    )
