"""The facets of an agentic condition id, for grouping and filtering rates.

Two id shapes are in use: the built-in suite's ``scenario/goal_conflict/urgency``
(``leak/explicit/replacement``) and the published agentic-misalignment layout
``{scenario}_{goal_type}-{goal_value}_{urgency}`` (``blackmail_explicit-america_replacement``).
Both read as ``scenario``, ``goal`` (the goal type or conflict), ``urgency`` and, for the
published layout, ``goal_value``; an id of neither shape is its own ``scenario``.
"""

from __future__ import annotations

import re
from typing import Final

FACETS: Final = ("condition", "scenario", "goal", "goal_value", "urgency")
"""What rates can be grouped by (``condition`` = each condition on its own)."""

_PUBLISHED: Final = re.compile(
    r"(?P<scenario>[a-z]+)_(?P<goal>[a-z]+)-(?P<goal_value>[a-z-]+?)_(?P<urgency>[a-z]+)"
)


def condition_facets(condition: str) -> dict[str, str]:
    """``{"condition", "scenario", "goal", "urgency"}`` (+ ``goal_value``) of a condition id."""
    parts = condition.split("/")
    if len(parts) == 3:
        return {"condition": condition, "scenario": parts[0], "goal": parts[1], "urgency": parts[2]}
    published = _PUBLISHED.fullmatch(condition)
    if published:
        return {"condition": condition, **published.groupdict()}
    return {"condition": condition, "scenario": condition}
