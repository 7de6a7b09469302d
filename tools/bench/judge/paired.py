"""The paired judge: head against base from rounds measured side by side (A/B mode).

For each metric the per-pair ratios head/base are summarized by the thresholds' estimator
(``ab_estimator``: their median with its order-statistic interval, Hodges-Lehmann, or a trimmed
mean) and tested with the Wilcoxon signed-rank test (all in :mod:`virnucpro.bench.stats`).
The intervals are *repeated confidence intervals* of a group-sequential design
(:mod:`virnucpro.bench.sequential`, ``ab_spending``): the more-pairs loop looks at the first
block, then after every block, up to the pairs the time budget holds at the first block's pace;
each look's interval has the nominal confidence its share of the alpha spending allows, so the
error rate stays at ``alpha`` however often the loop looked (``ab_spending = "none"``: a plain
``1 - alpha`` interval at every look, as before). When the run replaced its worker processes
(``ab_fresh_workers_every``), each interval is widened by the offset spread the run measured
between its worker pairs (:func:`virnucpro.bench.paired_stats.widen_for_processes`), and the
total time is decided only from pairs of ``ab_min_worker_pairs`` worker pairs or more. In the
metric's *worse* direction (a slower time, a lower rate), with ``t`` the metric's threshold (10%
for time):

- **fail** (the total time) or **warn** (every other metric, the stage times included): the
  estimate is more than ``t`` worse, the interval excludes no change, and the Benjamini-Hochberg
  adjusted p-value over all judged metrics is below the look's nominal level (``alpha`` on a
  single look);
- **improved**: the symmetric case, better by more than ``t``;
- **pass**: the whole interval lies below ``t`` worse (or, for a part of the run, even the upper
  end of its slowdown is below the floor share of the total time);
- otherwise **undecided**: :func:`pairs_to_add` asks for another block of pairs until the gate
  metric (the total time) is decided or the budget (pairs, seconds) is spent; then it is
  **inconclusive**. A part of the run still undecided then is listed, and is no reason for more
  pairs: it cannot fail the gate.

The outcome: **outputs changed** (exit 1) when the output check given says the two sides'
outputs differ (and the change was not accepted), whatever the times and the host say: the times
are still judged and shown, as not comparable; **could not judge** (exit 2) when the outputs
could not be compared; **invalid** (exit 2) when other processes kept the host busy beyond the
threshold (median over pairs); **regression** (exit 1) when the total time fails;
**inconclusive** (exit 2) when the total time stayed undecided; **warn** (a stage or another
metric is worse beyond its threshold, named) or **pass** (exit 0) otherwise, listing what
stayed inconclusive.

Every paired verdict carries its design (:class:`~tools.bench.verdict.PairedDesign`) and says
what it could have seen: the minimum detectable slowdown of the total time (80% power at the
look's level, from the run's own paired noise).

:func:`judge_paired` is the paired counterpart of :func:`tools.bench.judge.stored.check_regression`
(unpaired samples from two runs); both return a :class:`~tools.bench.verdict.Verdict`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import virnucpro.bench.paired_stats as paired_stats
import virnucpro.bench.sequential as sequential
import virnucpro.bench.stats as stats
from tools.bench.host_gate import busy_reason
from tools.bench.report.formatting import format_level
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
from tools.bench.verdict import (
    EXIT_FOR_OUTCOME,
    MetricJudgement,
    PairedDesign,
    Verdict,
    accepted_line,
    ladder_verdict,
)
from virnucpro.bench.ab.schema import TOTAL_TIME, ABRecord, PairedMetric
from virnucpro.bench.output_check import OutputCheck
from virnucpro.bench.schema import metric_from_samples

UNDECIDED = "undecided"
POWER = sequential.DEFAULT_POWER


@dataclass(frozen=True)
class _Tested:
    metric: PairedMetric
    ratio: paired_stats.PairedRatio
    estimate: float  # worse factor: > 1 is worse
    low: float | None
    high: float | None
    threshold: float
    rule: MetricRule
    base_median: float


def _worse(
    metric: PairedMetric, ratio: paired_stats.PairedRatio
) -> tuple[float, float | None, float | None]:
    """The ratio turned so that > 1 is worse, with its interval."""
    if metric.better == "lower":
        return ratio.estimate, ratio.low, ratio.high
    low = 1.0 / ratio.high if ratio.high else None
    high = 1.0 / ratio.low if ratio.low else None
    return 1.0 / ratio.estimate, low, high


def _test(metric: PairedMetric, thresholds: Thresholds, confidence: float) -> _Tested:
    reference = metric_from_samples(
        metric.name, metric.base, unit=metric.unit, better=metric.better
    )
    rule = rule_for(reference, thresholds)
    ratio = paired_stats.paired_ratio(
        metric.base,
        metric.head,
        confidence=confidence,
        estimator=thresholds.ab_estimator,
        workers=metric.workers,
    )
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
    estimator = paired_stats.ESTIMATOR_WORDS[test.ratio.estimator]
    return (
        f"{abs(test.estimate - 1):.1%} {word} ({estimator}, {format_level(test.ratio.confidence)} "
        f"interval {interval}, {test.ratio.pairs} pairs{_processes(test)}; "
        f"threshold {test.threshold:.0%})"
    )


def _processes(test: _Tested) -> str:
    """' from 3 worker pairs, interval widened by their 1.2% spread', or nothing for a run
    that kept one pair of workers."""
    ratio = test.ratio
    if not test.metric.workers:
        return ""
    if ratio.process_spread is None:
        return f" from {ratio.worker_pairs} worker pair(s)"
    if ratio.process_spread == 0.0:
        return f" from {ratio.worker_pairs} worker pairs, no offset between them measured"
    return (
        f" from {ratio.worker_pairs} worker pairs, interval widened by their "
        f"{ratio.process_spread:.1%} offset spread"
    )


def _status(
    test: _Tested, p_adjusted: float, alpha: float, floor: TimeFloor | None, min_workers: int = 1
) -> tuple[str, str, bool]:
    """(status, reason, whether it passed only because the slowdown is under the floor)."""
    text = _describe(test)
    if test.low is None or test.high is None:
        return UNDECIDED, f"{text}: too few pairs for an interval at this level", False
    if test.metric.workers and test.ratio.worker_pairs < min_workers:
        return UNDECIDED, f"{text}: a decision needs pairs from {min_workers} worker pairs", False
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
    metrics: Sequence[PairedMetric],
    *,
    thresholds: Thresholds,
    final: bool,
    confidence: float | None = None,
) -> tuple[MetricJudgement, ...]:
    """One judgement per directed metric; undecided ones read inconclusive when ``final``.

    ``confidence`` is the look's nominal level (default: ``1 - alpha``, a single look).
    """
    level = 1.0 - thresholds.alpha if confidence is None else confidence
    tests = [_test(m, thresholds, level) for m in metrics if m.better != "none"]
    adjusted = stats.benjamini_hochberg([t.ratio.p_value for t in tests])
    floor = _floor(metrics, thresholds)
    judgements = []
    for test, p_adjusted in zip(tests, adjusted, strict=True):
        status, reason, immaterial = _status(
            test, p_adjusted, 1.0 - level, floor, thresholds.ab_min_worker_pairs
        )
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


def plan_for(thresholds: Thresholds, *, pace_s: float | None) -> sequential.SequentialPlan:
    """The looks of a run whose pairs take ``pace_s`` seconds each (the first block's pace):
    blocks up to the pairs the time budget holds, never past the safety cap."""
    most = sequential.horizon(
        first=thresholds.ab_initial_pairs,
        pace_s=pace_s,
        budget_s=thresholds.ab_time_budget_s,
        safety_cap=thresholds.ab_max_pairs,
    )
    return sequential.SequentialPlan(
        first=thresholds.ab_initial_pairs,
        block=thresholds.ab_block_pairs,
        most=most,
        alpha=thresholds.alpha,
        spending=thresholds.ab_spending,
    )


def record_plan(record: ABRecord, thresholds: Thresholds) -> sequential.SequentialPlan:
    """The plan of a recorded run: its pace is the mean wall time of its first block's pairs
    (what the loop knew at its first look), so a replay of the record looks as the run did."""
    first = record.rounds[: thresholds.ab_initial_pairs]
    pace = sum(r.wall_seconds for r in first) / len(first) if first else None
    return plan_for(thresholds, pace_s=pace)


def _design(
    metrics: Sequence[PairedMetric],
    judgements: Sequence[MetricJudgement],
    thresholds: Thresholds,
    plan: sequential.SequentialPlan,
) -> PairedDesign:
    pairs = max(len(metrics[0].base) if metrics else 0, 1)
    critical = plan.critical(pairs)
    total = next((m for m in metrics if m.name == TOTAL_TIME), None)
    gate = next((j for j in judgements if j.name == TOTAL_TIME), None)
    detectable = None
    if gate is not None and gate.interval_low is not None and gate.interval_high is not None:
        se = sequential.standard_error(1.0 + gate.interval_low, 1.0 + gate.interval_high, critical)
        detectable = sequential.min_detectable(se, critical, POWER)
    return PairedDesign(
        estimator=thresholds.ab_estimator,
        spending=plan.spending,
        alpha=plan.alpha,
        look=len(plan.looks_until(pairs)),
        planned_looks=len(plan.looks_until(plan.most)),
        planned_pairs=plan.most,
        confidence=plan.confidence(pairs),
        power=POWER,
        min_detectable=detectable,
        per_pair_cv=paired_stats.log_ratio_spread(total.base, total.head) if total else None,
    )


def detectable_note(design: PairedDesign, threshold: float) -> str:
    """'this run could detect >= 2.4% (80% power at its 99.1% interval; the gate fails beyond
    3%)', or why it cannot say."""
    if design.min_detectable is None:
        return "this run could detect: unknown (too few pairs for an interval of the total time)"
    return (
        f"this run could detect >= {design.min_detectable:.1%} slower total time "
        f"({design.power:.0%} power at its {format_level(design.confidence)} interval; the gate "
        f"fails beyond the {threshold:.0%} threshold)"
    )


