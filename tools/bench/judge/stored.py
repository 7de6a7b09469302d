"""The regression check: judge a candidate run against its baseline, metric by metric.

Against the rounds of one stored run (the default), a metric regresses only when its median
moved beyond the metric's threshold in the worse direction (``Metric.better``) **and** the move
is statistically significant: a two-sided Mann-Whitney U test on the raw samples,
Benjamini-Hochberg adjusted over every metric tested in the run, below ``alpha``. The total time
fails; the other time metrics (the parts of that total: stages, cold costs), memory,
utilization, scaling and other metrics warn (see :mod:`tools.bench.thresholds`).

The rounds of one run cannot measure the noise *between* runs (a shared machine drifts by more
than 10% between unchanged reruns), so a stored baseline alone reads drift as a change and the
verdict says so (``ONE_RUN_NOTE``). Given the run history (``history=``; ``--history DIR`` on
the command lines), a metric that at least ``MIN_HISTORY_RUNS`` earlier comparable runs
measured is judged against their between-run noise instead: the candidate's median against the
Student t prediction interval of one more run's median (:mod:`tools.bench.judge.history_noise`). The
verdict's notes say which way the metrics were judged, with the between-run noise of the total
time; ``ONE_RUN_NOTE`` stays only while some metric was judged on one run's rounds. The A/B mode,
:mod:`tools.bench.judge.paired`, measures both sides in one job instead.

The run as a whole: **outputs changed** (exit 1) when the published outputs of the candidate's
end-to-end rounds differ from the baseline's beyond the precision's tolerance (the output check,
:mod:`virnucpro.bench.output_check`; unless ``accept_output_change``), whatever the times say;
**invalid** (exit 2) when other processes kept the host busy during the candidate's rounds beyond
``busy_host_share`` (``host.others_cpu_share``, median); **regression** (exit 1) on any failed
metric; **inconclusive** (exit 2) when the total time is inconclusive;
**no baseline** exits 2 unless allowed.

On the rounds, a metric is *inconclusive* rather than passed or failed when either side has
fewer than ``min_samples`` samples, when a change beyond the threshold is not significant, or
when the noise (the larger IQR/median of the two sides) exceeds the threshold. A significant
change beyond the threshold is still reported under such noise when the bootstrap interval of
the ratio of medians lies wholly beyond the threshold. Against the history, it is inconclusive
when the between-run noise leaves the change undecided.

Metrics whose samples are individual NVML polls pooled over a run, a device or a stage
(``labels[SAMPLES_LABEL] == POOLED_POLLS``: ``gpu.<q>``, ``gpu.dev<k>.<q>``, ``gpu.<stage>.<q>``)
are not judged: polls 50-200 ms apart are not independent samples, so a test over them would
find any drift significant. Their per-round means, ``gpu.round.<q>``, are judged instead.

``MetricJudgement.change`` and ``.threshold`` are both fractions of the reference median (the
baseline's, or the history's centre), worse positive; a threshold in points (utilization,
scaling efficiency) is converted at that median so the two always compare, and the reason names
the points.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import virnucpro.bench.stats as stats
from tools.bench.history.runs import RunEntry
from tools.bench.host_gate import busy_reason, others_shares
from tools.bench.judge.history_noise import (
    HistoryJudgement,
    RunHistory,
    between_run_noise,
    earlier_runs,
    judge_against_history,
    run_medians,
    worse_change,
)
from tools.bench.thresholds import (
    DEFAULT_THRESHOLDS,
    MAX_HISTORY_RUNS,
    MIN_HISTORY_RUNS,
    MetricRule,
    Thresholds,
    applies_floor,
    describe_change,
    relative_threshold,
    rule_for,
    time_floor,
)
from tools.bench.verdict import (
    EXIT_CANNOT_JUDGE,
    EXIT_PASS,
    MetricJudgement,
    Verdict,
    ladder_verdict,
)
from virnucpro.bench.metric_names import (
    POOLED_POLLS,
    SAMPLES_LABEL,
    TOTAL_TIME_METRIC,
)
from virnucpro.bench.output_check import check_documents
from virnucpro.bench.schema import Metric, ResultsDocument

ONE_RUN_NOTE = (
    "judged against one stored run: one run cannot measure the run-to-run noise, so drift "
    "of the machine between the two runs reads as a change (prefer --against for a gate)"
)

UNJUDGED = ("unavailable", "new")

KEY_PARTS = ("hardware", "workload", "engine", "model preset", "device", "precision")
KEY_SEPARATOR = "|"
POOLED_NOTE = (
    "not judged (pooled polls are not independent samples; judged per round as gpu.round.<q>)"
)


@dataclass(frozen=True)
class _Pending:
    """A metric pair that reached the significance test, waiting for the BH adjustment."""

    baseline: Metric
    candidate: Metric
    rule: MetricRule
    baseline_median: float
    candidate_median: float
    change: float  # relative change of the median, worse positive
    threshold: float  # relative threshold at the baseline median
    p_value: float
    floor: float | None = None  # smallest absolute slowdown that matters (time parts of a run)


def check_regression(
    candidate: ResultsDocument,
    baseline: ResultsDocument | None,
    *,
    thresholds: Thresholds = DEFAULT_THRESHOLDS,
    require_baseline: bool = True,
    baseline_label: str | None = None,
    history: RunHistory | None = None,
    accept_output_change: bool = False,
) -> Verdict:
    """Judge ``candidate`` against ``baseline`` (unpaired samples); the verdict has the exit code.

    With a ``history``, a metric with enough earlier comparable runs in it is judged against
    their between-run noise instead (:mod:`tools.bench.judge.history_noise`). Exit 2 when the
    candidate
    (or baseline) run is marked invalid or ran on a busy host, when no comparable baseline
    exists (unless ``require_baseline`` is False), or when the total time is inconclusive;
    otherwise 1 on any failed metric, else 0. The paired counterpart, for rounds of both sides
    measured together, is :func:`tools.bench.judge.paired.judge_paired`.
    """
    if not candidate.validity.valid:
        reasons = ("candidate run is marked invalid", *candidate.validity.reasons)
        return Verdict(outcome="could_not_judge", exit_code=EXIT_CANNOT_JUDGE, reasons=reasons)
    if baseline is None:
        return _no_baseline("no baseline stored for this run", require_baseline=require_baseline)
    label = baseline_label or baseline.run.run_id
    outputs, output_note = (
        (None, None)
        if key_differences(candidate, baseline)
        else check_documents(baseline, candidate, label=label, accepted=accept_output_change)
    )
    busy = busy_reason(others_shares(candidate), thresholds.busy_host_share)
    if busy is not None and (outputs is None or not outputs.blocks):
        return Verdict(outcome="invalid", exit_code=EXIT_CANNOT_JUDGE, reasons=(busy,))
    if not baseline.validity.valid:
        reasons = (f"baseline {label} is marked invalid", *baseline.validity.reasons)
        return Verdict(
            outcome="could_not_judge", exit_code=EXIT_CANNOT_JUDGE, baseline=label, reasons=reasons
        )
    differences = key_differences(candidate, baseline)
    if differences:
        reason = f"baseline {label} is not comparable (different {', '.join(differences)})"
        return _no_baseline(reason, require_baseline=require_baseline)
    judgements, notes = judge_metrics(candidate, baseline, thresholds=thresholds, history=history)
    notes = (f"compared with baseline {label}", *notes, *([output_note] if output_note else []))
    return ladder_verdict(
        judgements,
        gate_metric=TOTAL_TIME_METRIC,
        baseline=label,
        mode="stored",
        notes=notes,
        outputs=outputs,
    )


def key_differences(first: ResultsDocument, second: ResultsDocument) -> list[str]:
    """Names of the comparability-key parts in which two runs differ (empty: comparable)."""
    mine = first.comparability_key().split(KEY_SEPARATOR)
    theirs = second.comparability_key().split(KEY_SEPARATOR)
    if len(mine) != len(KEY_PARTS) or len(theirs) != len(KEY_PARTS):
        return [] if mine == theirs else ["comparability key"]
    return [part for part, a, b in zip(KEY_PARTS, mine, theirs, strict=True) if a != b]


def judge_metrics(
    candidate: ResultsDocument,
    baseline: ResultsDocument,
    *,
    thresholds: Thresholds,
    history: RunHistory | None = None,
) -> tuple[tuple[MetricJudgement, ...], tuple[str, ...]]:
    """Judgements for every metric of either run, in candidate order, and notes for the verdict.

    A metric with enough earlier runs in ``history`` is judged against their between-run noise;
    every other one on the rounds of the candidate and the one stored run.
    """
    slots: list[MetricJudgement | _Pending] = []
    undirected: list[str] = []
    pooled: list[str] = []
    by_history: list[HistoryJudgement] = []
    floor = _time_floor(baseline, thresholds)
    busy = thresholds.busy_host_share
    runs = earlier_runs(history, candidate, busy_share=busy) if history is not None else ()
    for name in _metric_names(candidate, baseline):
        cand, base = candidate.metric(name), baseline.metric(name)
        reference = cand or base
        assert reference is not None  # the name came from one of the two runs
        if reference.better == "none":
            undirected.append(name)
            continue
        if _pooled(cand) or _pooled(base):
            pooled.append(name)
            continue
        judged = _against_history(cand, runs, thresholds=thresholds, floor=floor)
        if judged is not None:
            by_history.append(judged)
            slots.append(judged.judgement)
        elif cand is None or base is None:
            slots.append(_missing(cand, base))
        else:
            slots.append(_screen(cand, base, thresholds=thresholds, floor=floor))
    judgements = _resolve(slots, thresholds=thresholds)
    basis = _basis_notes(judgements, by_history, history=history, runs=len(runs))
    notes = (*basis, *_notes(judgements, undirected))
    if pooled:
        notes = (*notes, f"{POOLED_NOTE}: {', '.join(pooled)}")
    return judgements, notes


def _against_history(
    cand: Metric | None, runs: Sequence[RunEntry], *, thresholds: Thresholds, floor: float | None
) -> HistoryJudgement | None:
    if cand is None or not runs:
        return None
    medians = run_medians(runs, cand, max_runs=MAX_HISTORY_RUNS)
    return judge_against_history(cand, medians, thresholds=thresholds, floor=floor)


def _basis_notes(
    judgements: tuple[MetricJudgement, ...],
    by_history: list[HistoryJudgement],
    *,
    history: RunHistory | None,
    runs: int,
) -> tuple[str, ...]:
    """Which way the metrics were judged: the history's between-run noise, or one run's rounds."""
    historic = {h.judgement.name for h in by_history}
    on_rounds = [j.name for j in judgements if j.name not in historic and j.status not in UNJUDGED]
    notes: list[str] = []
    if history is not None and by_history:
        notes.append(_history_note(by_history, history.source))
    if history is not None and on_rounds:
        notes.append(
            f"{len(on_rounds)} metric(s) judged on the rounds of one stored run: fewer than "
            f"{MIN_HISTORY_RUNS} of the {runs} usable earlier runs in {history.source} measured "
            "them comparably"
        )
    if on_rounds or not by_history:
        notes.append(ONE_RUN_NOTE)
    return tuple(notes)


def _history_note(by_history: list[HistoryJudgement], source: str) -> str:
    total = next((h for h in by_history if h.judgement.name == TOTAL_TIME_METRIC), None)
    text = f"{len(by_history)} metric(s) judged against the between-run noise of {source}"
    if total is None:
        return text
    noise = between_run_noise(total.interval)
    return (
        f"between-run noise from {total.interval.runs} runs of the history: total time "
        f"±{noise:.1%}; {text}"
    )


def _pooled(metric: Metric | None) -> bool:
    """Whether the metric's samples are NVML polls pooled over a run, a device or a stage."""
    return metric is not None and metric.labels.get(SAMPLES_LABEL) == POOLED_POLLS


