"""Measuring a benchmark run: check the options, run the suites, read back the results.

A run is a list of small steps: :func:`plan_run` checks the options against this machine and
checkout (it writes nothing, so a refused run leaves no run folder); :func:`measure_suites`
writes the suites' config file, prepares the workload, runs the pytest suites in-process (a
plugin reports each finished test to a progress sink) and reads back the results document.
Judging it, writing the reports and storing baselines are the command layer's
(:mod:`virnucpro.cli.bench_run`, with ``tools.bench``, which this package never imports).
Errors in the options are raised as :class:`~virnucpro.errors.InputError` before anything runs.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
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
from virnucpro.bench.run.suites import (
    ProgressSink,
    SuiteRequest,
    SuiteRun,
    SuiteRunner,
    run_pytest,
)
from virnucpro.bench.workload.prepare import prepare_workload
from virnucpro.errors import InputError, VirnucproError

if TYPE_CHECKING:
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


# ----------------------------------------------------------------------------- records


@dataclass(frozen=True)
class RunPlan:
    """A checked run: its options (default folders anchored in the checkout), its suite request
    and the config the suites read (written when the run starts measuring)."""

    options: BenchOptions
    root: Path
    request: SuiteRequest
    config: SessionConfig


@dataclass(frozen=True)
class SuiteMeasurement:
    """What the suites produced: the validated document (if any) and why the run is not clean."""

    results: ResultsDocument | None
    suite_run: SuiteRun
    problems: tuple[str, ...]  # empty when the suites ran cleanly and wrote a valid document
    failures_log: Path | None


# ----------------------------------------------------------------------------- checkout


def find_checkout(cwd: Path | None = None) -> Path:
    """The repository root holding ``tests/benchmarks``: beside the package, or here."""
    import virnucpro

    candidates = (Path(virnucpro.__file__).resolve().parents[1], (cwd or Path.cwd()).resolve())
    for root in candidates:
        if (root / SUITES_DIR / "conftest.py").is_file():
            return root
    raise InputError(NOT_A_CHECKOUT.format(missing=candidates[-1] / SUITES_DIR))


def suite_files(root: Path, suites: tuple[str, ...]) -> tuple[Path, ...]:
    files = tuple(root / SUITES_DIR / f"test_{suite}.py" for suite in suites)
    missing = [f for f in files if not f.is_file()]
    if missing:
        raise InputError(NOT_A_CHECKOUT.format(missing=missing[0]))
    return files


def anchored(options: BenchOptions, root: Path) -> BenchOptions:
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
    engine = resolve_engine(options.engine)
    gpus = resolve_gpus(options.gpus)
    resolve_precision(engine, options.precision, f"cuda:{gpus[0]}" if gpus else "cpu")


def _check_user_input(options: BenchOptions, path: Path) -> None:
    """Read a user FASTA through the pipeline's own stages now, so a bad file fails first."""
    from virnucpro.bench.workload.fingerprint import workload_fingerprint

    workload_fingerprint(path.name, path, expected_length=options.expected_length)


def plan_run(
    options: BenchOptions, *, run_id: str, command: str, cwd: Path | None = None
) -> RunPlan:
    """Check everything the measuring side can check before running; nothing is written yet.

    ``cwd`` is where to look for the checkout besides the package's own folder.
    """
    root = find_checkout(cwd)
    options = anchored(replace(options, suites=resolve_suites(options.suites)), root)
    validate_options(options)
    files = suite_files(root, options.suites)
    check_machine(options)
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
    return RunPlan(options=options, root=root, request=request, config=config)


# ----------------------------------------------------------------------------- measuring


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


def measure_suites(
    plan: RunPlan, progress: ProgressSink, suite_runner: SuiteRunner | None = None
) -> SuiteMeasurement:
    """Write the suites' config, prepare the workload, run the suites, read back the results.

    ``suite_runner`` replaces the in-process pytest run (tests inject one that writes a
    prepared document).
    """
    write_session_config(plan.request.config_path, plan.config)
    progress.phase("preparing the workload")
    prepare_workload(plan.options)
    progress.phase("running the benchmark suites")
    run = (suite_runner or run_pytest)(plan.request, progress)
    results, read_problem = _read_results(plan.request.results_path)
    problems = run.problems() + ((read_problem,) if read_problem else ())
    failures_log = _write_failures(run, plan.request.results_path.with_name(FAILURES_FILE))
    return SuiteMeasurement(
        results=results, suite_run=run, problems=problems, failures_log=failures_log
    )