def judge_paired(
    metrics: Sequence[PairedMetric],
    *,
    thresholds: Thresholds,
    label: str,
    others_shares: Sequence[float] = (),
    final: bool = True,
    plan: sequential.SequentialPlan | None = None,
    outputs: OutputCheck | None = None,
) -> Verdict:
    """The verdict of head against base from paired rounds and, when given, the output check
    (see the module docstring).

    ``plan`` holds the looks of the more-pairs loop (:func:`record_plan`); without one the pairs
    are judged as a single look at the plain ``1 - alpha`` level.
    """
    pairs = len(metrics[0].base) if metrics else 0
    plan = plan or sequential.single_look(thresholds.alpha)
    confidence = plan.confidence(max(pairs, 1))
    judgements = judge_metrics_paired(
        metrics, thresholds=thresholds, final=final, confidence=confidence
    )
    design = _design(metrics, judgements, thresholds, plan)
    notes = [f"paired A/B against {label}: {pairs} pairs"]
    if plan.spending != "none" or plan.most > 1:
        notes.append(f"intervals: {sequential.describe(plan, max(pairs, 1))}")
    notes.append(detectable_note(design, thresholds.fail_slowdown))
    share = busy_reason(others_shares, thresholds.ab_busy_host_share)
    if others_shares:
        notes.append(
            f"others' CPU share during the rounds: median {stats.median(others_shares):.0%} "
            f"(limit {thresholds.ab_busy_host_share:.0%})"
        )
    undecided = _undecided_time(judgements)
    if undecided:
        notes.append(f"{len(undecided)} time metric(s) not decided: {', '.join(undecided)}")
    if share is not None and (outputs is None or outputs.status in ("same", "accepted")):
        accepted = (accepted_line(outputs),) if outputs and outputs.status == "accepted" else ()
        return Verdict(
            outcome="invalid",
            exit_code=EXIT_FOR_OUTCOME["invalid"],
            baseline=label,
            mode="paired",
            judgements=judgements,
            reasons=(*accepted, share, *notes),
            design=design,
            outputs=outputs,
        )
    if share is not None:
        notes.append(share)
    return ladder_verdict(
        judgements,
        gate_metric=TOTAL_TIME,
        baseline=label,
        mode="paired",
        notes=tuple(notes),
        design=design,
        outputs=outputs,
    )


