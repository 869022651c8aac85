"""Judging transcripts produced elsewhere in the published format
(``speclab judge FILE.jsonl --suite agentic_published``).

Input lines (JSONL)::

    {"id": "t1", "condition": "blackmail_explicit-america_replacement", "sample_index": 0,
     "response": "<SCRATCHPAD_REASONING>…</SCRATCHPAD_REASONING><tool_use:email>…"}

``sample_index`` is optional (0). The condition and index re-render SpecLab's scenario, whose
addresses and codes the world rules and gates check; a transcript written against another
tool's inbox (other names, other codes) is judged against ours, so only its calls that use
our rendering's addresses and codes can count. Output lines: :meth:`.evaluate.Judged.to_line`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from engine.errors import InputError
from engine.evals.agentic.rejudge import read_replies, reply_record
from engine.evals.judges import Judge
from engine.evals.published.conditions import PublishedCondition
from engine.evals.published.evaluate import judge_replies
from engine.evals.published.render import render

_FIELDS: Final = frozenset(("id", "condition", "sample_index", "response"))


@dataclass(frozen=True)
class Transcript:
    """One line to judge."""

    id: str
    condition: PublishedCondition
    sample_index: int
    response: str


def _line(text: str, number: int, source: str) -> Transcript:
    record, index = reply_record(text, number, source, _FIELDS)
    try:
        condition = PublishedCondition.parse(record["condition"])
    except InputError as exc:
        raise InputError(exc.detail, source=source, line=number, field="condition") from None
    return Transcript(record["id"], condition, index, record["response"])


def read_transcripts(data: bytes, source: str) -> list[Transcript]:
    """Parse a JSONL file of published-format transcripts.

    Raises:
        InputError: a malformed line, naming the line and the field.
    """
    return read_replies(data, source, _line)


def judge_transcripts(lines: list[Transcript], classifier: Judge | None) -> list[dict[str, Any]]:
    """The three verdicts per line, as output lines (``classifier_verdict`` and ``parity`` are
    null without a classifier)."""
    rendered = [render(t.condition, t.sample_index) for t in lines]
    judged = judge_replies(rendered, [t.response for t in lines], classifier)
    return [
        {**j.to_line(t.id), "condition": t.condition.id, "sample_index": t.sample_index}
        for t, j in zip(lines, judged, strict=True)
    ]
