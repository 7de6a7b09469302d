"""Paired samples (A/B rounds, scaling rounds): per-pair ratios and their estimators.

The per-pair ratios head/base are summarized by one of three estimators (:data:`ESTIMATORS`):
their median with the order-statistic interval of :mod:`virnucpro.bench.stats`; the
Hodges-Lehmann estimate of the log ratios (the median of their Walsh averages) with the
interval that inverts the Wilcoxon signed-rank test (its critical rank from scipy's normal
approximation of the signed-rank statistic, Hollander & Wolfe); or their 20% trimmed mean with
the Tukey-McLaughlin interval (``scipy.stats.mstats.trimmed_mean_ci``). The test is always the
Wilcoxon signed-rank test on the log ratios. scipy and numpy are imported inside the functions.

Pairs measured by several pairs of worker processes (the A/B gate replaces both workers every
so many pairs) carry one more source of noise: two fresh processes of the same code differ by a
steady offset (measured on the shared 2-core machine: about 1.3% between process pairs, against
about 10% between single pairs), which pairing inside one process pair cannot remove.
:func:`between_processes` estimates that offset's variance from the run itself (the one-way
random-effects analysis of variance of the log ratios by worker pair, Searle, Casella &
McCulloch, *Variance Components*, 1992, ch. 3) and :func:`widen_for_processes` widens an
estimator's interval by it: the interval's standard error ``se`` (its half-width over the normal
quantile of its level) becomes ``sqrt(se**2 + var / G)`` for ``G`` worker pairs (Kish's design
effect for clustered samples), and the normal quantile a Student t quantile with the
Welch-Satterthwaite degrees of freedom of that sum (``var`` is estimated from only ``G``
worker pairs), each side of the interval scaled by the same factor.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Literal, get_args

from virnucpro.bench.stats import (
    CONFIDENCE_LEVEL,
    MIN_VALUES_FOR_SPREAD,
    median,
    median_confidence_interval,
)

Estimator = Literal["median", "hodges_lehmann", "trimmed_mean"]
ESTIMATORS: tuple[Estimator, ...] = get_args(Estimator)
ESTIMATOR_WORDS = {
    "median": "paired median",
    "hodges_lehmann": "Hodges-Lehmann",
    "trimmed_mean": "20% trimmed mean",
}
TRIM_SHARE = 0.2  # cut from each end by the trimmed mean
MIN_PAIRS_FOR_INTERVAL = 6  # the fewest pairs any estimator's interval is given for


@dataclass(frozen=True)
class PairedRatio:
    """Paired samples summarized: the estimator's ratio head/base, its interval, the test."""

    estimate: float  # the estimator's ratio head/base (the median of the per-pair ratios, ...)
    low: float | None  # its interval (None: too few pairs)
    high: float | None
    confidence: float
    p_value: float  # two-sided Wilcoxon signed-rank test of the log ratios against 0
    pairs: int
    estimator: Estimator = "median"
    worker_pairs: int = 1  # pairs of worker processes the pairs came from
    process_spread: float | None = None  # the between-process offset's SD (log), when G >= 2


def paired_ratios(base: Sequence[float], head: Sequence[float]) -> tuple[float, ...]:
    """head_i / base_i for each pair; every base sample must be positive."""
    if len(base) != len(head):
        raise ValueError(f"paired samples differ in length ({len(base)} vs {len(head)})")
    if any(b <= 0.0 for b in base) or any(h <= 0.0 for h in head):
        raise ValueError("paired ratios need positive samples on both sides")
    return tuple(h / b for b, h in zip(base, head, strict=True))


