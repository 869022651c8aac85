"""How small a difference a study of a given size can detect: the honest companion of every
"within noise" badge.

Comparisons are two-sided tests at the Holm-corrected level. Holm's first (strictest) step
tests at ``alpha / m`` for a family of ``m`` comparisons, so that is the level a difference
must clear to be called in every case; the figures here use it. Harmful rates use the normal
approximation for two proportions (independent samples: conservative for the paired McNemar
test the study page runs, which gains from pairing when verdicts agree); QA scores use the
normal approximation for two means with an assumed spread. Both are the textbook formulas
(e.g. Fleiss, *Statistical Methods for Rates and Proportions*, ch. 4).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist

#: Spread of a 0–10 QA score across items, when nothing better is known (scores cluster in
#: the upper half with a standard deviation of about 2–3 points in our runs).
DEFAULT_QA_SD = 2.5
#: Below this many samples a cell's interval is not shown (it would only show its width).
MIN_CELL_N = 10
POWER = 0.8
ALPHA = 0.05


@dataclass(frozen=True)
class Power:
    """What a comparison of two cells of ``n`` samples each can detect.

    Attributes:
        n: samples per cell.
        comparisons: the size of the Holm family (its strictest level is alpha / comparisons).
        level: the two-sided significance level used (alpha / comparisons).
        harmful_rate_mde: the smallest difference in harmful rate (0–1) detectable with 80%
            power, around a baseline rate of ``baseline``.
        qa_score_mde: the smallest difference in QA score (0–10 points) detectable with 80%
            power, for a score spread of ``qa_sd``.
        baseline: the harmful rate assumed for the better cell's partner.
        qa_sd: the assumed standard deviation of one QA score.
    """

    n: int
    comparisons: int
    level: float
    harmful_rate_mde: float
    qa_score_mde: float
    baseline: float
    qa_sd: float


def _z_sum(level: float, power: float) -> float:
    nd = NormalDist()
    return nd.inv_cdf(1 - level / 2) + nd.inv_cdf(power)


def rate_mde(n: int, *, baseline: float = 0.5, level: float = ALPHA, power: float = POWER) -> float:
    """Smallest |p1 - p0| detectable with ``power`` at two-sided ``level``, n per cell.

    Solves ``d = z * sqrt((p0(1-p0) + p1(1-p1)) / n)`` with ``p1 = p0 - d`` (a drop from the
    baseline, the direction a better spec moves) by fixed-point iteration; 1.0 when even the
    largest drop cannot be told apart.
    """
    if n < 1:
        return 1.0
    z = _z_sum(level, power)
    p0 = min(max(baseline, 1e-6), 1 - 1e-6)
    d = z * math.sqrt(2 * p0 * (1 - p0) / n)
    for _ in range(100):
        p1 = min(max(p0 - d, 0.0), 1.0) if p0 - d > 0 else min(p0 + d, 1.0)
        nxt = z * math.sqrt((p0 * (1 - p0) + p1 * (1 - p1)) / n)
        if abs(nxt - d) < 1e-12:
            break
        d = nxt
    return min(d, 1.0)


def score_mde(
    n: int, *, sd: float = DEFAULT_QA_SD, level: float = ALPHA, power: float = POWER
) -> float:
    """Smallest mean difference detectable with ``power`` at two-sided ``level``, n per cell."""
    if n < 1:
        return math.inf
    return _z_sum(level, power) * sd * math.sqrt(2 / n)


def rate_n_needed(
    difference: float, *, baseline: float = 0.5, level: float = ALPHA, power: float = POWER
) -> int:
    """Samples per cell needed to detect a drop of ``difference`` from ``baseline``."""
    if not 0 < difference <= baseline:
        raise ValueError("difference must be in (0, baseline]")
    p0, p1 = baseline, baseline - difference
    z = _z_sum(level, power)
    return math.ceil(z * z * (p0 * (1 - p0) + p1 * (1 - p1)) / difference**2)


def score_n_needed(
    difference: float, *, sd: float = DEFAULT_QA_SD, level: float = ALPHA, power: float = POWER
) -> int:
    """Items per cell needed to detect a QA-score difference of ``difference`` points."""
    if difference <= 0:
        raise ValueError("difference must be positive")
    z = _z_sum(level, power)
    return math.ceil(2 * (z * sd / difference) ** 2)


def study_power(
    n_agentic: int,
    n_qa: int,
    comparisons: int,
    *,
    baseline: float = 0.5,
    qa_sd: float = DEFAULT_QA_SD,
) -> Power:
    """The detectable differences of a study whose cells hold ``n_agentic`` agentic samples
    and ``n_qa`` QA answers, compared ``comparisons`` times."""
    m = max(comparisons, 1)
    level = ALPHA / m
    return Power(
        n=n_agentic,
        comparisons=m,
        level=level,
        harmful_rate_mde=rate_mde(n_agentic, baseline=baseline, level=level),
        qa_score_mde=score_mde(n_qa, sd=qa_sd, level=level),
        baseline=baseline,
        qa_sd=qa_sd,
    )
