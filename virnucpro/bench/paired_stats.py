"""Paired samples (A/B rounds, scaling rounds): per-pair ratios and their estimators.

The per-pair ratios head/base are summarized by one of three estimators (:data:`ESTIMATORS`):
their median with the order-statistic interval of :mod:`virnucpro.bench.stats`; the
Hodges-Lehmann estimate of the log ratios (the median of their Walsh averages) with the
interval that inverts the Wilcoxon signed-rank test (its critical rank from scipy's normal
approximation of the signed-rank statistic, Hollander & Wolfe); or their 20% trimmed mean with
the Tukey-McLaughlin interval (``scipy.stats.mstats.trimmed_mean_ci``). The test is always the
Wilcoxon signed-rank test on the log ratios. scipy and numpy are imported inside the functions.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
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
) -> PairedRatio:
    """The per-pair ratios head/base summarized by ``estimator``, its interval, and the test.

    ``median``: the median ratio with its order-statistic interval (exact coverage, no
    distribution assumed); ``hodges_lehmann`` and ``trimmed_mean`` work on the log ratios and
    are turned back into ratios. The p-value is the two-sided Wilcoxon signed-rank test of the
    log ratios against 0 (no change); all-equal pairs give p = 1. Below
    :data:`MIN_PAIRS_FOR_INTERVAL` pairs (or too few for the median's order statistics to
    reach ``confidence``) there is no interval.
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
    return PairedRatio(
        estimate=estimate,
        low=low,
        high=high,
        confidence=confidence,
        p_value=p_value,
        pairs=len(ratios),
        estimator=estimator,
    )


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
