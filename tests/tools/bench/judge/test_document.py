"""Judging a run: the thresholds in force, the history folder, and the verdict against the stored
baseline or a file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tools.bench.history.baseline import update_baseline
from tools.bench.history.runs import add_run, entry_from_results
from tools.bench.judge.document import history_folder, judge, judge_document, resolve_thresholds
from tools.bench.synthetic import draw_samples, synthetic_document
from tools.bench.thresholds import DEFAULT_THRESHOLDS, THRESHOLDS_FILE_NAME
from virnucpro.bench.metric_names import TOTAL_TIME_METRIC
from virnucpro.bench.schema import (
    ResultsDocument,
    metric_from_samples,
    write_document,
)
from virnucpro.errors import InputError


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
    assert (verdict.outcome, verdict.exit_code) == ("inconclusive", 2)  # one stored run: drift
    assert verdict.baseline is not None and verdict.baseline.startswith("base (")
    total = verdict.judgements[0]
    assert total.reason.startswith("drift against the stored run of") and total.change > 0.1


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


def test_history_folder_given_default_or_none(tmp_path: Path) -> None:
    default = tmp_path / "history"
    assert history_folder(None, default=default) is None  # no default folder yet
    default.mkdir()
    assert history_folder(None, default=default) == default
    assert history_folder(None, default=default, use=False) is None
    other = tmp_path / "other"
    with pytest.raises(InputError, match="no such folder"):
        history_folder(other, default=default)
    other.mkdir()
    assert history_folder(other, default=default) == other
    with pytest.raises(InputError, match="disagree"):
        history_folder(other, default=default, use=False)


def test_judge_document_reads_the_candidate_s_history(tmp_path: Path, store: Path) -> None:
    history = tmp_path / "history"
    for i, level in enumerate((100.0, 112.0, 95.0, 118.0, 104.0, 92.0, 115.0)):
        add_run(history, entry_from_results(_doc(level, seed=10 + i, run_id=f"h{i}")))
    slow = _doc(120.0, seed=3, run_id="slow")
    assert judge_document(slow, baseline_dir=store).judgements[0].reason.startswith("drift")
    verdict = judge_document(slow, baseline_dir=store, history_dir=history)
    assert (verdict.outcome, verdict.exit_code) == ("inconclusive", 2)
    assert any(str(history) in reason for reason in verdict.reasons)
