"""The spec-QA scale every QA judge shares: the suite name, 0–10 rounding, the item's clause."""

from __future__ import annotations

import math

from engine.evals.judges import JudgeInput

SUITE = "spec_qa"


def round_half(x: float) -> float:
    """``x`` clamped to 0–10 and rounded to the nearest 0.5 (halves round up)."""
    return math.floor(min(10.0, max(0.0, x)) * 2 + 0.5) / 2


def clause_of(item: JudgeInput) -> str:
    """The clause code an item probes: ``metadata["clause"]``, else the ``SP1`` of ``SP1-q1``."""
    clause = item.metadata.get("clause")
    if isinstance(clause, str) and clause:
        return clause
    return item.item_id.split("-", 1)[0]
