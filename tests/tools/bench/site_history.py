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


# ----------------------------------------------------------------------------- gate health

CANARY_KEY = "runner-a/tiny-workload--canary"
PR_KEY = "runner-a/tiny-workload--pr"
CANARY_CVS = (0.05, 0.06, 0.05, 0.055, 0.05, 0.06, 0.05, 0.11, 0.12, 0.10, 0.13, 0.11)
CANARY_FAIL_AT = 9  # the one false alarm
PR_OUTCOMES = ("pass",) * 6 + ("invalid", "invalid", "inconclusive", "regression")
GATE_NOW = "2026-12-20T12:00:00+00:00"


def _gate_entry(key: str, series: str, k: int, outcome: str, cv: float, day: str) -> RunEntry:
    from tools.bench.history.runs import GateFacts

    return RunEntry(
        key=key,
        run_id=f"{series}-{k:02d}",
        created_at=f"{day}T03:17:00+00:00",
        commit=_commit(k),
        dirty=False,
        tier="quick",
        valid=True,
        outcome=outcome,  # type: ignore[arg-type]
        series=series,  # type: ignore[arg-type]
        gate=GateFacts(
            pairs=80,
            per_pair_cv=cv,
            min_detectable=2.0 * cv / 8.0 * 2.8,
            power=0.8,
            confidence=0.985,
            threshold=0.03,
            change=0.001,
        ),
    )


def gate_history() -> dict[str, list[RunEntry]]:
    """Twelve canary nights whose CV doubles over the last five (one FAIL), and eleven PR
    verdicts, one of them older than the 30-day window."""
    canary = [
        _gate_entry(
            CANARY_KEY,
            "canary",
            k,
            "regression" if k == CANARY_FAIL_AT else "pass",
            cv,
            f"2026-12-{k + 1:02d}",
        )
        for k, cv in enumerate(CANARY_CVS)
    ]
    prs = [
        _gate_entry(PR_KEY, "pr", k, outcome, 0.07, f"2026-12-{k + 5:02d}")
        for k, outcome in enumerate(PR_OUTCOMES)
    ]
    prs.append(_gate_entry(PR_KEY, "pr", 20, "invalid", 0.07, "2026-10-01"))
    return {CANARY_KEY: canary, PR_KEY: prs}


def build_gate_site(out):
    """The dashboard of :func:`known_history` and :func:`gate_history` in ``out``."""
    from datetime import datetime

    from tools.bench.site.pages import build_site

    history = known_history()
    histories = {history[0].key: history, **gate_history()}
    build_site(histories, out, source="gate health test", now=datetime.fromisoformat(GATE_NOW))
    return out
