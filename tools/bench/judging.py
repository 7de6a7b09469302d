"""Judging one run: the thresholds to use, and its verdict against a baseline or reference.

What ``python -m tools.bench check``/``report --check`` and ``virnucpro benchmark`` call: the
thresholds come from a file, else ``<baseline_dir>/thresholds.toml``, then flag overrides; the
baseline is a given reference file (results, report or baseline record) or else the stored
baseline for the run's hardware and workload.
"""

from __future__ import annotations

from pathlib import Path

from tools.bench.baseline import (
    DEFAULT_BASELINE_DIR,
    BaselineRecord,
    find_baseline,
    read_reference,
    read_results,
)
from tools.bench.check import check_regression
from tools.bench.thresholds import (
    DEFAULT_THRESHOLDS,
    THRESHOLDS_FILE_NAME,
    Thresholds,
    load_thresholds,
    with_overrides,
)
from tools.bench.verdict import Verdict
from virnucpro.bench.schema import ResultsDocument


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


def judge_document(
    results: ResultsDocument,
    *,
    baseline_dir: Path = DEFAULT_BASELINE_DIR,
    thresholds: Thresholds = DEFAULT_THRESHOLDS,
    require_baseline: bool = True,
    baseline_file: Path | None = None,
) -> Verdict:
    """Verdict of a run against ``baseline_file``, or else its stored baseline."""
    record: BaselineRecord | None
    if baseline_file is not None:
        record = read_reference(baseline_file)
    else:
        record = find_baseline(results, baseline_dir)
    return check_regression(
        results,
        record.results if record else None,
        thresholds=thresholds,
        require_baseline=require_baseline,
        baseline_label=f"{record.source_run_id} ({record.path})" if record else None,
    )


def judge(
    results_path: Path,
    *,
    baseline_dir: Path = DEFAULT_BASELINE_DIR,
    thresholds: Thresholds = DEFAULT_THRESHOLDS,
    require_baseline: bool = True,
    baseline_file: Path | None = None,
) -> Verdict:
    """Read a results document and judge it."""
    return judge_document(
        read_results(results_path),
        baseline_dir=baseline_dir,
        thresholds=thresholds,
        require_baseline=require_baseline,
        baseline_file=baseline_file,
    )
