"""Statistics helpers: location/spread, Mann-Whitney, Benjamini-Hochberg, bootstrap, the
run-level prediction interval."""

from __future__ import annotations

import math
from itertools import pairwise

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from virnucpro.bench import stats
from virnucpro.bench.schema import metric_from_samples

SEPARATED_LOW = [1.0, 1.1, 1.2, 1.3, 1.4, 1.5, 1.6, 1.7, 1.8, 1.9]
SEPARATED_HIGH = [x + 1.0 for x in SEPARATED_LOW]


def test_median_and_iqr_match_the_metric_record() -> None:
    samples = (3.0, 1.0, 4.0, 1.5, 9.0, 2.6)
    metric = metric_from_samples("x", samples, unit="s")
    assert stats.median(samples) == metric.median
    assert stats.iqr(samples) == pytest.approx(metric.iqr)


def test_median_of_nothing_is_an_error() -> None:
    with pytest.raises(ValueError, match="empty"):
        stats.median([])


@pytest.mark.parametrize(
    ("samples", "expected"),
    [
        ((10.0,), None),
        ((0.0, 0.0, 0.0), None),
        ((9.0, 10.0, 11.0), 0.1),
        ((-9.0, -10.0, -11.0), 0.1),
        ((0.0, 4e-13, 0.02, 0.05, 0.0), None),  # a median of rounding noise: no ratio
    ],
)
def test_relative_noise(samples: tuple[float, ...], expected: float | None) -> None:
    assert stats.relative_noise(samples) == (None if expected is None else pytest.approx(expected))


def test_mann_whitney_identical_samples_give_p_one() -> None:
    assert stats.mann_whitney_p([2.0] * 5, [2.0] * 5) == 1.0


def test_mann_whitney_separated_samples_are_significant() -> None:
    assert stats.mann_whitney_p(SEPARATED_LOW, SEPARATED_HIGH) < 0.001


def test_mann_whitney_one_sided_follows_scipy_convention() -> None:
    assert stats.mann_whitney_p(SEPARATED_HIGH, SEPARATED_LOW, alternative="greater") < 0.001
    assert stats.mann_whitney_p(SEPARATED_HIGH, SEPARATED_LOW, alternative="less") > 0.99


def test_mann_whitney_needs_both_sides() -> None:
    with pytest.raises(ValueError):
        stats.mann_whitney_p([], [1.0])


def test_benjamini_hochberg_known_values() -> None:
    # sorted: 0.005*4/1=0.02, 0.01*4/2=0.02, 0.03*4/3=0.04, 0.04*4/4=0.04
    adjusted = stats.benjamini_hochberg([0.01, 0.04, 0.03, 0.005])
    assert adjusted == pytest.approx((0.02, 0.04, 0.04, 0.02))
    assert stats.benjamini_hochberg([]) == ()


@settings(max_examples=50, deadline=None)
@given(st.lists(st.floats(min_value=0.0, max_value=1.0), min_size=1, max_size=30))
def test_benjamini_hochberg_never_lowers_a_p_value_and_keeps_order(p_values: list[float]) -> None:
    adjusted = stats.benjamini_hochberg(p_values)
    assert all(a >= p - 1e-12 and a <= 1.0 for p, a in zip(p_values, adjusted, strict=True))
    pairs = sorted(zip(p_values, adjusted, strict=True))
    assert all(a1 <= a2 + 1e-12 for (_, a1), (_, a2) in pairwise(pairs))


def test_bootstrap_ratio_is_seeded_and_brackets_the_estimate() -> None:
    first = stats.bootstrap_ratio_of_medians(SEPARATED_LOW, SEPARATED_HIGH)
    again = stats.bootstrap_ratio_of_medians(SEPARATED_LOW, SEPARATED_HIGH)
    assert first == again
    assert first is not None
    assert first.low <= first.estimate <= first.high
    assert first.estimate == pytest.approx(2.45 / 1.45)
    assert first.low > 1.3


def test_bootstrap_ratio_differs_with_another_seed() -> None:
    one = stats.bootstrap_ratio_of_medians(SEPARATED_LOW, SEPARATED_HIGH, seed=1)
    two = stats.bootstrap_ratio_of_medians(SEPARATED_LOW, SEPARATED_HIGH, seed=2)
    assert one != two


def test_bootstrap_ratio_undefined_for_zero_baseline() -> None:
    assert stats.bootstrap_ratio_of_medians([0.0, 0.0, 1.0], [1.0, 2.0, 3.0]) is None