def judge_record(
    record: ABRecord,
    *,
    thresholds: Thresholds,
    label: str,
    final: bool = True,
    outputs: OutputCheck | None = None,
) -> Verdict:
    """:func:`judge_paired` over an A/B run's raw pairs and its host measurements, at the look
    its pairs make in the run's plan (:func:`record_plan`), with the output check ``outputs``
    (:meth:`ABRecord.check_outputs`) when given."""
    return judge_paired(
        record.paired_metrics(),
        thresholds=thresholds,
        label=label,
        others_shares=record.others_shares(),
        final=final,
        plan=record_plan(record, thresholds),
        outputs=outputs,
    )


def pairs_to_add(verdict: Verdict, *, pairs: int, seconds: float, thresholds: Thresholds) -> int:
    """How many pairs to measure next: 0 when the total time is decided or the budget is spent.

    The plan's horizon (the verdict's design: the pairs the budget holds at the first block's
    pace) and the safety cap bound the pairs; the time budget counts the rounds so far, and a
    block is added only when, at the pace so far, it fits in what is left of it.
    """
    if verdict.outcome in ("invalid", "could_not_judge") or not _undecided_gate(verdict.judgements):
        return 0
    most = thresholds.ab_max_pairs
    if verdict.design is not None and verdict.design.planned_pairs > 1:
        most = min(most, verdict.design.planned_pairs)
    room = most - pairs
    if room <= 0 or pairs == 0:
        return 0
    block = min(thresholds.ab_block_pairs, room)
    pace = seconds / pairs
    if seconds + block * pace > thresholds.ab_time_budget_s:
        return 0
    return block
