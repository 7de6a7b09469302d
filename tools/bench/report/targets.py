"""The executive summary's pass/fail requirements and the data-derived recommendations.

Each requirement evaluates to True/False from the samples of a :class:`ResultsDocument` (and
the optional :class:`Verdict`), or to None with the reason it could not be evaluated. Each
recommendation comes from a rule that fires only when the data shows the condition it names.
"""

from __future__ import annotations

from collections.abc import Callable

import virnucpro.bench.stats as stats
from tools.bench.report.analysis import (
    gpu_utilization,
    measured_median,
    not_run,
    skip_reason,
    stage_breakdown,
    widest_scaling_rows,
)
from tools.bench.report.formatting import (
    format_change,
    format_duration,
    format_p,
    format_percent,
    format_quantity,
    worker_count,
)
from tools.bench.thresholds import (
    COLD_SHARE_NOTABLE,
    HIGH_MEMORY_HEADROOM,
    HIGH_VARIANCE_RATIO,
    LOW_MEMORY_HEADROOM,
    MAX_NOISY_METRICS_LISTED,
    MAX_SAMPLER_OVERHEAD,
    MIN_GPU_UTILIZATION,
    MIN_SCALING_EFFICIENCY,
    MIN_SPEEDUP,
    RESERVED_OVER_ALLOCATED,
)
from tools.bench.verdict import MetricJudgement, RequirementResult, Verdict
from virnucpro.bench.metric_names import (
    END_TO_END_SPEEDUP_METRIC,
    SAMPLER_OVERHEAD_METRIC,
    TOTAL_TIME_METRIC,
)
from virnucpro.bench.schema import Metric, ResultsDocument

CAPACITY_LABEL = "capacity_bytes"  # optional label on memory metrics: device memory size

# Requirement names (the executive summary's rows).
REQ_VALID = "run valid"
REQ_TOTAL_TIME = "total time not regressed"
REQ_SPEEDUP = f"fast vs vanilla speedup >= {MIN_SPEEDUP:g}x"
REQ_EQUIVALENCE = "fast engine equivalent to vanilla"
REQ_SCALING = f"scaling efficiency >= {MIN_SCALING_EFFICIENCY:.2f} at the largest worker count"
REQ_GPU_UTILIZATION = f"GPU utilization >= {MIN_GPU_UTILIZATION:g}% (median)"
REQ_SAMPLER_OVERHEAD = f"GPU sampler overhead <= {MAX_SAMPLER_OVERHEAD:.0%} (measured)"

SPEEDUP_METRIC = "equivalence.speedup"
MODEL_LOAD_METRIC = "cold.model_load"
REGRESSED_STATUSES = frozenset({"fail"})
JUDGED_OK_STATUSES = frozenset({"pass", "improved", "warn"})


# --- requirements -------------------------------------------------------------------------


def _requirement(name: str, passed: bool | None, detail: str) -> RequirementResult:
    return RequirementResult(name=name, passed=passed, detail=detail)


def _judgement(verdict: Verdict, name: str) -> MetricJudgement | None:
    return next((j for j in verdict.judgements if j.name == name), None)


def total_time_requirement(verdict: Verdict | None) -> RequirementResult:
    name = REQ_TOTAL_TIME
    if verdict is None:
        return _requirement(name, None, "no baseline comparison in this report")
    judgement = _judgement(verdict, TOTAL_TIME_METRIC)
    if judgement is None:
        return _requirement(name, None, f"verdict ({verdict.outcome}) has no `{TOTAL_TIME_METRIC}`")
    change = f" {format_change(judgement.change)}" if judgement.change is not None else ""
    detail = f"{judgement.status}{change} against {_reference(judgement, verdict)}"
    if judgement.status in REGRESSED_STATUSES:
        return _requirement(name, False, detail)
    if judgement.status in JUDGED_OK_STATUSES:
        return _requirement(name, True, detail)
    return _requirement(name, None, f"{judgement.status}: {judgement.reason or 'not judged'}")


def _reference(judgement: MetricJudgement, verdict: Verdict) -> str:
    """What a judgement compared with: the history's earlier runs, or the baseline."""
    if judgement.history_runs is not None:
        return f"{judgement.history_runs} earlier runs of the history"
    return verdict.baseline or "the baseline"


