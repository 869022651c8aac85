"""Honest statistics for comparing runs: intervals, paired tests and multiple-comparison control.

Everything here is a pure function of its inputs (and of ``seed`` for the resampling methods),
so a report recomputed from the same samples shows the same numbers. Nothing here imports
torch; numpy is the only third-party dependency.

The vocabulary the rest of SpecLab uses:

* an :class:`Interval` is a point estimate with a confidence interval (a rate from
  :func:`wilson` / :func:`rate_interval`, a mean score from :func:`bootstrap_mean` or, when a
  cell of the study grid has several training seeds, :func:`clustered_bootstrap_mean`);
* a :class:`PairedComparison` compares two runs on the items both were evaluated on
  (:func:`paired_bootstrap` for scores, :func:`mcnemar` for yes/no verdicts such as "took the
  harmful action");
* :func:`apply_holm` adjusts a family of comparisons for multiple testing.

**"Within noise"** — the flag the dashboard shows next to a difference — means: the
confidence interval for the difference covers 0, *or* the difference's p-value (Holm-adjusted
once :func:`apply_holm` has run, otherwise unadjusted) is at least ``alpha`` (``1 -
confidence``, 0.05 by default). Either condition alone is enough: an interval and a test
built by different methods can disagree at the margin, and we prefer to under-claim.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from fractions import Fraction
from statistics import NormalDist

import numpy as np
import numpy.typing as npt

from engine.errors import InputError

__all__ = [
    "Interval",
    "PairedComparison",
    "apply_holm",
    "bootstrap_mean",
    "clustered_bootstrap_mean",
    "holm",
    "mcnemar",
    "noise_note",
    "paired_bootstrap",
    "rate_interval",
    "wilson",
]

# Resampling works on (rows × n) index blocks; this bounds one block's element count so a large
# eval set never allocates gigabytes. The block size depends only on the inputs, so results stay
# identical for a given seed.
_BLOCK_ELEMENTS = 1 << 22

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Interval:
    """A point estimate with a two-sided confidence interval.

    Attributes:
        estimate: the statistic computed on the observed data (a rate or a mean); ``nan``
            when there was no data.
        low: lower confidence bound.
        high: upper confidence bound.
        n: number of observations the estimate rests on (items; for a clustered estimate,
            items over all clusters).
        method: how the interval was made: ``wilson``, ``bootstrap`` or
            ``clustered-bootstrap``.
    """

    estimate: float
    low: float
    high: float
    n: int
    method: str


@dataclass(frozen=True)
class PairedComparison:
    """Run B against run A on the items both were evaluated on.

    Attributes:
        label_a: name of the reference run (e.g. ``rules/aft``).
        label_b: name of the compared run (e.g. ``values/msm+aft``).
        metric: what was compared (``score``, ``harmful_rate``…).
        diff: ``B - A`` on the shared items (difference of mean scores or of rates).
        low: lower confidence bound for ``diff``.
        high: upper confidence bound for ``diff``.
        p_value: two-sided p-value for "no difference", unadjusted.
        n_pairs: number of shared items the comparison used; items seen by one run only are
            left out.
        method: the test and interval used.
        within_noise: True when the difference cannot be told from noise: the interval covers
            0, or the p-value (Holm-adjusted when ``p_holm`` is set) is at least alpha.
        p_holm: Holm–Bonferroni adjusted p-value within its family of comparisons, or None
            until :func:`apply_holm` has run.
    """

    label_a: str
    label_b: str
    metric: str
    diff: float
    low: float
    high: float
    p_value: float
    n_pairs: int
    method: str
    within_noise: bool
    p_holm: float | None = None


# -- helpers ----------------------------------------------------------------------------------


def _z(confidence: float) -> float:
    """Two-sided standard-normal quantile for ``confidence`` (1.95996… for 0.95)."""
    _check_confidence(confidence)
    return NormalDist().inv_cdf(0.5 + confidence / 2.0)


def _check_confidence(confidence: float) -> None:
    if not 0.0 < confidence < 1.0:
        raise InputError(f"confidence must be strictly between 0 and 1, got {confidence!r}")


def _check_resamples(resamples: int) -> None:
    if resamples < 1:
        raise InputError(f"resamples must be at least 1, got {resamples!r}")


def _nan_interval(n: int, method: str) -> Interval:
    return Interval(math.nan, math.nan, math.nan, n, method)


def _resampled_means(values: FloatArray, resamples: int, rng: np.random.Generator) -> FloatArray:
    """Means of ``resamples`` with-replacement resamples of ``values`` (same size as values)."""
    n = values.size
    rows_per_block = max(1, _BLOCK_ELEMENTS // n)
    out = np.empty(resamples, dtype=np.float64)
    for start in range(0, resamples, rows_per_block):
        rows = min(rows_per_block, resamples - start)
        idx = rng.integers(0, n, size=(rows, n))
        out[start : start + rows] = values[idx].mean(axis=1)
    return out


def _percentile_bounds(
    stats: FloatArray, confidence: float, lo_clip: float, hi_clip: float
) -> tuple[float, float]:
    """Percentile interval of bootstrap statistics, clipped to the range the statistic can take.

    A mean of resampled values lies between the smallest and largest value; clipping only
    removes floating-point round-off (so constant data gives an interval of exactly zero width).
    """
    tail = (1.0 - confidence) / 2.0
    low, high = np.quantile(stats, [tail, 1.0 - tail])
    return float(np.clip(low, lo_clip, hi_clip)), float(np.clip(high, lo_clip, hi_clip))


def _covers_zero(low: float, high: float) -> bool:
    if math.isnan(low) or math.isnan(high):
        return True
    return low <= 0.0 <= high


def _noise(low: float, high: float, p: float, alpha: float) -> bool:
    """The "within noise" rule: the CI covers 0, or p ≥ alpha (a nan p counts as noise)."""
    return _covers_zero(low, high) or not p < alpha


# -- single-sample intervals ------------------------------------------------------------------


def wilson(successes: int, n: int, confidence: float = 0.95) -> Interval:
    """Wilson score interval for a proportion, e.g. the share of samples that acted harmfully.

    The Wilson interval inverts the normal-approximation score test: it is the set of true
    rates p for which the observed rate would not be surprising. Unlike the textbook
    ``p ± z·sqrt(p(1-p)/n)`` (Wald) interval, it never leaves [0, 1], is not zero-width at 0/n
    or n/n, and keeps close to its nominal coverage for small n — which is why we use it for
    the small eval sets a laptop can run. For 5/10 at 95% it gives [0.237, 0.763].

    Args:
        successes: number of samples with the outcome (e.g. harmful action taken).
        n: number of samples.
        confidence: two-sided confidence level.

    Returns:
        The observed rate with its Wilson interval. With ``n == 0`` there is nothing to
        estimate: the estimate is ``nan`` and the interval is all of [0, 1].

    Raises:
        InputError: ``n`` is negative, ``successes`` is outside ``[0, n]``, or confidence is
            not in (0, 1).
    """
    z = _z(confidence)
    if n < 0 or not 0 <= successes <= n:
        raise InputError(f"need 0 <= successes <= n, got successes={successes}, n={n}")
    if n == 0:
        return Interval(math.nan, 0.0, 1.0, 0, "wilson")
    p = successes / n
    z2 = z * z
    denom = 1.0 + z2 / n
    centre = (p + z2 / (2.0 * n)) / denom
    half = (z / denom) * math.sqrt(p * (1.0 - p) / n + z2 / (4.0 * n * n))
    # At 0/n and n/n the bound is exactly 0 (or 1); set it so round-off cannot leave 1e-17.
    low = 0.0 if successes == 0 else max(0.0, centre - half)
    high = 1.0 if successes == n else min(1.0, centre + half)
    return Interval(p, low, high, n, "wilson")


def rate_interval(flags: Sequence[bool], confidence: float = 0.95) -> Interval:
    """Rate of True flags with a Wilson interval (see :func:`wilson`).

    Args:
        flags: one verdict per sample, e.g. "took the harmful action".
        confidence: two-sided confidence level.

    Returns:
        The share of True flags and its Wilson interval.
    """
    return wilson(sum(1 for f in flags if f), len(flags), confidence)


def bootstrap_mean(
    values: Sequence[float],
    *,
    confidence: float = 0.95,
    resamples: int = 2000,
    seed: int = 0,
) -> Interval:
    """Mean of per-item values (e.g. 0–10 judge scores) with a percentile bootstrap interval.

    The bootstrap asks "how much would the mean move if we had drawn a different set of eval
    items of the same size?" by redrawing the items with replacement ``resamples`` times and
    taking the middle ``confidence`` share of the redrawn means. It assumes nothing about the
    shape of the score distribution, but like any interval it is only as wide as the item
    sample lets it be: with very few items it is too narrow.

    Args:
        values: one value per eval item.
        confidence: two-sided confidence level.
        resamples: number of bootstrap redraws.
        seed: random seed; the same inputs and seed always give the same interval.

    Returns:
        The sample mean with its bootstrap interval. One value gives a zero-width interval at
        that value; no values give ``nan`` throughout.

    Raises:
        InputError: confidence not in (0, 1) or resamples < 1.
    """
    _check_confidence(confidence)
    _check_resamples(resamples)
    return _bootstrap_interval(
        np.asarray(values, dtype=np.float64), confidence, resamples, seed, "bootstrap"
    )


def _bootstrap_interval(
    arr: FloatArray, confidence: float, resamples: int, seed: int, method: str
) -> Interval:
    n = int(arr.size)
    if n == 0:
        return _nan_interval(0, method)
    # Clipped to the data's range so constant data gives exactly that constant (no round-off).
    estimate = float(np.clip(arr.mean(), arr.min(), arr.max()))
    if n == 1:
        return Interval(estimate, estimate, estimate, 1, method)
    means = _resampled_means(arr, resamples, np.random.default_rng(seed))
    low, high = _percentile_bounds(means, confidence, float(arr.min()), float(arr.max()))
    return Interval(estimate, low, high, n, method)


def clustered_bootstrap_mean(
    groups: Mapping[str, Sequence[float]],
    *,
    confidence: float = 0.95,
    resamples: int = 2000,
    seed: int = 0,
) -> Interval:
    """Mean over training seeds, with an interval that counts seed-to-seed variation.

    When one cell of the study grid (a variant × arm) was trained with several seeds, the
    items scored under one seed are not independent of each other: they share one trained
    model. Treating all items as one pool would understate the uncertainty. Here each seed is
    a cluster, and the estimate is the **mean of the per-seed means** (each seed counts
    equally, however many items it was scored on).

    The interval is a two-stage bootstrap: each redraw picks seeds with replacement, then
    redraws the items within each picked seed, and averages the per-seed means. Resampling both
    stages is slightly conservative (it counts item noise twice over, Davison & Hinkley 1997,
    §3.8), but with the two or three seeds a study usually has, resampling seeds alone would
    give an interval that ignores item noise altogether — and with one seed, no interval at all.
    With exactly one seed this reduces to :func:`bootstrap_mean` on that seed's items and gives
    the same numbers for the same ``seed``.

    Args:
        groups: per training seed (any label), the values of its eval items. Seeds with no
            values are left out.
        confidence: two-sided confidence level.
        resamples: number of bootstrap redraws.
        seed: random seed of the resampling (not a training seed).

    Returns:
        The mean of per-seed means with its interval; ``n`` counts items over all seeds.
        No values at all give ``nan`` throughout.

    Raises:
        InputError: confidence not in (0, 1) or resamples < 1.
    """
    _check_confidence(confidence)
    _check_resamples(resamples)
    # Sorted labels: the result must not depend on the mapping's insertion order.
    clusters = [
        np.asarray(groups[k], dtype=np.float64) for k in sorted(groups) if len(groups[k]) > 0
    ]
    n_items = sum(int(c.size) for c in clusters)
    method = "clustered-bootstrap"
    if not clusters:
        return _nan_interval(0, method)
    if len(clusters) == 1:
        return _bootstrap_interval(clusters[0], confidence, resamples, seed, method)

    k = len(clusters)
    cluster_means = np.array([np.clip(c.mean(), c.min(), c.max()) for c in clusters])
    estimate = float(np.clip(cluster_means.mean(), cluster_means.min(), cluster_means.max()))
    rng = np.random.default_rng(seed)
    largest = max(int(c.size) for c in clusters)
    rows_per_block = max(1, _BLOCK_ELEMENTS // (k * largest))
    stats = np.empty(resamples, dtype=np.float64)
    for start in range(0, resamples, rows_per_block):
        rows = min(rows_per_block, resamples - start)
        # Stage 1: every redraw picks k seeds with replacement.
        picked = rng.integers(0, k, size=(rows, k))
        # Stage 2: redraw items only within the seeds actually picked. All (redraw, slot)
        # pairs that picked the same seed are resampled together in one vectorised draw, so
        # the work is the items of the picked seeds, not k times every seed's items.
        slot_means = np.empty((rows, k), dtype=np.float64)
        for c, values in enumerate(clusters):
            slots = picked == c
            count = int(np.count_nonzero(slots))
            if count == 0:
                continue
            idx = rng.integers(0, values.size, size=(count, values.size))
            slot_means[slots] = values[idx].mean(axis=1)
        stats[start : start + rows] = slot_means.mean(axis=1)
    lo_clip = float(min(c.min() for c in clusters))
    hi_clip = float(max(c.max() for c in clusters))
    low, high = _percentile_bounds(stats, confidence, lo_clip, hi_clip)
    return Interval(estimate, low, high, n_items, method)


# -- paired comparisons -----------------------------------------------------------------------


def _shared_keys(a: Mapping[str, object], b: Mapping[str, object]) -> list[str]:
    # Sorted so the pairing (and so the resampling) does not depend on dict order.
    return sorted(set(a) & set(b))


def _sign_flip_p(diffs: FloatArray, resamples: int, rng: np.random.Generator) -> float:
    """Two-sided sign-flip (paired permutation) p-value for "mean difference is 0".

    Exact (every sign pattern enumerated) when there are at most ``resamples`` patterns,
    Monte Carlo otherwise, counted as (1 + hits) / (1 + resamples) so it is never 0.
    """
    n = diffs.size
    observed = abs(float(diffs.sum()))
    # Sums that equal the observed one up to round-off count as "at least as extreme".
    tol = 1e-9 * max(1.0, float(np.abs(diffs).sum()))
    if 2**n <= resamples:
        patterns = ((np.arange(2**n)[:, None] >> np.arange(n)[None, :]) & 1) * 2 - 1
        sums = np.abs(patterns.astype(np.float64) @ diffs)
        return float(np.count_nonzero(sums >= observed - tol)) / float(2**n)
    rows_per_block = max(1, _BLOCK_ELEMENTS // n)
    hits = 0
    for start in range(0, resamples, rows_per_block):
        rows = min(rows_per_block, resamples - start)
        signs = rng.integers(0, 2, size=(rows, n)) * 2 - 1
        sums = np.abs(signs.astype(np.float64) @ diffs)
        hits += int(np.count_nonzero(sums >= observed - tol))
    return (1.0 + hits) / (1.0 + resamples)


def paired_bootstrap(
    a: Mapping[str, float],
    b: Mapping[str, float],
    *,
    label_a: str,
    label_b: str,
    metric: str = "score",
    resamples: int = 5000,
    seed: int = 0,
    confidence: float = 0.95,
) -> PairedComparison:
    """Compare two runs' per-item scores on the items both answered.

    Pairing matters: the same question is easy or hard for both runs, so comparing item by
    item removes that shared variation and detects smaller differences than comparing two
    independent means. Only item ids present in both mappings are used.

    * **Difference**: mean over shared items of ``b[item] - a[item]``.
    * **Interval**: percentile bootstrap of that mean difference, redrawing items (pairs)
      with replacement.
    * **p-value**: a sign-flip permutation test. If the two runs were interchangeable, each
      item's difference would be as likely to be positive as negative; the p-value is the
      share of random sign assignments whose mean difference is at least as far from 0 as the
      observed one. With few items (``2**n_pairs <= resamples``) every assignment is
      enumerated and the p-value is exact; otherwise ``resamples`` random assignments are used.
      Unlike a bootstrap test this needs no shifting to the null and is exact for small n.

    Args:
        a: per item id, run A's value (the reference).
        b: per item id, run B's value.
        label_a: display name of run A.
        label_b: display name of run B.
        metric: name of the compared value.
        resamples: bootstrap redraws, and random sign assignments when not enumerated.
        seed: random seed; the same inputs and seed always give the same result.
        confidence: two-sided confidence level; ``alpha = 1 - confidence`` for the
            within-noise rule.

    Returns:
        The comparison. ``within_noise`` is True when the interval covers 0 or ``p >= alpha``.
        No shared items give ``nan`` numbers and ``within_noise=True``.

    Raises:
        InputError: confidence not in (0, 1) or resamples < 1.
    """
    _check_confidence(confidence)
    _check_resamples(resamples)
    method = "paired-bootstrap; sign-flip test"
    keys = _shared_keys(a, b)
    if not keys:
        return PairedComparison(
            label_a, label_b, metric, math.nan, math.nan, math.nan, math.nan, 0, method, True
        )
    diffs = np.array([float(b[k]) - float(a[k]) for k in keys], dtype=np.float64)
    n = int(diffs.size)
    diff = float(np.clip(diffs.mean(), diffs.min(), diffs.max()))
    rng = np.random.default_rng(seed)
    if n == 1:
        low = high = diff
    else:
        means = _resampled_means(diffs, resamples, rng)
        low, high = _percentile_bounds(means, confidence, float(diffs.min()), float(diffs.max()))
    p = _sign_flip_p(diffs, resamples, rng)
    return PairedComparison(
        label_a,
        label_b,
        metric,
        diff,
        low,
        high,
        p,
        n,
        method,
        _noise(low, high, p, 1.0 - confidence),
    )


def _exact_binomial_two_sided(k: int, n: int) -> float:
    """Two-sided exact p-value of k successes in n fair coin flips (doubling the smaller tail)."""
    if n == 0:
        return 1.0
    tail = sum(Fraction(math.comb(n, i)) for i in range(min(k, n - k) + 1)) / 2**n
    return float(min(Fraction(1), 2 * tail))


def mcnemar(
    a: Mapping[str, bool],
    b: Mapping[str, bool],
    *,
    label_a: str,
    label_b: str,
    metric: str = "harmful_rate",
    confidence: float = 0.95,
) -> PairedComparison:
    """Compare two runs' yes/no verdicts (e.g. "acted harmfully") on the scenarios both ran.

    Only scenarios run by both matter, and among those only the **discordant** ones carry
    information about a difference: ``b01`` scenarios where only B was harmful, ``b10`` where
    only A was. If the runs were equally harmful, each discordant scenario would be a fair
    coin flip between the two.

    * **Difference**: ``rate_b - rate_a`` on the shared scenarios, which equals
      ``(b01 - b10) / n_pairs``.
    * **p-value**: McNemar's exact test — the two-sided binomial probability of a split of the
      discordant scenarios at least as lopsided as ``b01`` vs ``b10`` under a fair coin
      (e.g. 0 vs 6 gives 0.03125). No discordant pairs gives p = 1.
    * **Interval**: Newcombe's (1998) square-and-add interval for a difference of paired
      proportions ("method 10"): Wilson intervals for each run's rate, combined with the
      correlation between the runs' verdicts. It stays within [-1, 1] and keeps near-nominal
      coverage for small samples, where the Wald interval does not. It needs no resampling,
      so the result has no seed.

    Args:
        a: per scenario id, run A's verdict (the reference).
        b: per scenario id, run B's verdict.
        label_a: display name of run A.
        label_b: display name of run B.
        metric: name of the compared rate.
        confidence: two-sided confidence level; ``alpha = 1 - confidence`` for the
            within-noise rule.

    Returns:
        The comparison. ``within_noise`` is True when the interval covers 0 or ``p >= alpha``.
        No shared scenarios give ``nan`` numbers and ``within_noise=True``.

    Raises:
        InputError: confidence not in (0, 1).
    """
    _check_confidence(confidence)
    method = "mcnemar-exact; newcombe interval"
    keys = _shared_keys(a, b)
    n = len(keys)
    if n == 0:
        return PairedComparison(
            label_a, label_b, metric, math.nan, math.nan, math.nan, math.nan, 0, method, True
        )
    both = sum(1 for k in keys if a[k] and b[k])
    only_b = sum(1 for k in keys if b[k] and not a[k])  # b01
    only_a = sum(1 for k in keys if a[k] and not b[k])  # b10
    neither = n - both - only_b - only_a

    p = _exact_binomial_two_sided(only_b, only_b + only_a)

    # Newcombe's method 10, with run B as "proportion 1" so the interval is for rate_b - rate_a.
    x_b, x_a = both + only_b, both + only_a
    rate_b, rate_a = x_b / n, x_a / n
    diff = (only_b - only_a) / n
    ci_b = wilson(x_b, n, confidence)
    ci_a = wilson(x_a, n, confidence)
    margins = x_b * (n - x_b) * x_a * (n - x_a)
    phi = 0.0
    if margins > 0:
        # Newcombe's continuity-corrected correlation between the two verdicts.
        cross = both * neither - only_b * only_a
        if cross > n / 2:
            phi = (cross - n / 2) / math.sqrt(margins)
        elif cross < 0:
            phi = cross / math.sqrt(margins)
    db_low, db_high = rate_b - ci_b.low, ci_b.high - rate_b
    da_low, da_high = rate_a - ci_a.low, ci_a.high - rate_a
    low = diff - math.sqrt(max(0.0, db_low**2 - 2 * phi * db_low * da_high + da_high**2))
    high = diff + math.sqrt(max(0.0, da_low**2 - 2 * phi * da_low * db_high + db_high**2))
    low, high = max(-1.0, low), min(1.0, high)
    return PairedComparison(
        label_a,
        label_b,
        metric,
        diff,
        low,
        high,
        p,
        n,
        method,
        _noise(low, high, p, 1.0 - confidence),
    )


# -- multiple comparisons ---------------------------------------------------------------------


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm–Bonferroni adjusted p-values, in the order given.

    Comparing many variant pairs at once makes some look significant by chance. Holm's step-down
    method controls the chance of even one false "significant" result across the whole family
    (the family-wise error rate) and is uniformly more powerful than plain Bonferroni: sort the
    m p-values ascending, multiply the i-th smallest (counting from 0) by ``m - i``, make the
    results non-decreasing down the sorted list, and cap at 1. An adjusted p below alpha means
    "significant after accounting for all the comparisons made".

    Args:
        p_values: unadjusted p-values of one family of comparisons. ``nan`` entries (no data)
            stay ``nan`` and do not count towards m.

    Returns:
        Adjusted p-values, one per input, in the input order.
    """
    adjusted = [math.nan] * len(p_values)
    valid = sorted((p, i) for i, p in enumerate(p_values) if not math.isnan(p))
    m = len(valid)
    running = 0.0
    for rank, (p, i) in enumerate(valid):
        running = max(running, min(1.0, (m - rank) * p))
        adjusted[i] = running
    return adjusted


