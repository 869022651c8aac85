"""Power figures: closed-form values and a simulation agree with what the estimate shows."""

from __future__ import annotations

import math

import numpy as np
import pytest

from engine.evals import power


def test_rate_mde_matches_the_closed_form_at_half() -> None:
    # Guards the formula: at p0 = 0.5, n = 100, alpha 0.05 the textbook MDE is ≈ 0.19-0.20.
    z = 1.959964 + 0.841621
    d = power.rate_mde(100, baseline=0.5)
    p1 = 0.5 - d
    assert d == pytest.approx(z * math.sqrt((0.25 + p1 * (1 - p1)) / 100), rel=1e-5)
    assert 0.18 < d < 0.20


def test_rate_mde_has_80_percent_power_in_simulation() -> None:
    # Guards against a formula that only looks right: simulate the two-proportion z-test at
    # the computed difference and count rejections (fixed seed, 20,000 replicates).
    rng = np.random.default_rng(0)
    n, p0, level = 200, 0.4, 0.05 / 6
    d = power.rate_mde(n, baseline=p0, level=level)
    a = rng.binomial(n, p0, 20_000) / n
    b = rng.binomial(n, p0 - d, 20_000) / n
    pooled = (a + b) / 2
    z = (a - b) / np.sqrt(2 * pooled * (1 - pooled) / n)
    crit = 2.638  # two-sided z for alpha = 0.05 / 6
    assert np.mean(np.abs(z) > crit) == pytest.approx(0.8, abs=0.03)


def test_score_mde_and_needed_sizes_invert_each_other() -> None:
    # Guards "sizes needed for a difference you type": n for the MDE of n is n again.
    mde = power.score_mde(64, sd=2.5)
    assert mde == pytest.approx((1.959964 + 0.841621) * 2.5 * math.sqrt(2 / 64), rel=1e-6)
    assert power.score_n_needed(mde, sd=2.5) in (64, 65)
    assert power.rate_n_needed(power.rate_mde(150, baseline=0.3), baseline=0.3) in (150, 151)


def test_tiny_studies_say_they_cannot_tell() -> None:
    # Guards cpu-smoke honesty: 8 samples per cell cannot detect even a 30-point difference.
    p = power.study_power(8, 9, comparisons=2)
    assert p.harmful_rate_mde > 0.5 and p.level == 0.025
    assert power.rate_mde(0) == 1.0 and math.isinf(power.score_mde(0))
