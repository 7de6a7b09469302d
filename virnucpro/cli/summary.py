"""What ``virnucpro benchmark`` prints when it is done: the key metrics or the paired table, the
verdict in its colour, why, and the files written. Renderers only, over the outcomes that
:mod:`virnucpro.cli.bench_run` and :mod:`virnucpro.cli.ab` return.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.console import Console
from rich.table import Table

from tools.bench.report.formatting import (
    SIDE_HEADINGS,
    change_cell,
    change_heading,
    format_quantity,
    status_cell,
)
from tools.bench.report.outputs import NOT_COMPARABLE
from virnucpro.bench.metric_names import TOTAL_TIME_METRIC

if TYPE_CHECKING:
    from tools.bench.verdict import Verdict
    from virnucpro.bench.schema import ResultsDocument
    from virnucpro.cli.ab import ABOutcome
    from virnucpro.cli.bench_run import BenchOutcome

KEY_METRICS = (
    TOTAL_TIME_METRIC,
    "end_to_end.reads_per_s",
    "cold.model_load",
    "throughput.dnabert.tokens_per_s",
    "throughput.esm.tokens_per_s",
    "memory.host_peak_rss",
    "memory.cuda_peak_allocated",
    "equivalence.speedup",
    "equivalence.end_to_end_speedup",
)
SCALING_PREFIX = "scaling.efficiency."
LOG_WIDTH = 120  # columns of the summary when the output is not a terminal (CI logs)
FLAGGED = ("fail", "warn")
OUTCOME_STYLES = {
    "pass": "bold green",
    "warn": "bold yellow",
    "regression": "bold red",
    "outputs_changed": "bold red",
    "inconclusive": "bold red",
    "invalid": "bold red",
    "could_not_judge": "bold red",
    "no_baseline": "bold red",
}


def _check_status(outcome: BenchOutcome, name: str) -> str:
    verdict = outcome.verdict
    judgement = next((j for j in verdict.judgements if j.name == name), None) if verdict else None
    return status_cell(judgement).lower() if judgement else ""


def _metric_rows(outcome: BenchOutcome, results: ResultsDocument) -> list[tuple[str, ...]]:
    """(metric, median, IQR, n, check) for the key metrics this run recorded."""
    names = [*KEY_METRICS, *(m.name for m in results.metrics_with_prefix(SCALING_PREFIX))]
    rows = []
    for name in dict.fromkeys(names):
        metric = results.metric(name)
        if metric is None:
            continue
        check = _check_status(outcome, name)
        if not metric.available:
            rows.append((name, "unavailable", "", "", check))
            continue
        iqr = "" if metric.iqr is None else format_quantity(metric.iqr, metric.unit)
        median = format_quantity(metric.median, metric.unit)
        rows.append((name, median, iqr, str(len(metric.samples)), check))
    return rows


def _metrics_table(outcome: BenchOutcome, results: ResultsDocument) -> Table:
    run = results.run
    title = f"virnucpro benchmark: {run.tier} tier, {run.engine} engine, {run.device}"
    table = Table(title=title, title_justify="left")
    table.add_column("metric", no_wrap=True)
    for header in ("median", "IQR", "n"):
        table.add_column(header, justify="right", no_wrap=True)
    table.add_column("check", no_wrap=True)
    for row in _metric_rows(outcome, results):
        table.add_row(*row)
    return table


def _result_lines(results: ResultsDocument) -> list[str]:
    """Why key metrics are unavailable, what was skipped, and the run's notes."""
    lines = [
        f"{name} unavailable: {metric.reason}"
        for name in KEY_METRICS
        if (metric := results.metric(name)) is not None and not metric.available
    ]
    lines += [f"skipped {key}: {reason}" for key, reason in results.skipped.items()]
    return lines + [f"note: {note}" for note in results.notes]


def flagged_lines(verdict: Verdict) -> list[str]:
    """One line per failed or warned metric, and per slowdown passed as immaterial (under the
    floor share of the total time), each with its reason."""
    return [
        f"{j.status.upper()} {j.name}: {j.reason}"
        for j in verdict.judgements
        if j.status in FLAGGED or j.immaterial
    ]


