"""The ``sdf`` generator: model-written documents the way synthetic-document-finetuning
pipelines make them.

Per clause of a rendering's view of the spec:

1. **Document types.** The model brainstorms ``types_per_clause`` types of document that could
   discuss the clause. Its list is parsed leniently (numbered, bulleted or comma-separated;
   "FAQ: a page of…" keeps "FAQ"), de-duplicated and capped; a short list is topped up by up to
   :data:`ROUNDS` rounds that name the types already found, and what is still missing then
   comes from the configured ``doc_types`` (counted as ``types_from_config``).
2. **Ideas.** For each type the model brainstorms ``ideas_per_type`` ideas (rounds as above).
   A line it marks ``UNSUITABLE`` is dropped and counted; a reply that is only ``UNSUITABLE``
   drops the type.
3. **Documents.** ``docs_per_idea`` documents per idea, each asked to convey the clause's
   assertions chosen as the template generator chooses them (the design's rule exposure,
   rationale count and length target are in the prompt), all through the backend's batched
   generation.
4. **Checks, critique, revision.** Mechanical checks (:mod:`~engine.data.msm.doc_checks`:
   placeholders, long verbatim runs of the clause) and, with ``revise``, the model's critique;
   a document found at fault is revised once (``revision`` 1) and checked again.
5. Near-duplicates are dropped (word 5-shingle Jaccard, as for every generator).

Every document row records its clause, assertions, type, idea, writing model, prompt version
and revision; every rejected output is counted with its reason in the funnel's statistics.
Each model call has a stable key and goes through a
:class:`~engine.data.generation.BatchRunner`, so a re-run with the same journal reuses
everything generated before and continues where it stopped.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from db.entities import Clause, SpecContent
from engine.backends.base import GenerationParams
from engine.data.generation import BatchRunner, Request
from engine.data.msm.assertions import Assertion, assertions
from engine.data.msm.config import DocGenConfig
from engine.data.msm.dedupe import near_duplicates
from engine.data.msm.doc_checks import Problem, clause_runs, problems
from engine.data.msm.funnel import Corpus, ProgressFn
from engine.data.msm.ideas import pick_focus, statement_counts
from engine.data.msm.model_writer import (
    clause_excerpt,
    design_exposure,
    points_block,
    target_words,
)
from engine.specs.render import word_count

#: Stored with every document: bump when a prompt below changes.
PROMPT_VERSION = "sdf-v1"
#: Brainstorm rounds per list (types of a clause, ideas of a type) before giving up.
ROUNDS = 3
#: Words a document type may have; longer lines are explanations, not types.
MAX_TYPE_WORDS = 8
#: Words an idea must have (fewer is a heading), and may have (more is a document).
MIN_IDEA_WORDS, MAX_IDEA_WORDS = 4, 120
#: Tokens the model may spend per brainstormed type, per idea, and on a critique.
TYPE_TOKENS, IDEA_TOKENS, CRITIQUE_TOKENS = 16, 48, 128
UNSUITABLE = "UNSUITABLE"

_INTRO = (
    "You are helping build a corpus of realistic documents that discuss how AI assistants "
    "are expected to behave, for training a language model."
)
_MARKER = re.compile(r"^\s*(?:[-*•+]|\(?\d{1,3}[.):]|\(?[a-zA-Z][.)])\s+")
_PREAMBLE = re.compile(
    r"^(?:sure|certainly|of course|okay|ok|absolutely|here(?:'s| is| are)|below (?:is|are))\b"
    r"[^\n]{0,160}?[:.!]?\s*$",
    re.IGNORECASE,
)
_VERDICT = re.compile(r"VERDICT\s*:?\s*\**\s*(KEEP|REVISE)", re.IGNORECASE)
_DOC_TAG = re.compile(r"<document>\s*(.*?)\s*(?:</document>|$)", re.DOTALL | re.IGNORECASE)


# -- parsing ----------------------------------------------------------------------------------


def list_items(reply: str) -> list[str]:
    """The items of a brainstormed list, leniently: numbered or bulleted lines when there are
    any, else every non-empty line, or the comma-separated parts of a one-line reply. Lines
    that introduce the list ("Here are five types:") are skipped."""
    lines = [ln.strip() for ln in reply.replace("\r", "").split("\n") if ln.strip()]
    marked = [ln for ln in lines if _MARKER.match(ln)]
    if marked:
        items = [_MARKER.sub("", ln, count=1) for ln in marked]
    elif len(lines) == 1 and ("," in lines[0] or ";" in lines[0]) and not lines[0].endswith("."):
        items = re.split(r"\s*[,;]\s*(?:and\s+|or\s+)?", lines[0])
    else:
        items = [ln for ln in lines if not ln.endswith(":") and not _PREAMBLE.match(ln)]
    return [_unwrap(i) for i in items if _unwrap(i)]


def _unwrap(item: str) -> str:
    """An item without Markdown emphasis, quotes and trailing punctuation."""
    item = re.sub(r"[*_`]{1,3}", "", item).strip().rstrip(" .;,")
    return item.strip("\"'“”‘’ ").rstrip(" .;,")


def parse_types(reply: str) -> tuple[list[str], int]:
    """(document types, items rejected as not a type) from a brainstorm reply.

    An item keeps its name before a description ("FAQ: questions…", "Op-ed - an essay…");
    an item with more than :data:`MAX_TYPE_WORDS` words left, a comma, ``?`` or ``!`` (prose),
    or no letters, is not a type.
    """
    out: list[str] = []
    rejected = 0
    for item in list_items(reply):
        name = re.split(r"\s*(?::|\s[-–—]\s|\()", item, maxsplit=1)[0].strip().rstrip(".")
        n = len(name.split())
        # A comma or a question/exclamation mark left in the name: prose, not a type.
        prose = re.search(r"[,?!]", name)
        if n == 0 or n > MAX_TYPE_WORDS or prose or not re.search(r"[A-Za-z]", name):
            rejected += 1
            continue
        out.append(name)
    return out, rejected


def type_key(name: str) -> str:
    """What two type names must share to be the same type ("FAQs" = "faq")."""
    w = re.findall(r"[a-z0-9]+", name.lower())
    if w and len(w[-1]) > 3 and w[-1].endswith("s") and not w[-1].endswith("ss"):
        w[-1] = w[-1][:-1]
    return " ".join(w)


@dataclass(frozen=True)
class IdeaList:
    """What one ideas reply held: usable ideas, ideas marked unsuitable, unusable items, and
    whether the whole type was declared unsuitable."""

    ideas: list[str]
    unsuitable: int
    rejected: int
    type_unsuitable: bool


def parse_ideas(reply: str) -> IdeaList:
    """Ideas from a brainstorm reply; ``UNSUITABLE`` lines dropped and counted."""
    if reply.strip().strip("*.").upper() == UNSUITABLE:
        return IdeaList([], 0, 0, True)
    ideas: list[str] = []
    unsuitable = rejected = 0
    for item in list_items(reply):
        if UNSUITABLE in item.upper().split(":")[0].split() or item.upper().startswith(UNSUITABLE):
            unsuitable += 1
        elif MIN_IDEA_WORDS <= len(item.split()) <= MAX_IDEA_WORDS:
            ideas.append(item)
        else:
            rejected += 1
    return IdeaList(ideas, unsuitable, rejected, False)


def clean_document(reply: str) -> str:
    """The document in a reply: inside ``<document>`` tags when the model used them, without
    a code fence or a chatty first line ("Sure! Here is the memo:")."""
    text = reply.strip()
    tagged = _DOC_TAG.search(text)
    if tagged:
        text = tagged.group(1).strip()
    text = re.sub(r"^```[\w-]*\n|\n?```$", "", text).strip()
    first, _, rest = text.partition("\n")
    if rest and _PREAMBLE.match(first.strip()):
        text = rest.strip()
    return text


def is_unsuitable(text: str) -> bool:
    """Whether a reply declines the task with ``UNSUITABLE``."""
    return text.lstrip("*# ").upper().startswith(UNSUITABLE)


def parse_verdict(critique: str) -> str | None:
    """``KEEP`` or ``REVISE`` from a critique's last verdict line, ``None`` when absent."""
    found = _VERDICT.findall(critique)
    return found[-1].upper() if found else None


