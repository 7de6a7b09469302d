"""``run_benchmark``: suites in, one validated results document, reports and a verdict out.

A run is a list of small steps: check the options against this machine and checkout, prepare
the workload, write the suites' config file, run the pytest suites in-process (a plugin reports
each finished test to a progress sink), read back and validate the results document, judge it
against the stored baseline (or ``--compare-to``), write the reports, and only when asked append
to the history or store the run as the new baseline.

Exit codes (:class:`BenchOutcome.exit_code`): 0 pass, also when this hardware and workload have
no baseline yet; 1 regression; 2 could not judge (a suite failed, no or an invalid results
document, an invalid run, a required baseline absent, a refused baseline update). Errors in the
options are raised as :class:`~virnucpro.errors.InputError` before anything runs.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

from virnucpro.bench.options import (
    DEFAULT_BASELINE_DIR,
    DEFAULT_OUTPUT_DIR,
    BenchOptions,
    SessionConfig,
    resolve_engine,
    resolve_gpus,
    resolve_precision,
    resolve_suites,
    validate_options,
    write_session_config,
)
from virnucpro.bench.suites import (
    NullProgress,
    ProgressSink,
    SuiteRequest,
    SuiteRun,
    SuiteRunner,
    run_pytest,
)
from virnucpro.bench.workloads import prepare_workload
from virnucpro.errors import EXIT_BAD_INPUT, InputError, VirnucproError

if TYPE_CHECKING:
    from tools.bench.thresholds import Thresholds
    from tools.bench.verdict import Verdict
    from virnucpro.bench.schema import ResultsDocument

SUITES_DIR = Path("tests") / "benchmarks"
RUNS_DIR = "runs"
CONFIG_FILE = "config.json"
RESULTS_FILE = "results.json"
FAILURES_FILE = "failures.log"
NOT_A_CHECKOUT = (
    "virnucpro benchmark needs a source checkout: {missing} is missing "
    "(run it from the repository root, or install the package editable from a clone)"
)
NO_BASELINE_NOTE = "no baseline for this hardware and workload: nothing to compare with"
CANNOT_JUDGE = "could_not_judge"


# ----------------------------------------------------------------------------- records


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


# ----------------------------------------------------------------------------- checkout


def find_checkout(cwd: Path | None = None) -> Path:
    """The repository root holding ``tests/benchmarks``: beside the package, or here."""
    import virnucpro

    candidates = (Path(virnucpro.__file__).resolve().parents[1], (cwd or Path.cwd()).resolve())
    for root in candidates:
        if (root / SUITES_DIR / "conftest.py").is_file():
            return root
    raise InputError(NOT_A_CHECKOUT.format(missing=candidates[-1] / SUITES_DIR))


def _importable(root: Path) -> None:
    """The judging tools (``tools.bench``) live in the checkout: make sure they import."""
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))


def suite_files(root: Path, suites: tuple[str, ...]) -> tuple[Path, ...]:
    files = tuple(root / SUITES_DIR / f"test_{suite}.py" for suite in suites)
    missing = [f for f in files if not f.is_file()]
    if missing:
        raise InputError(NOT_A_CHECKOUT.format(missing=missing[0]))
    return files


def _anchored(options: BenchOptions, root: Path) -> BenchOptions:
    """Default folders live in the checkout, wherever the command was started."""
    changes: dict[str, Path] = {}
    if options.output_dir == DEFAULT_OUTPUT_DIR:
        changes["output_dir"] = root / DEFAULT_OUTPUT_DIR
    if options.baseline_dir == DEFAULT_BASELINE_DIR:
        changes["baseline_dir"] = root / DEFAULT_BASELINE_DIR
    return replace(options, **changes)


# ----------------------------------------------------------------------------- checks


def check_machine(options: BenchOptions) -> None:
    """Refuse what this machine cannot run: unknown preset or engine, absent GPUs, bad input."""
    from virnucpro.models.presets import PRESETS

    if options.models not in PRESETS:
        raise InputError(f"--models: unknown preset {options.models!r} ({', '.join(PRESETS)})")
    engine, _ = resolve_engine(options.engine)
    gpus = resolve_gpus(options.gpus)
    resolve_precision(engine, options.precision, f"cuda:{gpus[0]}" if gpus else "cpu")


def _check_user_input(options: BenchOptions, path: Path) -> None:
    """Read a user FASTA through the pipeline's own stages now, so a bad file fails first."""
    from virnucpro.bench.workload import workload_fingerprint

    workload_fingerprint(path.name, path, expected_length=options.expected_length)


def _thresholds(options: BenchOptions) -> Thresholds:
    from tools.bench.cli import resolve_thresholds

    return resolve_thresholds(
        file=options.thresholds, baseline_dir=options.baseline_dir, overrides={}
    )


def _check_reference(options: BenchOptions) -> None:
    if options.compare_to is not None:
        from tools.bench.baseline import read_reference

        read_reference(options.compare_to)


# ----------------------------------------------------------------------------- judging


def _cannot_judge(reasons: tuple[str, ...]) -> Verdict:
    from tools.bench.verdict import EXIT_CANNOT_JUDGE, Verdict

    return Verdict(outcome=CANNOT_JUDGE, exit_code=EXIT_CANNOT_JUDGE, reasons=reasons)


