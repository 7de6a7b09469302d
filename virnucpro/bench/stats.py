"""The one place for the statistics of raw benchmark samples: location, spread, intervals, tests.

Everything that summarizes or compares samples uses these functions: the measuring layer
(:mod:`virnucpro.bench.measure`, :class:`~virnucpro.bench.schema.Metric`), the judges and the
renderers (``tools/bench``). Quartiles are the inclusive ones of :func:`statistics.quantiles`.
Intervals and tests come from scipy, none is written here by hand:

- the confidence interval of a median is the distribution-free order-statistic interval (the
  one ``scipy.stats.quantile_test`` gives, from scipy's binomial; fewer than 6 samples give none
  at 95%);
- two independent samples: the Mann-Whitney U test and a seeded bootstrap interval of the ratio
  of medians (``scipy.stats.bootstrap``);
- paired samples (A/B rounds): :mod:`virnucpro.bench.paired_stats`, built on these;
- run-level values (one median per earlier run): the Student t prediction interval of one more
  run's value on the log scale (``scipy.stats.t``), so that between-run noise is part of a test;
- many metrics at once: the Benjamini-Hochberg adjustment.

scipy and numpy are imported inside the functions that need them, so the results schema stays
light to import.
"""

from __future__ import annotations

import functools
import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

CONFIDENCE_LEVEL = 0.95
BOOTSTRAP_RESAMPLES = 2000
BOOTSTRAP_SEED = 20_240_601
MIN_SAMPLES_FOR_IQR = 2
MIN_VALUES_FOR_SPREAD = 2  # a sample standard deviation needs two values
# A median this small against the largest sample's magnitude is zero for a relative spread:
# IQR/median would divide by rounding noise (a CPU share whose median is 4e-13 of a 0.05 range).
NEAR_ZERO_MEDIAN = 1e-6

Alternative = Literal["two-sided", "less", "greater"]


@dataclass(frozen=True)
class Interval:
    """A point estimate with a two-sided confidence interval."""

    estimate: float
    low: float
    high: float
    confidence: float


@dataclass(frozen=True)
class ConfidenceInterval:
    """An interval for the median and the exact probability that it covers it."""

    low: float
    high: float
    coverage: float


# ----------------------------------------------------------------------------- location, spread


def median(samples: Sequence[float]) -> float:
    """Median of a non-empty sample."""
    if not samples:
        raise ValueError("median of an empty sample")
    return float(statistics.median(samples))


def quartiles(samples: Sequence[float]) -> tuple[float, float]:
    """Lower and upper inclusive quartiles (at least two samples)."""
    q = statistics.quantiles(samples, n=4, method="inclusive")
    return float(q[0]), float(q[2])


def iqr(samples: Sequence[float]) -> float | None:
    """Interquartile range (inclusive quartiles); None below two samples."""
    if len(samples) < MIN_SAMPLES_FOR_IQR:
        return None
    low, high = quartiles(samples)
    return high - low


def relative_noise(samples: Sequence[float]) -> float | None:
    """IQR over the magnitude of the median; None when undefined: fewer than two samples, or a
    median that is zero or near zero (at most :data:`NEAR_ZERO_MEDIAN` of the largest sample's
    magnitude), where the ratio would divide by rounding noise."""
    spread = iqr(samples)
    if spread is None:
        return None
    centre = abs(median(samples))
    if centre == 0.0 or centre <= NEAR_ZERO_MEDIAN * max(abs(s) for s in samples):
        return None
    return spread / centre


# ----------------------------------------------------------------------------- one sample


