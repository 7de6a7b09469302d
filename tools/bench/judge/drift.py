"""The stored numbers beside a side-by-side verdict: drift against the stored run of its day.

``virnucpro benchmark --quick`` judges the checkout against a reference commit side by side
(paired; the gate). The stored baseline of this hardware and workload is still compared, with
the stored check and the run history (:func:`tools.bench.judge.stored.check_regression`), and
shown as drift: "drift against the stored run of 2026-11-24: total time +43.1%". It never
changes the side-by-side verdict: a stored run of another day measures that day's machine as
much as the code, while the paired rounds measure both commits on today's machine. The lines
say how the total time was judged: against the history (enough runs from enough days), or on
the stored run alone (not a verdict).
"""

from __future__ import annotations

from dataclasses import dataclass

from tools.bench.history.baseline import BaselineRecord
from tools.bench.judge.history_noise import RunHistory, worse_change
from tools.bench.judge.stored import check_regression, key_differences, stored_day
from tools.bench.report.formatting import format_change, format_quantity
from tools.bench.thresholds import MIN_HISTORY_DAYS, MIN_HISTORY_RUNS, Thresholds
from tools.bench.verdict import Verdict
from virnucpro.bench.metric_names import TOTAL_TIME_METRIC
from virnucpro.bench.schema import ResultsDocument

NOT_A_VERDICT = (
    "not a verdict: a stored run measures its day's machine as much as the code "
    f"(a stored number can fail only against {MIN_HISTORY_RUNS} comparable runs of the history "
    f"from {MIN_HISTORY_DAYS} or more days)"
)


@dataclass(frozen=True)
class Drift:
    """The stored check of a run, and the lines that show it as drift."""

    verdict: Verdict | None  # None: nothing comparable was stored
    lines: tuple[str, ...]


def stored_run_words(record: BaselineRecord) -> str:
    """'the stored run of 2026-11-24 (run 2026..., commit 2b69376c049f)'."""
    commit = (record.results.environment.git_commit or "unknown commit")[:12]
    return (
        f"the stored run of {stored_day(record.results)} (run {record.source_run_id}, "
        f"commit {commit})"
    )


def drift_against_stored(
    doc: ResultsDocument,
    record: BaselineRecord | None,
    *,
    thresholds: Thresholds,
    history: RunHistory | None,
) -> Drift:
    """``doc`` against the stored run ``record`` (and the history), shown as drift."""
    if record is None:
        return Drift(None, ("drift: no stored baseline for this hardware and workload",))
    differences = key_differences(doc, record.results)
    if differences:
        why = f"the stored run is not comparable (different {', '.join(differences)})"
        return Drift(None, (f"drift: not shown, {why}",))
    verdict = check_regression(
        doc,
        record.results,
        thresholds=thresholds,
        baseline_label=f"{record.source_run_id} ({record.path})",
        history=history,
    )
    head = f"drift against {stored_run_words(record)}"
    now, stored = doc.metric(TOTAL_TIME_METRIC), record.results.metric(TOTAL_TIME_METRIC)
    if now is None or stored is None or not now.median or not stored.median:
        return Drift(verdict, (f"{head}: the total time was not measured on both",))
    change = worse_change(now.median, stored.median, now.better)
    moved = (
        f"total time {format_change(change)} ({format_quantity(stored.median, stored.unit)} "
        f"stored, {format_quantity(now.median, now.unit)} now)"
    )
    total = next((j for j in verdict.judgements if j.name == TOTAL_TIME_METRIC), None)
    if total is not None and total.history_runs is not None:
        basis = (
            f"against {total.history_runs} runs of the history: {total.status.upper()}, "
            f"{total.reason}"
        )
    else:
        basis = NOT_A_VERDICT
    return Drift(verdict, (f"{head}: {moved}; {basis}",))