def measured_speedup(results: ResultsDocument) -> tuple[float | None, str]:
    """Fast-vs-vanilla speedup and which figure it is, or None and why it is unavailable.

    The end-to-end speedup (``--vanilla-baseline``, one sample per interleaved round) is the
    requirement's figure; without it, the equivalence suite's embedding-and-classification
    speedup (a single sample) stands in, and the detail says so.
    """
    end_to_end = results.metric(END_TO_END_SPEEDUP_METRIC)
    if end_to_end is not None and end_to_end.available:
        rounds = len(end_to_end.samples)
        return end_to_end.median, (
            f"end to end: `{END_TO_END_SPEEDUP_METRIC}` median of {rounds} round(s)"
        )
    metric = results.metric(SPEEDUP_METRIC)
    if metric is not None and metric.available:
        return metric.median, (
            f"embedding + classification only: `{SPEEDUP_METRIC}`, one sample; "
            "end to end not measured (run with --vanilla-baseline)"
        )
    if results.equivalence is not None and results.equivalence.speedup is not None:
        return results.equivalence.speedup, "embedding + classification only: equivalence suite"
    reason = (metric.reason if metric is not None else None) or skip_reason(results, "equivalence")
    return None, reason or "speedup not measured in this run"


def speedup_requirement(results: ResultsDocument) -> RequirementResult:
    name = REQ_SPEEDUP
    value, source = measured_speedup(results)
    unmeasured = value is None and results.metric(SPEEDUP_METRIC) is None
    if unmeasured and (skipped := not_run(results, "equivalence")):
        return _requirement(name, None, skipped)
    if value is None:
        return _requirement(name, None, source)
    return _requirement(name, value >= MIN_SPEEDUP, f"{value:.2f}x ({source})")


def equivalence_requirement(results: ResultsDocument) -> RequirementResult:
    name = REQ_EQUIVALENCE
    eq = results.equivalence
    if eq is None:
        reason = (
            not_run(results, "equivalence")
            or skip_reason(results, "equivalence")
            or "equivalence suite recorded no result"
        )
        return _requirement(name, None, reason)
    detail = (
        f"label agreement {format_percent(eq.label_agreement)}, "
        f"max score diff {eq.max_score_diff:.3g} ({eq.criteria})"
    )
    return _requirement(name, eq.passed, detail)


def scaling_requirement(results: ResultsDocument) -> RequirementResult:
    name = REQ_SCALING
    rows = [r for r in widest_scaling_rows(results) if r.stage == "total"]
    if rows:
        widest = max(rows, key=lambda r: (r.workers, r.kind == "gpu"))
        where = worker_count(widest.workers, widest.kind)
        detail = (
            f"{widest.efficiency:.2f} at {where}, end to end less model loading (median of "
            "the per-round efficiencies)"
        )
        return _requirement(name, widest.efficiency >= MIN_SCALING_EFFICIENCY, detail)
    metrics = [
        m
        for m in results.metrics_with_prefix("scaling.efficiency.")
        if m.available and m.name.rsplit(".", 1)[-1].isdigit()
    ]
    if not metrics:
        reason = not_run(results, "scaling") or skip_reason(results, "scaling")
        return _requirement(name, None, reason or "scaling not measured")
    widest_metric = max(metrics, key=lambda m: int(m.name.rsplit(".", 1)[-1]))
    value = widest_metric.median
    detail = f"{value:.2f} (`{widest_metric.name}` median)"
    return _requirement(name, value >= MIN_SCALING_EFFICIENCY, detail)


def gpu_utilization_requirement(results: ResultsDocument) -> RequirementResult:
    name = REQ_GPU_UTILIZATION
    value, source = gpu_utilization(results)
    if value is None:
        return _requirement(name, None, source)
    return _requirement(name, value >= MIN_GPU_UTILIZATION, f"{value:.1f}% ({source})")


def sampler_overhead(results: ResultsDocument) -> tuple[float | None, str]:
    """The sampler's measured overhead (median of interleaved pairs), or None and why."""
    metric = results.metric(SAMPLER_OVERHEAD_METRIC)
    if metric is None:
        return None, "not measured in this run"
    if not metric.available:
        return None, metric.reason or "not measured"
    pairs = len(metric.samples)
    return metric.median, f"`{SAMPLER_OVERHEAD_METRIC}` median of {pairs} with/without pair(s)"


def sampler_overhead_requirement(results: ResultsDocument) -> RequirementResult:
    value, source = sampler_overhead(results)
    if value is None:
        return _requirement(REQ_SAMPLER_OVERHEAD, None, source)
    return _requirement(
        REQ_SAMPLER_OVERHEAD, value <= MAX_SAMPLER_OVERHEAD, f"{format_percent(value)} ({source})"
    )


def validity_requirement(
    results: ResultsDocument, verdict: Verdict | None = None
) -> RequirementResult:
    """Whether the machine was fit to measure: the run's own validity (the GPUs), and the host
    gate's verdict (other processes kept the CPUs busy), so the row and the verdict agree."""
    if not results.validity.valid:
        return _requirement(REQ_VALID, False, "; ".join(results.validity.reasons))
    if verdict is not None and verdict.outcome == "invalid":
        return _requirement(REQ_VALID, False, verdict.reasons[0] if verdict.reasons else "invalid")
    return _requirement(REQ_VALID, True, "machine fit to measure")


