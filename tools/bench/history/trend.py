"""Trend analysis over a run history: level shifts, drift, and when a threshold will be crossed.

The series of a metric is its median per run, in run order, over the *valid* runs that
measured it: invalid runs (a machine unfit to measure, a busy host) are shown on the dashboard
but left out of the analysis, and indices count the runs in the series.

*Change points* come from :mod:`tools.bench.history.change_points` (E-divisive means with a
t-test, as Apache Otava finds them), kept when their p-value is below ``CHANGE_POINT_ALPHA`` and
they move the mean by more than ``MIN_RELATIVE_SHIFT``; a shift that a straight line fits better
is a drift, not a step (:func:`_step_beats_line`). The *slope* since the last change point
predicts when the metric crosses its threshold (:func:`analyze_trend`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats as sps

import virnucpro.bench.stats as stats
from tools.bench.history.change_points import change_points
from tools.bench.history.runs import MetricSummary, RunEntry
from tools.bench.thresholds import DEFAULT_THRESHOLDS, Thresholds, rule_for
from virnucpro.bench.schema import Direction, Metric

CHANGE_POINT_ALPHA = 0.01
MIN_RELATIVE_SHIFT = 0.03
CHANGE_POINT_WINDOW = 16  # runs per sliding window of the split step (it steps by half)
SLOPE_CONFIDENCE = 0.95
MIN_RUNS_FOR_SLOPE = 3
REFERENCE_RUNS = 3
_ROUNDING_SLACK = 1e-9


@dataclass(frozen=True)
class ChangePoint:
    """The series index where a new level starts, the mean levels around it and the t-test's p."""

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
    metric: MetricSummary


def _series(history: Sequence[RunEntry], name: str) -> _Series | None:
    found = [(e.run_id, e.metric(name)) for e in history if e.valid]
    present = [(run_id, m) for run_id, m in found if m is not None and m.median is not None]
    if not present:
        return None
    return _Series(
        run_ids=tuple(run_id for run_id, _ in present),
        medians=tuple(float(m.median) for _, m in present if m.median is not None),
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


def _step_beats_line(values: np.ndarray, lo: int, k: int, hi: int) -> bool:
    """Whether two levels split at ``k`` fit ``values[lo:hi]`` better than one straight line."""
    if hi - lo < MIN_RUNS_FOR_SLOPE:
        return True
    two_levels = _sse(values[lo:k]) + _sse(values[k:hi])
    return two_levels < _line_fit(values[lo:hi].tolist())[2]


def _change_points(series: _Series) -> tuple[ChangePoint, ...]:
    values = np.asarray(series.medians, dtype=float)
    found = change_points(
        series.medians,
        window=CHANGE_POINT_WINDOW,
        max_p=CHANGE_POINT_ALPHA,
        min_magnitude=MIN_RELATIVE_SHIFT,
    )
    bounds = [0, *(c.index for c in found), len(values)]
    return tuple(
        ChangePoint(
            index=c.index,
            run_id=series.run_ids[c.index],
            level_before=c.mean_before,
            level_after=c.mean_after,
            p_value=c.p_value,
        )
        for n, c in enumerate(found, 1)
        if _step_beats_line(values, bounds[n - 1], bounds[n], bounds[n + 1])
    )


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


def _level(values: Sequence[float]) -> float:
    return stats.median(values)


def _threshold_level(series: _Series, reference: float, thresholds: Thresholds) -> float:
    summary = series.metric
    # the checker's rule for this metric, looked up by its name, unit and direction
    named = Metric(
        name=summary.name,
        unit=summary.unit,
        better=summary.better,
        status="unavailable",
        reason="rule lookup",
    )
    rule = rule_for(named, thresholds)
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
    history: Sequence[RunEntry],
    metric: str,
    *,
    thresholds: Thresholds = DEFAULT_THRESHOLDS,
) -> TrendReport | None:
    """Change points, current slope and predicted threshold crossing of one metric.

    The slope is the least-squares slope (per run) of the medians since the last change point,
    with its standard error. When it is significant (two-sided t test, ``SLOPE_CONFIDENCE``)
    and worsening, the line predicts the first run at which the metric passes its threshold
    level: the reference level moved by the metric's threshold (:func:`rule_for`). The reference
    is the median of the first ``REFERENCE_RUNS`` runs, so a drift that begins with the history
    is measured from where it began. None when no valid run in the history measured the metric.
    """
    series = _series(history, metric)
    if series is None:
        return None
    points = _change_points(series)
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
    history: Sequence[RunEntry],
    *,
    metrics: Sequence[str] | None = None,
    thresholds: Thresholds = DEFAULT_THRESHOLDS,
) -> list[TrendReport]:
    """Trend reports for the named metrics (default: every metric seen in the history)."""
    names = (
        list(metrics)
        if metrics
        else list(dict.fromkeys(m.name for e in history for m in e.metrics))
    )
    reports = (analyze_trend(history, name, thresholds=thresholds) for name in names)
    return [r for r in reports if r is not None]