@functools.lru_cache(maxsize=256)
def _order_statistic_rank(n: int, level: float) -> tuple[int, float] | None:
    """The largest k whose interval [x_(k), x_(n-1-k)] (0-based) covers the median with
    probability >= ``level``, and that coverage: 1 - 2 P(B <= k), B ~ Binomial(n, 1/2).

    The same interval as ``scipy.stats.quantile_test(...).confidence_interval()``, computed from
    scipy's binomial once per (n, level): the judge asks for it thousands of times.
    """
    import numpy as np
    from scipy.stats import binom

    if n < 2:
        return None
    coverage = 1.0 - 2.0 * binom.cdf(np.arange(n // 2), n, 0.5)
    fit = np.flatnonzero(coverage >= level)
    if fit.size == 0:
        return None
    k = int(fit[-1])
    return k, float(coverage[k])


def median_confidence_interval(
    samples: Sequence[float], level: float = CONFIDENCE_LEVEL
) -> ConfidenceInterval | None:
    """Order-statistic interval for the median with coverage >= ``level``, or None (too few)."""
    ordered = sorted(samples)
    rank = _order_statistic_rank(len(ordered), level)
    if rank is None:
        return None
    k, coverage = rank
    return ConfidenceInterval(float(ordered[k]), float(ordered[len(ordered) - 1 - k]), coverage)


def min_samples_for(level: float = CONFIDENCE_LEVEL) -> int:
    """The fewest samples whose order-statistic interval reaches ``level`` (6 for 95%)."""
    n = 2
    while 1.0 - 2.0 * 0.5**n < level:
        n += 1
    return n


# ----------------------------------------------------------------------------- two samples


def mann_whitney_p(
    first: Sequence[float], second: Sequence[float], *, alternative: Alternative = "two-sided"
) -> float:
    """p-value of the Mann-Whitney U test of ``first`` against ``second``.

    ``alternative="greater"`` tests whether ``first`` tends to be larger than ``second``
    (scipy's convention). Two samples that are all one identical value give p = 1.
    """
    from scipy.stats import mannwhitneyu

    if not first or not second:
        raise ValueError("Mann-Whitney U needs samples on both sides")
    if len(set(first) | set(second)) == 1:
        return 1.0
    return float(mannwhitneyu(first, second, alternative=alternative).pvalue)


def bootstrap_ratio_of_medians(
    baseline: Sequence[float],
    candidate: Sequence[float],
    *,
    resamples: int = BOOTSTRAP_RESAMPLES,
    confidence: float = CONFIDENCE_LEVEL,
    seed: int = BOOTSTRAP_SEED,
) -> Interval | None:
    """Percentile bootstrap interval of ``median(candidate) / median(baseline)``.

    The two sides are resampled independently (``scipy.stats.bootstrap``, seeded, so the result
    is reproducible). None when a median is zero (the ratio is undefined) or the interval is
    degenerate.
    """
    import numpy as np
    from scipy.stats import bootstrap

    if not baseline or not candidate:
        raise ValueError("a bootstrap needs samples on both sides")
    if median(baseline) == 0.0 or min(abs(v) for v in baseline) == 0.0:
        return None

    def ratio(base: np.ndarray, cand: np.ndarray, axis: int = -1) -> np.ndarray:
        return np.median(cand, axis=axis) / np.median(base, axis=axis)

    result = bootstrap(
        (np.asarray(baseline, dtype=float), np.asarray(candidate, dtype=float)),
        ratio,
        n_resamples=resamples,
        confidence_level=confidence,
        method="percentile",
        vectorized=True,
        rng=np.random.default_rng(seed),
    )
    low, high = result.confidence_interval
    if not (math.isfinite(low) and math.isfinite(high)):
        return None
    return Interval(
        estimate=median(candidate) / median(baseline),
        low=float(low),
        high=float(high),
        confidence=confidence,
    )


# ----------------------------------------------------------------------------- run-level values


@dataclass(frozen=True)
class PredictionInterval:
    """Where one more run's value is expected, from earlier runs' values, on the log scale.

    ``centre`` is the mean of the log values, ``spread`` their sample standard deviation and
    ``half_width`` the interval's half-width, all in natural-log units (a log difference of 0.04
    is about 4%). :attr:`level`, :attr:`low` and :attr:`high` are back in the values' unit.
    """

    centre: float
    spread: float
    half_width: float
    runs: int
    confidence: float

    @property
    def level(self) -> float:
        """The centre in the values' unit (the geometric mean of the values)."""
        return math.exp(self.centre)

    @property
    def low(self) -> float:
        return math.exp(self.centre - self.half_width)

    @property
    def high(self) -> float:
        return math.exp(self.centre + self.half_width)


def log_prediction_interval(
    values: Sequence[float], *, confidence: float = CONFIDENCE_LEVEL
) -> PredictionInterval | None:
    """Prediction interval for one new value from ``values`` (say, earlier runs' medians).

    On the logs: mean ± t(n-1, (1+confidence)/2) * s * sqrt(1 + 1/n), with ``s`` the sample
    standard deviation; the interval of a new draw from the same normal population, so it holds
    the between-run noise and the uncertainty of the mean. Logs, because run times vary by a
    factor, not by an amount. None below two values (no spread to measure); equal values give
    a zero-width interval. Every value must be positive and finite.
    """
    from scipy.stats import t

    if any(not (math.isfinite(v) and v > 0.0) for v in values):
        raise ValueError("a log-scale prediction interval needs positive, finite values")
    n = len(values)
    if n < MIN_VALUES_FOR_SPREAD:
        return None
    logs = [math.log(v) for v in values]
    centre = statistics.fmean(logs)
    spread = statistics.stdev(logs, xbar=centre)
    quantile = float(t.ppf(0.5 + confidence / 2.0, n - 1))
    return PredictionInterval(
        centre=centre,
        spread=spread,
        half_width=quantile * spread * math.sqrt(1.0 + 1.0 / n),
        runs=n,
        confidence=confidence,
    )


# ----------------------------------------------------------------------------- many metrics


def benjamini_hochberg(p_values: Sequence[float]) -> tuple[float, ...]:
    """Benjamini-Hochberg adjusted p-values (false discovery rate control), in input order."""
    import numpy as np
    from scipy.stats import false_discovery_control

    if not p_values:
        return ()
    adjusted = false_discovery_control(np.asarray(p_values, dtype=float), method="bh")
    return tuple(float(p) for p in adjusted)
