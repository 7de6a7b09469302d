"""Where the dashboard and the trend command find runs: a data branch, a folder, or reports.

:func:`load_history` tries, unless told otherwise: the data branch of this checkout
(``benchmark-data``, or ``origin/benchmark-data``), the local history folder
(``tests/reports/history``), and finally the ``benchmark_*.json`` reports under
``tests/reports/`` (so a fresh clone with one benchmark run already has a dashboard). When none
holds a run, the error says what to run first.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from tools.bench.history.baseline import read_results
from tools.bench.history.bisects import read_bisects
from tools.bench.history.publish import (
    DEFAULT_BRANCH,
    branch_snapshot,
    local_data_ref,
    resolve_remote,
)
from tools.bench.history.runs import (
    DEFAULT_HISTORY_DIR,
    MAIN_SERIES,
    RunEntry,
    Series,
    entry_from_results,
    read_all,
)
from tools.bench.report.document import parse_report, read_report
from tools.bench.verdict import REPORT_ENVELOPE
from virnucpro.bench.bisect.schema import BisectResult, read_result
from virnucpro.bench.records import read_json_file
from virnucpro.errors import InputError

DEFAULT_REPORTS_DIR = Path("tests/reports")
REPORT_GLOB = "benchmark_*.json"
BISECT_GLOB = "bisect_*.json"  # what virnucpro benchmark --bisect writes
FIRST_STEPS = (
    "run `python -m virnucpro benchmark --quick` (it writes tests/reports/benchmark_*.json), "
    "then `python -m tools.bench publish tests/reports/benchmark_<time>.json` to keep it in the "
    "history, and run this again"
)


@dataclass(frozen=True)
class LoadedHistory:
    """Runs per history key, where they came from (in words, for pages and messages), and the
    bisections recorded beside them."""

    histories: dict[str, list[RunEntry]]
    source: str
    bisects: tuple[BisectResult, ...] = ()

    @property
    def runs(self) -> int:
        return sum(len(v) for v in self.histories.values())


def entry_from_file(path: Path, *, series: Series = MAIN_SERIES) -> RunEntry:
    """The history entry of a ``benchmark_*.json`` report (or of a bare results document) in
    ``series``; the canary and PR series need a report (their verdict is what they keep)."""
    data = read_json_file(path)
    if REPORT_ENVELOPE.names(data):
        report = parse_report(data, source=str(path))
        return entry_from_results(report.results, report=report, series=series)
    if series != MAIN_SERIES:
        raise InputError(f"{path}: the {series} series keeps verdicts; give a benchmark report")
    return entry_from_results(read_results(path))


def from_folder(folder: Path) -> LoadedHistory:
    return LoadedHistory(read_all(folder), f"history folder {folder}", read_bisects(folder))


def from_branch(remote: str, branch: str) -> LoadedHistory:
    """The history on ``branch`` of ``remote`` (a remote name of this checkout, URL or path)."""
    url = resolve_remote(remote)
    return _snapshot(url, f"refs/heads/{branch}", f"branch {branch} of {url}")


def _snapshot(url: str, ref: str, words: str) -> LoadedHistory:
    with tempfile.TemporaryDirectory(prefix="virnucpro-history-") as tmp:
        if not branch_snapshot(url, ref, Path(tmp)):
            raise InputError(f"{words}: no such branch; publish a run to it first ({FIRST_STEPS})")
        return LoadedHistory(read_all(Path(tmp)), words, read_bisects(Path(tmp)))


def from_reports(folder: Path) -> LoadedHistory:
    """Runs read from the ``benchmark_*.json`` reports under ``folder`` (any depth)."""
    histories: dict[str, list[RunEntry]] = {}
    seen: set[str] = set()
    for path in sorted(Path(folder).rglob(REPORT_GLOB)):
        report = read_report(path)
        entry = entry_from_results(report.results, report=report)
        if entry.run_id not in seen:
            seen.add(entry.run_id)
            histories.setdefault(entry.key, []).append(entry)
    bisects = tuple(read_result(p) for p in sorted(Path(folder).rglob(BISECT_GLOB)))
    return LoadedHistory(histories, f"reports under {folder} (no history published yet)", bisects)


def _first_with_runs(candidates: Iterable[LoadedHistory]) -> LoadedHistory | None:
    return next((c for c in candidates if c.runs), None)


def load_history(
    *,
    folder: Path | None = None,
    branch: str | None = None,
    remote: str | None = None,
    reports_dir: Path = DEFAULT_REPORTS_DIR,
) -> LoadedHistory:
    """Runs from the named folder or branch, else the first default source that has any."""
    if folder is not None:
        chosen = from_folder(folder)
    elif branch is not None or remote is not None:
        chosen = from_branch(remote or "origin", branch or DEFAULT_BRANCH)
    else:
        nowhere = (
            f"this checkout (no {DEFAULT_BRANCH} branch, no {DEFAULT_HISTORY_DIR}, "
            f"no reports under {reports_dir})"
        )
        chosen = _first_with_runs(_defaults(reports_dir)) or LoadedHistory({}, nowhere)
    if not chosen.runs:
        raise InputError(f"no runs in {chosen.source}: {FIRST_STEPS}")
    return chosen


def _defaults(reports_dir: Path) -> Iterable[LoadedHistory]:
    local = local_data_ref(DEFAULT_BRANCH)
    if local is not None:
        yield _snapshot(local[0], local[1], f"branch {local[1]} of this checkout")
    if DEFAULT_HISTORY_DIR.is_dir():
        yield from_folder(DEFAULT_HISTORY_DIR)
    if Path(reports_dir).is_dir():
        yield from_reports(reports_dir)
