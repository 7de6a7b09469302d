"""Trend analysis over a run history: level shifts, drift, and when a threshold will be crossed.

The series of a metric is its median per run, oldest first (runs where it is unavailable are
left out; indices count the runs that have it).

*Change points* come from binary segmentation of the median series. In a segment, the split
that most reduces the squared error around the two means is a candidate when both sides hold at
least ``MIN_SEGMENT_RUNS`` runs. It is accepted when (1) the two-level model fits better than a
straight line through the segment, so a steady drift is reported as a slope and not chopped into
steps; (2) a Mann-Whitney U test on the pooled raw samples of the two sides gives
p < ``CHANGE_POINT_ALPHA``; and (3) the levels (median of the per-run medians) differ by at least
``MIN_RELATIVE_SHIFT``. Pooling samples across runs ignores run-to-run variation, so the test is
optimistic; the strict alpha and the minimum shift keep it honest on noisy machines. Both sides
are then searched again.

The *slope* is the least-squares slope (per run) of the medians since the last change point,
with its standard error. When it is significant (two-sided t test, ``SLOPE_CONFIDENCE``) and
worsening, the fitted line predicts the first run index at which the metric passes its threshold
level: the first segment's level moved by the metric's threshold (+10% for time). The first
segment's level is the median of its first ``REFERENCE_RUNS`` runs, so a drift that begins with
the history is measured from where it began, not from its middle.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats as sps

from tools.bench import stats
from tools.bench.thresholds import DEFAULT_THRESHOLDS, Thresholds, rule_for
from virnucpro.bench.schema import Direction, Metric, ResultsDocument

MIN_SEGMENT_RUNS = 3
CHANGE_POINT_ALPHA = 0.01
MIN_RELATIVE_SHIFT = 0.03
SLOPE_CONFIDENCE = 0.95
MIN_RUNS_FOR_SLOPE = 3
REFERENCE_RUNS = 3
_ROUNDING_SLACK = 1e-9


@dataclass(frozen=True)
class ChangePoint:
    """The series index where a new level starts, the levels around it and the test's p."""

    index: int
    run_id: str
    level_before: float
    level_after: float
    p_value: float


@dataclass(frozen=True)
class TrendReport:
    """Trend of one metric over a history; ``predicted_crossing`` None means no prediction."""

    metric: str
    unit: str
    better: Direction
    run_ids: tuple[str, ...]
    medians: tuple[float, ...]
    change_points: tuple[ChangePoint, ...]
    slope: float | None  # per run, since the last change point
    slope_se: float | None
    slope_start: int
    reference_level: float | None  # level at the start of the first segment
    threshold_level: float | None  # the level at which the metric crosses its threshold
    predicted_crossing: int | None
    note: str


@dataclass(frozen=True)
class _Series:
    run_ids: tuple[str, ...]
    medians: tuple[float, ...]
    samples: tuple[tuple[float, ...], ...]
    metric: Metric


def _series(history: Sequence[ResultsDocument], name: str) -> _Series | None:
    found = [(d.run.run_id, d.metric(name)) for d in history]
    present = [(run_id, m) for run_id, m in found if m is not None and m.available]
    if not present:
        return None
    return _Series(
        run_ids=tuple(run_id for run_id, _ in present),
        medians=tuple(stats.median(m.samples) for _, m in present),
        samples=tuple(m.samples for _, m in present),
        metric=present[-1][1],
    )


def _sse(values: np.ndarray) -> float:
    return float(np.sum((values - values.mean()) ** 2)) if values.size else 0.0


def _line_fit(y: Sequence[float], x0: int = 0) -> tuple[float, float, float]:
    """Least-squares (slope, intercept, residual sum of squares) of y against x0, x0+1, ..."""
    x = np.arange(x0, x0 + len(y), dtype=float)
    values = np.asarray(y, dtype=float)
    slope, intercept = np.polyfit(x, values, 1)
    residual = values - (slope * x + intercept)
    return float(slope), float(intercept), float(np.sum(residual**2))


def _best_split(values: np.ndarray, min_size: int) -> int | None:
    """The split (offset) minimising the two-mean error, if it beats a straight line."""
    costs = {
        k: _sse(values[:k]) + _sse(values[k:]) for k in range(min_size, values.size - min_size + 1)
    }
    if not costs:
        return None
    best = min(costs, key=costs.__getitem__)
    return best if costs[best] < _line_fit(values.tolist())[2] else None


def _level(values: Sequence[float]) -> float:
    return stats.median(values)


def _segment_test(series: _Series, lo: int, k: int, hi: int) -> ChangePoint | None:
    left = [s for run in series.samples[lo:k] for s in run]
    right = [s for run in series.samples[k:hi] for s in run]
    before, after = _level(series.medians[lo:k]), _level(series.medians[k:hi])
    shift = abs(after - before) / abs(before) if before else math.inf
    p_value = stats.mann_whitney_p(left, right)
    if p_value >= CHANGE_POINT_ALPHA or shift < MIN_RELATIVE_SHIFT:
        return None
    return ChangePoint(k, series.run_ids[k], before, after, p_value)


