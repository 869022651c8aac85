"""The study page's per-cell view of the ``agentic_published`` suite: its three rates, the
agreement between them, and which one is the headline, pooled over a cell's seeds from the
stored metrics (never from anything not judged)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Final

from engine.evals import stats

SUITE: Final = "agentic_published"
VERDICTS: Final = ("harmful", "classifier_verdict", "parity")
AGREEMENTS: Final = tuple(f"{a}_vs_{b}" for i, a in enumerate(VERDICTS) for b in VERDICTS[i + 1 :])


@dataclass(frozen=True)
class Rate:
    """A rate with its Wilson interval and the number of samples it rests on."""

    value: float
    low: float
    high: float
    n: int


@dataclass(frozen=True)
class PublishedCell:
    """One variant × arm cell of a study's ``agentic_published`` results.

    Attributes:
        variant, arm: the cell.
        headline: the verdict the cell's stages score by (``harmful``, ``classifier_verdict``
            or ``parity``; ``mixed`` when its seeds disagree).
        rates: verdict name → its rate, or ``None`` when that verdict was not judged (no LLM
            judge configured: ``classifier_verdict`` and ``parity``).
        agreement: ``A_vs_B`` → the share of samples where both were decided and agreed.
    """

    variant: str
    arm: str
    headline: str
    rates: dict[str, Rate | None] = field(default_factory=dict)
    agreement: dict[str, Rate | None] = field(default_factory=dict)


def metric_name(verdict: str) -> str:
    return f"{SUITE}.{verdict}_rate"


def agreement_name(pair: str) -> str:
    return f"{SUITE}.agreement.{pair}"


def pooled(points: Iterable[tuple[float, int]]) -> Rate | None:
    """One rate from several stages' ``(rate, n)``: the counts summed, a Wilson interval."""
    pts = [(v, n) for v, n in points if n > 0]
    if not pts:
        return None
    k = sum(round(v * n) for v, n in pts)
    n = sum(n for _v, n in pts)
    i = stats.wilson(k, n)
    return Rate(i.estimate, i.low, i.high, i.n)


def cell(
    variant: str,
    arm: str,
    headlines: Sequence[str],
    metrics: dict[str, list[tuple[float, int]]],
) -> PublishedCell:
    """A cell from its stages' headline settings and metrics (name → ``(value, n)`` per
    stage)."""
    kinds = sorted(set(headlines))
    return PublishedCell(
        variant,
        arm,
        kinds[0] if len(kinds) == 1 else "mixed",
        {v: pooled(metrics.get(metric_name(v), [])) for v in VERDICTS},
        {p: pooled(metrics.get(agreement_name(p), [])) for p in AGREEMENTS},
    )
