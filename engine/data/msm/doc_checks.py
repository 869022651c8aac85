"""Mechanical checks on a model-written document: what can be decided without a model.

- **placeholder**: text a writer leaves to be filled in ("[Name]", "[Company Name]",
  "{date}", "<insert team>", "Lorem ipsum", "XX/XX/20XX"). Bracketed text that reads as
  part of a document (a transcript's "[laughs]", a footnote "[1]", a Markdown link) is not one.
- **copies the clause**: a run of :data:`VERBATIM_RUN` or more consecutive words taken from
  the clause's own text (rule, sub-rules, rationale, examples). Documents should restate the
  spec, not quote it at length.

The SDF funnel revises documents that fail these checks (or rejects them when revision is
off) and asks the model's critique about everything else.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from db.entities import Clause
from engine.data.msm.grammar import words

#: Consecutive words shared with the clause's text that count as copying it.
VERBATIM_RUN = 12

_SLOT_WORDS = (
    r"name|names|company|organi[sz]ation|date|insert|your|address|e-?mail|phone|city|"
    r"location|position|recipient|sender|department|link|url|year|month|amount|product|"
    r"title|role|team|surname|employer|client|customer|x+"
)
_PLACEHOLDER = re.compile(
    # "[Name]", "[Your Name]", "[insert date]", but not "[laughs]", "[1]" or "[text](url)".
    rf"\[(?:[^\]\n]{{0,30}}?\b)?(?:{_SLOT_WORDS})\b[^\]\n]{{0,30}}\](?!\()"
    # "{name}", "{{company}}", "<insert team>", "<Your Name>".
    rf"|\{{\{{?\s*[A-Za-z_][\w ]{{0,30}}\}}\}}?"
    rf"|<\s*(?:insert|your|name|company|date)\b[^>\n]{{0,30}}>"
    r"|\blorem ipsum\b"
    r"|\b(?:XX/XX/(?:XX)?XX|20XX|19XX)\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a document. ``kind``: ``placeholder`` or ``copies the clause``;
    ``detail``: the offending text, for the revision prompt and the log."""

    kind: str
    detail: str

    def describe(self) -> str:
        if self.kind == "placeholder":
            return f"It contains a placeholder instead of a concrete detail: {self.detail!r}."
        return f"It copies the spec's wording word for word: {self.detail!r}."


def placeholders(text: str, limit: int = 5) -> list[str]:
    """The distinct placeholders in ``text``, in order of appearance (at most ``limit``)."""
    seen: dict[str, None] = {}
    for m in _PLACEHOLDER.finditer(text):
        seen.setdefault(m.group(0), None)
        if len(seen) >= limit:
            break
    return list(seen)


def clause_text(clause: Clause) -> str:
    """The clause's own words, as the rendering kept them."""
    return "\n".join([clause.rule, *clause.subrules, clause.rationale, *clause.examples])


def clause_runs(clause: Clause, n: int = VERBATIM_RUN) -> frozenset[tuple[str, ...]]:
    """Every run of ``n`` consecutive words of the clause's text (lower-cased)."""
    w = words(clause_text(clause))
    return frozenset(tuple(w[i : i + n]) for i in range(len(w) - n + 1))


def copied_run(text: str, runs: frozenset[tuple[str, ...]], n: int = VERBATIM_RUN) -> str | None:
    """The longest stretch of ``text``'s words made of copied ``n``-word runs, or ``None``."""
    if not runs:
        return None
    w = words(text)
    best: tuple[int, int] | None = None
    i = 0
    while i <= len(w) - n:
        if tuple(w[i : i + n]) not in runs:
            i += 1
            continue
        j = i + 1
        while j <= len(w) - n and tuple(w[j : j + n]) in runs:
            j += 1
        span = (i, j - 1 + n)
        if best is None or span[1] - span[0] > best[1] - best[0]:
            best = span
        i = j
    return " ".join(w[best[0] : best[1]]) if best is not None else None


def problems(text: str, runs: frozenset[tuple[str, ...]]) -> list[Problem]:
    """What the mechanical checks find in ``text`` (``runs``: :func:`clause_runs`)."""
    out = [Problem("placeholder", p) for p in placeholders(text)]
    copied = copied_run(text, runs)
    if copied is not None:
        out.append(Problem("copies the clause", copied))
    return out