def _segment(series: _Series, lo: int, hi: int, min_size: int) -> list[ChangePoint]:
    if hi - lo < 2 * min_size:
        return []
    offset = _best_split(np.asarray(series.medians[lo:hi], dtype=float), min_size)
    if offset is None:
        return []
    point = _segment_test(series, lo, lo + offset, hi)
    if point is None:
        return []
    k = point.index
    return [*_segment(series, lo, k, min_size), point, *_segment(series, k, hi, min_size)]


def detect_change_points(
    history: Sequence[ResultsDocument], metric: str, *, min_size: int = MIN_SEGMENT_RUNS
) -> tuple[ChangePoint, ...]:
    """Level shifts in a metric's per-run medians (see the module docstring for the method)."""
    series = _series(history, metric)
    if series is None:
        return ()
    return tuple(_segment(series, 0, len(series.medians), min_size))


@dataclass(frozen=True)
class LineFit:
    """A least-squares line over run indices and the standard error of its slope."""

    slope: float
    intercept: float
    slope_se: float
    points: int


def fit_line(values: Sequence[float], x0: int = 0) -> LineFit | None:
    """Least-squares line of ``values`` against indices ``x0, x0+1, ...``; None below 3 points."""
    if len(values) < MIN_RUNS_FOR_SLOPE:
        return None
    slope, intercept, residual = _line_fit(values, x0)
    x = np.arange(len(values), dtype=float)
    spread = float(np.sum((x - x.mean()) ** 2))
    se = math.sqrt(residual / (len(values) - 2) / spread)
    return LineFit(slope=slope, intercept=intercept, slope_se=se, points=len(values))


def _significant(fit: LineFit) -> bool:
    if fit.slope_se == 0.0:
        return fit.slope != 0.0
    critical = float(sps.t.ppf(0.5 + SLOPE_CONFIDENCE / 2, fit.points - 2))
    return abs(fit.slope / fit.slope_se) > critical


def _threshold_level(series: _Series, reference: float, thresholds: Thresholds) -> float:
    rule = rule_for(series.metric, thresholds)
    amount = rule.threshold * abs(reference) if rule.mode == "relative" else rule.threshold
    return reference + amount if series.metric.better == "lower" else reference - amount


def _prediction(
    series: _Series, fit: LineFit | None, level: float | None
) -> tuple[int | None, str]:
    """First run index at which the fitted line passes ``level``, or None and why not."""
    if level is None:
        return None, "no direction"
    if fit is None:
        return None, "too few runs since the last change point for a slope"
    worsening = fit.slope > 0 if series.metric.better == "lower" else fit.slope < 0
    if not worsening:
        return None, "not worsening"
    if not _significant(fit):
        return None, "slope not significant"
    start = len(series.medians) - fit.points
    crossing = max(math.ceil((level - fit.intercept) / fit.slope - _ROUNDING_SLACK), start)
    beyond = crossing <= len(series.medians) - 1
    return crossing, "already beyond the threshold" if beyond else "worsening"


def analyze_trend(
    history: Sequence[ResultsDocument],
    metric: str,
    *,
    thresholds: Thresholds = DEFAULT_THRESHOLDS,
    min_size: int = MIN_SEGMENT_RUNS,
) -> TrendReport | None:
    """Change points, current slope and predicted threshold crossing of one metric.

    None when no run in the history measured the metric.
    """
    series = _series(history, metric)
    if series is None:
        return None
    points = tuple(_segment(series, 0, len(series.medians), min_size))
    start = points[-1].index if points else 0
    first_end = points[0].index if points else len(series.medians)
    reference = _level(series.medians[: min(first_end, REFERENCE_RUNS)])
    directed = series.metric.better != "none"
    level = _threshold_level(series, reference, thresholds) if directed else None
    fit = fit_line(series.medians[start:], start)
    crossing, note = _prediction(series, fit, level)
    return TrendReport(
        metric=metric,
        unit=series.metric.unit,
        better=series.metric.better,
        run_ids=series.run_ids,
        medians=series.medians,
        change_points=points,
        slope=fit.slope if fit else None,
        slope_se=fit.slope_se if fit else None,
        slope_start=start,
        reference_level=reference,
        threshold_level=level,
        predicted_crossing=crossing,
        note=note,
    )


def analyze_history(
    history: Sequence[ResultsDocument],
    *,
    metrics: Sequence[str] | None = None,
    thresholds: Thresholds = DEFAULT_THRESHOLDS,
) -> list[TrendReport]:
    """Trend reports for the named metrics (default: every metric seen in the history)."""
    names = (
        list(metrics)
        if metrics
        else list(dict.fromkeys(m.name for d in history for m in d.metrics))
    )
    reports = (analyze_trend(history, name, thresholds=thresholds) for name in names)
    return [r for r in reports if r is not None]
