"""The sections of the markdown report, each a function of the report record.

Every number comes from the samples in the document (through :mod:`tools.bench.report.analysis`);
what was not measured prints ``unavailable (reason)``. :data:`SECTIONS` fixes their order.
"""

from __future__ import annotations

from collections.abc import Callable

from tools.bench.report import analysis
from tools.bench.report import hardware as report_hardware
from tools.bench.report.blocks import (
    EMPTY,
    MEMORY_LABELS,
    OUTCOME_WORDS,
    TITLE,
    gate_and_targets,
    gpu_util_text,
    inconclusive_notes,
    invalid_banner,
    judgements_table,
    key_metric_rows,
    metrics_table,
    models_line,
    outcome_word,
    requirements_table,
    run_line,
)
from tools.bench.report.formatting import (
    bullet_list,
    format_duration,
    format_number,
    format_percent,
    format_quantity,
    metric_summary,
    table,
    unavailable,
    worker_count,
)
from tools.bench.report.outputs import ACCEPTED_WORDS, outputs_block, times_note
from tools.bench.verdict import ReportDocument
from virnucpro.bench.schema import EquivalenceResult, ResultsDocument

KNOWN_PREFIXES = (
    "end_to_end.",
    "cold.",
    "stage.",
    "throughput.",
    "memory.",
    "gpu.",
    "scaling.",
    "equivalence.",
    "roofline.",
)
READS_PER_PROJECTION = 1_000_000
Section = Callable[[ReportDocument], "str | None"]


def section(title: str, *blocks: str | None) -> str:
    return "\n\n".join([f"## {title}", *(b for b in blocks if b)])


def _title(report: ReportDocument) -> str:
    first = TITLE + _first_line_outputs(report)
    lines = [first, "", run_line(report.results), f"Report generated {report.generated_at}."]
    models = models_line(report.results)
    return "\n".join(lines + ([EMPTY, models] if models else []))


def _first_line_outputs(report: ReportDocument) -> str:
    """The title's account of the outputs: changed, or changed and accepted."""
    verdict = report.verdict
    if verdict is not None and verdict.outcome == "outputs_changed":
        return f": {OUTCOME_WORDS['outputs_changed']}"
    if verdict is not None and verdict.outputs_accepted:
        return f": {ACCEPTED_WORDS}"
    return ""


def _banner(report: ReportDocument) -> str | None:
    return invalid_banner(report.results)


def _executive_summary(report: ReportDocument) -> str:
    verdict = report.verdict
    headline = f"**Verdict: {outcome_word(report)}**"
    if verdict is not None:
        against = f" against {verdict.baseline}" if verdict.baseline else ""
        headline += f" (exit code {verdict.exit_code}){against}."
    else:
        headline += ": no baseline comparison in this report."
    reasons = bullet_list(verdict.reasons) if verdict and verdict.reasons else None
    gate, targets = gate_and_targets(report.requirements)
    return section(
        "Executive Summary",
        headline,
        reasons,
        "### Gate",
        requirements_table(gate),
        "### Targets",
        "Goals of the project, shown apart from the gate: they never change the verdict.",
        requirements_table(targets),
        "### Key Metrics",
        table(("metric", "value"), key_metric_rows(report.results)),
    )


def _scaling(report: ReportDocument) -> str:
    results = report.results
    rows = [
        (
            r.stage,
            worker_count(r.workers, r.kind),
            format_duration(r.seconds.median),
            format_duration(r.seconds.iqr) if r.seconds.iqr is not None else "n/a",
            f"{r.speedup:.2f}x" if r.speedup is not None else "n/a",
            f"{r.efficiency:.2f}" if r.efficiency is not None else "n/a",
        )
        for r in analysis.scaling_rows(results)
    ]
    if rows:
        note = "Speedup and efficiency are ratios of medians against the smallest worker count."
        headers = ("stage", "workers", "median time", "IQR", "speedup", "efficiency")
        return section("Scaling Performance", note, table(headers, rows))
    efficiency = results.metrics_with_prefix("scaling.")
    if efficiency:
        return section("Scaling Performance", metrics_table(efficiency))
    skipped = analysis.not_run(results, "scaling")
    if skipped:
        return section("Scaling Performance", f"{skipped[0].upper()}{skipped[1:]}.")
    reason = analysis.skip_reason(results, "scaling") or "no scaling points recorded"
    return section("Scaling Performance", unavailable(reason))


def _end_to_end(report: ReportDocument) -> str:
    results = report.results
    metrics = results.metrics_with_prefix("end_to_end.") + results.metrics_with_prefix("cold.")
    if not metrics:
        return section("End-to-End Results", unavailable(analysis.NOT_RECORDED))
    rate = analysis.measured_median(results, "end_to_end.reads_per_s")
    projection = None
    if rate:
        projection = (
            f"At the median rate, {format_number(READS_PER_PROJECTION)} reads of this length "
            f"profile take {format_duration(READS_PER_PROJECTION / rate)}."
        )
    return section("End-to-End Results", metrics_table(metrics), projection)