def scaling_efficiencies(
    base: Sequence[float], scaled: Sequence[float], workers_ratio: float
) -> tuple[float, ...]:
    """Per-round scaling efficiency: ``base_i / (scaled_i * workers_ratio)``, round by round.

    The one definition of a scaling efficiency: each launch round runs every worker count
    (interleaved), so round ``i`` of the base and of the scaled point are a pair. The scaling
    suite records these as ``scaling[.<stage>].efficiency.<n>`` and the reports take their
    median; rounds whose scaled time is not positive are left out.
    """
    if len(base) != len(scaled):
        raise ValueError(f"scaling rounds differ in number ({len(base)} vs {len(scaled)})")
    return tuple(b / (s * workers_ratio) for b, s in zip(base, scaled, strict=True) if s > 0.0)


def log_ratio_spread(base: Sequence[float], head: Sequence[float]) -> float | None:
    """The per-pair CV of paired samples: the sample standard deviation of the per-pair log
    ratios head/base (None below two pairs)."""
    ratios = paired_ratios(base, head)
    if len(ratios) < MIN_VALUES_FOR_SPREAD:
        return None
    return statistics.stdev(math.log(r) for r in ratios)


def paired_ratio(
    base: Sequence[float],
    head: Sequence[float],
    *,
    confidence: float = CONFIDENCE_LEVEL,
    estimator: Estimator = "median",
    workers: Sequence[int] = (),
) -> PairedRatio:
    """The per-pair ratios head/base summarized by ``estimator``, its interval, and the test.

    ``median``: the median ratio with its order-statistic interval (exact coverage, no
    distribution assumed); ``hodges_lehmann`` and ``trimmed_mean`` work on the log ratios and
    are turned back into ratios. The p-value is the two-sided Wilcoxon signed-rank test of the
    log ratios against 0 (no change); all-equal pairs give p = 1. Below
    :data:`MIN_PAIRS_FOR_INTERVAL` pairs (or too few for the median's order statistics to
    reach ``confidence``) there is no interval. ``workers``: the worker pair of each pair, when
    the run replaced its workers; the interval is then widened by the spread between them
    (:func:`widen_for_processes`).
    """
    from scipy.stats import wilcoxon

    if estimator not in ESTIMATORS:
        raise ValueError(f"unknown estimator {estimator!r} (one of {', '.join(ESTIMATORS)})")
    ratios = paired_ratios(base, head)
    if not ratios:
        raise ValueError("no pairs to compare")
    logs = [math.log(r) for r in ratios]
    if all(v == 0.0 for v in logs):
        p_value = 1.0
    else:
        p_value = float(wilcoxon(logs, zero_method="zsplit").pvalue)
    if estimator == "median":
        estimate = median(ratios)
        ci = median_confidence_interval(ratios, confidence)
        low, high = (ci.low, ci.high) if ci else (None, None)
    else:
        summary = hodges_lehmann if estimator == "hodges_lehmann" else trimmed_mean
        centre, log_low, log_high = summary(logs, confidence)
        estimate = math.exp(centre)
        inside = len(ratios) >= MIN_PAIRS_FOR_INTERVAL
        low = math.exp(log_low) if inside and log_low is not None else None
        high = math.exp(log_high) if inside and log_high is not None else None
    ratio = PairedRatio(
        estimate=estimate,
        low=low,
        high=high,
        confidence=confidence,
        p_value=p_value,
        pairs=len(ratios),
        estimator=estimator,
    )
    return widen_for_processes(ratio, workers, logs) if workers else ratio


def hodges_lehmann(
    values: Sequence[float], confidence: float = CONFIDENCE_LEVEL
) -> tuple[float, float | None, float | None]:
    """The Hodges-Lehmann estimate of a centre (the median of the Walsh averages
    ``(x_i + x_j) / 2``, ``i <= j``) and the interval that inverts the Wilcoxon signed-rank test:
    the ``k``-th smallest and largest Walsh averages, ``k`` from scipy's normal approximation of
    the signed-rank statistic with a continuity correction. None bounds when ``k`` < 1."""
    import numpy as np
    from scipy.stats import norm

    x = np.asarray(values, dtype=float)
    n = len(x)
    first, second = np.triu_indices(n)
    walsh = np.sort((x[first] + x[second]) / 2.0)
    centre = float(np.median(walsh))
    z = float(norm.isf((1.0 - confidence) / 2.0))
    mean, spread = n * (n + 1) / 4.0, math.sqrt(n * (n + 1) * (2 * n + 1) / 24.0)
    k = math.floor(mean - z * spread - 0.5)  # P(T <= k) <= (1 - confidence) / 2
    if k < 0:
        return centre, None, None
    return centre, float(walsh[k]), float(walsh[len(walsh) - 1 - k])