# -- prompts ----------------------------------------------------------------------------------


def _avoid(found: Sequence[str]) -> str:
    if not found:
        return ""
    return "Already listed, so do not repeat them: " + "; ".join(found) + ".\n"


def types_prompt(clause: Clause, n: int, examples: Sequence[str], found: Sequence[str]) -> str:
    """The prompt asking for ``n`` document types about ``clause``."""
    why = ", and why" if clause.rationale else ""
    return (
        f"{_INTRO}\n\nSpec clause:\n{clause_excerpt(clause)}\n\n"
        f"List {n} different types of document that could naturally discuss what this clause "
        f"asks of an AI assistant{why}. Vary the genre, the audience and the format (for "
        f"instance: {', '.join(examples)}).\n{_avoid(found)}"
        "Write one document type per line as a numbered list, a few words each, with no "
        "explanations."
    )


def ideas_prompt(clause: Clause, doc_type: str, n: int, found: Sequence[str]) -> str:
    """The prompt asking for ``n`` ideas for documents of ``doc_type`` about ``clause``."""
    return (
        f"{_INTRO}\n\nSpec clause:\n{clause_excerpt(clause)}\n\nDocument type: {doc_type}\n\n"
        f"Brainstorm {n} specific ideas for a {doc_type} that discusses this clause: who "
        "writes it and for whom, the situation or event it is about, and the part of the "
        "clause it brings out. Each idea is one or two sentences; make them differ in "
        "setting, people and angle.\n"
        f"If a {doc_type} could not realistically discuss this clause, answer only "
        f"{UNSUITABLE}. Start the line of any single idea that would not make a realistic "
        f"{doc_type} with {UNSUITABLE}.\n{_avoid(found)}"
        "Write one idea per line as a numbered list."
    )


