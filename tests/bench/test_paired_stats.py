"""Paired samples: per-pair ratios, the three estimators and their intervals, the test."""

from __future__ import annotations

import numpy as np
import pytest

from virnucpro.bench import paired_stats, stats


def test_paired_ratio_of_a_uniform_slowdown() -> None:
    base = [1.0, 2.0, 1.5, 1.2, 0.9, 1.1, 1.3, 1.4]
    head = [b * 1.2 for b in base]
    result = paired_stats.paired_ratio(base, head)
    assert result.estimate == pytest.approx(1.2)
    assert result.low == pytest.approx(1.2) and result.high == pytest.approx(1.2)
    assert result.pairs == 8
    assert result.p_value < 0.01


def test_paired_ratio_without_change_is_not_significant() -> None:
    base = [1.0, 1.1, 0.9, 1.05, 0.95, 1.0]
    result = paired_stats.paired_ratio(base, base)
    assert result.estimate == 1.0 and result.p_value == 1.0


def test_paired_ratio_interval_needs_six_pairs() -> None:
    result = paired_stats.paired_ratio([1.0, 1.0, 1.0], [1.1, 1.2, 1.3])
    assert result.low is None and result.high is None
    with pytest.raises(ValueError, match="length"):
        paired_stats.paired_ratio([1.0], [1.0, 2.0])
    with pytest.raises(ValueError, match="positive"):
        paired_stats.paired_ratio([0.0], [1.0])


def test_paired_ratio_interval_covers_the_pairs_median() -> None:
    base = [1.0] * 10
    head = [1.0, 1.3, 1.1, 0.9, 1.2, 1.05, 1.15, 0.95, 1.25, 1.02]
    result = paired_stats.paired_ratio(base, head)
    assert result.low is not None and result.high is not None
    assert result.low <= result.estimate <= result.high
    assert result.estimate == pytest.approx(stats.median(head))


def test_hodges_lehmann_is_the_median_of_the_walsh_averages() -> None:
    import itertools

    values = [0.3, -0.1, 0.05, 0.2, -0.4, 0.15, 0.0, 0.12, 0.33, -0.05, 0.08]
    walsh = [(a + b) / 2 for a, b in itertools.combinations_with_replacement(values, 2)]
    centre, low, high = paired_stats.hodges_lehmann(values)
    assert centre == pytest.approx(stats.median(walsh))
    assert low is not None and high is not None and low < centre < high
    # n = 11: the signed-rank table's two-sided 5% critical value is 10, so the interval runs
    # from the 11th smallest to the 11th largest Walsh average
    ordered = sorted(walsh)
    assert (low, high) == pytest.approx((ordered[10], ordered[-11]))


@pytest.mark.parametrize("estimator", ["hodges_lehmann", "trimmed_mean"])
def test_paired_estimators_cover_the_true_ratio_about_95_percent_of_the_time(estimator) -> None:
    rng = np.random.default_rng(11)
    covered = 0
    for _ in range(300):
        base = rng.uniform(0.15, 0.25, 30)
        head = base * 1.05 * np.exp(rng.standard_normal(30) * 0.05)
        result = paired_stats.paired_ratio(list(base), list(head), estimator=estimator)
        assert result.estimator == estimator and result.low is not None and result.high is not None
        covered += result.low <= 1.05 <= result.high
    assert 0.92 <= covered / 300 <= 0.985


def test_the_trimmed_mean_is_scipys() -> None:
    from scipy.stats import mstats, trim_mean

    values = [0.3, -0.1, 0.05, 0.2, -0.4, 0.15, 0.0, 0.12, 0.33, -0.05, 0.08, 0.9]
    centre, low, high = paired_stats.trimmed_mean(values, 0.9)
    assert centre == pytest.approx(trim_mean(values, 0.2))
    expected = mstats.trimmed_mean_ci(np.asarray(values), limits=(0.2, 0.2), alpha=0.1)
    assert (low, high) == pytest.approx(tuple(expected))


def test_a_wider_confidence_gives_a_wider_interval_for_every_estimator() -> None:
    rng = np.random.default_rng(2)
    base = list(rng.uniform(0.15, 0.25, 40))
    head = [b * float(np.exp(0.05 * rng.standard_normal())) for b in base]
    for estimator in paired_stats.ESTIMATORS:
        narrow = paired_stats.paired_ratio(base, head, confidence=0.9, estimator=estimator)
        wide = paired_stats.paired_ratio(base, head, confidence=0.999, estimator=estimator)
        assert wide.low < narrow.low and wide.high > narrow.high, estimator
    with pytest.raises(ValueError, match="unknown estimator"):
        paired_stats.paired_ratio(base, head, estimator="mean")  # type: ignore[arg-type]