def trimmed_mean(
    values: Sequence[float], confidence: float = CONFIDENCE_LEVEL
) -> tuple[float, float | None, float | None]:
    """The :data:`TRIM_SHARE` trimmed mean and its Tukey-McLaughlin interval (scipy's)."""
    import numpy as np
    from scipy.stats import mstats, trim_mean

    x = np.asarray(values, dtype=float)
    centre = float(trim_mean(x, TRIM_SHARE))
    if len(set(values)) == 1:
        return centre, centre, centre
    low, high = mstats.trimmed_mean_ci(x, limits=(TRIM_SHARE, TRIM_SHARE), alpha=1.0 - confidence)
    if not (math.isfinite(low) and math.isfinite(high)):
        return centre, None, None
    return centre, float(low), float(high)


def between_processes(logs: Sequence[float], groups: Sequence[int]) -> float | None:
    """The variance of a per-group offset in ``logs`` (the one-way random-effects ANOVA
    estimate, truncated at 0; unequal group sizes through ``n0``); None below two groups or
    when no group holds two values."""
    if len(logs) != len(groups):
        raise ValueError(f"{len(logs)} values but {len(groups)} group labels")
    members: dict[int, list[float]] = {}
    for value, group in zip(logs, groups, strict=True):
        members.setdefault(group, []).append(value)
    sizes = [len(m) for m in members.values()]
    count, total = len(members), len(logs)
    if count < 2 or total - count < 1:
        return None
    grand = statistics.fmean(logs)
    means = [statistics.fmean(m) for m in members.values()]
    between = sum(n * (m - grand) ** 2 for n, m in zip(sizes, means, strict=True)) / (count - 1)
    within = sum(
        (v - m) ** 2 for vs, m in zip(members.values(), means, strict=True) for v in vs
    ) / (total - count)
    n0 = (total - sum(n * n for n in sizes) / total) / (count - 1)
    return max(0.0, (between - within) / n0)


def widen_for_processes(
    ratio: PairedRatio, groups: Sequence[int], logs: Sequence[float]
) -> PairedRatio:
    """``ratio`` with its interval widened by the between-process variance of ``logs`` (the
    per-pair log ratios, grouped by the pair of worker processes that measured them); unchanged
    (but with the worker pairs counted) below two worker pairs or without an interval."""
    from scipy.stats import norm
    from scipy.stats import t as student

    count = len(set(groups))
    variance = between_processes(logs, groups)
    counted = replace(ratio, worker_pairs=count)
    if variance is None or ratio.low is None or ratio.high is None:
        return counted
    z = float(norm.isf((1.0 - ratio.confidence) / 2.0))
    centre, low, high = (math.log(v) for v in (ratio.estimate, ratio.low, ratio.high))
    se = (high - low) / (2.0 * z)
    extra = variance / count
    total = se * se + extra
    if total == 0.0:  # every pair alike, in every worker pair
        return replace(counted, process_spread=0.0)
    freedom = total * total / ((extra * extra) / (count - 1) + se**4 / (len(logs) - count))
    quantile = float(student.isf((1.0 - ratio.confidence) / 2.0, freedom))
    if se > 0:
        factor = math.sqrt(total) / se * quantile / z
        low, high = centre - (centre - low) * factor, centre + (high - centre) * factor
    else:  # all pairs alike: the process spread alone
        low, high = centre - quantile * math.sqrt(extra), centre + quantile * math.sqrt(extra)
    return replace(
        counted, low=math.exp(low), high=math.exp(high), process_spread=math.sqrt(variance)
    )
