"""A history with a known change point, one invalid run and verdicts, for the dashboard tests;
and a stored baseline for its key."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tools.bench.history.baseline import BaselineRecord
from tools.bench.history.runs import RunEntry, entry_from_results
from tools.bench.synthetic import draw_samples, synthetic_document
from virnucpro.bench.metric_names import TOTAL_TIME_METRIC
from virnucpro.bench.schema import (
    EnvironmentFingerprint,
    Validity,
    metric_from_samples,
)

TOTAL = TOTAL_TIME_METRIC
READS = "end_to_end.reads_per_s"
LEVELS = (100.0,) * 8 + (130.0,) * 4  # seconds: a 30% slowdown from run 9 on
INVALID_AT = 5  # this run (0-based) ran on a busy host: shown, left out of detection
CHANGE_AT = 8
REGRESSION_FROM = 9  # the runs from here on (the slow ones) were judged REGRESSION
STORED_LEVEL = 100.0  # the stored baseline's total time, seconds


def _commit(k: int) -> str:
    return f"{k:02d}c0ffee" + "0" * 31


def known_history() -> list[RunEntry]:
    """Thirteen runs: twelve valid (eight at 100 s, four at 130 s) and one invalid."""
    rng = np.random.default_rng(7)
    entries = []
    levels = [*LEVELS[:INVALID_AT], 180.0, *LEVELS[INVALID_AT:]]
    for k, level in enumerate(levels):
        total = draw_samples(rng, level=level, noise=0.01, count=7)
        reads = [1000.0 / s for s in total]
        doc = synthetic_document(
            [
                metric_from_samples(TOTAL, total, unit="s", better="lower"),
                metric_from_samples(READS, reads, unit="reads/s", better="higher"),
            ],
            run_id=f"run-{k:02d}",
            created_at=f"2026-11-29T{8 + k // 4:02d}:{(k % 4) * 15:02d}:00+00:00",
        )
        environment: EnvironmentFingerprint = doc.environment.model_copy(
            update={"git_commit": _commit(k), "git_dirty": False}
        )
        doc = doc.model_copy(update={"environment": environment})
        if k == INVALID_AT:
            reason = "host busy: other processes used 62% of the CPUs"
            doc = doc.model_copy(update={"validity": Validity(valid=False, reasons=(reason,))})
        outcome = "invalid" if k == INVALID_AT else "regression" if k >= REGRESSION_FROM else "pass"
        entries.append(entry_from_results(doc).model_copy(update={"outcome": outcome}))
    return entries


def stored_baseline_of(entries: list[RunEntry]) -> BaselineRecord:
    """A baseline stored for the history's key: total time 100 s, commit 0ba5e11..., a day
    before the history."""
    total = metric_from_samples(TOTAL, [STORED_LEVEL] * 7, unit="s", better="lower")
    doc = synthetic_document(
        [total], run_id="stored-run", created_at="2026-11-28T08:00:00+00:00"
    ).model_copy()
    environment = doc.environment.model_copy(update={"git_commit": "0ba5e11" + "0" * 33})
    doc = doc.model_copy(update={"environment": environment})
    assert entry_from_results(doc).key == entries[0].key
    return BaselineRecord(Path("baselines/stored.json"), doc.run.created_at, "stored-run", doc)