def _stages(report: ReportDocument) -> str:
    breakdown = analysis.stage_breakdown(report.results)
    throughput = report.results.metrics_with_prefix("throughput.")
    model_table = metrics_table(throughput) if throughput else None
    if not breakdown.stages:
        return section("Per-Stage Breakdown", unavailable("no stage timings recorded"), model_table)
    rows = [
        (
            f"`{s.stage}`",
            format_duration(s.seconds.median),
            format_duration(s.seconds.iqr) if s.seconds.iqr is not None else "n/a",
            format_percent(s.share) if s.share is not None else "n/a",
            format_number(s.items_per_s) if s.items_per_s is not None else "n/a",
            format_number(s.tokens_per_s) if s.tokens_per_s is not None else "n/a",
            f"{s.gpu_util_median:.1f}%" if s.gpu_util_median is not None else "n/a",
        )
        for s in breakdown.stages
    ]
    headers = ("stage", "median", "IQR", "share of total", "items/s", "tokens/s", "GPU util")
    worst = breakdown.bottleneck
    share = f", {format_percent(worst.share)}" if worst.share is not None else ""
    bottleneck = (
        f"**Bottleneck:** `{worst.stage}` ({format_duration(worst.seconds.median)}{share}). "
        f"Shares are of the {breakdown.basis}."
    )
    return section("Per-Stage Breakdown", table(headers, rows), bottleneck, model_table)


def _memory(report: ReportDocument) -> str:
    results = report.results
    names = list(MEMORY_LABELS)
    names += [m.name for m in results.metrics_with_prefix("memory.") if m.name not in names]
    rows = []
    for name in names:
        metric = results.metric(name)
        peak = (
            format_quantity(metric.maximum, metric.unit, reason=metric.reason)
            if metric
            else unavailable(analysis.NOT_RECORDED)
        )
        rows.append((MEMORY_LABELS.get(name, name), f"`{name}`", peak, metric_summary(metric)))
    return section(
        "Memory Usage Profile",
        table(("memory", "metric", "peak over rounds", "median ± IQR"), rows),
    )


def _device_rows(results: ResultsDocument) -> list[tuple[str, ...]]:
    def fmt(value: float | None, render: Callable[[float], str], missing: str = "") -> str:
        return render(value) if value is not None else missing or unavailable("not reported")

    processes_missing = "unknown (below)" if results.gpu.processes_unknown else ""

    return [
        (
            f"{d.device}: {d.name}",
            str(d.samples),
            fmt(d.util_mean, lambda v: f"{v:.1f}%"),
            fmt(d.util_median, lambda v: f"{v:.1f}%"),
            fmt(d.power_mean_w, lambda v: f"{v:.0f} W"),
            fmt(d.energy_j, lambda v: f"{format_number(v / 1000)} kJ"),
            fmt(d.sm_clock_median_mhz, lambda v: f"{v:.0f} MHz"),
            f"{format_percent(d.throttled_fraction)} {', '.join(d.throttle_reasons)}".strip(),
            fmt(d.memory_used_max, lambda v: format_quantity(v, "B")),
            fmt(d.other_processes_max, lambda v: f"{v:.0f}", processes_missing),
        )
        for d in analysis.device_summaries(results)
    ]


def _gpu(report: ReportDocument) -> str:
    results = report.results
    overall = f"Median utilization: {gpu_util_text(results)}."
    gpu = results.gpu
    if not gpu.available:
        return section("GPU Utilization", f"GPU telemetry: {unavailable(gpu.reason)}.", overall)
    headers = ("device", "samples", "util mean", "util median", "power mean", "energy")
    headers += ("SM clock median", "throttled", "memory used max", "other processes")
    interval = f"{gpu.interval_s:g} s" if gpu.interval_s else unavailable("not recorded")
    overhead = (
        format_percent(gpu.overhead_fraction)
        if gpu.overhead_fraction is not None
        else unavailable("not measured")
    )
    sampling = f"Sampling interval {interval}; measured sampling overhead {overhead}."
    processes = (
        f"Other compute processes: {gpu.processes_unknown} (not counted against the run)."
        if gpu.processes_unknown
        else None
    )
    activity = report_hardware.activity_metrics(results)
    return section(
        "GPU Utilization",
        overall,
        table(headers, _device_rows(results)),
        sampling,
        processes,
        metrics_table(activity) if activity else None,
    )


def _roofline(report: ReportDocument) -> str:
    rows = report_hardware.roofline_table(report.results)
    if rows is None:
        return section("Roofline", unavailable(report_hardware.NOT_MEASURED))
    return section("Roofline", rows, report_hardware.roofline_note())