def evaluate_requirements(
    results: ResultsDocument, *, verdict: Verdict | None
) -> tuple[RequirementResult, ...]:
    """The executive summary's pass/fail lines, each from the data or None with a reason."""
    return (
        validity_requirement(results, verdict),
        total_time_requirement(verdict),
        speedup_requirement(results),
        equivalence_requirement(results),
        scaling_requirement(results),
        gpu_utilization_requirement(results),
        sampler_overhead_requirement(results),
    )


# --- recommendations ----------------------------------------------------------------------

Rule = Callable[[ResultsDocument, "Verdict | None"], "list[str]"]


def _rec_invalid(results: ResultsDocument, verdict: Verdict | None) -> list[str]:
    if results.validity.valid:
        return []
    reasons = "; ".join(results.validity.reasons)
    return [f"Rerun on an idle, unthrottled machine before comparing this run: {reasons}."]


def _rec_regressions(results: ResultsDocument, verdict: Verdict | None) -> list[str]:
    if verdict is None:
        return []
    recs = [
        f"Investigate the regression in `{j.name}` ({format_change(j.change)} worse, "
        f"{_evidence(j)}) against {_reference(j, verdict)}."
        for j in verdict.failures
        if j.change is not None
    ]
    unsure = [j for j in verdict.judgements if j.status == "inconclusive"]
    on_rounds = [f"`{j.name}`" for j in unsure if j.history_runs is None]
    by_history = [f"`{j.name}`" for j in unsure if j.history_runs is not None]
    if on_rounds:
        names = ", ".join(on_rounds)
        recs.append(f"Collect more rounds to judge {names} (inconclusive against the baseline).")
    if by_history:
        recs.append(
            f"Judge {', '.join(by_history)} with the A/B gate (`virnucpro benchmark --against "
            "REF`): the run history's between-run noise is too large to tell."
        )
    return recs


def _evidence(judgement: MetricJudgement) -> str:
    if judgement.history_runs is not None:
        return "outside the prediction interval of the between-run noise"
    return f"adjusted p {format_p(judgement.p_adjusted)}"


def _rec_bottleneck(results: ResultsDocument, verdict: Verdict | None) -> list[str]:
    stage = stage_breakdown(results).bottleneck
    if stage is None:
        return []
    share = f"{format_percent(stage.share)} of the time, " if stage.share is not None else ""
    return [
        f"Bottleneck: stage `{stage.stage}` takes {share}median "
        f"{format_duration(stage.seconds.median)}; optimise it first."
    ]


def _rec_gpu_utilization(results: ResultsDocument, verdict: Verdict | None) -> list[str]:
    value, _ = gpu_utilization(results)
    if value is None or value >= MIN_GPU_UTILIZATION:
        return []
    tagged = [s for s in stage_breakdown(results).stages if s.gpu_util_median is not None]
    worst = min(tagged, key=lambda s: s.gpu_util_median, default=None)
    where = (
        f"; lowest during `{worst.stage}` ({worst.gpu_util_median:.1f}%)"
        if worst is not None
        else ""
    )
    return [
        f"GPU utilization median is {value:.1f}% (< {MIN_GPU_UTILIZATION:g}%){where}: the GPU "
        "waits on the host; try larger token budgets or overlap CPU stages with GPU work."
    ]


def _spread(metric: Metric) -> float | None:
    """IQR/median of a metric that is judged (a direction) and has a median clear of zero."""
    if metric.better == "none" or not metric.available:
        return None
    return stats.relative_noise(metric.samples)


def _rec_variance(results: ResultsDocument, verdict: Verdict | None) -> list[str]:
    noisy = [(m, s) for m in results.metrics if (s := _spread(m)) and s > HIGH_VARIANCE_RATIO]
    if not noisy:
        return []
    noisy.sort(key=lambda pair: -pair[1])
    listed = ", ".join(
        f"`{m.name}` ({format_percent(s)})" for m, s in noisy[:MAX_NOISY_METRICS_LISTED]
    )
    more = (
        f" and {len(noisy) - MAX_NOISY_METRICS_LISTED} more"
        if len(noisy) > MAX_NOISY_METRICS_LISTED
        else ""
    )
    return [
        f"High variance (IQR/median > {format_percent(HIGH_VARIANCE_RATIO)}) in {listed}{more}: "
        "use more rounds, fixed clocks or a quieter machine before trusting small changes."
    ]


