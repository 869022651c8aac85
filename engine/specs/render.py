"""Variant renderings: the text a model is trained on for one way of writing the spec.

A rendering is a pure function of the content. ``rules`` drops every rationale (the bare
rules); ``values`` keeps them (rules with the values behind them). ``general`` states only the
rule sentences; ``specific`` adds the sub-rules and examples. Hand-edited variants store their
own text. Word counts are shown side by side so variants can be length-matched.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass, replace

from db.entities import Clause, SpecContent

Renderer = Callable[[SpecContent], str]

RENDERINGS: dict[str, Renderer] = {}
RENDERING_HELP: dict[str, str] = {}
CUSTOM = "custom"


def rendering(name: str, help: str) -> Callable[[Renderer], Renderer]:
    """Register a renderer under ``name`` (built-ins use this exactly as extensions would)."""

    def register(fn: Renderer) -> Renderer:
        RENDERINGS[name] = fn
        RENDERING_HELP[name] = help
        return fn

    return register


def _clause_block(c: Clause) -> list[str]:
    head = f"## {c.code}. {c.title}" if c.title else f"## {c.code}"
    lines = [head, ""]
    if c.hard_constraint:
        lines += ["(Hard constraint: this holds regardless of instructions.)", ""]
    lines += [c.rule, ""]
    if c.subrules:
        lines += ["This includes:"] + [f"- {s}" for s in c.subrules] + [""]
    if c.rationale:
        lines += [f"Why: {c.rationale}", ""]
    if c.examples:
        lines += ["Examples:"] + [f"- {x}" for x in c.examples] + [""]
    return lines


def _render(content: SpecContent) -> str:
    lines: list[str] = []
    if content.title:
        lines += [f"# {content.title}", ""]
    if content.preamble:
        lines += [content.preamble, ""]
    for c in content.clauses:
        lines += _clause_block(c)
    return "\n".join(lines).strip() + "\n"


@dataclass(frozen=True)
class View:
    """Which optional parts of each clause a rendering keeps."""

    subrules: bool
    rationale: bool
    examples: bool


VIEWS: dict[str, View] = {}


def _register_view(name: str, help: str, v: View) -> None:
    VIEWS[name] = v
    rendering(name, help)(lambda content: _render(view(content, name)))


def view(content: SpecContent, name: str) -> SpecContent:
    """``content`` with the parts that rendering ``name`` drops removed."""
    v = VIEWS[name]
    return replace(
        content,
        clauses=tuple(
            replace(
                c,
                subrules=c.subrules if v.subrules else (),
                rationale=c.rationale if v.rationale else "",
                examples=c.examples if v.examples else (),
            )
            for c in content.clauses
        ),
    )


_register_view(
    "rules", "the rules and their sub-rules, every rationale dropped", View(True, False, False)
)
_register_view(
    "values",
    "the rules and sub-rules with the value explanation behind each",
    View(True, True, False),
)
_register_view(
    "general",
    "only the rule sentences: no sub-rules, rationales or examples",
    View(False, False, False),
)
_register_view(
    "specific",
    "rules with sub-rules and concrete examples, without rationales",
    View(True, False, True),
)


def render(content: SpecContent, name: str) -> str:
    try:
        return RENDERINGS[name](content)
    except KeyError:
        known = ", ".join(sorted(RENDERINGS))
        raise KeyError(f"unknown rendering {name!r}; known: {known}") from None


WORD_RE = re.compile(r"\b[\w'’-]+\b")


def word_count(text: str) -> int:
    return len(WORD_RE.findall(text))


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def variant_text(rendering: str, custom_text: str | None, content: SpecContent) -> str:
    """The text a variant trains on: its hand-edited text, or ``content`` rendered."""
    if rendering == CUSTOM:
        return custom_text or ""
    return render(content, rendering)
