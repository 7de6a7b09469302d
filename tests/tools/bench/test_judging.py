"""Judging a run: the thresholds in force, and the verdict against the stored baseline or a file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tools.bench.baseline import update_baseline
from tools.bench.judging import judge, judge_document, resolve_thresholds
from tools.bench.synthetic import draw_samples, synthetic_document
from tools.bench.thresholds import DEFAULT_THRESHOLDS, THRESHOLDS_FILE_NAME
from virnucpro.bench.metric_names import TOTAL_TIME_METRIC
from virnucpro.bench.schema import (
    ResultsDocument,
    metric_from_samples,
    write_document,
)


def _doc(level: float, *, seed: int, run_id: str) -> ResultsDocument:
    samples = draw_samples(np.random.default_rng(seed), level=level, noise=0.02, count=10)
    metric = metric_from_samples(TOTAL_TIME_METRIC, samples, unit="s", better="lower")
    return synthetic_document([metric], run_id=run_id)


@pytest.fixture
def store(tmp_path: Path) -> Path:
    folder = tmp_path / "baselines"
    update_baseline(_doc(100.0, seed=1, run_id="base"), folder)
    return folder


def test_judge_reads_and_judges_against_the_stored_baseline(tmp_path: Path, store: Path) -> None:
    slow = write_document(_doc(120.0, seed=3, run_id="slow"), tmp_path / "slow.json")
    verdict = judge(slow, baseline_dir=store, thresholds=DEFAULT_THRESHOLDS, require_baseline=True)
    assert (verdict.outcome, verdict.exit_code) == ("regression", 1)
    assert verdict.baseline is not None and verdict.baseline.startswith("base (")


def test_a_given_reference_file_wins_over_the_store(tmp_path: Path, store: Path) -> None:
    reference = write_document(_doc(120.0, seed=4, run_id="ref"), tmp_path / "ref.json")
    verdict = judge_document(
        _doc(120.0, seed=5, run_id="cand"), baseline_dir=store, baseline_file=reference
    )
    assert verdict.outcome == "pass"
    assert verdict.baseline is not None and verdict.baseline.startswith("ref (")


def test_without_a_baseline_the_run_is_not_judged(tmp_path: Path) -> None:
    verdict = judge_document(
        _doc(100.0, seed=2, run_id="c"), baseline_dir=tmp_path, require_baseline=False
    )
    assert (verdict.outcome, verdict.exit_code) == ("no_baseline", 0)
    required = judge_document(_doc(100.0, seed=2, run_id="c"), baseline_dir=tmp_path)
    assert (required.outcome, required.exit_code) == ("no_baseline", 2)


def test_thresholds_file_then_store_file_then_flags(tmp_path: Path) -> None:
    assert resolve_thresholds(file=None, baseline_dir=tmp_path, overrides={}) == DEFAULT_THRESHOLDS
    (tmp_path / THRESHOLDS_FILE_NAME).write_text("fail_slowdown = 0.25\n")
    stored = resolve_thresholds(file=None, baseline_dir=tmp_path, overrides={})
    assert stored.fail_slowdown == 0.25
    flagged = resolve_thresholds(
        file=None, baseline_dir=tmp_path, overrides={"fail_slowdown": 0.3, "alpha": None}
    )
    assert flagged.fail_slowdown == 0.3 and flagged.alpha == DEFAULT_THRESHOLDS.alpha