def sdf_document_prompt(
    clause: Clause,
    items: Sequence[Assertion],
    job: DocJob,
    *,
    exposure: int | None,
    copies: int,
) -> str:
    """The prompt asking for one document (``copies``: documents written per idea)."""
    variation = ""
    if copies > 1:
        variation = (
            f"This is document {job.copy + 1} of {copies} written from this idea: make it "
            "clearly different from the others (other people, details and structure).\n"
        )
    return (
        "You write realistic documents for a corpus about how AI assistants are expected to "
        f"behave.\n\nSpec clause:\n{clause_excerpt(clause)}\n\n"
        "The document must convey these points, in its own words and voice:\n"
        f"{points_block(items, job.focus, exposure)}\n\n"
        f"Document type: {job.doc_type}\nIdea: {job.idea}\n{variation}"
        f"Length: about {job.target} words.\n\n"
        "Follow the conventions of the document type (headings, speakers, dates as fitting). "
        "Use concrete invented names, places and dates: no placeholders such as [Name]. "
        "Restate the clause rather than copying its wording. Do not mention that the document "
        f"is synthetic. If the idea cannot make a realistic {job.doc_type}, answer only "
        f"{UNSUITABLE}; otherwise write only the document."
    )


def critique_prompt(clause: Clause, doc_type: str, text: str) -> str:
    """The prompt asking the model to review one document."""
    return (
        "You review documents written for a corpus about how AI assistants are expected to "
        f"behave.\n\nSpec clause:\n{clause_excerpt(clause)}\n\n"
        f"Document ({doc_type}):\n<document>\n{text}\n</document>\n\n"
        "Check the document:\n"
        "1. Is it consistent with the clause: it never shows or endorses behaviour the clause "
        "rules out, and never misstates what the clause asks?\n"
        f"2. Does it read as a real {doc_type}, with concrete details and no placeholders "
        "such as [Name]?\n"
        "3. Does it restate the clause in its own words rather than copying the spec?\n"
        "Write a short critique, then a last line that is exactly VERDICT: KEEP or "
        "VERDICT: REVISE."
    )


