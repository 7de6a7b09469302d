"""Group-sequential boundaries, the plan of looks, the MDE and the pairs a detection needs."""

from __future__ import annotations

import math

import numpy as np
import pytest

from virnucpro.bench import sequential

FIVE_EQUAL = (0.2, 0.4, 0.6, 0.8, 1.0)


def test_obrien_fleming_bounds_match_the_published_table() -> None:
    """Lan-DeMets O'Brien-Fleming-type spending, five equally spaced looks, two-sided 0.05
    (the bounds R's ldbounds and gsDesign print: 4.877, 3.357, 2.680, 2.290, 2.031)."""
    bounds = sequential.boundaries(FIVE_EQUAL, 0.05, "obrien_fleming")
    assert bounds == pytest.approx((4.877, 3.357, 2.680, 2.290, 2.031), abs=2e-3)


def test_pocock_bounds_match_the_published_table() -> None:
    """Pocock-type spending, five looks (ldbounds: 2.438, 2.427, 2.410, 2.397, 2.386)."""
    bounds = sequential.boundaries(FIVE_EQUAL, 0.05, "pocock")
    assert bounds == pytest.approx((2.438, 2.427, 2.410, 2.397, 2.386), abs=2e-3)


def test_one_look_is_the_fixed_sample_level() -> None:
    for spending in ("obrien_fleming", "pocock"):
        assert sequential.boundaries((1.0,), 0.05, spending) == pytest.approx((1.95996,), 1e-4)


def test_brownian_paths_leave_the_bounds_at_most_alpha_of_the_time() -> None:
    """Monte Carlo of the statistic the bounds are for: the crossing rate is alpha, and the
    fixed 1.96 at every look crosses far more often."""
    fractions = (0.1, 0.25, 0.4, 0.55, 0.7, 0.85, 1.0)
    rng = np.random.default_rng(3)
    steps = rng.standard_normal((40_000, len(fractions))) * np.sqrt(np.diff((0.0, *fractions)))
    z = np.cumsum(steps, axis=1) / np.sqrt(fractions)
    for spending in ("obrien_fleming", "pocock"):
        bounds = np.asarray(sequential.boundaries(fractions, 0.05, spending))
        crossed = (np.abs(z) >= bounds).any(axis=1).mean()
        assert 0.043 < crossed < 0.057, (spending, crossed)
    assert (np.abs(z) >= 1.96).any(axis=1).mean() > 0.10


def test_bad_fractions_are_refused() -> None:
    with pytest.raises(ValueError, match="increase"):
        sequential.boundaries((0.5, 0.5), 0.05, "pocock")
    with pytest.raises(ValueError, match="increase"):
        sequential.boundaries((0.0, 1.0), 0.05, "pocock")


def test_a_plans_looks_and_levels() -> None:
    plan = sequential.SequentialPlan(first=20, block=20, most=90, alpha=0.05, spending="pocock")
    assert plan.looks_until(90) == (20, 40, 60, 80, 90)
    assert plan.looks_until(50) == (20, 40, 50)  # cut short off the schedule: that look last
    levels = [plan.confidence(n) for n in plan.looks_until(90)]
    assert all(0.95 < level < 0.995 for level in levels)
    strict_early = sequential.SequentialPlan(
        first=20, block=20, most=90, alpha=0.05, spending="obrien_fleming"
    )
    obf = [strict_early.confidence(n) for n in strict_early.looks_until(90)]
    assert obf == sorted(obf, reverse=True) and obf[0] > 0.9999 and obf[-1] < 0.965
    early = sequential.SequentialPlan(first=20, block=20, most=90, alpha=0.05, spending="none")
    assert early.confidence(20) == pytest.approx(0.95)
    assert sequential.single_look(0.05).confidence(37) == pytest.approx(0.95)
    assert "look 3 of 5" in sequential.describe(plan, 60)


def test_the_horizon_is_the_budget_at_the_pace_within_the_bounds() -> None:
    assert sequential.horizon(first=20, pace_s=0.5, budget_s=180, safety_cap=2000) == 360
    assert sequential.horizon(first=20, pace_s=0.001, budget_s=180, safety_cap=2000) == 2000
    assert sequential.horizon(first=20, pace_s=60.0, budget_s=180, safety_cap=2000) == 20
    assert sequential.horizon(first=20, pace_s=None, budget_s=180, safety_cap=2000) == 20


def test_min_detectable_and_the_pairs_a_target_needs() -> None:
    se = 0.01
    mde = sequential.min_detectable(se, 1.96)
    assert mde == pytest.approx(math.expm1((1.96 + 0.8416) * se), rel=1e-4)

    def plan_for(n: int) -> sequential.SequentialPlan:
        return sequential.SequentialPlan(first=20, block=20, most=n, alpha=0.05, spending="none")

    spread = 0.1  # per-pair SD of the log ratio
    needed = sequential.pairs_for(0.03, spread=spread, plan_for=plan_for, most=2000)
    assert needed is not None
    z = 1.96 + 0.8416
    assert needed == pytest.approx((z * spread / math.log1p(0.03)) ** 2, abs=1.0)
    assert sequential.pairs_for(0.001, spread=spread, plan_for=plan_for, most=200) is None
    assert sequential.pairs_for(0.5, spread=spread, plan_for=plan_for, most=2000) == 20
