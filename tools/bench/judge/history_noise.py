"""Between-run noise from the run history: one run's median judged against earlier runs' medians.

The rounds of one run share its machine state, so their spread misses the drift between runs:
unchanged reruns on a shared machine differ by more than 10% (issue 9), and a test on the rounds
of one candidate and one stored run calls that drift a change. The run history
(:mod:`tools.bench.history.runs`) holds every published run's medians, so it measures that drift.

The reference of a metric: the medians of the earlier comparable runs (:func:`earlier_runs`:
the candidate's history key, valid, not on a busy host (judged INVALID, or others' CPU share
above ``busy_host_share``), not the candidate itself, not created after it), the most recent
``MAX_HISTORY_RUNS`` that measured the metric comparably (same unit and direction, no more rounds
than the candidate: a cold cost measured once per run is judged against other runs' single
measurements, the only way to judge it at all). With at least ``MIN_HISTORY_RUNS`` of them, on
the log scale their mean is the centre and :func:`virnucpro.bench.stats.log_prediction_interval`
(confidence 1 - alpha) says where one more run's median falls. The change is the candidate's
median against the centre (the runs' geometric mean), worse positive (:func:`worse_change`); its
interval is the change against the prediction interval's two ends. With ``t`` the metric's
threshold:

- **fail** (time) or **warn** (the metric's severity): more than ``t`` worse **and** outside the
  prediction interval on the worse side; a part of the run (a stage, a cold cost) whose slowdown
  is under the floor share of the total time passes instead, as in the within-run check. A
  failure needs runs from at least ``MIN_HISTORY_DAYS`` different days: runs of one day share
  its machine, so the change is reported as drift, **inconclusive**, instead;
- **improved**: the symmetric case;
- **pass**: even the change's upper end (against the interval's better end) is under ``t``;
- otherwise **inconclusive**, naming the between-run noise: the runs vary too much to tell.

The decision follows the paired judge's (:mod:`tools.bench.judge.paired`): a verdict needs the
interval, not only the point estimate.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import virnucpro.bench.stats as stats
from tools.bench.history.baseline import storage_key
from tools.bench.history.runs import RunEntry, history_file, read_history
from tools.bench.thresholds import (
    MAX_HISTORY_RUNS,
    MIN_HISTORY_DAYS,
    MIN_HISTORY_RUNS,
    MetricRule,
    Thresholds,
    TimeFloor,
    applies_floor,
    describe_change,
    relative_threshold,
    rule_for,
)
from tools.bench.verdict import MetricJudgement
from virnucpro.bench.metric_names import OTHERS_CPU_METRIC
from virnucpro.bench.schema import Direction, Metric, ResultsDocument

BUSY_HOST_OUTCOME = "invalid"


@dataclass(frozen=True)
class RunHistory:
    """The runs of one history file, and where they came from (named in the verdict)."""

    runs: tuple[RunEntry, ...]
    source: str


@dataclass(frozen=True)
class HistoryJudgement:
    """A metric judged against the history, with the interval that judged it."""

    judgement: MetricJudgement
    interval: stats.PredictionInterval


def load_run_history(folder: Path, results: ResultsDocument) -> RunHistory:
    """The history file of ``results``' key under ``folder`` (no file: no runs).

    A damaged or wrong-version file is a one-line :class:`~virnucpro.bench.schema.SchemaError`.
    """
    key = storage_key(results)
    return RunHistory(tuple(read_history(folder, key)), str(history_file(folder, key)))


def _after(moment: str, reference: str) -> bool:
    """Whether ``moment`` is later than ``reference``; False when either cannot be compared."""
    try:
        return datetime.fromisoformat(moment) > datetime.fromisoformat(reference)
    except (TypeError, ValueError):
        return False


def _busy(entry: RunEntry, busy_share: float) -> bool:
    """Whether other processes kept the host busy in that run (its verdict, or its share)."""
    others = entry.metric(OTHERS_CPU_METRIC)
    share = others.median if others is not None else None
    return entry.outcome == BUSY_HOST_OUTCOME or (share is not None and share > busy_share)


def earlier_runs(
    history: RunHistory, candidate: ResultsDocument, *, busy_share: float
) -> tuple[RunEntry, ...]:
    """The history's runs that may measure the candidate's between-run noise, in file order:
    its key, valid and not busy (others' CPU share at most ``busy_share``), not the candidate
    itself, not created after it."""
    key, run = storage_key(candidate), candidate.run
    return tuple(
        entry
        for entry in history.runs
        if entry.key == key
        and entry.run_id != run.run_id
        and entry.valid
        and not _busy(entry, busy_share)
        and not _after(entry.created_at, run.created_at)
    )


def comparable_runs(
    runs: Sequence[RunEntry], metric: Metric, *, max_runs: int = MAX_HISTORY_RUNS
) -> tuple[RunEntry, ...]:
    """The most recent ``max_runs`` runs that measured ``metric`` comparably: in the same unit
    and direction, from no more rounds than ``metric`` has (the median of more rounds varies
    less between runs, and would make the interval too narrow for this one)."""
    found = [
        entry
        for entry in runs
        if (summary := entry.metric(metric.name)) is not None
        and summary.median is not None
        and summary.unit == metric.unit
        and summary.better == metric.better
        and summary.n <= len(metric.samples)
    ]
    return tuple(found[-max_runs:])


def run_medians(
    runs: Sequence[RunEntry], metric: Metric, *, max_runs: int = MAX_HISTORY_RUNS
) -> tuple[float, ...]:
    """Medians of ``metric`` in its :func:`comparable_runs`, oldest first."""
    medians = []
    for entry in comparable_runs(runs, metric, max_runs=max_runs):
        summary = entry.metric(metric.name)
        assert summary is not None and summary.median is not None  # comparable_runs
        medians.append(summary.median)
    return tuple(medians)


def days_of(runs: Sequence[RunEntry]) -> int:
    """How many different days (UTC dates) the runs were made on; a time that cannot be read
    counts as no day."""
    days = set()
    for entry in runs:
        try:
            moment = datetime.fromisoformat(entry.created_at)
        except (TypeError, ValueError):
            continue
        if moment.tzinfo is not None:
            moment = moment.astimezone(timezone.utc)
        days.add(moment.date())
    return len(days)


def worse_change(candidate: float, reference: float, better: Direction) -> float:
    """Relative change of ``candidate`` from a positive ``reference``, worse positive.

    The same for every judge of a stored run: (candidate - reference) / reference, turned for
    metrics where higher is better, so that a threshold in points converts at the reference.
    """
    sign = 1.0 if better == "lower" else -1.0
    return sign * (candidate - reference) / reference


def judge_against_history(
    cand: Metric,
    medians: Sequence[float],
    *,
    days: int,
    thresholds: Thresholds,
    floor: TimeFloor | None = None,
) -> HistoryJudgement | None:
    """``cand`` judged against earlier runs' ``medians`` (see the module docstring).

    None when the history cannot judge it: fewer than ``MIN_HISTORY_RUNS`` medians, a candidate
    that is unmeasured, undirected or not positive, or a median that is not positive (no log
    scale). The within-run check judges those. ``days``: how many different days the runs that
    gave ``medians`` come from; with fewer than ``MIN_HISTORY_DAYS`` a change outside their
    interval is reported as drift, inconclusive, never as a failure.
    """
    if len(medians) < MIN_HISTORY_RUNS or not _judgeable(cand, medians):
        return None
    assert cand.median is not None  # _judgeable
    interval = stats.log_prediction_interval(medians, confidence=1.0 - thresholds.alpha)
    assert interval is not None  # at least MIN_HISTORY_RUNS >= 2 positive medians
    rule = rule_for(cand, thresholds)
    change = _Change.of(cand, interval, threshold=relative_threshold(rule, interval.level))
    status, reason, immaterial = _decide(cand, rule, change, floor=floor)
    if status == "fail" and days < MIN_HISTORY_DAYS:
        status = "inconclusive"
        reason = (
            f"{reason}; drift, not a failure: the {interval.runs} runs are from {days} day(s), "
            f"and only runs from {MIN_HISTORY_DAYS} or more days measure the drift between days"
        )
    judgement = MetricJudgement(
        name=cand.name,
        unit=cand.unit,
        status=status,
        baseline_median=interval.level,
        candidate_median=cand.median,
        change=change.estimate,
        threshold=change.threshold,
        reason=reason,
        interval_low=change.low,
        interval_high=change.high,
        history_runs=interval.runs,
        immaterial=immaterial,
    )
    return HistoryJudgement(judgement=judgement, interval=interval)


def _judgeable(cand: Metric, medians: Sequence[float]) -> bool:
    return (
        cand.available
        and cand.better != "none"
        and cand.median is not None
        and cand.median > 0.0
        and min(medians) > 0.0
    )


def between_run_noise(interval: stats.PredictionInterval) -> float:
    """The runs' relative spread: one standard deviation of the log medians, as a fraction."""
    return math.expm1(interval.spread)


@dataclass(frozen=True)
class _Change:
    """The candidate's change from the history's centre, and from the interval's two ends."""

    estimate: float  # worse positive
    low: float  # the change from the interval's end that makes it least worse
    high: float  # ... most worse
    threshold: float
    interval: stats.PredictionInterval
    delta: float  # candidate median minus the centre, in the metric's unit

    @classmethod
    def of(cls, cand: Metric, interval: stats.PredictionInterval, *, threshold: float) -> _Change:
        assert cand.median is not None
        ends = sorted(
            worse_change(cand.median, end, cand.better) for end in (interval.low, interval.high)
        )
        return cls(
            estimate=worse_change(cand.median, interval.level, cand.better),
            low=ends[0],
            high=ends[1],
            threshold=threshold,
            interval=interval,
            delta=cand.median - interval.level,
        )


def _decide(
    cand: Metric, rule: MetricRule, change: _Change, *, floor: TimeFloor | None
) -> tuple[str, str, bool]:
    """(status, reason, whether it passed only because the slowdown is under the floor)."""
    interval, limit = change.interval, change.threshold
    words = describe_change(change.estimate, rule=rule, unit=cand.unit, delta=change.delta)
    head = f"against {interval.runs} earlier runs: {words}"
    noise = f"between-run noise ±{between_run_noise(interval):.1%}"
    width = interval.half_width  # the interval around the centre, as changes (not symmetric)
    ends = f"{math.expm1(-width):+.1%} to {math.expm1(width):+.1%}"
    band = f"{interval.confidence:.0%} prediction interval {ends}"
    if change.estimate > limit and change.low > 0.0:
        if floor is not None and applies_floor(cand.name, rule) and change.delta < floor.seconds:
            return "pass", f"{head}, {floor.immaterial()}", True
        return rule.severity, f"{head}, outside their {band} ({noise})", False
    if change.estimate < -limit and change.high < 0.0:
        return "improved", f"{head}, outside their {band} ({noise})", False
    if change.high < limit:
        return "pass", f"{head}; with their {band} ({noise}) at most {change.high:+.1%}", False
    if change.estimate > limit:
        return "inconclusive", f"{head}, but inside their {band} ({noise})", False
    reach = f"with their {band} ({noise}) it may be {change.high:+.1%}, beyond the threshold"
    return "inconclusive", f"{head}; {reach}", False
