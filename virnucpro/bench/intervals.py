"""Confidence interval of a median from raw samples (order statistics, no distribution assumed).

Kept free of torch so the report renderers can use it without importing the ML stack.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

CONFIDENCE_LEVEL = 0.95


@dataclass(frozen=True)
class ConfidenceInterval:
    """An interval for the median and the exact probability that it covers it."""

    low: float
    high: float
    coverage: float


def _binomial_cdf_half(k: int, n: int) -> float:
    """P(B <= k) for B ~ Binomial(n, 1/2)."""
    return sum(math.comb(n, i) for i in range(k + 1)) / 2**n


def median_confidence_interval(
    samples: Sequence[float], level: float = CONFIDENCE_LEVEL
) -> ConfidenceInterval | None:
    """Order-statistic interval for the median with coverage >= ``level``, or ``None``."""
    n = len(samples)
    ordered = sorted(samples)
    best: ConfidenceInterval | None = None
    for k in range(n // 2):
        coverage = 1.0 - 2.0 * _binomial_cdf_half(k, n)
        if coverage < level:
            break
        best = ConfidenceInterval(ordered[k], ordered[n - 1 - k], coverage)
    return best


def min_samples_for(level: float = CONFIDENCE_LEVEL) -> int:
    """The fewest samples whose order-statistic interval reaches ``level`` (6 for 95%)."""
    n = 2
    while 1.0 - 2.0 * _binomial_cdf_half(0, n) < level:
        n += 1
    return n