def _outputs_lines(verdict: Verdict) -> list[str]:
    """The output check when it found the outputs the same (a change is the first reason)."""
    check = verdict.outputs
    return [check.summary()] if check is not None and check.status == "same" else []


def _verdict_lines(outcome: BenchOutcome) -> list[str]:
    verdict = outcome.verdict
    if verdict is None:
        return []
    lines = [f"against {verdict.baseline}"] if verdict.baseline else []
    return lines + flagged_lines(verdict) + list(verdict.reasons) + _outputs_lines(verdict)


def _path_lines(outcome: BenchOutcome) -> list[str]:
    lines = [f"report: {path}" for path in outcome.report_paths]
    if outcome.results_path:
        lines.append(f"results: {outcome.results_path}")
    if outcome.baseline_written:
        lines.append(f"baseline stored: {outcome.baseline_written}")
    if outcome.history_written:
        lines.append(f"history appended: {outcome.history_written}")
    return lines


def render_summary(outcome: BenchOutcome, console: Console) -> None:
    """The key metrics (median, IQR, check), the verdict and why, and the files written."""
    results = outcome.results
    if results is not None:
        console.print(_metrics_table(outcome, results))
        for line in _result_lines(results):
            console.print(f"  {line}", style="dim", highlight=False, markup=False)
    style = OUTCOME_STYLES.get(outcome.outcome, "bold")
    word = outcome.outcome.replace("_", " ").upper()
    console.print(
        f"verdict: {word} (exit {outcome.exit_code}, {outcome.seconds:.0f} s)",
        style=style,
        highlight=False,
        markup=False,
    )
    for line in [*_verdict_lines(outcome), *outcome.messages, *_path_lines(outcome)]:
        console.print(f"  {line}", highlight=False, markup=False, soft_wrap=True)


def summary_console() -> Console:
    """The console for the summary: the terminal's width, or a wide one for logs."""
    console = Console()
    if not console.is_terminal:
        console.width = LOG_WIDTH
    return console


# ----------------------------------------------------------------------------- A/B


def _judgement_rows(verdict: Verdict) -> list[tuple[str, ...]]:
    return [
        (
            j.name,
            format_quantity(j.baseline_median, j.unit),
            format_quantity(j.candidate_median, j.unit),
            change_cell(j),
            status_cell(j),
        )
        for j in verdict.judgements
    ]


def render_ab_summary(outcome: ABOutcome, console: Console) -> None:
    """The paired table (each side's median, the paired median change with its interval, worse
    positive), the verdict and why, and the files."""
    verdict = outcome.verdict
    title = f"A/B: head vs {verdict.baseline}, {len(outcome.record.rounds)} pairs"
    if verdict.outputs is not None and verdict.outputs.changed:
        title += f" (times {NOT_COMPARABLE})"
    table = Table(title=title, title_justify="left")
    change = change_heading(verdict).replace(" (", "\n(", 1)  # two lines: a narrow column
    for header in ("metric", *SIDE_HEADINGS["paired"], change):
        table.add_column(header, no_wrap=True, justify="left" if header == "metric" else "right")
    table.add_column("check", no_wrap=True)
    for row in _judgement_rows(verdict):
        table.add_row(*row)
    console.print(table)
    word = verdict.outcome.replace("_", " ").upper()
    console.print(
        f"verdict: {word} (exit {outcome.exit_code}, {outcome.seconds:.0f} s)",
        style=OUTCOME_STYLES.get(verdict.outcome, "bold"),
        highlight=False,
        markup=False,
    )
    lines = flagged_lines(verdict) + list(verdict.reasons) + _outputs_lines(verdict)
    lines += [f"report: {path}" for path in outcome.report_paths]
    lines.append(f"raw pairs: {outcome.pairs_path}")
    if outcome.profile is not None:
        from tools.bench.culprit.profile import profile_lines

        lines += [f"where the time went: {line}" for line in profile_lines(outcome.profile)]
        lines.append(f"profile: {outcome.profile_path}")
    for line in lines:
        console.print(f"  {line}", highlight=False, markup=False, soft_wrap=True)
