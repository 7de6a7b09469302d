"""``run_benchmark``: measure with :mod:`virnucpro.bench`, then judge, report and store with
``tools.bench``. This is the command layer: the only place where the two meet.

The steps: check the options (the measuring side's checks, then the thresholds file,
``--compare-to`` and ``--history``, all before anything heavy runs), run the suites and read
back the results document, judge it against ``--compare-to`` or the stored baseline (and the
between-run noise of the run history: ``--history``, else ``<output-dir>/history`` when it
exists), write the reports, and only when asked append to the history or store the run as the
new baseline. A damaged baseline or history file found while judging makes the run COULD NOT
JUDGE (exit 2) with the file named; the reports are still written.

``tools.bench`` lives in the source checkout (it is not installed): import this module only after
:func:`virnucpro.cli.benchmark.checkout_importable` put the checkout on ``sys.path``.

Exit codes (:attr:`BenchOutcome.exit_code`): 0 pass (also "no baseline" with
``--allow-no-baseline``); 1 regression; 2 could not judge (a suite failed, no or an invalid
results document, an invalid run or a busy host, no baseline, an inconclusive total time, a
refused baseline update).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from tools.bench.history.baseline import read_reference, update_baseline
from tools.bench.history.runs import HISTORY_FOLDER, add_run, entry_from_results
from tools.bench.judge.document import history_folder, judge_document, resolve_thresholds
from tools.bench.report.document import build_report, write_reports
from tools.bench.thresholds import Thresholds
from tools.bench.verdict import (
    EXIT_CANNOT_JUDGE,
    ReportDocument,
    Verdict,
    exit_code_for_regressions,
)
from virnucpro.bench.options import BenchOptions
from virnucpro.bench.records import SchemaError
from virnucpro.bench.run.collector import new_run_id
from virnucpro.bench.run.runner import RunPlan, SuiteMeasurement, measure_suites, plan_run
from virnucpro.bench.run.suites import NullProgress, ProgressSink, SuiteRun, SuiteRunner
from virnucpro.bench.schema import ResultsDocument
from virnucpro.errors import EXIT_BAD_INPUT, InputError

NO_BASELINE_NOTE = "no baseline for this hardware and workload: nothing to compare with"
CANNOT_JUDGE = "could_not_judge"


@dataclass(frozen=True)
class BenchOutcome:
    """Everything a benchmark run produced, and its exit code."""

    exit_code: int
    outcome: str  # a Verdict outcome: pass, warn, regression, could_not_judge, no_baseline
    results_path: Path | None
    results: ResultsDocument | None
    report_paths: tuple[Path, ...]
    verdict: Verdict | None
    suite_run: SuiteRun | None
    baseline_written: Path | None = None
    history_written: Path | None = None
    messages: tuple[str, ...] = ()
    seconds: float = 0.0


# ----------------------------------------------------------------------------- judging


def judging_thresholds(options: BenchOptions) -> Thresholds:
    """The thresholds of ``--thresholds`` or the baselines folder; also checks ``--compare-to``."""
    thresholds = resolve_thresholds(
        file=options.thresholds, baseline_dir=options.baseline_dir, overrides={}
    )
    if options.compare_to is not None:
        read_reference(options.compare_to)
    return thresholds


def judging_history(options: BenchOptions) -> Path | None:
    """The run history to judge with (``--history``, else ``<output-dir>/history`` if present)."""
    default = Path(options.output_dir) / HISTORY_FOLDER
    return history_folder(options.history_dir, default=default, use=options.use_history)


def judge_results(
    results: ResultsDocument,
    options: BenchOptions,
    thresholds: Thresholds,
    history: Path | None = None,
) -> Verdict:
    """The checker's verdict against ``--compare-to`` or the stored baseline for this run."""
    return judge_document(
        results,
        baseline_dir=options.baseline_dir,
        thresholds=thresholds,
        require_baseline=options.require_baseline,
        baseline_file=options.compare_to,
        history_dir=history,
        accept_output_change=options.accept_output_change,
    )


