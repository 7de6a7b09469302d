"""Building blocks that the report sections and the comparison share.

Outcome and requirement words, the run and models lines, the invalid-run banner, and the
requirement, judgement and metric tables; :mod:`tools.bench.report.sections` builds the report's
sections from them.
"""

from __future__ import annotations

from collections.abc import Sequence

from tools.bench.report import analysis
from tools.bench.report.formatting import (
    bullet_list,
    format_change,
    format_p,
    format_percent,
    format_quantity,
    metric_summary,
    table,
    unavailable,
)
from tools.bench.report.outputs import title_suffix
from tools.bench.report.targets import REQ_TOTAL_TIME, REQ_VALID
from tools.bench.verdict import MetricJudgement, ReportDocument, RequirementResult, Verdict
from virnucpro.bench.metric_names import TOTAL_TIME_METRIC
from virnucpro.bench.schema import Metric, ResultsDocument
from virnucpro.bench.stats import median_confidence_interval, min_samples_for

TITLE = "# VirNucPro Benchmark Report"
NOT_MEANINGFUL = "models: tiny random weights -- predictions not biologically meaningful"
OUTCOME_WORDS = {
    "pass": "PASS",
    "warn": "WARN",
    "regression": "REGRESSION",
    "outputs_changed": "OUTPUTS CHANGED",
    "inconclusive": "INCONCLUSIVE",
    "invalid": "INVALID",
    "could_not_judge": "COULD NOT JUDGE",
    "no_baseline": "NO BASELINE",
}
MEMORY_LABELS = {
    "memory.cuda_peak_allocated": "CUDA peak allocated",
    "memory.cuda_peak_reserved": "CUDA peak reserved",
    "memory.nvml_device_used": "NVML device memory used",
    "memory.host_peak_rss": "host peak RSS",
}
NO_VERDICT = "NOT COMPARED"
REQUIREMENT_WORDS = {True: "PASS", False: "FAIL", None: "N/A"}
GATE_REQUIREMENTS = (REQ_VALID, REQ_TOTAL_TIME)  # the rest are targets
EMPTY = ""


def outcome_word(report: ReportDocument) -> str:
    """The verdict in a word or two; an accepted output change is named beside it."""
    if not report.results.validity.valid:
        return "INVALID RUN"
    if report.verdict is None:
        return NO_VERDICT
    return OUTCOME_WORDS[report.verdict.outcome] + title_suffix(report.verdict)


def run_line(results: ResultsDocument) -> str:
    run, env = results.run, results.environment
    commit = env.git_commit or "unknown"
    if env.git_dirty:
        commit += " (dirty)"
    return (
        f"Run `{run.run_id}` at {run.created_at}: commit `{commit}`, engine `{run.engine}`, "
        f"preset `{run.model_preset}`, device `{run.device}`, precision `{run.precision}`, "
        f"tier `{run.tier}`."
    )


def models_line(results: ResultsDocument) -> str | None:
    if results.run.models_meaningful:
        return None
    note = f" ({results.run.model_note})" if results.run.model_note else ""
    return f"**{NOT_MEANINGFUL}**{note}"


def invalid_banner(results: ResultsDocument) -> str | None:
    if results.validity.valid:
        return None
    reasons = "; ".join(results.validity.reasons)
    return f"> **INVALID RUN: do not compare or publish these numbers.** {reasons}"


def _requirement_word(requirement: RequirementResult) -> str:
    if requirement.passed is None and requirement.detail.startswith(analysis.NOT_RUN):
        return "NOT RUN"
    return REQUIREMENT_WORDS[requirement.passed]


def requirements_table(requirements: Sequence[RequirementResult]) -> str:
    rows = [(r.name, _requirement_word(r), r.detail) for r in requirements]
    return table(("requirement", "status", "detail"), rows)


def gate_and_targets(
    requirements: Sequence[RequirementResult],
) -> tuple[list[RequirementResult], list[RequirementResult]]:
    """The rows the verdict rests on, and the targets shown apart (they never change it)."""
    gate = [r for r in requirements if r.name in GATE_REQUIREMENTS]
    return gate, [r for r in requirements if r.name not in GATE_REQUIREMENTS]


def gpu_util_text(results: ResultsDocument) -> str:
    value, source = analysis.gpu_utilization(results)
    return unavailable(source) if value is None else f"{value:.1f}% ({source})"


def key_metric_rows(results: ResultsDocument) -> list[tuple[str, str]]:
    """(label, value) pairs of the executive summary: time, rates, memory, GPU utilization."""
    rows = [
        ("total time (median ± IQR)", metric_summary(results.metric(TOTAL_TIME_METRIC))),
        ("reads/s", metric_summary(results.metric("end_to_end.reads_per_s"))),
    ]
    tokens = [
        m for m in results.metrics_with_prefix("throughput.") if m.name.endswith(".tokens_per_s")
    ]
    rows += [(f"tokens/s ({m.name.split('.')[1]})", metric_summary(m)) for m in tokens]
    if not tokens:
        rows.append(("tokens/s", unavailable(analysis.NOT_RECORDED)))
    for name in ("memory.cuda_peak_allocated", "memory.host_peak_rss"):
        rows.append((MEMORY_LABELS[name], metric_summary(results.metric(name))))
    rows.append(("GPU utilization (median)", gpu_util_text(results)))
    return rows


def judgements_table(judgements: Sequence[MetricJudgement]) -> str:
    rows = [
        (
            f"`{j.name}`",
            j.status.upper(),
            format_quantity(j.baseline_median, j.unit),
            format_quantity(j.candidate_median, j.unit),
            format_change(j.change) if j.change is not None else "n/a",
            format_p(j.p_value),
            format_p(j.p_adjusted),
            format_percent(j.threshold) if j.threshold is not None else "n/a",
            j.reason,
        )
        for j in judgements
    ]
    headers = ("metric", "status", "baseline", "candidate", "change (+ worse)", "p", "p adj.")
    return table((*headers, "threshold", "note"), rows)


def inconclusive_notes(verdict: Verdict) -> str | None:
    items = [
        f"`{j.name}` is {j.status}: {j.reason or 'no reason given'}"
        for j in verdict.judgements
        if j.status in ("inconclusive", "unavailable")
    ]
    return bullet_list(items) if items else None


def _median_interval(metric: Metric) -> str:
    interval = median_confidence_interval(metric.samples)
    if interval is None:
        return f"n/a (n < {min_samples_for()})"
    low = format_quantity(interval.low, metric.unit)
    return f"{low} .. {format_quantity(interval.high, metric.unit)}"


def metrics_table(metrics: Sequence[Metric]) -> str:
    """One row per metric: median, its 95% CI, IQR, min, max, n, IQR/median; unavailable: why."""
    rows = []
    for m in metrics:
        if not m.available:
            rows.append(
                (f"`{m.name}`", unavailable(m.reason), EMPTY, EMPTY, EMPTY, EMPTY, EMPTY, EMPTY)
            )
            continue
        spread = m.iqr / abs(m.median) if m.iqr is not None and m.median else None
        rows.append(
            (
                f"`{m.name}`",
                format_quantity(m.median, m.unit),
                _median_interval(m),
                format_quantity(m.iqr, m.unit, reason="n < 2"),
                format_quantity(m.minimum, m.unit),
                format_quantity(m.maximum, m.unit),
                str(len(m.samples)),
                format_percent(spread) if spread is not None else "n/a",
            )
        )
    headers = ("metric", "median", "95% CI of median", "IQR", "min", "max", "n", "IQR/median")
    return table(headers, rows)
