"""The executive summary's pass/fail requirements (the report's targets).

Each requirement evaluates to True/False from the samples of a :class:`ResultsDocument` (and
the optional :class:`Verdict`), or to None with the reason it could not be evaluated. The
recommendations are :mod:`tools.bench.report.recommendations`.
"""

from __future__ import annotations

from tools.bench.report.analysis import (
    gpu_utilization,
    not_run,
    skip_reason,
    widest_scaling_rows,
)
from tools.bench.report.formatting import (
    format_change,
    format_percent,
    worker_count,
)
from tools.bench.thresholds import (
    MAX_SAMPLER_OVERHEAD,
    MIN_GPU_UTILIZATION,
    MIN_SCALING_EFFICIENCY,
    MIN_SPEEDUP,
)
from tools.bench.verdict import MetricJudgement, RequirementResult, Verdict
from virnucpro.bench.metric_names import (
    END_TO_END_SPEEDUP_METRIC,
    SAMPLER_OVERHEAD_METRIC,
    TOTAL_TIME_METRIC,
)
from virnucpro.bench.schema import ResultsDocument

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
    detail = f"{judgement.status}{change} against {reference(judgement, verdict)}"
    if judgement.status in REGRESSED_STATUSES:
        return _requirement(name, False, detail)
    if judgement.status in JUDGED_OK_STATUSES:
        return _requirement(name, True, detail)
    return _requirement(name, None, f"{judgement.status}: {judgement.reason or 'not judged'}")


def reference(judgement: MetricJudgement, verdict: Verdict) -> str:
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