def _verdict(
    measured: SuiteMeasurement, options: BenchOptions, thresholds: Thresholds, history: Path | None
) -> Verdict:
    if measured.results is None or measured.problems:
        return Verdict(outcome=CANNOT_JUDGE, exit_code=EXIT_CANNOT_JUDGE, reasons=measured.problems)
    try:
        return judge_results(measured.results, options, thresholds, history)
    except SchemaError as exc:  # a damaged baseline or history: keep the measured run's reports
        return Verdict(outcome=CANNOT_JUDGE, exit_code=EXIT_CANNOT_JUDGE, reasons=(str(exc),))


# ----------------------------------------------------------------------------- storing


def _store(
    report: ReportDocument,
    options: BenchOptions,
    problems: tuple[str, ...],
    thresholds: Thresholds,
) -> tuple[Path | None, Path | None, tuple[str, ...]]:
    """Append to history / set the baseline when asked; refusals come back as messages.

    A run the host gate calls busy (``thresholds.busy_host_share``) is not set as the baseline.
    """
    history = baseline = None
    refusals: list[str] = []
    if (options.append_history or options.update_baseline) and problems:
        return None, None, ("not stored: the suites did not run cleanly",)
    try:
        if options.append_history:
            entry = entry_from_results(report.results, report=report)
            history = add_run(Path(options.output_dir) / HISTORY_FOLDER, entry).path
        if options.update_baseline:
            baseline = update_baseline(
                report.results, options.baseline_dir, busy_host_share=thresholds.busy_host_share
            )
    except InputError as exc:
        refusals.append(f"not stored: {exc}")
    return history, baseline, tuple(refusals)


def _exit_code(
    verdict: Verdict, options: BenchOptions, baseline: Path | None, refusals: tuple[str, ...]
) -> int:
    """The verdict's code; with ``--update-baseline``, whether the baseline was stored."""
    if options.update_baseline:
        return 0 if baseline is not None else EXIT_BAD_INPUT
    if refusals:
        return EXIT_BAD_INPUT
    return exit_code_for_regressions(verdict, fail_on_regression=options.fail_on_regression)


# ----------------------------------------------------------------------------- the run


def run_benchmark(
    options: BenchOptions,
    *,
    progress: ProgressSink | None = None,
    suite_runner: SuiteRunner | None = None,
    command: str = "",
    cwd: Path | None = None,
    now: Callable[[], datetime] = lambda: datetime.now(timezone.utc),
) -> BenchOutcome:
    """Run the selected suites and judge them; see the module docstring for the exit codes.

    ``suite_runner`` replaces the in-process pytest run (tests inject one that writes a
    prepared document); ``cwd`` is where to look for the checkout besides the package's own.
    """
    started = time.perf_counter()
    sink = progress or NullProgress()
    plan = plan_run(options, run_id=new_run_id(), command=command, cwd=cwd)
    thresholds = judging_thresholds(plan.options)
    history = judging_history(plan.options)
    measured = measure_suites(plan, sink, suite_runner)
    sink.phase("judging the results")
    return _finish(plan, measured, thresholds, history, now(), started)


def _finish(
    plan: RunPlan,
    measured: SuiteMeasurement,
    thresholds: Thresholds,
    history: Path | None,
    moment: datetime,
    started: float,
) -> BenchOutcome:
    options, results = plan.options, measured.results
    messages = [f"failure details: {measured.failures_log}"] if measured.failures_log else []
    verdict = _verdict(measured, options, thresholds, history)
    reports: tuple[Path, ...] = ()
    history = baseline = None
    refusals: tuple[str, ...] = ()
    if results is not None:
        report = build_report(results, verdict=verdict, now=moment)
        reports = write_reports(report, options.output_dir)
        history, baseline, refusals = _store(report, options, measured.problems, thresholds)
    if verdict.outcome == "no_baseline" and verdict.exit_code == 0:
        messages.append(NO_BASELINE_NOTE)
    return BenchOutcome(
        exit_code=_exit_code(verdict, options, baseline, refusals),
        outcome=verdict.outcome,
        results_path=plan.request.results_path if results is not None else None,
        results=results,
        report_paths=reports,
        verdict=verdict,
        suite_run=measured.suite_run,
        baseline_written=baseline,
        history_written=history,
        messages=(*messages, *refusals),
        seconds=time.perf_counter() - started,
    )
