"""Statistics behind every number the dashboard shows: checked against hand-computed values.

Expected values come from closed-form formulas written out here, from published worked
examples, or from arithmetic in the comments; never from the function under test.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest

from engine.errors import InputError
from engine.evals.stats import (
    Interval,
    PairedComparison,
    apply_holm,
    bootstrap_mean,
    clustered_bootstrap_mean,
    holm,
    mcnemar,
    noise_note,
    paired_bootstrap,
    rate_interval,
    wilson,
)

Z95 = 1.959963984540054  # standard-normal 97.5% quantile


def _table(both: int, only_b: int, only_a: int, neither: int) -> tuple[dict[str, bool], ...]:
    """Verdicts for A and B that form the given paired 2×2 table."""
    a: dict[str, bool] = {}
    b: dict[str, bool] = {}
    cells = [(True, True)] * both + [(False, True)] * only_b + [(True, False)] * only_a
    cells += [(False, False)] * neither
    for i, (va, vb) in enumerate(cells):
        a[f"s{i:04d}"], b[f"s{i:04d}"] = va, vb
    return a, b


def _exact_mcnemar_p(b01: int, b10: int) -> float:
    # Two-sided exact binomial: 2 · P(X ≤ min) for X ~ Bin(b01 + b10, 1/2), capped at 1.
    n = b01 + b10
    tail: float = sum(math.comb(n, i) for i in range(min(b01, b10) + 1)) / 2**n
    return min(1.0, 2 * tail)


# -- Wilson -----------------------------------------------------------------------------------


def test_wilson_half_rate_matches_hand_value() -> None:
    # Guards the Wilson formula itself: 5/10 at 95% is [0.2366, 0.7634].
    iv = wilson(5, 10)
    assert iv.estimate == 0.5
    assert iv.low == pytest.approx(0.2366, abs=1e-4)
    assert iv.high == pytest.approx(0.7634, abs=1e-4)
    assert (iv.n, iv.method) == (10, "wilson")


def test_wilson_zero_and_all_are_not_zero_width() -> None:
    # Guards against a Wald-style [0, 0] at 0/n: the upper bound is z²/(n + z²) = 0.2775.
    zero, full = wilson(0, 10), wilson(10, 10)
    assert (zero.low, zero.estimate) == (0.0, 0.0)
    assert zero.high == pytest.approx(Z95**2 / (10 + Z95**2), abs=1e-12)
    assert zero.high == pytest.approx(0.2775, abs=1e-4)
    assert (full.high, full.estimate) == (1.0, 1.0)
    assert full.low == pytest.approx(1 - Z95**2 / (10 + Z95**2), abs=1e-12)
    assert full.low == pytest.approx(0.7225, abs=1e-4)


def test_wilson_general_case_matches_written_out_formula() -> None:
    # Guards a transcription slip in the centre or half-width terms on an asymmetric case (3/17).
    x, n = 3, 17
    p = x / n
    centre = (p + Z95**2 / (2 * n)) / (1 + Z95**2 / n)
    half = Z95 / (1 + Z95**2 / n) * math.sqrt(p * (1 - p) / n + Z95**2 / (4 * n**2))
    iv = wilson(x, n)
    assert iv.low == pytest.approx(centre - half, rel=1e-12)
    assert iv.high == pytest.approx(centre + half, rel=1e-12)


def test_wilson_empty_sample_is_the_whole_unit_interval() -> None:
    # Guards division by zero on an empty cell: no data means "anything from 0 to 1".
    iv = wilson(0, 0)
    assert math.isnan(iv.estimate)
    assert (iv.low, iv.high, iv.n) == (0.0, 1.0, 0)


def test_wilson_rejects_impossible_counts_and_levels() -> None:
    # Guards silent nonsense from a caller bug (more successes than samples, 100% confidence).
    with pytest.raises(InputError):
        wilson(11, 10)
    with pytest.raises(InputError):
        wilson(-1, 10)
    with pytest.raises(InputError):
        wilson(5, 10, confidence=1.0)


def test_rate_interval_counts_true_flags() -> None:
    # Guards rate_interval drifting from Wilson on the same counts.
    assert rate_interval([True, False, True, False, True, False, True, False, True, False]) == (
        wilson(5, 10)
    )
    assert rate_interval([]).n == 0


# -- bootstrap of a mean ----------------------------------------------------------------------


def test_bootstrap_mean_of_constant_values_is_exact() -> None:
    # Guards round-off leaking into the interval: constant 0.1s give exactly [0.1, 0.1].
    iv = bootstrap_mean([0.1] * 7)
    assert (iv.estimate, iv.low, iv.high, iv.n) == (0.1, 0.1, 0.1, 7)


def test_bootstrap_mean_degenerate_inputs() -> None:
    # Guards crashes on empty and single-item cells.
    empty = bootstrap_mean([])
    assert empty.n == 0 and math.isnan(empty.estimate)
    assert math.isnan(empty.low) and math.isnan(empty.high)
    one = bootstrap_mean([3.5])
    assert (one.estimate, one.low, one.high, one.n) == (3.5, 3.5, 3.5, 1)


def test_bootstrap_mean_agrees_with_normal_theory_on_large_sample() -> None:
    # Guards a wrong resampling axis or quantile: with 400 items the percentile interval is
    # close to mean ± 1.96·sd/√n (within 15% of that half-width).
    values = np.random.default_rng(123).normal(5.0, 2.0, size=400)
    mean = float(values.mean())
    half = Z95 * float(values.std(ddof=1)) / math.sqrt(values.size)
    iv = bootstrap_mean(values.tolist(), resamples=4000, seed=1)
    assert iv.estimate == pytest.approx(mean, rel=1e-12)
    assert iv.low == pytest.approx(mean - half, abs=0.15 * half)
    assert iv.high == pytest.approx(mean + half, abs=0.15 * half)


def test_bootstrap_mean_is_deterministic_for_a_seed() -> None:
    # Guards reproducible reports: the same data and seed give identical bounds.
    values = [1.0, 4.0, 2.0, 8.0, 5.0, 7.0, 3.0]
    assert bootstrap_mean(values, seed=7) == bootstrap_mean(values, seed=7)


def test_clustered_bootstrap_with_one_seed_equals_item_bootstrap() -> None:
    # Guards the one-seed study: the clustered interval must reduce to the item bootstrap.
    values = [2.0, 7.0, 5.0, 9.0, 1.0, 6.0]
    single = clustered_bootstrap_mean({"seed0": values}, seed=3)
    items = bootstrap_mean(values, seed=3)
    assert (single.estimate, single.low, single.high, single.n) == (
        items.estimate,
        items.low,
        items.high,
        items.n,
    )
    assert single.estimate == pytest.approx(30 / 6)


def test_clustered_bootstrap_weights_seeds_equally() -> None:
    # Guards pooling items across seeds: seed means 0 and 10 give 5, not the pooled mean 2.
    iv = clustered_bootstrap_mean({"s0": [0.0, 0.0, 0.0, 0.0], "s1": [10.0]}, seed=0)
    assert iv.estimate == 5.0
    assert iv.n == 5
    assert 0.0 <= iv.low <= iv.estimate <= iv.high <= 10.0
    assert iv.high - iv.low > 0  # seed-to-seed spread shows up in the interval


def test_clustered_bootstrap_ignores_mapping_order_and_empty_seeds() -> None:
    # Guards dict-order dependence and crashes on a seed that produced no samples.
    forward = clustered_bootstrap_mean({"a": [1.0, 2.0, 3.0], "b": [4.0, 6.0], "c": []}, seed=5)
    backward = clustered_bootstrap_mean({"c": [], "b": [4.0, 6.0], "a": [1.0, 2.0, 3.0]}, seed=5)
    assert forward == backward
    assert forward.estimate == pytest.approx((2.0 + 5.0) / 2)
    nothing = clustered_bootstrap_mean({"a": [], "b": []})
    assert nothing.n == 0 and math.isnan(nothing.estimate)


def test_clustered_interval_is_wider_than_pooled_when_seeds_disagree() -> None:
    # Guards under-stated uncertainty: two seeds far apart must widen the interval beyond
    # what pooling their items as independent would give.
    groups = {"s0": [1.0, 2.0, 1.5, 2.5] * 5, "s1": [7.0, 8.0, 7.5, 8.5] * 5}
    clustered = clustered_bootstrap_mean(groups, seed=0)
    pooled = bootstrap_mean(groups["s0"] + groups["s1"], seed=0)
    assert clustered.high - clustered.low > pooled.high - pooled.low


# -- paired bootstrap -------------------------------------------------------------------------


def test_paired_bootstrap_constant_shift_is_exact_and_significant() -> None:
    # Guards the paired difference: b = a + 1 on 50 items is exactly +1, CI [1, 1], and the
    # Monte Carlo sign-flip p is (1 + 0 hits) / (1 + 5000) since only ±all-ones reach 50.
    a = {f"q{i}": float(i % 11) for i in range(50)}
    b = {k: v + 1.0 for k, v in a.items()}
    cmp = paired_bootstrap(a, b, label_a="rules", label_b="values", metric="score")
    assert (cmp.diff, cmp.low, cmp.high, cmp.n_pairs) == (1.0, 1.0, 1.0, 50)
    assert cmp.p_value == pytest.approx(1 / 5001)
    assert not cmp.within_noise
    assert (cmp.label_a, cmp.label_b, cmp.metric) == ("rules", "values", "score")


def test_paired_bootstrap_exact_sign_flip_for_few_items() -> None:
    # Guards overclaiming on tiny evals: 5 items all +1 give exact p = 2/2⁵ = 0.0625, so the
    # difference is flagged as noise even though its bootstrap CI is [1, 1].
    a = {f"q{i}": 3.0 for i in range(5)}
    b = {k: 4.0 for k in a}
    cmp = paired_bootstrap(a, b, label_a="a", label_b="b")
    assert cmp.p_value == pytest.approx(2 / 32)
    assert (cmp.low, cmp.high) == (1.0, 1.0)
    assert cmp.within_noise


def test_paired_bootstrap_symmetric_noise_is_within_noise() -> None:
    # Guards false positives: differences of +2/−2 alternating average 0, the CI covers 0 and
    # every sign pattern is at least as extreme as 0, so p = 1.
    a = {f"q{i}": 5.0 for i in range(40)}
    b = {k: 5.0 + (2.0 if i % 2 else -2.0) for i, k in enumerate(a)}
    cmp = paired_bootstrap(a, b, label_a="a", label_b="b")
    assert cmp.diff == 0.0
    assert cmp.low < 0.0 < cmp.high
    assert cmp.p_value == 1.0
    assert cmp.within_noise


def test_paired_bootstrap_uses_only_shared_items() -> None:
    # Guards unpaired items leaking in: only q5..q9 are in both, where b − a = 2.
    a = {f"q{i}": 1.0 for i in range(10)}
    b = {f"q{i}": 3.0 for i in range(5, 15)}
    a["q0"] = 1000.0
    b["q14"] = -1000.0
    cmp = paired_bootstrap(a, b, label_a="a", label_b="b")
    assert cmp.n_pairs == 5
    assert cmp.diff == 2.0


def test_paired_bootstrap_no_shared_items_is_noise() -> None:
    # Guards a crash and a false claim when two runs share no items.
    cmp = paired_bootstrap({"x": 1.0}, {"y": 2.0}, label_a="a", label_b="b")
    assert cmp.n_pairs == 0
    assert math.isnan(cmp.diff) and math.isnan(cmp.p_value)
    assert cmp.within_noise


def test_paired_bootstrap_is_deterministic_and_order_free() -> None:
    # Guards reproducible reports: same seed → same result, whatever the dict order.
    rng = np.random.default_rng(9)
    a = {f"q{i}": float(v) for i, v in enumerate(rng.integers(0, 11, 60))}
    b = {f"q{i}": float(v) for i, v in enumerate(rng.integers(0, 11, 60))}
    first = paired_bootstrap(a, b, label_a="a", label_b="b", seed=4)
    again = paired_bootstrap(dict(reversed(a.items())), b, label_a="a", label_b="b", seed=4)
    assert first == again
    assert first.diff == pytest.approx(sum(b[k] - a[k] for k in a) / 60)


# -- McNemar ----------------------------------------------------------------------------------


def test_mcnemar_exact_p_on_all_one_sided_discordants() -> None:
    # Guards the exact binomial: 0 vs 6 discordant pairs give p = 2 · (1/2)⁶ = 0.03125.
    a, b = _table(both=4, only_b=6, only_a=0, neither=10)
    cmp = mcnemar(a, b, label_a="aft", label_b="msm+aft")
    assert cmp.p_value == pytest.approx(0.03125, abs=1e-15)
    assert cmp.p_value == pytest.approx(_exact_mcnemar_p(6, 0), abs=1e-15)
    assert cmp.diff == pytest.approx(6 / 20)
    assert cmp.n_pairs == 20


def test_mcnemar_exact_p_on_mixed_discordants() -> None:
    # Guards the tail sum: 1 vs 5 gives p = 2 · (1 + 6) / 64 = 0.21875, a difference in noise.
    a, b = _table(both=3, only_b=1, only_a=5, neither=11)
    cmp = mcnemar(a, b, label_a="a", label_b="b")
    assert cmp.p_value == pytest.approx(0.21875, abs=1e-15)
    assert cmp.diff == pytest.approx((1 - 5) / 20)
    assert cmp.within_noise


def test_mcnemar_matches_published_newcombe_interval() -> None:
    # Guards the paired-difference interval: Cavo et al. (2012) table 59/6/16/80 gives
    # −0.0621 (95% CI −0.1186 to −0.0046) and exact McNemar P = 0.052 in Fagerland, Lydersen
    # & Laake, "Statistical Analysis of Contingency Tables" (2017), ch. 8.
    a, b = _table(both=59, only_b=6, only_a=16, neither=80)
    cmp = mcnemar(a, b, label_a="before", label_b="after")
    assert cmp.diff == pytest.approx(-10 / 161)
    assert cmp.low == pytest.approx(-0.1186, abs=5e-5)
    assert cmp.high == pytest.approx(-0.0046, abs=5e-5)
    assert cmp.p_value == pytest.approx(_exact_mcnemar_p(6, 16), rel=1e-12)
    assert cmp.p_value == pytest.approx(0.052, abs=5e-4)
    # The CI excludes 0 but p ≥ 0.05: by the documented rule this is still "within noise".
    assert cmp.within_noise


def test_mcnemar_all_concordant_is_no_difference() -> None:
    # Guards division by zero when no pair disagrees: p = 1, diff 0, within noise.
    a, b = _table(both=7, only_b=0, only_a=0, neither=13)
    cmp = mcnemar(a, b, label_a="a", label_b="b")
    assert (cmp.diff, cmp.p_value) == (0.0, 1.0)
    assert cmp.low <= 0.0 <= cmp.high
    assert cmp.within_noise


def test_mcnemar_uses_only_shared_scenarios() -> None:
    # Guards unpaired scenarios leaking in: extra harmful verdicts on one side don't count.
    a, b = _table(both=2, only_b=6, only_a=0, neither=2)
    a_extra = {**a, "only_in_a_1": True, "only_in_a_2": True}
    b_extra = {**b, "only_in_b": True}
    cmp = mcnemar(a_extra, b_extra, label_a="a", label_b="b")
    assert cmp.n_pairs == 10
    assert cmp.diff == pytest.approx(6 / 10)
    assert cmp.p_value == pytest.approx(2 / 2**6)


def test_mcnemar_no_shared_scenarios_is_noise() -> None:
    # Guards a crash when two runs share no scenarios.
    cmp = mcnemar({"x": True}, {"y": False}, label_a="a", label_b="b")
    assert cmp.n_pairs == 0 and cmp.within_noise and math.isnan(cmp.diff)


def test_mcnemar_interval_stays_within_bounds_at_extremes() -> None:
    # Guards impossible bounds: going from all harmful to none is −1, and the CI stays ≥ −1.
    a, b = _table(both=0, only_b=0, only_a=12, neither=0)
    cmp = mcnemar(a, b, label_a="a", label_b="b")
    assert cmp.diff == -1.0
    assert -1.0 <= cmp.low <= cmp.high < 0.0
    assert cmp.p_value == pytest.approx(2 / 2**12)
    assert not cmp.within_noise


# -- Holm -------------------------------------------------------------------------------------


def test_holm_known_list() -> None:
    # Guards the step-down order and monotonicity: sorted 0.005·4, 0.01·3, 0.03·2, 0.04·1 →
    # 0.02, 0.03, 0.06, max(0.06, 0.04) = 0.06, returned in input order.
    assert holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])


def test_holm_caps_at_one_and_skips_nan() -> None:
    # Guards adjusted p > 1 and nan counting towards m: m = 2 here, 0.6·2 → capped at 1.
    adjusted = holm([0.6, math.nan, 0.9])
    assert adjusted[0] == 1.0 and adjusted[2] == 1.0
    assert math.isnan(adjusted[1])
    assert holm([]) == []


def test_apply_holm_marks_comparisons_noise_after_adjustment() -> None:
    # Guards the documented rule "CI covers 0 OR Holm p ≥ 0.05": p = 0.03 and 0.04 with CIs
    # away from 0 both become 0.06 after adjustment, so both turn into noise.
    base = PairedComparison("a", "b", "score", 1.0, 0.5, 1.5, 0.03, 30, "test", False)
    other = replace(base, label_b="c", p_value=0.04)
    strong = replace(base, label_b="d", p_value=0.001)
    out = apply_holm([base, other, strong])
    assert [c.p_holm for c in out] == pytest.approx([0.06, 0.06, 0.003])
    assert [c.within_noise for c in out] == [True, True, False]
    assert [c.label_b for c in out] == ["b", "c", "d"]
    # A tiny Holm p does not rescue a CI that covers 0.
    covering = apply_holm([replace(base, low=-0.1, p_value=0.001)])[0]
    assert covering.within_noise


def test_noise_note_states_margin() -> None:
    # Guards the small-sample warning: n = 20 at 50% has Wilson half-width ≈ 0.20 → "±20".
    p, n = 0.5, 20
    half = Z95 / (1 + Z95**2 / n) * math.sqrt(p * (1 - p) / n + Z95**2 / (4 * n**2))
    note = noise_note(n)
    assert f"±{round(100 * half)}" in note and "20 samples" in note
    assert note.startswith("Small sample")
    assert "No samples" in noise_note(0)


def test_interval_is_a_frozen_value() -> None:
    # Guards accidental mutation of a stored result.
    iv = Interval(0.5, 0.2, 0.8, 10, "wilson")
    with pytest.raises(AttributeError):
        iv.low = 0.0  # type: ignore[misc]