def _equivalence_rows(eq: EquivalenceResult) -> list[tuple[str, str]]:
    def optional(value: float | None, fmt: str) -> str:
        return format(value, fmt) if value is not None else unavailable("not measured")

    return [
        ("result", "PASS" if eq.passed else "FAIL"),
        ("engines", f"{eq.candidate_engine} vs {eq.reference_engine} ({eq.precision})"),
        ("frames compared", f"{eq.frames:,}"),
        ("label agreement", format_percent(eq.label_agreement)),
        ("chunk-call agreement", format_percent(eq.chunk_call_agreement)),
        ("max score difference", f"{eq.max_score_diff:.3g}"),
        (
            "min cosine DNABERT-S / ESM-2",
            f"{optional(eq.min_cosine_dnabert, '.4f')} / {optional(eq.min_cosine_esm, '.4f')}",
        ),
        (
            "max relative diff DNABERT-S / ESM-2",
            f"{optional(eq.max_rel_diff_dnabert, '.3g')} / {optional(eq.max_rel_diff_esm, '.3g')}",
        ),
        ("speedup", f"{eq.speedup:.2f}x" if eq.speedup is not None else unavailable("not timed")),
        ("criteria", eq.criteria),
    ]


def _equivalence(report: ReportDocument) -> str:
    eq = report.results.equivalence
    if eq is None:
        skipped = analysis.not_run(report.results, "equivalence")
        if skipped:
            return section("Equivalence Validation", f"{skipped[0].upper()}{skipped[1:]}.")
        reason = analysis.skip_reason(report.results, "equivalence") or "no result recorded"
        return section("Equivalence Validation", unavailable(reason))
    return section("Equivalence Validation", table(("check", "value"), _equivalence_rows(eq)))


def _regression(report: ReportDocument) -> str:
    verdict = report.verdict
    if verdict is None:
        return section("Regression Check", "No baseline comparison: no verdict in this report.")
    word, against = OUTCOME_WORDS[verdict.outcome], verdict.baseline or "no baseline"
    head = f"Outcome **{word}** (exit code {verdict.exit_code}) against {against}."
    body = judgements_table(verdict.judgements) if verdict.judgements else None
    return section(
        "Regression Check",
        head,
        outputs_block(verdict),
        times_note(verdict),
        body,
        inconclusive_notes(verdict),
    )


def _recommendations(report: ReportDocument) -> str:
    return section("Recommendations", bullet_list(report.recommendations))


def _workload_env(report: ReportDocument) -> str:
    results = report.results
    wl, env, run = results.workload, results.environment, results.run
    workload = [
        ("name", wl.name),
        ("content sha256", f"`{wl.content_sha256[:16]}`"),
        ("reads / bases / chunks", f"{wl.reads:,} / {wl.bases:,} / {wl.chunks:,}"),
        ("expected length", f"{wl.expected_length} bp"),
        ("kept frames", f"{wl.kept_frames:,}"),
        ("tokens DNABERT-S / ESM-2", f"{wl.dnabert_tokens:,} / {wl.esm_tokens:,}"),
        ("seed", str(wl.seed) if wl.seed is not None else "none"),
        ("rounds (warm-up)", f"{run.rounds} ({run.warmup_rounds})"),
        ("suites", ", ".join(run.suites)),
        ("command", f"`{run.command}`" if run.command else "not recorded"),
    ]
    total = sum(wl.length_histogram.values())
    histogram = [
        (length, f"{count:,}", format_percent(count / total) if total else "n/a")
        for length, count in wl.length_histogram.items()
    ]
    environment = [
        ("python / torch", f"{env.python} / {env.torch}"),
        ("CUDA / driver", f"{env.cuda or 'none'} / {env.driver or 'none'}"),
        (
            "GPUs",
            f"{env.gpu_count}: {', '.join(sorted(set(env.gpu_names)))}"
            if env.gpu_count
            else "none",
        ),
        ("CPU", f"{env.cpu_model} ({env.cpu_count} cores, {env.torch_threads} torch threads)"),
        ("platform", env.platform),
        ("hardware key", f"`{env.hardware_key()}`"),
        ("comparability key", f"`{results.comparability_key()}`"),
    ]
    return section(
        "Workload & Environment",
        table(("workload", "value"), workload),
        table(("read length", "reads", "share"), histogram) if histogram else None,
        table(("environment", "value"), environment),
    )


def _validity(report: ReportDocument) -> str:
    validity = report.results.validity
    if validity.valid:
        return section("Validity", "VALID: the machine was fit to measure.")
    return section("Validity", "**INVALID**: " + "; ".join(validity.reasons))


def _skipped(report: ReportDocument) -> str:
    skipped = report.results.skipped
    body = table(("suite", "reason"), sorted(skipped.items())) if skipped else "None."
    return section("Skipped Suites", body)


def _other(report: ReportDocument) -> str | None:
    others = [m for m in report.results.metrics if not m.name.startswith(KNOWN_PREFIXES)]
    notes = bullet_list(report.results.notes) if report.results.notes else None
    if not others and not notes:
        return None
    return section("Other Metrics and Notes", metrics_table(others) if others else None, notes)


SECTIONS: tuple[Section, ...] = (
    _title,
    _banner,
    _executive_summary,
    _scaling,
    _end_to_end,
    _stages,
    _roofline,
    _memory,
    _gpu,
    _equivalence,
    _regression,
    _recommendations,
    _workload_env,
    _validity,
    _skipped,
    _other,
)