def _metric_names(candidate: ResultsDocument, baseline: ResultsDocument) -> list[str]:
    names = [m.name for m in candidate.metrics]
    return names + [m.name for m in baseline.metrics if candidate.metric(m.name) is None]


def _judgement(metric: Metric, status: str, reason: str, **fields: object) -> MetricJudgement:
    return MetricJudgement(
        name=metric.name, unit=metric.unit, status=status, reason=reason, **fields
    )


def _missing(cand: Metric | None, base: Metric | None) -> MetricJudgement:
    if cand is not None:
        return _judgement(cand, "new", "not in the baseline")
    assert base is not None
    return _judgement(base, "unavailable", "not in the candidate run")


def _time_floor(baseline: ResultsDocument, thresholds: Thresholds) -> float | None:
    """Seconds a part of the run must slow down by to matter (:func:`time_floor`)."""
    total = baseline.metric(TOTAL_TIME_METRIC)
    return time_floor(total.samples if total is not None and total.available else (), thresholds)


def _screen(
    cand: Metric, base: Metric, *, thresholds: Thresholds, floor: float | None = None
) -> MetricJudgement | _Pending:
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
    return _Pending(
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


def _resolve(
    slots: list[MetricJudgement | _Pending], *, thresholds: Thresholds
) -> tuple[MetricJudgement, ...]:
    pending = [s for s in slots if isinstance(s, _Pending)]
    adjusted = iter(stats.benjamini_hochberg([p.p_value for p in pending]))
    return tuple(
        _decide(s, next(adjusted), alpha=thresholds.alpha) if isinstance(s, _Pending) else s
        for s in slots
    )


def _decide(test: _Pending, p_adjusted: float, *, alpha: float) -> MetricJudgement:
    """Status of a tested metric from its effect size, adjusted p-value and noise."""
    beyond = abs(test.change) > test.threshold
    noise = _noise(test)
    noisy = noise is not None and noise > test.threshold
    significant = p_adjusted < alpha
    if significant and beyond and (not noisy or _interval_beyond(test)):
        status = test.rule.severity if test.change > 0 else "improved"
        reason = _describe_change(test)
        if status != "improved" and _immaterial(test):
            status = "pass"
            reason += f", immaterial: under {test.floor:.3g} s, the floor share of the total time"
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
    )


