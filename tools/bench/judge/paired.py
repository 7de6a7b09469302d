"""The paired judge: head against base from rounds measured side by side (A/B mode).

For each metric the per-pair ratio head/base is summarized by its median with a 95%
order-statistic interval and tested with the Wilcoxon signed-rank test (all in
:mod:`virnucpro.bench.stats`). In the metric's *worse* direction (a slower time, a lower rate),
with ``t`` the metric's threshold (10% for time):

- **fail** (the total time) or **warn** (every other metric, the stage times included): the
  median is more than ``t`` worse, the interval excludes no change, and the Benjamini-Hochberg
  adjusted p-value over all judged metrics is below ``alpha``;
- **improved**: the symmetric case, better by more than ``t``;
- **pass**: the whole interval lies below ``t`` worse (or, for a part of the run, even the upper
  end of its slowdown is below the floor share of the total time);
- otherwise **undecided**: :func:`pairs_to_add` asks for another block of pairs until the gate
  metric (the total time) is decided or the budget (pairs, seconds) is spent; then it is
  **inconclusive**. A part of the run still undecided then is listed, and is no reason for more
  pairs: it cannot fail the gate.

The outcome: **invalid** (exit 2) when other processes kept the host busy beyond the threshold
(median over pairs); **regression** (exit 1) when the total time fails; **inconclusive** (exit 2)
when the total time stayed undecided; **warn** (a stage or another metric is worse beyond its
threshold, named) or **pass** (exit 0) otherwise, listing what stayed inconclusive.

:func:`judge_paired` is the paired counterpart of :func:`tools.bench.judge.stored.check_regression`
(unpaired samples from two runs); both return a :class:`~tools.bench.verdict.Verdict`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import virnucpro.bench.stats as stats
from tools.bench.host_gate import busy_reason
from tools.bench.thresholds import (
    GATE_TIME_METRICS,
    MetricRule,
    Thresholds,
    TimeFloor,
    applies_floor,
    relative_threshold,
    rule_for,
    time_floor,
)
from tools.bench.verdict import EXIT_FOR_OUTCOME, MetricJudgement, Verdict, ladder_verdict
from virnucpro.bench.ab.schema import TOTAL_TIME, ABRecord, PairedMetric
from virnucpro.bench.schema import metric_from_samples

UNDECIDED = "undecided"


@dataclass(frozen=True)
class _Tested:
    metric: PairedMetric
    ratio: stats.PairedRatio
    estimate: float  # worse factor: > 1 is worse
    low: float | None
    high: float | None
    threshold: float
    rule: MetricRule
    base_median: float


def _worse(
    metric: PairedMetric, ratio: stats.PairedRatio
) -> tuple[float, float | None, float | None]:
    """The ratio turned so that > 1 is worse, with its interval."""
    if metric.better == "lower":
        return ratio.estimate, ratio.low, ratio.high
    low = 1.0 / ratio.high if ratio.high else None
    high = 1.0 / ratio.low if ratio.low else None
    return 1.0 / ratio.estimate, low, high


def _test(metric: PairedMetric, thresholds: Thresholds) -> _Tested:
    reference = metric_from_samples(
        metric.name, metric.base, unit=metric.unit, better=metric.better
    )
    rule = rule_for(reference, thresholds)
    ratio = stats.paired_ratio(metric.base, metric.head)
    estimate, low, high = _worse(metric, ratio)
    base_median = stats.median(metric.base)
    return _Tested(
        metric=metric,
        ratio=ratio,
        estimate=estimate,
        low=low,
        high=high,
        threshold=relative_threshold(rule, base_median),
        rule=rule,
        base_median=base_median,
    )


def _floor(metrics: Sequence[PairedMetric], thresholds: Thresholds) -> TimeFloor | None:
    total = next((m for m in metrics if m.name == TOTAL_TIME), None)
    return time_floor(total.base if total is not None else (), thresholds)


def _describe(test: _Tested) -> str:
    interval = (
        f"[{test.low - 1:+.1%}, {test.high - 1:+.1%}]"
        if test.low is not None and test.high is not None
        else "no interval"
    )
    word = "worse" if test.estimate >= 1.0 else "better"
    return (
        f"{abs(test.estimate - 1):.1%} {word} (paired median, 95% interval {interval}, "
        f"{test.ratio.pairs} pairs; threshold {test.threshold:.0%})"
    )


def _status(
    test: _Tested, p_adjusted: float, alpha: float, floor: TimeFloor | None
) -> tuple[str, str, bool]:
    """(status, reason, whether it passed only because the slowdown is under the floor)."""
    text = _describe(test)
    if test.low is None or test.high is None:
        return UNDECIDED, f"{text}: too few pairs for an interval", False
    limit = 1.0 + test.threshold
    significant = p_adjusted < alpha
    part_floor = floor if applies_floor(test.metric.name, test.rule) else None
    if test.estimate > limit and test.low > 1.0 and significant:
        if part_floor is not None and (test.estimate - 1.0) * test.base_median < part_floor.seconds:
            return "pass", f"{text}, {part_floor.immaterial()}", True
        return test.rule.severity, text, False
    if test.estimate < 1.0 / limit and test.high < 1.0 and significant:
        return "improved", text, False
    if test.high < limit:
        return "pass", text, False
    if part_floor is not None and (test.high - 1.0) * test.base_median < part_floor.seconds:
        return "pass", f"{text}, {part_floor.immaterial()}, even at the interval's end", True
    return UNDECIDED, text, False


def judge_metrics_paired(
    metrics: Sequence[PairedMetric], *, thresholds: Thresholds, final: bool
) -> tuple[MetricJudgement, ...]:
    """One judgement per directed metric; undecided ones read inconclusive when ``final``."""
    tests = [_test(m, thresholds) for m in metrics if m.better != "none"]
    adjusted = stats.benjamini_hochberg([t.ratio.p_value for t in tests])
    floor = _floor(metrics, thresholds)
    judgements = []
    for test, p_adjusted in zip(tests, adjusted, strict=True):
        status, reason, immaterial = _status(test, p_adjusted, thresholds.alpha, floor)
        if status == UNDECIDED and final:
            status, reason = "inconclusive", f"{reason}: undecided when the rounds ran out"
        judgements.append(
            MetricJudgement(
                name=test.metric.name,
                unit=test.metric.unit,
                status=status,
                baseline_median=test.base_median,
                candidate_median=stats.median(test.metric.head),
                change=test.estimate - 1.0,
                p_value=test.ratio.p_value,
                p_adjusted=p_adjusted,
                threshold=test.threshold,
                reason=reason,
                interval_low=None if test.low is None else test.low - 1.0,
                interval_high=None if test.high is None else test.high - 1.0,
                pairs=test.ratio.pairs,
                immaterial=immaterial,
            )
        )
    return tuple(judgements)


def _undecided_time(judgements: Sequence[MetricJudgement]) -> list[str]:
    return [j.name for j in judgements if j.status in (UNDECIDED, "inconclusive") and j.unit == "s"]


def _undecided_gate(judgements: Sequence[MetricJudgement]) -> list[str]:
    return [n for n in _undecided_time(judgements) if n in GATE_TIME_METRICS]


def judge_paired(
    metrics: Sequence[PairedMetric],
    *,
    thresholds: Thresholds,
    label: str,
    others_shares: Sequence[float] = (),
    final: bool = True,
) -> Verdict:
    """The verdict of head against base from paired rounds (see the module docstring)."""
    judgements = judge_metrics_paired(metrics, thresholds=thresholds, final=final)
    notes = [f"paired A/B against {label}: {len(metrics[0].base) if metrics else 0} pairs"]
    share = busy_reason(others_shares, thresholds.ab_busy_host_share)
    if others_shares:
        notes.append(
            f"others' CPU share during the rounds: median {stats.median(others_shares):.0%} "
            f"(limit {thresholds.ab_busy_host_share:.0%})"
        )
    undecided = _undecided_time(judgements)
    if undecided:
        notes.append(f"{len(undecided)} time metric(s) not decided: {', '.join(undecided)}")
    if share is not None:
        return Verdict(
            outcome="invalid",
            exit_code=EXIT_FOR_OUTCOME["invalid"],
            baseline=label,
            mode="paired",
            judgements=judgements,
            reasons=(share, *notes),
        )
    return ladder_verdict(
        judgements, gate_metric=TOTAL_TIME, baseline=label, mode="paired", notes=tuple(notes)
    )


def judge_record(
    record: ABRecord, *, thresholds: Thresholds, label: str, final: bool = True
) -> Verdict:
    """:func:`judge_paired` over an A/B run's raw pairs and its host measurements."""
    return judge_paired(
        record.paired_metrics(),
        thresholds=thresholds,
        label=label,
        others_shares=record.others_shares(),
        final=final,
    )


def pairs_to_add(verdict: Verdict, *, pairs: int, seconds: float, thresholds: Thresholds) -> int:
    """How many pairs to measure next: 0 when the total time is decided or the budget is spent.

    The time budget counts the rounds so far; a block is added only when, at the pace so far,
    it fits in what is left of it.
    """
    if verdict.outcome in ("invalid", "could_not_judge") or not _undecided_gate(verdict.judgements):
        return 0
    room = thresholds.ab_max_pairs - pairs
    if room <= 0 or pairs == 0:
        return 0
    block = min(thresholds.ab_block_pairs, room)
    pace = seconds / pairs
    if seconds + block * pace > thresholds.ab_time_budget_s:
        return 0
    return block
