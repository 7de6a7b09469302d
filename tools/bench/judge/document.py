"""Judging one run: the thresholds to use, and its verdict against a baseline or reference.

What ``python -m tools.bench check``/``report --check`` and ``virnucpro benchmark`` call: the
thresholds come from a file, else ``<baseline_dir>/thresholds.toml``, then flag overrides; the
baseline is a given reference file (results, report or baseline record) or else the stored
baseline for the run's hardware and workload. The run history, when there is one, measures the
between-run noise (:mod:`tools.bench.judge.history_noise`): a folder named with ``--history``, else
the
default folder when it exists (``tests/reports/history``; ``virnucpro benchmark``: the
``<output-dir>/history`` its ``--append-history`` writes), none with ``--no-history``.
"""

from __future__ import annotations

from pathlib import Path

from tools.bench.history.baseline import (
    DEFAULT_BASELINE_DIR,
    BaselineRecord,
    find_baseline,
    read_reference,
    read_results,
)
from tools.bench.judge.history_noise import load_run_history
from tools.bench.judge.stored import check_regression
from tools.bench.thresholds import (
    DEFAULT_THRESHOLDS,
    THRESHOLDS_FILE_NAME,
    Thresholds,
    load_thresholds,
    with_overrides,
)
from tools.bench.verdict import Verdict
from virnucpro.bench.schema import ResultsDocument
from virnucpro.errors import InputError

HISTORY_FOLDER_HINT = "a history folder holds <hardware_key>/<slug>.jsonl files"


def resolve_thresholds(
    *, file: Path | None, baseline_dir: Path, overrides: dict[str, float | int | None]
) -> Thresholds:
    """Thresholds from ``file``, else ``<baseline_dir>/thresholds.toml`` if present, then flags."""
    default_file = Path(baseline_dir) / THRESHOLDS_FILE_NAME
    if file is not None:
        base = load_thresholds(file)
    elif default_file.is_file():
        base = load_thresholds(default_file)
    else:
        base = DEFAULT_THRESHOLDS
    return with_overrides(base, **overrides)


def history_folder(given: Path | None, *, default: Path, use: bool = True) -> Path | None:
    """The run history to judge with: ``given`` (it must be a folder), else ``default`` when it
    is one; None when ``use`` is off (``--no-history``) or there is none."""
    if not use:
        if given is not None:
            raise InputError("--history and --no-history disagree: give one of them")
        return None
    if given is not None:
        if not Path(given).is_dir():
            raise InputError(f"--history {given}: no such folder ({HISTORY_FOLDER_HINT})")
        return Path(given)
    return Path(default) if Path(default).is_dir() else None


def judge_document(
    results: ResultsDocument,
    *,
    baseline_dir: Path = DEFAULT_BASELINE_DIR,
    thresholds: Thresholds = DEFAULT_THRESHOLDS,
    require_baseline: bool = True,
    baseline_file: Path | None = None,
    history_dir: Path | None = None,
    accept_output_change: bool = False,
) -> Verdict:
    """Verdict of a run against ``baseline_file``, or else its stored baseline; with the run
    history in ``history_dir``, metrics it measured often enough are judged against its
    between-run noise; outputs that differ from the baseline's are OUTPUTS CHANGED unless
    ``accept_output_change``. A damaged history file is a one-line SchemaError, as a damaged
    baseline."""
    record: BaselineRecord | None
    if baseline_file is not None:
        record = read_reference(baseline_file)
    else:
        record = find_baseline(results, baseline_dir)
    history = load_run_history(history_dir, results) if history_dir is not None else None
    return check_regression(
        results,
        record.results if record else None,
        thresholds=thresholds,
        require_baseline=require_baseline,
        baseline_label=f"{record.source_run_id} ({record.path})" if record else None,
        history=history,
        accept_output_change=accept_output_change,
    )


def judge(
    results_path: Path,
    *,
    baseline_dir: Path = DEFAULT_BASELINE_DIR,
    thresholds: Thresholds = DEFAULT_THRESHOLDS,
    require_baseline: bool = True,
    baseline_file: Path | None = None,
    history_dir: Path | None = None,
) -> Verdict:
    """Read a results document and judge it."""
    return judge_document(
        read_results(results_path),
        baseline_dir=baseline_dir,
        thresholds=thresholds,
        require_baseline=require_baseline,
        baseline_file=baseline_file,
        history_dir=history_dir,
    )
