"""AFT demonstrations written by a model from the spec, and the filter that keeps them honest.

A generator model reads a spec variant's text (its system prompt) and a prompt, and writes the
with-CoT form of a demonstration: a ``<reasoning>`` block that decides what to do by citing
the clause codes that apply, then the reply. The stripped twin (the same reply without the
reasoning) comes from :func:`engine.data.demos.to_aft_rows`, so both AFT arms train on one set.
The training rows hold the prompt alone: the spec is in context only while writing.

Every written demonstration passes mechanical checks (:func:`mechanical_reason`) and, when an
LLM judge is configured, a yes/no consistency question (:class:`ConsistencyJudge`). The
counts of what was kept and why the rest was rejected (:class:`FilterReport`) go into the
stage result and the dataset's provenance.

Writing is batched and resumable: each batch of written texts and of verdicts is appended to
a JSON Lines checkpoint before the next batch starts, and a re-run reads it back and writes
only what is missing (:func:`write_demos`).
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.data.demos import COT_CLOSE, COT_OPEN, Demo, split_reasoning
from engine.errors import SpecLabError

__all__ = [
    "JUDGE_VERSION",
    "REASONS",
    "WRITER_VERSION",
    "Checkpoint",
    "ConsistencyJudge",
    "DemoPrompt",
    "FilterReport",
    "cited_codes",
    "mechanical_reason",
    "parse_verdict",
    "prompts_from",
    "write_demos",
    "writer_conversation",
]

#: Version of the writing prompt; recorded in the provenance. Change it with the prompt.
WRITER_VERSION = "demo-writer-v1"
#: Version of the judge's prompt and verdict parsing; recorded with its counts.
JUDGE_VERSION = "demo-judge-v1"

#: Why a written demonstration is rejected, reason → what it means.
REASONS: dict[str, str] = {
    "empty_response": "no reply after the reasoning (nothing written, or the reasoning never "
    "closed before the token limit)",
    "no_clause_cited": "the reasoning cites no clause code of the spec",
    "placeholder": "placeholder text in the reasoning or reply ([insert …], {{…}}, lorem "
    "ipsum, TODO)",
    "stray_marker": "a reasoning marker inside the reply (it would leak reasoning into the "
    "arm trained without it)",
    "refusal": "a short blanket refusal where the prompt asks for help or action",
    "judge_inconsistent": "the LLM judge answered that it is not consistent with its clauses",
    "judge_unclear": "the LLM judge's reply held no yes/no verdict",
}

Conversation = list[dict[str, str]]
Generate = Callable[[list[Conversation]], list[str]]


@dataclass(frozen=True)
class DemoPrompt:
    """A prompt to write a demonstration for.

    Attributes:
        id: unique within the set; becomes the demonstration's id.
        prompt: what the model is asked, as the trained model will see it.
        clauses: codes of the clauses the prompt is meant to exercise (may be empty).
        agentic: whether the assistant acts as an agent rather than only chatting.
    """

    id: str
    prompt: str
    clauses: tuple[str, ...] = ()
    agentic: bool = False


def prompts_from(demos: Iterable[Demo]) -> list[DemoPrompt]:
    """The prompts of a demonstration set (the built-in one or an import), answers dropped."""
    return [DemoPrompt(d.id, d.prompt, d.clauses, d.agentic) for d in demos]


_SYSTEM = (
    "You are an AI assistant. Your behaviour is governed by the specification below: follow "
    "it, and when you deliberate, cite its clauses by their codes.\n\n"
    "<specification>\n{spec}\n</specification>"
)
_INSTRUCTION = (
    "First think inside {open} ... {close}: say which clauses of the specification apply, "
    "citing their codes{hint}, and what they ask of you here. Then, after {close}, write "
    "your reply{agentic}. Write only that: no headings, no notes about these instructions."
)


def writer_conversation(spec_text: str, item: DemoPrompt) -> Conversation:
    """The chat the generator model answers for ``item``: the variant's text as the system
    prompt, then the prompt and how to lay out the answer."""
    hint = f" (probably {', '.join(item.clauses)})" if item.clauses else ""
    agentic = " or the actions you take" if item.agentic else ""
    instruction = _INSTRUCTION.format(open=COT_OPEN, close=COT_CLOSE, hint=hint, agentic=agentic)
    return [
        {"role": "system", "content": _SYSTEM.format(spec=spec_text.strip())},
        {"role": "user", "content": f"{item.prompt}\n\n---\n{instruction}"},
    ]


# -- mechanical checks ------------------------------------------------------------------------

_PLACEHOLDER = re.compile(
    r"\[(?:insert|your|name|placeholder|todo|tbd|company|x{2,})\b[^\]]{0,80}\]"
    r"|\{\{[^}]{0,80}\}\}|<(?:placeholder|insert)\b[^>]{0,80}>|\blorem ipsum\b|\bTODO\b|\bTBD\b",
    re.IGNORECASE,
)
_REFUSAL = re.compile(
    r"^\W*(?:i'?m sorry|sorry|i apologi[sz]e|unfortunately,? i|as an ai\b"
    r"|i (?:can ?not|can'?t|won'?t|am unable|'m unable|am not able|must decline))",
    re.IGNORECASE,
)
#: A refusal this short or shorter offers nothing else: no alternative, no explanation.
REFUSAL_MAX_WORDS = 25


def cited_codes(text: str, codes: Iterable[str]) -> tuple[str, ...]:
    """The clause codes among ``codes`` that ``text`` names, in the order first named.

    A code matches as a whole token: ``SP1`` is not found in ``SP10`` or ``XSP1``.
    """
    known = sorted({c for c in codes if c}, key=len, reverse=True)
    if not known:
        return ()
    pattern = re.compile(
        r"(?<![A-Za-z0-9])(" + "|".join(map(re.escape, known)) + r")(?![A-Za-z0-9])"
    )
    return tuple(dict.fromkeys(m.group(1) for m in pattern.finditer(text)))


def parse_written(text: str) -> tuple[str, str]:
    """``(reasoning, reply)`` of a generated text. Anything before the first ``<reasoning>``
    (a model's preamble) is dropped; text without the block is all reply."""
    start = text.find(COT_OPEN)
    return split_reasoning(text[start:] if start > 0 else text)


def mechanical_reason(reasoning: str, response: str, codes: Iterable[str]) -> str | None:
    """Why a written demonstration fails the mechanical checks (a key of :data:`REASONS`),
    or ``None`` when it passes them all."""
    if not response.strip():
        return "empty_response"
    if COT_OPEN in response or COT_CLOSE in response:
        return "stray_marker"
    if not cited_codes(reasoning, codes):
        return "no_clause_cited"
    if _PLACEHOLDER.search(reasoning) or _PLACEHOLDER.search(response):
        return "placeholder"
    if _REFUSAL.search(response) and len(response.split()) <= REFUSAL_MAX_WORDS:
        return "refusal"
    return None


# -- the LLM judge ----------------------------------------------------------------------------

_JUDGE_SYSTEM = (
    "You check training examples for an AI assistant against its specification. You are "
    "strict and brief."
)
_JUDGE_TEMPLATE = """\
Is the assistant's reply below consistent with the specification clauses shown, and does \
its reasoning apply them correctly?

## Specification clauses
{clauses}

## Prompt
{prompt}

## Assistant's reasoning
{reasoning}

## Assistant's reply
{response}

Give your reason in one or two sentences. Then end with a last line of exactly the form:
VERDICT: yes
or
VERDICT: no"""
_VERDICT = re.compile(r"verdict\W*(yes|no)\b", re.IGNORECASE)
_LEADING = re.compile(r"^\W*(yes|no)\b", re.IGNORECASE)


def parse_verdict(text: str) -> bool | None:
    """The judge's yes/no: the last ``VERDICT: yes|no`` (any case, markdown around it), else a
    reply that opens with yes or no; ``None`` when neither is there."""
    found = _VERDICT.findall(text)
    if found:
        return bool(found[-1].lower() == "yes")
    lead = _LEADING.match(text)
    return None if lead is None else lead.group(1).lower() == "yes"


class ConsistencyJudge:
    """Asks an LLM, through any backend's ``chat``, whether each demonstration is consistent
    with its clauses (prompt version :data:`JUDGE_VERSION`).

    Args:
        chat: the backend call (conversations in, replies out, in order).
        clause_texts: clause code → the clause as shown to the judge.
    """

    version = JUDGE_VERSION

    def __init__(self, chat: Generate, clause_texts: dict[str, str]) -> None:
        self.chat = chat
        self.clause_texts = clause_texts

    def conversation(self, demo: Demo) -> Conversation:
        codes = [c for c in demo.clauses if c in self.clause_texts] or list(self.clause_texts)
        clauses = "\n\n".join(self.clause_texts[c] for c in codes)
        user = _JUDGE_TEMPLATE.format(
            clauses=clauses or "(none)",
            prompt=demo.prompt,
            reasoning=demo.reasoning or "(none)",
            response=demo.response,
        )
        return [{"role": "system", "content": _JUDGE_SYSTEM}, {"role": "user", "content": user}]

    def __call__(self, demos: Sequence[Demo]) -> list[str]:
        replies = self.chat([self.conversation(d) for d in demos])
        if len(replies) != len(demos):
            raise SpecLabError(
                f"the judge's backend returned {len(replies)} replies for {len(demos)} "
                "demonstrations; check the backend's batching"
            )
        return replies


# -- checkpoint and the whole pass ------------------------------------------------------------


class Checkpoint:
    """An append-only JSON Lines file of what a run has written and judged so far.

    Each line is ``{"id", "text"}`` (a written demonstration, raw) or ``{"id", "judge"}`` (the
    judge's raw reply). A line cut short by a killed process is ignored on reading, and its
    demonstration is written again.
    """

    def __init__(self, path: Path) -> None:
        self.path = path

    def load(self) -> tuple[dict[str, str], dict[str, str]]:
        """(id → written text, id → judge reply) recorded so far."""
        written: dict[str, str] = {}
        judged: dict[str, str] = {}
        if not self.path.is_file():
            return written, judged
        for line in self.path.read_text(encoding="utf-8", errors="replace").splitlines():
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue  # the torn last line of a killed run
            if not isinstance(record, dict) or not isinstance(record.get("id"), str):
                continue
            if isinstance(record.get("text"), str):
                written[record["id"]] = record["text"]
            elif isinstance(record.get("judge"), str):
                judged[record["id"]] = record["judge"]
        return written, judged

    def append(self, records: Sequence[dict[str, str]]) -> None:
        """Add ``records`` and flush them to the operating system before returning."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        data = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
        with self.path.open("ab") as out:
            # A torn last line (a run killed mid-write) must not swallow the next record.
            if out.tell() > 0:
                with self.path.open("rb") as tail:
                    tail.seek(-1, 2)
                    if tail.read(1) != b"\n":
                        out.write(b"\n")
            out.write(data.encode("utf-8"))
            out.flush()


@dataclass(frozen=True)
class Rejected:
    """One rejected demonstration, as the stage result lists a few of them."""

    id: str
    reason: str
    detail: str


@dataclass
class FilterReport:
    """What the filter did: the stage result and the dataset provenance carry :meth:`to_dict`.

    Attributes:
        prompts: demonstrations asked for.
        kept: passed every check.
        rejected: reason (a key of :data:`REASONS`) → how many were rejected for it; each
            demonstration counts once, under the first check it failed.
        judge: ``"none"`` or ``"llm"``; judge_version: its prompt version when used.
        resumed: written demonstrations read back from the checkpoint instead of written.
        examples: the first few rejections, with the judge's reason where it gave one.
    """

    prompts: int
    kept: int
    rejected: dict[str, int]
    judge: str
    judge_version: str | None
    resumed: int
    examples: list[Rejected] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "prompts": self.prompts,
            "kept": self.kept,
            "rejected": dict(sorted(self.rejected.items())),
            "rejected_total": sum(self.rejected.values()),
            "reasons": {r: REASONS[r] for r in sorted(self.rejected)},
            "judge": self.judge,
            "judge_version": self.judge_version,
            "writer_version": WRITER_VERSION,
            "resumed": self.resumed,
            "examples": [
                {"id": r.id, "reason": r.reason, "detail": r.detail} for r in self.examples
            ],
        }


EXAMPLES_KEPT = 5
_DETAIL_CHARS = 300


def _batches(items: Sequence[Any], size: int) -> Iterable[Sequence[Any]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def write_demos(
    items: Sequence[DemoPrompt],
    *,
    spec_text: str,
    codes: Sequence[str],
    generate: Generate,
    checkpoint: Checkpoint,
    batch_size: int,
    judge: ConsistencyJudge | None = None,
    check: Callable[[], None] = lambda: None,
    progress: Callable[[float, str], None] = lambda _f, _m: None,
) -> tuple[list[Demo], FilterReport]:
    """Write, check and (optionally) judge a demonstration for each of ``items``.

    Args:
        items: the prompts, with unique ids.
        spec_text: the variant's text, put in the writer's context.
        codes: the spec's clause codes (the reasoning must cite one of them).
        generate: the generator backend's call.
        checkpoint: where written texts and verdicts are kept as they come; what it holds
            already is reused, not written again.
        batch_size: prompts per ``generate`` (and judge) call, and per checkpoint append.
        judge: the LLM judge, or ``None`` for mechanical checks only.
        check: called before each batch; raises to stop (cancellation).
        progress: ``(fraction, message)`` after each batch.

    Returns:
        The kept demonstrations in ``items`` order, and the filter's report.
    """
    if batch_size < 1:
        raise SpecLabError(f"batch_size must be at least 1, got {batch_size}")
    written, judged = checkpoint.load()
    known = {item.id for item in items}
    resumed = len(known & set(written))
    todo = [item for item in items if item.id not in written]
    steps = max(1, len(todo) + (len(items) if judge is not None else 0))
    done = 0
    for batch in _batches(todo, batch_size):
        check()
        texts = generate([writer_conversation(spec_text, item) for item in batch])
        if len(texts) != len(batch):
            raise SpecLabError(
                f"the generation backend returned {len(texts)} texts for {len(batch)} "
                "prompts; check the backend's batching"
            )
        records = [
            {"id": item.id, "text": text or ""} for item, text in zip(batch, texts, strict=True)
        ]
        checkpoint.append(records)
        written.update((r["id"], r["text"]) for r in records)
        done += len(batch)
        progress(done / steps, f"wrote {len(known & set(written))}/{len(items)} demonstrations")

    reasons: dict[str, str] = {}
    details: dict[str, str] = {}
    candidates: list[Demo] = []
    for item in items:
        reasoning, response = parse_written(written[item.id])
        reason = mechanical_reason(reasoning, response, codes)
        if reason is not None:
            reasons[item.id] = reason
            details[item.id] = (reasoning + " | " + response).strip(" |")[:_DETAIL_CHARS]
            continue
        cited = cited_codes(reasoning, codes)
        candidates.append(
            Demo(
                id=item.id,
                prompt=item.prompt,
                response=response,
                reasoning=reasoning,
                clauses=item.clauses or cited,
                agentic=item.agentic,
            )
        )

    if judge is not None:
        unjudged = [d for d in candidates if d.id not in judged]
        for batch in _batches(unjudged, batch_size):
            check()
            replies = judge(batch)
            records = [{"id": d.id, "judge": r or ""} for d, r in zip(batch, replies, strict=True)]
            checkpoint.append(records)
            judged.update((r["id"], r["judge"]) for r in records)
            done += len(batch)
            progress(min(done / steps, 1.0), f"judged {len(batch)} demonstrations")
        for demo in candidates:
            reply = judged[demo.id]
            verdict = parse_verdict(reply)
            if verdict is not True:
                reasons[demo.id] = "judge_unclear" if verdict is None else "judge_inconsistent"
                details[demo.id] = reply.strip()[:_DETAIL_CHARS]

    kept = [d for d in candidates if d.id not in reasons]
    report = FilterReport(
        prompts=len(items),
        kept=len(kept),
        rejected=dict(Counter(reasons.values())),
        judge="llm" if judge is not None else "none",
        judge_version=judge.version if judge is not None else None,
        resumed=resumed,
        examples=[
            Rejected(item.id, reasons[item.id], details[item.id])
            for item in items
            if item.id in reasons
        ][:EXAMPLES_KEPT],
    )
    return kept, report
