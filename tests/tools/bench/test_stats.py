"""Statistics helpers: location/spread, Mann-Whitney, Benjamini-Hochberg, bootstrap."""

from __future__ import annotations

from itertools import pairwise

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tools.bench import stats
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