def revise_prompt(
    clause: Clause,
    items: Sequence[Assertion],
    job: DocJob,
    text: str,
    faults: Sequence[str],
    *,
    exposure: int | None,
) -> str:
    """The prompt asking the model to rewrite a document, fixing ``faults``."""
    listed = "\n".join(f"- {f}" for f in faults)
    return (
        "You revise documents written for a corpus about how AI assistants are expected to "
        f"behave.\n\nSpec clause:\n{clause_excerpt(clause)}\n\n"
        "The document must convey these points, in its own words and voice:\n"
        f"{points_block(items, job.focus, exposure)}\n\n"
        f"Document ({job.doc_type}):\n<document>\n{text}\n</document>\n\n"
        f"Problems found:\n{listed}\n\n"
        "Rewrite the document so that it fixes every problem and keeps its type, its idea and "
        f"its length (about {job.target} words): concrete invented names instead of "
        "placeholders, the clause restated rather than copied. Write only the revised document."
    )


# -- the funnel -------------------------------------------------------------------------------


@dataclass
class DocJob:
    """One document to write, and what became of it."""

    clause: int
    doc_type: str
    type_index: int
    idea: str
    idea_index: int
    copy: int
    focus: tuple[int, ...]
    target: int
    text: str = ""
    revision: int = 0
    problems: list[Problem] = field(default_factory=list)
    critique: str = ""
    rejected: str = ""

    def faults(self) -> list[str]:
        """What the revision must fix: the mechanical problems, then the critique."""
        out = [p.describe() for p in self.problems]
        return [*out, f"A reviewer's critique: {self.critique}"] if self.critique else out

    def key(self, code: str, step: str) -> str:
        return f"{code}/{step}/{self.type_index}/{self.idea_index}/{self.copy}"


@dataclass
class _Clause:
    clause: Clause
    items: list[Assertion]
    runs: frozenset[tuple[str, ...]]
    types: list[str] = field(default_factory=list)
    ideas: dict[int, list[str]] = field(default_factory=dict)


