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


def test_between_processes_recovers_a_known_offset_variance() -> None:
    rng = np.random.default_rng(11)
    offsets = rng.normal(0.0, 0.05, 40)
    logs = [float(o + rng.normal(0.0, 0.1)) for o in offsets for _ in range(50)]
    groups = [g for g in range(40) for _ in range(50)]
    variance = paired_stats.between_processes(logs, groups)
    assert variance is not None and 0.035 < variance**0.5 < 0.065
    assert paired_stats.between_processes(logs[:50], groups[:50]) is None  # one group
    alike = paired_stats.between_processes([0.0, 0.1, 0.0, 0.1], [0, 0, 1, 1])
    assert alike == 0.0
    with pytest.raises(ValueError, match="group labels"):
        paired_stats.between_processes([0.0], [0, 1])


def test_widening_adds_the_offset_variance_over_the_groups_to_the_squared_error() -> None:
    base = [1.0] * 40
    head = [1.0 + (0.04 if i < 20 else -0.04) + 0.01 * ((i % 5) - 2) for i in range(40)]
    ratio = paired_stats.paired_ratio(base, head, estimator="trimmed_mean")
    logs = [float(np.log(h / b)) for b, h in zip(base, head, strict=True)]
    groups = [0] * 20 + [1] * 20
    wide = paired_stats.widen_for_processes(ratio, groups, logs)
    assert wide.worker_pairs == 2 and wide.process_spread is not None
    from scipy.stats import t as student

    z = 1.959963984540054
    se = (np.log(ratio.high) - np.log(ratio.low)) / (2 * z)
    extra = wide.process_spread**2 / 2
    freedom = (se**2 + extra) ** 2 / (extra**2 / 1 + se**4 / 38)
    wanted = np.sqrt(se**2 + extra) * student.isf(0.025, freedom)
    assert (np.log(wide.high) - np.log(wide.low)) / 2 == pytest.approx(wanted)
    single = paired_stats.widen_for_processes(ratio, [0] * 40, logs)
    assert (single.low, single.high, single.worker_pairs) == (ratio.low, ratio.high, 1)
    point = paired_stats.PairedRatio(
        estimate=1.0, low=1.0, high=1.0, confidence=0.95, p_value=1.0, pairs=4
    )
    spread = paired_stats.widen_for_processes(point, [0, 0, 1, 1], [-0.1, -0.1, 0.1, 0.1])
    assert spread.low is not None and spread.high is not None
    assert np.log(spread.high) == pytest.approx(-np.log(spread.low))
    t_one = student.isf(0.025, 1)  # the spread alone, from two worker pairs: 1 degree
    assert np.log(spread.high) == pytest.approx(t_one * np.sqrt(spread.process_spread**2 / 2))
    steady = paired_stats.widen_for_processes(point, [0, 0, 1, 1], [0.0] * 4)
    assert (steady.low, steady.high, steady.process_spread) == (1.0, 1.0, 0.0)