def _rec_scaling(results: ResultsDocument, verdict: Verdict | None) -> list[str]:
    recs = []
    for row in widest_scaling_rows(results):
        if (
            row.efficiency is None
            or row.speedup is None
            or row.efficiency >= MIN_SCALING_EFFICIENCY
        ):
            continue
        n = row.workers / row.base_workers
        serial = (1 / row.speedup - 1 / n) / (1 - 1 / n)
        recs.append(
            f"Scaling of `{row.stage}` to {worker_count(row.workers, row.kind)} reaches efficiency "
            f"{row.efficiency:.2f} (speedup {row.speedup:.2f}x; Karp-Flatt serial fraction "
            f"{serial:.3f}): look for serial work (model loading, merge, aggregation) or "
            "uneven shards."
        )
    return recs


def _rec_memory(results: ResultsDocument, verdict: Verdict | None) -> list[str]:
    recs = []
    allocated = measured_median(results, "memory.cuda_peak_allocated")
    reserved = measured_median(results, "memory.cuda_peak_reserved")
    if allocated and reserved and reserved / allocated > RESERVED_OVER_ALLOCATED:
        recs.append(
            f"Peak reserved CUDA memory is {reserved / allocated:.1f}x the peak allocated: the "
            "caching allocator holds fragmented blocks; try PYTORCH_CUDA_ALLOC_CONF="
            "expandable_segments:True or steadier batch shapes."
        )
    for metric in results.metrics_with_prefix("memory."):
        capacity = metric.labels.get(CAPACITY_LABEL)
        if not metric.available or not capacity:
            continue
        free = 1 - metric.maximum / float(capacity)
        used = f"`{metric.name}` peaks at {format_quantity(metric.maximum, metric.unit)}"
        if free < LOW_MEMORY_HEADROOM:
            recs.append(f"{used}, {format_percent(free)} headroom: risk of out-of-memory.")
        elif free > HIGH_MEMORY_HEADROOM:
            recs.append(f"{used}, {format_percent(free)} free: larger batches could fit.")
    return recs


def _rec_equivalence(results: ResultsDocument, verdict: Verdict | None) -> list[str]:
    eq = results.equivalence
    if eq is None or eq.passed:
        return []
    return [
        f"The fast engine disagrees with vanilla (label agreement "
        f"{format_percent(eq.label_agreement)}, max score diff {eq.max_score_diff:.3g}; "
        f"criteria: {eq.criteria}): fix it before relying on its speed."
    ]


def _rec_speedup(results: ResultsDocument, verdict: Verdict | None) -> list[str]:
    value, source = measured_speedup(results)
    if value is None or value >= MIN_SPEEDUP:
        return []
    return [
        f"The fast engine is only {value:.2f}x faster than vanilla ({source}; target "
        f"{MIN_SPEEDUP:g}x): compare its per-stage times with vanilla's to find the gap."
    ]


def _rec_cold_start(results: ResultsDocument, verdict: Verdict | None) -> list[str]:
    load, total = (
        measured_median(results, MODEL_LOAD_METRIC),
        measured_median(results, TOTAL_TIME_METRIC),
    )
    if load is None or not total or load / total <= COLD_SHARE_NOTABLE:
        return []
    return [
        f"Model loading ({format_duration(load)}) is {format_percent(load / total)} of the total "
        "time: at this input size cold start dominates; keep models loaded across inputs."
    ]


def _rec_telemetry(results: ResultsDocument, verdict: Verdict | None) -> list[str]:
    overhead, source = sampler_overhead(results)
    if overhead is None or overhead <= MAX_SAMPLER_OVERHEAD:
        return []
    interval = f" (now {results.gpu.interval_s:g} s)" if results.gpu.interval_s else ""
    return [
        f"GPU sampling costs {format_percent(overhead)} of throughput ({source}): raise the "
        f"sampling interval{interval}."
    ]


RULES: tuple[Rule, ...] = (
    _rec_invalid,
    _rec_regressions,
    _rec_equivalence,
    _rec_speedup,
    _rec_bottleneck,
    _rec_gpu_utilization,
    _rec_scaling,
    _rec_memory,
    _rec_cold_start,
    _rec_variance,
    _rec_telemetry,
)
NOTHING_TO_RECOMMEND = (
    "No action suggested: every check derived from this run's data is within its threshold."
)


def derive_recommendations(results: ResultsDocument, *, verdict: Verdict | None) -> tuple[str, ...]:
    """Recommendations from rules that fire only when the data shows their condition."""
    recs = [rec for rule in RULES for rec in rule(results, verdict)]
    return tuple(recs) or (NOTHING_TO_RECOMMEND,)