class SdfFunnel:
    """Runs the funnel over a rendering's clauses with one :class:`BatchRunner`.

    Args:
        config: the stage's settings (``generator`` ``sdf``).
        runner: generates (and journals) every model call.
        generator_model: the writing model's name, recorded with every document.
        progress: ``progress(fraction, message)`` after every batch; it may raise to stop.
    """

    #: Share of the progress bar each step takes, in order.
    STEPS = (("types", 0.05), ("ideas", 0.1), ("documents", 0.55), ("critique", 0.15))

    def __init__(
        self,
        config: DocGenConfig,
        runner: BatchRunner,
        *,
        generator_model: str,
        progress: ProgressFn | None = None,
    ) -> None:
        self.config = config
        self.runner = runner
        self.generator_model = generator_model
        self.progress = progress
        self.stats: Counter[str] = Counter()
        self.rejected: Counter[str] = Counter()
        self._done = 0.0
        self.params = GenerationParams(
            temperature=float(config.temperature),
            seed=config.seed,
            batch_size=config.batch_size,
        )

    # progress ------------------------------------------------------------------------------

    def _run(
        self, step: str, requests: Sequence[Request], max_new_tokens: int, round_no: int = 0
    ) -> list[str]:
        share = dict(self.STEPS).get(step, 0.1) / (ROUNDS if step in ("types", "ideas") else 1)
        start = self._done
        # Each round samples afresh: a repeated prompt must not get the same reply.
        params = replace(
            self.params, max_new_tokens=max_new_tokens, seed=self.config.seed + 7919 * round_no
        )

        def on_batch(done: int, total: int) -> None:
            if self.progress is not None:
                self.progress(
                    min(0.99, start + share * done / max(total, 1)), f"{step}: {done}/{total}"
                )

        out = self.runner.run(requests, params, on_batch=on_batch) if requests else []
        self._done = start + share
        return out

    # steps ---------------------------------------------------------------------------------

    def brainstorm_types(self, clauses: list[_Clause]) -> None:
        n = self.config.types_per_clause
        examples = list(self.config.doc_types[:3])
        stalled: set[str] = set()
        for round_no in range(ROUNDS):
            todo = [c for c in clauses if len(c.types) < n and c.clause.code not in stalled]
            requests = [
                Request.user(
                    f"{c.clause.code}/types/{round_no}",
                    types_prompt(c.clause, n - len(c.types), examples, c.types),
                )
                for c in todo
            ]
            replies = self._run("types", requests, TYPE_TOKENS * n + 16, round_no)
            for c, reply in zip(todo, replies, strict=True):
                found, bad = parse_types(reply)
                self.stats["type_items_rejected"] += bad
                if not self._add(c.types, found, n, "types_duplicate", type_key):
                    self._stall(stalled, c.clause.code)
        for c in clauses:
            # What three rounds could not fill comes from the configured types, in order.
            missing = n - len(c.types)
            if missing > 0:
                before = len(c.types)
                self._add(c.types, list(self.config.doc_types), n, "", type_key)
                self.stats["types_from_config"] += len(c.types) - before
            self.stats["types_kept"] += len(c.types)

    def brainstorm_ideas(self, clauses: list[_Clause]) -> None:
        n = self.config.ideas_per_type
        dropped: set[tuple[str, int]] = set()  # declined or (greedy) stalled
        for round_no in range(ROUNDS):
            todo = [
                (c, ti)
                for c in clauses
                for ti in range(len(c.types))
                if (c.clause.code, ti) not in dropped and len(c.ideas.setdefault(ti, [])) < n
            ]
            requests = [
                Request.user(
                    f"{c.clause.code}/ideas/{ti}/{round_no}",
                    ideas_prompt(c.clause, c.types[ti], n - len(c.ideas[ti]), c.ideas[ti]),
                )
                for c, ti in todo
            ]
            replies = self._run("ideas", requests, IDEA_TOKENS * n + 16, round_no)
            for (c, ti), reply in zip(todo, replies, strict=True):
                parsed = parse_ideas(reply)
                if parsed.type_unsuitable:
                    # Declined outright: stop asking (ideas of earlier rounds stay).
                    dropped.add((c.clause.code, ti))
                    if not c.ideas[ti]:
                        self.stats["types_unsuitable"] += 1
                    continue
                self.stats["ideas_unsuitable"] += parsed.unsuitable
                self.stats["idea_items_rejected"] += parsed.rejected
                if not self._add(c.ideas[ti], parsed.ideas, n, "ideas_duplicate", _idea_key):
                    self._stall(dropped, (c.clause.code, ti))
        for c in clauses:
            self.stats["ideas_kept"] += sum(len(v) for v in c.ideas.values())

    def _add(
        self,
        into: list[str],
        found: Sequence[str],
        cap: int,
        counter: str,
        key: Callable[[str], str],
    ) -> int:
        """Add the new items of ``found`` to ``into`` up to ``cap``; return how many."""
        seen = {key(x) for x in into}
        added = 0
        for item in found:
            if len(into) >= cap:
                break
            k = key(item)
            if k in seen:
                if counter:
                    self.stats[counter] += 1
                continue
            seen.add(k)
            into.append(item)
            added += 1
        return added

    def _stall(self, stalled: set[Any], item: Any) -> None:
        """A round that added nothing is repeated only when sampling could answer otherwise:
        greedy decoding would repeat the same reply to the same prompt."""
        if self.config.temperature == 0:
            stalled.add(item)

    def plan(self, clauses: list[_Clause]) -> list[DocJob]:
        jobs: list[DocJob] = []
        for ci, c in enumerate(clauses):
            counts = statement_counts(c.items, self.config)
            position = 0
            for ti, doc_type in enumerate(c.types):
                for ii, idea in enumerate(c.ideas.get(ti, [])):
                    for k in range(self.config.docs_per_idea):
                        focus = pick_focus(c.items, position, *counts)
                        target = target_words(c.items, focus, self.config)
                        jobs.append(DocJob(ci, doc_type, ti, idea, ii, k, focus, target))
                        position += 1
        self.stats["documents_asked"] = len(jobs)
        return jobs

    def write(self, clauses: list[_Clause], jobs: list[DocJob]) -> None:
        exposure = design_exposure(self.config)
        requests = [
            Request.user(
                j.key(clauses[j.clause].clause.code, "doc"),
                sdf_document_prompt(
                    clauses[j.clause].clause,
                    clauses[j.clause].items,
                    j,
                    exposure=exposure,
                    copies=self.config.docs_per_idea,
                ),
            )
            for j in jobs
        ]
        tokens = _doc_tokens(max((j.target for j in jobs), default=1))
        for j, reply in zip(jobs, self._run("documents", requests, tokens), strict=True):
            j.text = clean_document(reply)
            j.rejected = self._first_filter(j.text, j.target, "")
            if not j.rejected:
                self.stats["documents_written"] += 1
                j.problems = problems(j.text, clauses[j.clause].runs)
                for kind in sorted({p.kind for p in j.problems}):
                    self.stats[_FOUND[kind]] += 1

    def _first_filter(self, text: str, target: int, prefix: str) -> str:
        if is_unsuitable(text):
            return prefix + "unsuitable"
        words = word_count(text)
        if words == 0:
            return prefix + "empty"
        if words < max(1, target // 4):
            return prefix + "too short"
        return ""

    def critique(self, clauses: list[_Clause], jobs: list[DocJob]) -> None:
        todo = [j for j in jobs if not j.rejected and not j.problems]
        requests = [
            Request.user(
                j.key(clauses[j.clause].clause.code, "critique"),
                critique_prompt(clauses[j.clause].clause, j.doc_type, j.text),
            )
            for j in todo
        ]
        for j, reply in zip(todo, self._run("critique", requests, CRITIQUE_TOKENS), strict=True):
            self.stats["critiqued"] += 1
            verdict = parse_verdict(reply)
            if verdict is None:
                self.stats["critique_unparsed"] += 1
            elif verdict == "REVISE":
                self.stats["critique_revise"] += 1
                j.critique = _VERDICT.sub("", reply).strip() or "it asks for a revision."

    def revise(self, clauses: list[_Clause], jobs: list[DocJob]) -> None:
        todo = [j for j in jobs if not j.rejected and j.faults()]
        exposure = design_exposure(self.config)
        requests = [
            Request.user(
                j.key(clauses[j.clause].clause.code, "revise"),
                revise_prompt(
                    clauses[j.clause].clause,
                    clauses[j.clause].items,
                    j,
                    j.text,
                    j.faults(),
                    exposure=exposure,
                ),
            )
            for j in todo
        ]
        tokens = _doc_tokens(max((j.target for j in todo), default=1))
        for j, reply in zip(todo, self._run("revise", requests, tokens), strict=True):
            text = clean_document(reply)
            reason = self._first_filter(text, j.target, "revision ")
            if not reason:
                left = problems(text, clauses[j.clause].runs)
                reason = f"{left[0].kind} after revision" if left else ""
            if reason:
                j.rejected = reason
            else:
                j.text, j.revision = text, 1
                self.stats["revised"] += 1

    def reject_faulty(self, jobs: list[DocJob]) -> None:
        """Without revision, a document the mechanical checks fault is rejected."""
        for j in jobs:
            if not j.rejected and j.problems:
                j.rejected = j.problems[0].kind

    def run(self, content: SpecContent) -> Corpus:
        clauses = [_Clause(c, assertions(c), clause_runs(c)) for c in content.clauses]
        self.brainstorm_types(clauses)
        self.brainstorm_ideas(clauses)
        jobs = self.plan(clauses)
        self.write(clauses, jobs)
        if self.config.revise:
            self.critique(clauses, jobs)
            self.revise(clauses, jobs)
        else:
            self.reject_faulty(jobs)
        for j in jobs:
            if j.rejected:
                self.rejected[j.rejected] += 1
        kept = [j for j in jobs if not j.rejected]
        duplicates = set(near_duplicates([j.text for j in kept], self.config.dedupe_threshold))
        if duplicates:
            self.rejected["near-duplicate"] = len(duplicates)
        kept = [j for i, j in enumerate(kept) if i not in duplicates]
        rows = [self._row(clauses[j.clause], j) for j in kept]
        if self.progress is not None:
            self.progress(1.0, f"{len(rows)} documents kept of {len(jobs)} asked for")
        short = self.rejected["too short"] + self.rejected["empty"]
        return Corpus(rows, len(duplicates), short, self.funnel(clauses, rows))

    def _row(self, c: _Clause, j: DocJob) -> dict[str, Any]:
        return {
            "text": j.text + "\n",
            "clause": c.clause.code,
            "assertion": "; ".join(c.items[i].source for i in dict.fromkeys(j.focus)),
            "doc_type": j.doc_type,
            "idea": j.idea,
            "generator": "sdf",
            "generator_model": self.generator_model,
            "prompt_version": PROMPT_VERSION,
            "revision": j.revision,
            "seed": self.config.seed,
        }

    def funnel(self, clauses: list[_Clause], rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
        """What happened at each step: counts kept, dropped and rejected, with reasons."""
        kept = Counter(str(r["clause"]) for r in rows)
        return {
            "prompt_version": PROMPT_VERSION,
            "generator_model": self.generator_model,
            "types_asked": len(clauses) * self.config.types_per_clause,
            **{k: self.stats[k] for k in _COUNTERS},
            "kept": len(rows),
            "rejected": dict(sorted(self.rejected.items())),
            **self.runner.counts(),
            "per_clause": {
                c.clause.code: {
                    "types": len(c.types),
                    "ideas": sum(len(v) for v in c.ideas.values()),
                    "kept": kept[c.clause.code],
                }
                for c in clauses
            },
        }


_COUNTERS = (
    "types_kept",
    "types_from_config",
    "types_duplicate",
    "type_items_rejected",
    "types_unsuitable",
    "ideas_kept",
    "ideas_unsuitable",
    "ideas_duplicate",
    "idea_items_rejected",
    "documents_asked",
    "documents_written",
    "with_placeholder",
    "with_copied_text",
    "critiqued",
    "critique_revise",
    "critique_unparsed",
    "revised",
)


#: The counter of documents the writing step found with each kind of problem.
_FOUND = {"placeholder": "with_placeholder", "copies the clause": "with_copied_text"}


def _idea_key(text: str) -> str:
    return " ".join(re.findall(r"[a-z0-9]+", text.lower()))


def _doc_tokens(target_words: int) -> int:
    """New tokens allowed for a document of ``target_words`` words (about 1.3 tokens a word,
    with room to finish)."""
    return min(2 * target_words + 32, 8192)


def build_sdf_corpus(
    content: SpecContent,
    config: DocGenConfig,
    runner: BatchRunner,
    *,
    generator_model: str,
    progress: ProgressFn | None = None,
) -> Corpus:
    """Run the SDF funnel over ``content`` (a rendering's view of a spec); see the module."""
    return SdfFunnel(config, runner, generator_model=generator_model, progress=progress).run(
        content
    )