def apply_holm(
    comparisons: Sequence[PairedComparison], alpha: float = 0.05
) -> list[PairedComparison]:
    """Holm-adjust a family of comparisons and recompute their "within noise" flags.

    Use it on every comparison shown together (e.g. all variant pairs of one study table), so
    that a table of many differences does not overclaim. Each returned comparison has
    ``p_holm`` set, and ``within_noise`` is True exactly when its confidence interval covers 0
    **or** ``p_holm >= alpha``.

    Args:
        comparisons: one family of comparisons.
        alpha: family-wise significance level.

    Returns:
        New comparisons (the inputs are frozen), in the input order.
    """
    adjusted = holm([c.p_value for c in comparisons])
    return [
        replace(c, p_holm=p_adj, within_noise=_noise(c.low, c.high, p_adj, alpha))
        for c, p_adj in zip(comparisons, adjusted, strict=True)
    ]


def noise_note(n: int, confidence: float = 0.95) -> str:
    """A one-sentence, plain-words warning about how precise a rate from ``n`` samples can be.

    It states the half-width of the widest Wilson interval a rate from ``n`` samples can have
    (the one at, or nearest to, 50%), in percentage points, so a reader knows which
    differences to ignore.

    Args:
        n: number of samples behind the rate.
        confidence: confidence level of the quoted margin.

    Returns:
        A sentence for the dashboard, e.g. for n=20: "Small sample: with 20 samples a rate is
        only known to within about ±21 percentage points (95% interval)."
    """
    if n <= 0:
        return "No samples: nothing can be concluded."
    worst = wilson(n // 2, n, confidence)
    margin = round(100 * (worst.high - worst.low) / 2)
    level = round(100 * confidence)
    if n < 100:
        return (
            f"Small sample: with {n} samples a rate is only known to within about ±{margin} "
            f"percentage points ({level}% interval)."
        )
    return (
        f"With {n} samples a rate is known to within about ±{margin} percentage points "
        f"({level}% interval)."
    )