def test_median_ci_needs_six_rounds_for_95_percent():
    assert stats.median_confidence_interval([1.0, 2.0, 3.0, 4.0, 5.0]) is None
    ci = stats.median_confidence_interval([6.0, 1.0, 5.0, 2.0, 4.0, 3.0])
    assert ci is not None
    assert (ci.low, ci.high) == (1.0, 6.0)
    assert ci.coverage == pytest.approx(1 - 2 / 64)


def test_median_ci_narrows_with_more_rounds():
    samples = [float(i) for i in range(1, 21)]
    ci = stats.median_confidence_interval(samples)
    assert ci is not None
    # n=20: ranks 6..15 (1-based) give 95.86 % coverage, ranks 7..14 fall below 95 %.
    assert (ci.low, ci.high) == (6.0, 15.0)
    assert ci.coverage == pytest.approx(0.958610535)
    assert ci.low <= stats.median(samples) <= ci.high


@pytest.mark.parametrize("n", [6, 7, 12, 20, 31, 60])
def test_median_interval_is_the_one_scipy_quantile_test_gives(n: int) -> None:
    from scipy.stats import quantile_test

    samples = [float((i * 37) % 101) for i in range(n)]
    ci = stats.median_confidence_interval(samples)
    expected = quantile_test(samples, q=0.0, p=0.5).confidence_interval(0.95)
    assert ci is not None and (ci.low, ci.high) == (expected.low, expected.high)


# Student t quantiles t(df, 0.975) from printed tables (not from scipy): the interval must use them.
T_975 = {1: 12.7062, 2: 4.3027, 6: 2.4469}


def test_prediction_interval_of_three_runs_uses_the_t_quantile() -> None:
    interval = stats.log_prediction_interval([math.exp(0.0), math.exp(0.1), math.exp(0.2)])
    assert interval is not None
    assert interval.runs == 3 and interval.confidence == 0.95
    assert interval.centre == pytest.approx(0.1)
    assert interval.spread == pytest.approx(0.1)
    assert interval.half_width == pytest.approx(T_975[2] * 0.1 * math.sqrt(4 / 3), rel=1e-4)
    assert interval.level == pytest.approx(math.exp(0.1))
    assert interval.low == pytest.approx(math.exp(0.1 - interval.half_width))
    assert interval.high == pytest.approx(math.exp(0.1 + interval.half_width))


def test_prediction_interval_of_seven_runs() -> None:
    logs = [-0.03, -0.02, -0.01, 0.0, 0.01, 0.02, 0.03]
    interval = stats.log_prediction_interval([100.0 * math.exp(v) for v in logs])
    spread = math.sqrt(sum(v * v for v in logs) / 6)
    assert interval is not None
    assert interval.level == pytest.approx(100.0)
    assert interval.spread == pytest.approx(spread)
    assert interval.half_width == pytest.approx(T_975[6] * spread * math.sqrt(8 / 7), rel=1e-4)


def test_two_runs_give_a_very_wide_interval_and_fewer_give_none() -> None:
    interval = stats.log_prediction_interval([1.0, math.exp(0.1)])
    assert interval is not None
    spread = 0.1 / math.sqrt(2)
    assert interval.half_width == pytest.approx(T_975[1] * spread * math.sqrt(1.5), rel=1e-4)
    assert stats.log_prediction_interval([5.0]) is None
    assert stats.log_prediction_interval([]) is None


def test_equal_runs_give_a_zero_width_interval() -> None:
    interval = stats.log_prediction_interval([2.0, 2.0, 2.0, 2.0])
    assert interval is not None
    assert interval.spread == 0.0 and interval.half_width == 0.0
    assert interval.low == pytest.approx(2.0) and interval.high == pytest.approx(2.0)


@pytest.mark.parametrize("bad", [[1.0, 0.0, 2.0], [1.0, -1.0, 2.0], [1.0, math.inf, 2.0]])
def test_prediction_interval_needs_positive_finite_values(bad: list[float]) -> None:
    with pytest.raises(ValueError, match="positive"):
        stats.log_prediction_interval(bad)


def test_prediction_interval_covers_a_new_run_at_its_confidence() -> None:
    rng = np.random.default_rng(7)
    trials, covered = 4000, 0
    for _ in range(trials):
        draws = np.exp(0.05 * rng.standard_normal(6))
        interval = stats.log_prediction_interval(draws[:5].tolist())
        assert interval is not None
        covered += interval.low <= draws[5] <= interval.high
    assert covered / trials == pytest.approx(0.95, abs=0.01)