def _immaterial(test: _Pending) -> bool:
    return test.floor is not None and test.candidate_median - test.baseline_median < test.floor


def _noise(test: _Pending) -> float | None:
    values = [stats.relative_noise(m.samples) for m in (test.baseline, test.candidate)]
    known = [v for v in values if v is not None]
    return max(known) if known else None


def _interval_beyond(test: _Pending) -> bool:
    """Whether the bootstrap interval of the change lies wholly beyond the threshold."""
    interval = stats.bootstrap_ratio_of_medians(test.baseline.samples, test.candidate.samples)
    if interval is None:
        return False
    if test.candidate.better == "lower":
        low, high = interval.low - 1.0, interval.high - 1.0
    else:
        low, high = 1.0 - interval.high, 1.0 - interval.low
    return low > test.threshold if test.change > 0 else high < -test.threshold


def _describe_change(test: _Pending) -> str:
    delta = test.candidate_median - test.baseline_median
    return describe_change(test.change, rule=test.rule, unit=test.candidate.unit, delta=delta)


def _notes(judgements: tuple[MetricJudgement, ...], undirected: list[str]) -> tuple[str, ...]:
    notes: list[str] = []
    for status in ("inconclusive", "unavailable", "new"):
        names = [j.name for j in judgements if j.status == status]
        if names:
            notes.append(f"{len(names)} metric(s) {status}: {', '.join(names)}")
    if undirected:
        notes.append(f"not judged (no better direction): {', '.join(undirected)}")
    if judgements and all(j.status in ("inconclusive", "unavailable", "new") for j in judgements):
        notes.append("no metric could be judged")
    return tuple(notes)


def _no_baseline(reason: str, *, require_baseline: bool) -> Verdict:
    if require_baseline:
        reasons = (reason, "nothing was judged (--allow-no-baseline makes this exit 0)")
        return Verdict(outcome="no_baseline", exit_code=EXIT_CANNOT_JUDGE, reasons=reasons)
    reasons = (reason, "nothing was judged (allowed by --allow-no-baseline)")
    return Verdict(outcome="no_baseline", exit_code=EXIT_PASS, reasons=reasons)
