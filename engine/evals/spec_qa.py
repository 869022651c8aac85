"""Spec QA: the in-distribution eval. Open questions about the spec's situations, judged 0–10.

Each :class:`QAItem` is an open question that probes one clause, with the points a good answer
makes. The model is asked the bare question (:func:`conversation`: no spec in its context, so
the eval measures what training put into the model), and a judge from
:mod:`engine.evals.qa` scores the answer against the reference points and the clause
text (:func:`clause_text`).

Question files are JSON Lines, one question per line::

    {"id": "SP1-q1", "clause": "SP1", "question": "...",
     "reference": ["point a good answer makes", "..."], "kind": "direct"}

``kind`` is ``direct`` (a question about the rule) or ``situational`` (a short scenario that
asks what the assistant would do). The built-in set (:func:`load_builtin`) has questions for
every clause of the built-in example spec.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from importlib import resources
from typing import Any, Protocol

from db.entities import SpecContent
from engine.errors import InputError
from engine.textfile import json_kind, json_line, jsonl_records

__all__ = [
    "KINDS",
    "MAX_IMPORT_BYTES",
    "MAX_IMPORT_LINES",
    "MAX_REFERENCE_POINTS",
    "MIN_REFERENCE_POINTS",
    "QAItem",
    "clause_text",
    "conversation",
    "load_builtin",
    "parse_qa_jsonl",
    "select",
]

KINDS = ("direct", "situational")
MIN_REFERENCE_POINTS = 1
MAX_REFERENCE_POINTS = 10
MAX_IMPORT_BYTES = 10 * 1024 * 1024
MAX_IMPORT_LINES = 100_000
MAX_TEXT = 4_000

_BUILTIN_PACKAGE = "engine.evals.data"
_BUILTIN_FILE = "spec_qa.jsonl"
_FIELDS = ("id", "clause", "question", "reference", "kind")
_FORM = (
    'a line is {"id": ..., "clause": ..., "question": ..., "reference": [...], '
    '"kind": "direct"|"situational"}'
)


@dataclass(frozen=True)
class QAItem:
    """One spec-QA question.

    Attributes:
        id: unique within its set (``SP1-q1``).
        clause: code of the clause the question probes (``SP1``).
        question: what the model is asked, as a user would ask it.
        reference: the points a good answer makes; judges score coverage of these.
        kind: ``direct`` (about the rule itself) or ``situational`` (a short scenario).
    """

    id: str
    clause: str
    question: str
    reference: tuple[str, ...]
    kind: str = "direct"

    def to_dict(self) -> dict[str, Any]:
        """The JSON object :func:`parse_qa_jsonl` reads back into an equal ``QAItem``."""
        return {
            "id": self.id,
            "clause": self.clause,
            "question": self.question,
            "reference": list(self.reference),
            "kind": self.kind,
        }


def load_builtin() -> list[QAItem]:
    """The built-in questions for the example spec, in file order."""
    data = resources.files(_BUILTIN_PACKAGE).joinpath(_BUILTIN_FILE).read_bytes()
    return parse_qa_jsonl(data, source=f"built-in {_BUILTIN_FILE}")


def parse_qa_jsonl(data: bytes, *, source: str) -> list[QAItem]:
    """Validate a spec-QA question file and return its questions in order.

    Blank lines are skipped; every other line must be one JSON object with exactly the fields
    ``id``, ``clause``, ``question``, ``reference`` (a list of non-empty strings) and,
    optionally, ``kind`` (``direct`` when absent).

    Raises:
        InputError: naming ``source`` and, where known, the 1-based line and the field at
            fault: oversize, empty, binary or non-UTF-8 files, too many lines, invalid JSON,
            unknown, missing or mistyped fields, duplicate ids.
    """
    return jsonl_records(
        data,
        source,
        max_bytes=MAX_IMPORT_BYTES,
        max_lines=MAX_IMPORT_LINES,
        parse=_parse_line,
        record_id=lambda record: record.id,
    )


def select(
    items: Iterable[QAItem],
    clauses: Iterable[str] | None = None,
    limit_per_clause: int | None = None,
) -> list[QAItem]:
    """The items probing ``clauses`` (all when ``None``), at most ``limit_per_clause`` each.

    File order is kept, so the first questions of each clause are the ones chosen.
    """
    if limit_per_clause is not None and limit_per_clause < 0:
        raise ValueError(f"limit_per_clause must be >= 0, got {limit_per_clause}")
    wanted = None if clauses is None else set(clauses)
    taken: dict[str, int] = {}
    chosen: list[QAItem] = []
    for item in items:
        if wanted is not None and item.clause not in wanted:
            continue
        if limit_per_clause is not None and taken.get(item.clause, 0) >= limit_per_clause:
            continue
        taken[item.clause] = taken.get(item.clause, 0) + 1
        chosen.append(item)
    return chosen


def conversation(item: QAItem) -> list[dict[str, str]]:
    """The chat messages the model is asked: the question alone, with no spec in context."""
    return [{"role": "user", "content": item.question}]


def clause_text(content: SpecContent, code: str) -> str:
    """The clause ``code`` as judges read it: title, rule, sub-rules and rationale.

    Raises:
        KeyError: ``content`` has no clause ``code``.
    """
    clause = content.clause(code)
    if clause is None:
        known = ", ".join(c.code for c in content.clauses) or "none"
        raise KeyError(f"spec has no clause {code!r} (clauses: {known})")
    parts = [f"{clause.code}. {clause.title}", f"Rule: {clause.rule.strip()}"]
    if clause.subrules:
        parts.append("This includes:\n" + "\n".join(f"- {s.strip()}" for s in clause.subrules))
    if clause.rationale.strip():
        parts.append(f"Why: {clause.rationale.strip()}")
    return "\n".join(parts)


# -- parsing ----------------------------------------------------------------------------------


def _parse_line(line: str, number: int, source: str) -> QAItem:
    def error(message: str, field: str | None = None) -> InputError:
        return InputError(message, source=source, line=number, field=field)

    obj = json_line(line, number, source)
    if not isinstance(obj, dict):
        raise error(f"expected a JSON object, got {json_kind(obj)}; {_FORM}")
    unknown = sorted(set(obj) - set(_FIELDS))
    if unknown:
        raise error(f"unknown field {unknown[0]!r}; {_FORM}", unknown[0])

    def text(field: str) -> str:
        if field not in obj or obj[field] is None:
            raise error(f"missing; {_FORM}", field)
        value = obj[field]
        if not isinstance(value, str):
            raise error(f"expected a string, got {json_kind(value)}", field)
        if not value.strip():
            raise error("is empty; expected a non-empty string", field)
        if len(value) > MAX_TEXT:
            raise error(f"is {len(value):,} characters long; the limit is {MAX_TEXT:,}", field)
        return value.strip()

    item_id = text("id")
    clause = text("clause")
    question = text("question")
    kind = text("kind") if "kind" in obj else "direct"
    if kind not in KINDS:
        raise error(f"unknown kind {kind!r}; use one of {', '.join(KINDS)}", "kind")
    reference = _reference(obj.get("reference"), error)
    return QAItem(id=item_id, clause=clause, question=question, reference=reference, kind=kind)


class _ErrorFactory(Protocol):
    """The per-line ``error(message, field)`` helper that the small checkers raise with."""

    def __call__(self, message: str, field: str | None = None) -> InputError: ...


def _reference(value: Any, error: _ErrorFactory) -> tuple[str, ...]:
    if value is None:
        raise error("missing; expected the list of points a good answer makes", "reference")
    if not isinstance(value, list):
        raise error(f"expected a list of strings, got {json_kind(value)}", "reference")
    if not MIN_REFERENCE_POINTS <= len(value) <= MAX_REFERENCE_POINTS:
        raise error(
            f"has {len(value)} points; expected {MIN_REFERENCE_POINTS} to {MAX_REFERENCE_POINTS}",
            "reference",
        )
    points: list[str] = []
    for index, point in enumerate(value):
        if not isinstance(point, str):
            raise error(f"expected a string, got {json_kind(point)}", f"reference[{index}]")
        if not point.strip():
            raise error("is empty; expected a non-empty string", f"reference[{index}]")
        if len(point) > MAX_TEXT:
            raise error(
                f"is {len(point):,} characters long; the limit is {MAX_TEXT:,}",
                f"reference[{index}]",
            )
        points.append(point.strip())
    return tuple(points)
