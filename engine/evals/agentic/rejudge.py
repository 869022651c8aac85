"""Re-judging agentic replies from a file, and validating a judge on a labelled set.

Input lines (JSONL)::

    {"id": "a1", "condition": "sabotage/none/none", "sample_index": 0, "response": "..."}

The condition and sample index re-render the scenario (ids and indices are stable), so a
reply is judged against the same world it was written for. A labelled line adds ``"label"``:
``true`` (harmful), ``false`` (harmless) or ``null`` (meaning-dependent: an offline rule should
say ``uncertain``), and may add a ``"case"`` description. The built-in set is
``engine/evals/data/agentic_validation.jsonl``.

Output lines: ``{"id", "judge", "prompt_version", "harmful" (true/false/null), "reasons"}``,
plus ``"rule"`` and ``"llm"`` (each ``{"harmful", "prompt_version", "reasons"}``) when an LLM
judge settled an uncertain rule verdict.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any, Final, Protocol, TypeVar

from engine.errors import InputError
from engine.evals import judges
from engine.evals.agentic.actions import parse_actions
from engine.evals.agentic.judges_agentic import settle
from engine.evals.agentic.scenarios import Condition, render
from engine.evals.judges import Judge, JudgeInput, Verdict
from engine.evals.validation import Agreement, agreement
from engine.textfile import jsonl_records

MAX_BYTES: Final = 20 * 1024 * 1024
MAX_LINES: Final = 100_000
MAX_SAMPLE_INDEX: Final = 100_000
VALIDATION_SET: Final = "agentic_validation.jsonl"
_FIELDS: Final = frozenset(("id", "condition", "sample_index", "response", "label", "case"))


class _Identified(Protocol):
    @property
    def id(self) -> str: ...


Reply = TypeVar("Reply", bound=_Identified)
"""A parsed line of a re-judging input: anything with the caller's ``id``."""


@dataclass(frozen=True)
class AgenticLine:
    """One reply to judge.

    Attributes:
        id: the caller's id for the line.
        condition: the condition it answers (``scenario/goal_conflict/urgency``).
        sample_index: the rendering it answers.
        response: the agent's full reply.
        label: the labelled truth, when the line has one (``None`` = uncertain expected).
        labelled: whether the line has a ``label`` field.
        case: a short description of the case, when given.
    """

    id: str
    condition: Condition
    sample_index: int
    response: str
    label: bool | None = None
    labelled: bool = False
    case: str = ""


@dataclass(frozen=True)
class JudgedLine:
    """The verdict on one line, as written to the output file."""

    id: str
    verdict: Verdict
    rule: Verdict | None = None
    llm: Verdict | None = None

    @property
    def harmful(self) -> bool | None:
        return self.verdict.harmful

    def to_dict(self) -> dict[str, Any]:
        """The output line (see the module docstring)."""
        out: dict[str, Any] = {
            "id": self.id,
            "judge": self.verdict.judge,
            "prompt_version": self.verdict.prompt_version,
            "harmful": self.verdict.harmful,
            "reasons": self.verdict.reasoning,
        }
        for key, v in (("rule", self.rule), ("llm", self.llm)):
            if v is not None:
                out[key] = {
                    "harmful": v.harmful,
                    "prompt_version": v.prompt_version,
                    "reasons": v.reasoning,
                }
        return out


@dataclass(frozen=True)
class ValidationMiss:
    """A labelled line the judge got wrong (or left uncertain)."""

    id: str
    case: str
    label: bool | None
    prediction: bool | None
    reasons: str


@dataclass(frozen=True)
class ValidationReport:
    """A judge's agreement with a labelled set, and the lines it missed.

    Attributes:
        judge: ``name@prompt_version`` of the judge (and of the LLM that settled, if any).
        source: the labelled set's name.
        agreement: the metrics (:func:`engine.evals.validation.agreement`).
        misses: unambiguous lines judged wrongly or left uncertain.
        decided_ambiguous: meaning-dependent lines the judge decided anyway.
    """

    judge: str
    source: str
    agreement: Agreement
    misses: tuple[ValidationMiss, ...]
    decided_ambiguous: tuple[ValidationMiss, ...]


def reply_record(
    text: str, number: int, source: str, fields: frozenset[str]
) -> tuple[dict[str, Any], int]:
    """One JSONL line of a reply to judge, checked: an object with only ``fields``, string
    ``id``, ``condition`` and ``response``, and a ``sample_index`` (default 0) in range; and
    that index. Shared by every suite's re-judging input.

    Raises:
        InputError: naming the line and the field at fault.
    """
    from engine.textfile import json_line

    record = json_line(text, number, source)
    if not isinstance(record, dict):
        raise InputError("each line must be a JSON object", source=source, line=number)
    unknown = sorted(set(record) - fields)
    if unknown:
        raise InputError(
            f"unknown field(s) {', '.join(unknown)[:200]}; known: {', '.join(sorted(fields))}",
            source=source,
            line=number,
            field=unknown[0][:60],
        )
    for key in ("id", "condition", "response"):
        if not isinstance(record.get(key), str):
            raise InputError("must be a string", source=source, line=number, field=key)
    index = record.get("sample_index", 0)
    if not isinstance(index, int) or isinstance(index, bool) or not 0 <= index <= MAX_SAMPLE_INDEX:
        raise InputError(
            f"must be an integer from 0 to {MAX_SAMPLE_INDEX}",
            source=source,
            line=number,
            field="sample_index",
        )
    return record, index


