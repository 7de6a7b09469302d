"""Between-run noise from the history: which runs count, and one metric judged against them."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from tools.bench.history.baseline import storage_key
from tools.bench.history.runs import add_run, entry_from_results, history_file
from tools.bench.judge.history_noise import (
    RunHistory,
    days_of,
    earlier_runs,
    judge_against_history,
    load_run_history,
    run_medians,
)
from tools.bench.synthetic import draw_samples, synthetic_document
from tools.bench.thresholds import (
    DEFAULT_THRESHOLDS,
    MAX_HISTORY_RUNS,
    MIN_HISTORY_DAYS,
    TimeFloor,
    with_overrides,
)
from virnucpro.bench.metric_names import OTHERS_CPU_METRIC, TOTAL_TIME_METRIC
from virnucpro.bench.records import SchemaError
from virnucpro.bench.schema import Direction, Metric, ResultsDocument
from virnucpro.bench.schema import metric_from_samples as from_samples

BUSY = DEFAULT_THRESHOLDS.busy_host_share
TIGHT = (100.0, 101.0, 99.0, 100.5, 99.5, 100.2, 99.8)  # about ±0.7% between runs
DRIFTING = (100.0, 112.0, 95.0, 118.0, 104.0, 92.0, 115.0)  # about ±10% between runs
DAYS = MIN_HISTORY_DAYS  # the runs of these medians come from enough days to fail


def _metric(
    level: float,
    *,
    name: str = TOTAL_TIME_METRIC,
    unit: str = "s",
    better: Direction = "lower",
    n: int = 10,
    seed: int = 1,
) -> Metric:
    samples = draw_samples(np.random.default_rng(seed), level=level, noise=0.01, count=n)
    return from_samples(name, samples, unit=unit, better=better)


def _doc(level: float, run_id: str, **fields: str) -> ResultsDocument:
    return synthetic_document([_metric(level)], run_id=run_id, **fields)


def _history(levels: Sequence[float], **fields: str) -> RunHistory:
    runs = tuple(entry_from_results(_doc(v, f"h{i}", **fields)) for i, v in enumerate(levels))
    return RunHistory(runs, "history.jsonl")


def _judge(level: float, medians: Sequence[float], **options: object) -> tuple[str, str]:
    judged = judge_against_history(
        _metric(level, **options),  # type: ignore[arg-type]
        medians,
        days=DAYS,
        thresholds=DEFAULT_THRESHOLDS,
    )
    assert judged is not None
    return judged.judgement.status, judged.judgement.reason


# ----------------------------------------------------------------------------- which runs


def test_earlier_runs_keep_the_candidate_s_key_and_leave_out_the_candidate() -> None:
    mine = _history([100.0, 101.0])
    other = _history([150.0], cpu_model="another-cpu")
    itself = entry_from_results(_doc(100.0, "cand"))
    history = RunHistory((*mine.runs, *other.runs, itself), "history.jsonl")
    kept = earlier_runs(history, _doc(100.0, "cand"), busy_share=BUSY)
    assert [e.run_id for e in kept] == ["h0", "h1"]
    assert all(e.key == storage_key(_doc(100.0, "cand")) for e in kept)


def test_earlier_runs_leave_out_invalid_busy_and_later_runs() -> None:
    good = entry_from_results(_doc(100.0, "good"))
    invalid = entry_from_results(_doc(100.0, "bad", invalid_reason="GPU throttled"))
    judged_busy = good.model_copy(update={"run_id": "judged-busy", "outcome": "invalid"})
    shares = from_samples(OTHERS_CPU_METRIC, [0.6] * 5, unit="ratio", better="none")
    busy = entry_from_results(synthetic_document([_metric(100.0), shares], run_id="busy"))
    quiet = shares.model_copy(update={"samples": (0.1,) * 5, "median": 0.1})
    calm = entry_from_results(synthetic_document([_metric(100.0), quiet], run_id="calm"))
    later = good.model_copy(update={"run_id": "later", "created_at": "2030-01-01T00:00:00+00:00"})
    history = RunHistory((good, invalid, judged_busy, busy, calm, later), "history.jsonl")
    kept = earlier_runs(history, _doc(100.0, "cand"), busy_share=BUSY)
    assert [e.run_id for e in kept] == ["good", "calm"]


def test_run_medians_take_the_most_recent_runs_that_measured_the_metric_alike() -> None:
    levels = [float(100 + i) for i in range(MAX_HISTORY_RUNS + 3)]
    runs = list(_history(levels).runs)
    other_unit = entry_from_results(synthetic_document([_metric(5.0, unit="ms")], run_id="ms"))
    without = entry_from_results(synthetic_document([_metric(5.0, name="x")], run_id="none"))
    medians = run_medians([*runs, other_unit, without], _metric(100.0))
    assert len(medians) == MAX_HISTORY_RUNS
    expected = [e.metric(TOTAL_TIME_METRIC).median for e in runs[-MAX_HISTORY_RUNS:]]  # type: ignore[union-attr]
    assert list(medians) == expected


def test_run_medians_come_from_runs_with_no_more_rounds_than_the_candidate() -> None:
    thorough = _history([100.0, 101.0, 99.0]).runs  # ten rounds each
    once = tuple(
        entry_from_results(
            synthetic_document(
                [from_samples("cold.model_load", [level], unit="s", better="lower")],
                run_id=f"c{i}",
            )
        )
        for i, level in enumerate((2.0, 2.2, 1.9))
    )
    assert run_medians(thorough, _metric(100.0, n=3)) == ()
    assert len(run_medians(thorough, _metric(100.0, n=10))) == 3
    cold = from_samples("cold.model_load", [2.1], unit="s", better="lower")
    assert run_medians(once, cold) == (2.0, 2.2, 1.9)
    judged = judge_against_history(
        cold, run_medians(once, cold), days=DAYS, thresholds=DEFAULT_THRESHOLDS
    )
    assert judged is not None and judged.judgement.status == "inconclusive"  # ±7% runs, 3 of them


# ----------------------------------------------------------------------------- one metric


def test_a_real_thirty_percent_slowdown_against_a_tight_history_fails() -> None:
    status, reason = _judge(130.0, TIGHT)
    assert status == "fail"
    assert "against 7 earlier runs" in reason and "between-run noise ±0.7%" in reason
    assert "outside their 95% prediction interval" in reason


def test_an_unchanged_run_against_a_tight_history_passes() -> None:
    status, reason = _judge(100.3, TIGHT)
    assert status == "pass"
    assert "between-run noise" in reason


def test_a_move_within_a_drifting_history_is_inconclusive_not_a_failure() -> None:
    status, reason = _judge(118.0, DRIFTING)
    assert status == "inconclusive"
    assert "inside their 95% prediction interval" in reason
    assert "between-run noise ±10.1%" in reason and "prediction interval -22.3% to +28.7%" in reason


def test_an_unchanged_run_in_a_drifting_history_cannot_pass_either() -> None:
    status, reason = _judge(104.0, DRIFTING)
    assert status == "inconclusive"
    assert "beyond the threshold" in reason


def test_the_numbers_are_the_prediction_interval_s() -> None:
    judged = judge_against_history(_metric(130.0), TIGHT, days=DAYS, thresholds=DEFAULT_THRESHOLDS)
    assert judged is not None
    judgement, interval = judged.judgement, judged.interval
    centre = float(np.mean(np.log(TIGHT)))
    assert judgement.baseline_median == pytest.approx(math.exp(centre))
    assert judgement.change == pytest.approx(judgement.candidate_median / math.exp(centre) - 1)
    assert judgement.interval_low == pytest.approx(
        judgement.candidate_median / interval.high - 1  # type: ignore[operator]
    )
    assert judgement.threshold == DEFAULT_THRESHOLDS.fail_slowdown
    assert judgement.p_value is None  # no p-value was computed: none is shown
    assert judgement.history_runs == len(TIGHT)


def test_higher_is_better_metrics_are_turned_so_that_worse_is_positive() -> None:
    slow = _metric(70.0, name="end_to_end.reads_per_s", unit="reads/s", better="higher")
    judged = judge_against_history(slow, TIGHT, days=DAYS, thresholds=DEFAULT_THRESHOLDS)
    assert judged is not None
    assert judged.judgement.status == "warn"  # not a time: beyond its threshold it warns
    assert judged.judgement.change == pytest.approx(0.30, abs=0.01)  # (100 - 70) / 100
    fast = _metric(130.0, name="end_to_end.reads_per_s", unit="reads/s", better="higher")
    judged = judge_against_history(fast, TIGHT, days=DAYS, thresholds=DEFAULT_THRESHOLDS)
    assert judged is not None and judged.judgement.status == "improved"


@pytest.mark.parametrize(("drop", "warns"), [(4.8, False), (5.6, True)])
def test_a_threshold_in_points_is_judged_in_points(drop: float, warns: bool) -> None:
    history = (80.0, 80.1, 79.9, 80.05, 79.95)
    util = from_samples("gpu.utilization", [80.0 - drop] * 10, unit="%", better="higher")
    judged = judge_against_history(util, history, days=DAYS, thresholds=DEFAULT_THRESHOLDS)
    assert judged is not None
    assert (judged.judgement.status == "warn") is warns
    assert f"{drop:g} points worse (threshold 5 points)" in judged.judgement.reason


def test_a_stage_beyond_the_threshold_warns_only_the_total_time_fails() -> None:
    stage = _metric(130.0, name="stage.esm.time")
    judged = judge_against_history(stage, TIGHT, days=DAYS, thresholds=DEFAULT_THRESHOLDS)
    assert judged is not None and judged.judgement.status == "warn"
    assert _judge(130.0, TIGHT)[0] == "fail"


def test_runs_of_one_day_report_a_slowdown_as_drift_never_a_failure() -> None:
    """Issue 17: a stored-number verdict fails only with runs from two or more days."""
    judged = judge_against_history(_metric(130.0), TIGHT, days=1, thresholds=DEFAULT_THRESHOLDS)
    assert judged is not None
    assert judged.judgement.status == "inconclusive"
    assert "outside their 95% prediction interval" in judged.judgement.reason
    assert "drift, not a failure: the 7 runs are from 1 day(s)" in judged.judgement.reason
    passing = judge_against_history(_metric(100.3), TIGHT, days=1, thresholds=DEFAULT_THRESHOLDS)
    assert passing is not None and passing.judgement.status == "pass"


def test_days_of_counts_utc_dates() -> None:
    runs = _history([100.0, 101.0, 99.0]).runs
    moments = ("2026-11-29T23:30:00-02:00", "2026-11-30T01:00:00+00:00", "not a time")
    dated = [e.model_copy(update={"created_at": t}) for e, t in zip(runs, moments, strict=True)]
    assert days_of(dated) == 1  # the first is 01:30 UTC on the 30th
    assert days_of([*dated, runs[0].model_copy(update={"created_at": "2026-12-01T09:00:00"})]) == 2


def test_a_small_stage_slowing_down_is_immaterial() -> None:
    stage = _metric(1.3, name="stage.write.time")
    judged = judge_against_history(
        stage,
        [v / 100 for v in TIGHT],
        days=DAYS,
        thresholds=DEFAULT_THRESHOLDS,
        floor=TimeFloor(seconds=2.0, share=0.02),
    )
    assert judged is not None and judged.judgement.status == "pass"
    assert "immaterial: under 2% of total time (2 s)" in judged.judgement.reason
    assert judged.judgement.immaterial


def test_the_interval_follows_alpha() -> None:
    strict = with_overrides(DEFAULT_THRESHOLDS, alpha=0.01)
    judged = judge_against_history(_metric(118.0), DRIFTING, days=DAYS, thresholds=strict)
    assert judged is not None and judged.interval.confidence == pytest.approx(0.99)
    assert "99% prediction interval" in judged.judgement.reason


@pytest.mark.parametrize(
    ("metric", "medians"),
    [
        (_metric(100.0), (100.0, 101.0)),  # too few runs
        (_metric(100.0), (100.0, 0.0, 101.0)),  # a median with no log
        (_metric(100.0, better="none"), TIGHT),  # no direction
    ],
)
def test_the_history_declines_what_it_cannot_judge(
    metric: Metric, medians: Sequence[float]
) -> None:
    assert judge_against_history(metric, medians, days=DAYS, thresholds=DEFAULT_THRESHOLDS) is None


# ----------------------------------------------------------------------------- the file


def test_load_run_history_reads_the_candidate_s_file(tmp_path: Path) -> None:
    cand = _doc(100.0, "cand")
    assert load_run_history(tmp_path, cand).runs == ()
    for entry in _history(TIGHT).runs:
        add_run(tmp_path, entry)
    loaded = load_run_history(tmp_path, cand)
    assert [e.run_id for e in loaded.runs] == [f"h{i}" for i in range(len(TIGHT))]
    assert loaded.source == str(history_file(tmp_path, storage_key(cand)))


def test_a_damaged_history_file_is_one_schema_error(tmp_path: Path) -> None:
    cand = _doc(100.0, "cand")
    path = history_file(tmp_path, storage_key(cand))
    path.parent.mkdir(parents=True)
    path.write_text('{"kind": "virnucpro-benchmark-history", "history_version": 1\n')
    with pytest.raises(SchemaError, match="not valid JSON"):
        load_run_history(tmp_path, cand)
