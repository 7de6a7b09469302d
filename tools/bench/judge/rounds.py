"""The test on the rounds of two runs: one stored run's raw samples against the candidate's.

Per metric pair (:func:`screen`, then :func:`resolve` over every tested metric): the change of
the median, worse positive, against the metric's threshold; a two-sided Mann-Whitney U test on
the raw samples, Benjamini-Hochberg adjusted over every metric tested; the noise (the larger
IQR/median of the two sides) and, under noise, the bootstrap interval of the ratio of medians.
A part of the run (a stage, a cold cost) that slowed down by less than the floor share of the
total time passes as immaterial. :mod:`tools.bench.judge.stored` calls it for every metric the
history cannot judge, and turns a failure on these rounds into drift (one stored run never
fails by itself).
"""

from __future__ import annotations

from dataclasses import dataclass

import virnucpro.bench.stats as stats
from tools.bench.judge.history_noise import worse_change
from tools.bench.thresholds import (
    MetricRule,
    Thresholds,
    TimeFloor,
    applies_floor,
    describe_change,
    relative_threshold,
    rule_for,
)
from tools.bench.verdict import MetricJudgement
from virnucpro.bench.schema import Metric


@dataclass(frozen=True)
class Pending:
    """A metric pair that reached the significance test, waiting for the BH adjustment."""

    baseline: Metric
    candidate: Metric
    rule: MetricRule
    baseline_median: float
    candidate_median: float
    change: float  # relative change of the median, worse positive
    threshold: float  # relative threshold at the baseline median
    p_value: float
    floor: TimeFloor | None = None  # smallest absolute slowdown that matters (parts of a run)


def _judgement(metric: Metric, status: str, reason: str, **fields: object) -> MetricJudgement:
    return MetricJudgement(
        name=metric.name, unit=metric.unit, status=status, reason=reason, **fields
    )


def missing(cand: Metric | None, base: Metric | None) -> MetricJudgement:
    if cand is not None:
        return _judgement(cand, "new", "not in the baseline")
    assert base is not None
    return _judgement(base, "unavailable", "not in the candidate run")


def screen(
    cand: Metric, base: Metric, *, thresholds: Thresholds, floor: TimeFloor | None = None
) -> MetricJudgement | Pending:
    """Settle a pair that cannot be tested, or prepare it for the significance test."""
    if not base.available or not cand.available:
        side, metric = ("baseline", base) if not base.available else ("candidate", cand)
        return _judgement(cand, "unavailable", f"unavailable in the {side}: {metric.reason}")
    problem = _untestable(cand, base, thresholds=thresholds)
    if problem:
        return _judgement(
            cand,
            "inconclusive",
            problem,
            baseline_median=base.median,
            candidate_median=cand.median,
            change=_worse_change(cand, base),
        )
    rule = rule_for(cand, thresholds)
    base_median = stats.median(base.samples)
    return Pending(
        baseline=base,
        candidate=cand,
        rule=rule,
        baseline_median=base_median,
        candidate_median=stats.median(cand.samples),
        change=_worse_change(cand, base) or 0.0,
        threshold=relative_threshold(rule, base_median),
        p_value=stats.mann_whitney_p(base.samples, cand.samples),
        floor=floor if applies_floor(cand.name, rule) else None,
    )


def _worse_change(cand: Metric, base: Metric) -> float | None:
    """Relative change of the median, positive when worse; None when undefined."""
    if cand.median is None or base.median is None or base.median <= 0.0:
        return None
    if cand.better == "none" or cand.better != base.better:
        return None
    return worse_change(cand.median, base.median, cand.better)


def _untestable(cand: Metric, base: Metric, *, thresholds: Thresholds) -> str:
    """Why the pair cannot be tested, or '' when it can."""
    if cand.unit != base.unit:
        return f"units differ ({base.unit} in the baseline, {cand.unit} now)"
    if cand.better != base.better:
        return f"direction differs ({base.better} in the baseline, {cand.better} now)"
    fewest = min(len(base.samples), len(cand.samples))
    if fewest < thresholds.min_samples:
        return f"too few samples ({fewest} < {thresholds.min_samples} on one side)"
    if (base.median or 0.0) <= 0.0:
        return "baseline median is not positive; relative change undefined"
    return ""


def resolve(
    slots: list[MetricJudgement | Pending], *, thresholds: Thresholds
) -> tuple[MetricJudgement, ...]:
    pending = [s for s in slots if isinstance(s, Pending)]
    adjusted = iter(stats.benjamini_hochberg([p.p_value for p in pending]))
    return tuple(
        _decide(s, next(adjusted), alpha=thresholds.alpha) if isinstance(s, Pending) else s
        for s in slots
    )


def _decide(test: Pending, p_adjusted: float, *, alpha: float) -> MetricJudgement:
    """Status of a tested metric from its effect size, adjusted p-value and noise."""
    beyond = abs(test.change) > test.threshold
    noise = _noise(test)
    noisy = noise is not None and noise > test.threshold
    significant = p_adjusted < alpha
    immaterial = False
    if significant and beyond and (not noisy or _interval_beyond(test)):
        status = test.rule.severity if test.change > 0 else "improved"
        reason = _describe_change(test)
        if status != "improved" and test.floor is not None and _immaterial(test):
            status, immaterial = "pass", True
            reason += f", {test.floor.immaterial()}"
    elif noisy:
        status = "inconclusive"
        reason = f"noise {noise:.1%} (IQR/median) exceeds the {test.threshold:.1%} threshold"
    elif beyond:
        status = "inconclusive"
        reason = f"{_describe_change(test)}, not significant (adjusted p {p_adjusted:.3g})"
    else:
        status, reason = "pass", _describe_change(test)
    return _judgement(
        test.candidate,
        status,
        reason,
        baseline_median=test.baseline_median,
        candidate_median=test.candidate_median,
        change=test.change,
        p_value=test.p_value,
        p_adjusted=p_adjusted,
        threshold=test.threshold,
        immaterial=immaterial,
    )


def _immaterial(test: Pending) -> bool:
    floor = test.floor
    return floor is not None and test.candidate_median - test.baseline_median < floor.seconds


def _noise(test: Pending) -> float | None:
    values = [stats.relative_noise(m.samples) for m in (test.baseline, test.candidate)]
    known = [v for v in values if v is not None]
    return max(known) if known else None


def _interval_beyond(test: Pending) -> bool:
    """Whether the bootstrap interval of the change lies wholly beyond the threshold."""
    interval = stats.bootstrap_ratio_of_medians(test.baseline.samples, test.candidate.samples)
    if interval is None:
        return False
    if test.candidate.better == "lower":
        low, high = interval.low - 1.0, interval.high - 1.0
    else:
        low, high = 1.0 - interval.high, 1.0 - interval.low
    return low > test.threshold if test.change > 0 else high < -test.threshold


def _describe_change(test: Pending) -> str:
    delta = test.candidate_median - test.baseline_median
    return describe_change(test.change, rule=test.rule, unit=test.candidate.unit, delta=delta)
