"""Bidirectional control characters in user text, neutralised.

A right-to-left override (U+202E) in a report title makes the title, and what follows it on
the same line, display reversed; embeddings, isolates and directional marks reorder text in
the same way. User text that a report shows (titles, study, variant, arm, condition and clause
names) goes through :func:`neutralise` before any page, HTML export or CSV sees it. Right-to-
left scripts themselves (Arabic, Hebrew) are untouched: they display by their own letters'
direction, and the HTML export puts each piece of user text in its own ``dir="auto"`` element,
which isolates it from its surroundings.
"""

from __future__ import annotations

import re

BIDI_CONTROLS = (
    "\u061c"  # ARABIC LETTER MARK
    "\u200e\u200f"  # LEFT-TO-RIGHT MARK, RIGHT-TO-LEFT MARK
    "\u202a\u202b\u202c\u202d\u202e"  # LRE, RLE, PDF, LRO, RLO
    "\u2066\u2067\u2068\u2069"  # LRI, RLI, FSI, PDI
)
"""Every character that changes the display order of the text around it."""

_CONTROLS = re.compile(f"[{BIDI_CONTROLS}]")


def neutralise(text: str) -> str:
    """``text`` without bidirectional control characters, so it cannot reorder what surrounds
    it (or itself) when displayed."""
    return _CONTROLS.sub("", text)


def has_controls(text: str) -> bool:
    """Whether ``text`` holds a bidirectional control character."""
    return _CONTROLS.search(text) is not None
