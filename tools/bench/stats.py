"""Robust statistics for comparing two sets of raw benchmark samples.

Pure functions over sequences of floats: location and spread (median, IQR, relative noise), the
Mann-Whitney U test, a seeded bootstrap interval for the ratio of medians, and the
Benjamini-Hochberg adjustment used when many metrics are judged at once.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from scipy import stats as sps

BOOTSTRAP_RESAMPLES = 2000
BOOTSTRAP_SEED = 20_240_601
BOOTSTRAP_CONFIDENCE = 0.95
MIN_SAMPLES_FOR_IQR = 2

Alternative = Literal["two-sided", "less", "greater"]


@dataclass(frozen=True)
class Interval:
    """A point estimate with a two-sided confidence interval."""

    estimate: float
    low: float
    high: float
    confidence: float


def median(samples: Sequence[float]) -> float:
    """Median of a non-empty sample."""
    if not samples:
        raise ValueError("median of an empty sample")
    return float(statistics.median(samples))


def iqr(samples: Sequence[float]) -> float | None:
    """Interquartile range (inclusive quartiles, as ``Metric.iqr``); None below two samples."""
    if len(samples) < MIN_SAMPLES_FOR_IQR:
        return None
    q = statistics.quantiles(samples, n=4, method="inclusive")
    return float(q[2] - q[0])


def relative_noise(samples: Sequence[float]) -> float | None:
    """IQR over the magnitude of the median; None when undefined (few samples, zero median)."""
    spread = iqr(samples)
    if spread is None:
        return None
    centre = abs(median(samples))
    if centre == 0.0:
        return None
    return spread / centre


def mann_whitney_p(
    first: Sequence[float], second: Sequence[float], *, alternative: Alternative = "two-sided"
) -> float:
    """p-value of the Mann-Whitney U test of ``first`` against ``second``.

    ``alternative="greater"`` tests whether ``first`` tends to be larger than ``second``
    (scipy's convention). Two samples that are all one identical value give p = 1.
    """
    if not first or not second:
        raise ValueError("Mann-Whitney U needs samples on both sides")
    if len(set(first) | set(second)) == 1:
        return 1.0
    result = sps.mannwhitneyu(first, second, alternative=alternative)
    return float(result.pvalue)


def benjamini_hochberg(p_values: Sequence[float]) -> tuple[float, ...]:
    """Benjamini-Hochberg adjusted p-values (false discovery rate control), in input order."""
    if not p_values:
        return ()
    adjusted = sps.false_discovery_control(np.asarray(p_values, dtype=float), method="bh")
    return tuple(float(p) for p in adjusted)


def _bootstrap_medians(
    samples: Sequence[float], rng: np.random.Generator, resamples: int
) -> np.ndarray:
    data = np.asarray(samples, dtype=float)
    picks = rng.integers(0, data.size, size=(resamples, data.size))
    return np.median(data[picks], axis=1)


def bootstrap_ratio_of_medians(
    baseline: Sequence[float],
    candidate: Sequence[float],
    *,
    resamples: int = BOOTSTRAP_RESAMPLES,
    confidence: float = BOOTSTRAP_CONFIDENCE,
    seed: int = BOOTSTRAP_SEED,
) -> Interval | None:
    """Percentile bootstrap interval of ``median(candidate) / median(baseline)``.

    Each side is resampled independently with a seeded generator, so the result is
    reproducible. None when a resampled baseline median is zero (the ratio is undefined).
    """
    if not baseline or not candidate:
        raise ValueError("a bootstrap needs samples on both sides")
    if median(baseline) == 0.0:
        return None
    rng = np.random.default_rng(seed)
    base = _bootstrap_medians(baseline, rng, resamples)
    cand = _bootstrap_medians(candidate, rng, resamples)
    if np.any(base == 0.0):
        return None
    ratios = cand / base
    tail = (1.0 - confidence) / 2.0
    low, high = np.quantile(ratios, [tail, 1.0 - tail])
    return Interval(
        estimate=median(candidate) / median(baseline),
        low=float(low),
        high=float(high),
        confidence=confidence,
    )