def judge_results(
    results: ResultsDocument, options: BenchOptions, thresholds: Thresholds
) -> Verdict:
    """The checker's verdict against ``--compare-to`` or the stored baseline for this run."""
    from tools.bench.cli import judge_document

    return judge_document(
        results,
        baseline_dir=options.baseline_dir,
        thresholds=thresholds,
        require_baseline=options.require_baseline,
        baseline_file=options.compare_to,
    )


def _read_results(path: Path) -> tuple[ResultsDocument | None, str | None]:
    from virnucpro.bench.schema import read_document

    if not path.is_file():
        return None, f"the suites wrote no results document ({path})"
    try:
        return read_document(path), None
    except VirnucproError as exc:
        return None, str(exc)


def _write_failures(run: SuiteRun, path: Path) -> Path | None:
    from virnucpro.atomic import atomic_write_text

    failed = [t for t in run.failed if t.details]
    if not failed:
        return None
    text = "\n\n".join(f"== {t.nodeid}\n{t.details}" for t in failed) + "\n"
    atomic_write_text(path, text)
    return path


# ----------------------------------------------------------------------------- storing


def _store(
    results: ResultsDocument, options: BenchOptions, problems: tuple[str, ...]
) -> tuple[Path | None, Path | None, tuple[str, ...]]:
    """Append to history / set the baseline when asked; refusals come back as messages."""
    from tools.bench.baseline import append_history, update_baseline

    history = baseline = None
    refusals: list[str] = []
    if (options.append_history or options.update_baseline) and problems:
        return None, None, ("not stored: the suites did not run cleanly",)
    try:
        if options.append_history:
            history = append_history(results, options.baseline_dir)
        if options.update_baseline:
            baseline = update_baseline(results, options.baseline_dir)
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
    if verdict.outcome == "regression" and not options.fail_on_regression:
        return 0
    return verdict.exit_code


# ----------------------------------------------------------------------------- the run


@dataclass(frozen=True)
class _Plan:
    options: BenchOptions
    root: Path
    request: SuiteRequest
    thresholds: Thresholds


def plan_run(options: BenchOptions, *, run_id: str, command: str, cwd: Path | None = None) -> _Plan:
    """Check everything that can be checked before running, and write the suites' config."""
    root = find_checkout(cwd)
    _importable(root)
    options = _anchored(replace(options, suites=resolve_suites(options.suites)), root)
    validate_options(options)
    files = suite_files(root, options.suites)
    check_machine(options)
    thresholds = _thresholds(options)
    _check_reference(options)
    if options.input is not None:
        _check_user_input(options, Path(options.input))
    run_dir = (options.output_dir / RUNS_DIR / run_id).resolve()
    request = SuiteRequest(
        root=root,
        suite_files=files,
        config_path=run_dir / CONFIG_FILE,
        results_path=run_dir / RESULTS_FILE,
    )
    config = SessionConfig(
        options=options, results=request.results_path, run_id=run_id, command=command
    )
    write_session_config(request.config_path, config)
    return _Plan(options=options, root=root, request=request, thresholds=thresholds)


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
    from virnucpro.bench.collector import new_run_id

    started = time.perf_counter()
    sink = progress or NullProgress()
    plan = plan_run(options, run_id=new_run_id(), command=command, cwd=cwd)
    sink.phase("preparing the workload")
    prepare_workload(plan.options)
    sink.phase("running the benchmark suites")
    run = (suite_runner or run_pytest)(plan.request, sink)
    sink.phase("judging the results")
    return _finish(plan, run, now(), started)


def _finish(plan: _Plan, run: SuiteRun, moment: datetime, started: float) -> BenchOutcome:
    from tools.bench.report import build_report, write_reports

    options, request = plan.options, plan.request
    results, read_problem = _read_results(request.results_path)
    problems = run.problems() + ((read_problem,) if read_problem else ())
    messages: list[str] = []
    failures_log = _write_failures(run, request.results_path.with_name(FAILURES_FILE))
    if failures_log:
        messages.append(f"failure details: {failures_log}")
    if problems or results is None:
        verdict = _cannot_judge(problems)
    else:
        verdict = judge_results(results, options, plan.thresholds)
    reports: tuple[Path, ...] = ()
    history = baseline = None
    refusals: tuple[str, ...] = ()
    if results is not None:
        report = build_report(results, verdict=verdict, now=moment)
        reports = write_reports(report, options.output_dir)
        history, baseline, refusals = _store(results, options, problems)
    if verdict.outcome == "no_baseline" and verdict.exit_code == 0:
        messages.append(NO_BASELINE_NOTE)
    return BenchOutcome(
        exit_code=_exit_code(verdict, options, baseline, refusals),
        outcome=verdict.outcome,
        results_path=request.results_path if results is not None else None,
        results=results,
        report_paths=reports,
        verdict=verdict,
        suite_run=run,
        baseline_written=baseline,
        history_written=history,
        messages=(*messages, *refusals),
        seconds=time.perf_counter() - started,
    )
