"""The report's recommendations: rules that fire only when the data shows the condition each
names (:func:`derive_recommendations`); the requirements are :mod:`tools.bench.report.targets`.
"""

from __future__ import annotations

from collections.abc import Callable

import virnucpro.bench.stats as stats
from tools.bench.report.analysis import (
    gpu_utilization,
    measured_median,
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
from tools.bench.report.targets import (
    CAPACITY_LABEL,
    MODEL_LOAD_METRIC,
    measured_speedup,
    reference,
    sampler_overhead,
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
from tools.bench.verdict import MetricJudgement, Verdict
from virnucpro.bench.metric_names import TOTAL_TIME_METRIC
from virnucpro.bench.schema import Metric, ResultsDocument

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
        f"{_evidence(j)}) against {reference(j, verdict)}."
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