def _line(text: str, number: int, source: str) -> AgenticLine:
    record, index = reply_record(text, number, source, _FIELDS)
    label = record.get("label")
    if label is not None and not isinstance(label, bool):
        raise InputError("must be true, false or null", source=source, line=number, field="label")
    try:
        condition = Condition.parse(record["condition"])
    except InputError as exc:
        raise InputError(exc.detail, source=source, line=number, field="condition") from None
    return AgenticLine(
        record["id"],
        condition,
        index,
        record["response"],
        label,
        "label" in record,
        str(record.get("case") or ""),
    )


def read_replies(data: bytes, source: str, parse: Callable[[str, int, str], Reply]) -> list[Reply]:
    """A JSONL file of replies to judge, each line read by ``parse`` (which names the line and
    field at fault), within the size and line limits every re-judging input shares; ids must
    be unique."""
    return jsonl_records(
        data,
        source,
        max_bytes=MAX_BYTES,
        max_lines=MAX_LINES,
        parse=parse,
        record_id=lambda r: r.id,
    )


def read_lines(data: bytes, source: str) -> list[AgenticLine]:
    """Parse a JSONL file of agentic replies (see the module docstring).

    Raises:
        InputError: a malformed line, naming the line and the field.
    """
    return read_replies(data, source, _line)


def builtin_set() -> tuple[bytes, str]:
    """The built-in labelled agentic set: its bytes and its name."""
    data = resources.files("engine.evals.data").joinpath(VALIDATION_SET).read_bytes()
    return data, VALIDATION_SET


def _inputs(lines: Sequence[AgenticLine]) -> list[JudgeInput]:
    items = []
    for line in lines:
        r = render(line.condition, line.sample_index)
        parsed = parse_actions(line.response)
        items.append(
            JudgeInput(
                suite="agentic",
                item_id=r.item_id,
                prompt=f"{r.system}\n\n{r.user}",
                response=line.response,
                reference=(r.facts["harm_definition"],),
                actions=tuple(a.to_dict() for a in parsed.actions),
                metadata={"facts": r.facts, "condition": r.condition.id},
            )
        )
    return items


def judge_lines(
    lines: Sequence[AgenticLine], judge: Judge, settle_with: Judge | None = None
) -> list[JudgedLine]:
    """Judge every line with ``judge``; ``settle_with`` (an LLM judge) resolves what
    ``judge`` left uncertain."""
    items = _inputs(lines)
    first = judge.judge(items)
    if settle_with is None:
        return [JudgedLine(line.id, v) for line, v in zip(lines, first, strict=True)]
    llm, headline = settle(first, items, settle_with)
    return [
        JudgedLine(line.id, h if h is not None else r, r if lv is not None else None, lv)
        for line, r, lv, h in zip(lines, first, llm, headline, strict=True)
    ]


def validate(
    lines: Sequence[AgenticLine], judge: Judge, settle_with: Judge | None = None, *, source: str
) -> ValidationReport:
    """Judge a labelled set and measure agreement with its labels.

    Raises:
        InputError: a line has no ``label`` field.
    """
    unlabelled = [line.id for line in lines if not line.labelled]
    if unlabelled:
        raise InputError(
            f"{len(unlabelled)} line(s) have no 'label' (first: {unlabelled[0]!r}); a validation "
            "set labels every line true, false or null",
            source=source,
            field="label",
        )
    judged = judge_lines(lines, judge, settle_with)
    labels = [line.label for line in lines]
    predictions = [j.harmful for j in judged]
    result = agreement(labels, predictions)

    def miss(i: int) -> ValidationMiss:
        return ValidationMiss(
            lines[i].id, lines[i].case, labels[i], predictions[i], judged[i].verdict.reasoning
        )

    name = f"{judge.name}@{judge.prompt_version}"
    if settle_with is not None:
        name += f" + {settle_with.name}@{settle_with.prompt_version}"
    return ValidationReport(
        name,
        source,
        result,
        tuple(miss(m.index) for m in result.misses),
        tuple(miss(i) for i in result.decided_ambiguous),
    )


def make_judges(
    judge: str, judge_base_url: str = "", judge_model: str = ""
) -> tuple[Judge, Judge | None]:
    """The judge named ``judge`` and, for the offline judge with an LLM endpoint, the LLM judge
    that settles its uncertain verdicts.

    Args:
        judge: a registered agentic judge name.
        judge_base_url: an OpenAI-compatible endpoint for ``agentic_llm`` ("" = none).
        judge_model: the model name at that endpoint.

    Raises:
        InputError: an unknown judge, or ``agentic_llm`` without a backend.
    """
    from engine.evals.runner import load_judges

    load_judges()
    judge_backend = judges.judge_backend(judge_base_url, judge_model)
    known = judges.available("agentic")
    if judge not in known:
        raise InputError(
            f"unknown agentic judge {judge!r}; known: {', '.join(known)}", field="--judge"
        )
    if judge == "agentic_llm":
        if judge_backend is None:
            raise InputError(
                "agentic_llm needs a model: pass --judge-base-url (an OpenAI-compatible "
                "endpoint such as `speclab serve-model`) and --judge-model",
                field="--judge-base-url",
            )
        return judges.make(judge, backend=judge_backend), None
    llm = judges.make("agentic_llm", backend=judge_backend) if judge_backend is not None else None
    return judges.make(judge), llm
