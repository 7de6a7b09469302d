"""Trend analysis on synthetic histories: steps, drifts and threshold-crossing predictions."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest

from tools.bench.history.runs import RunEntry, entry_from_results
from tools.bench.history.trend import ChangePoint, analyze_history, analyze_trend, fit_line
from tools.bench.synthetic import draw_samples, synthetic_document
from virnucpro.bench.metric_names import TOTAL_TIME_METRIC
from virnucpro.bench.schema import (
    Direction,
    ResultsDocument,
    Validity,
    metric_from_samples,
    unavailable_metric,
)

NOISE = 0.01
SAMPLES = 10


def _documents(
    levels: Sequence[float], *, better: Direction = "lower", seed: int = 1
) -> list[ResultsDocument]:
    rng = np.random.default_rng(seed)
    return [
        synthetic_document(
            [
                metric_from_samples(
                    TOTAL_TIME_METRIC,
                    draw_samples(rng, level=level, noise=NOISE, count=SAMPLES),
                    unit="s",
                    better=better,
                )
            ],
            run_id=f"run-{i}",
        )
        for i, level in enumerate(levels)
    ]


def _history(
    levels: Sequence[float], *, better: Direction = "lower", seed: int = 1
) -> list[RunEntry]:
    return [entry_from_results(d) for d in _documents(levels, better=better, seed=seed)]


def detect_change_points(history: Sequence[RunEntry], metric: str) -> tuple[ChangePoint, ...]:
    report = analyze_trend(history, metric)
    assert report is not None
    return report.change_points


def test_step_is_found_at_the_right_index() -> None:
    history = _history([100.0] * 12 + [120.0] * 12)
    points = detect_change_points(history, TOTAL_TIME_METRIC)
    assert [p.index for p in points] == [12]
    assert points[0].run_id == "run-12"
    assert points[0].level_before == pytest.approx(100.0, rel=0.02)
    assert points[0].level_after == pytest.approx(120.0, rel=0.02)


def test_two_steps_are_both_found() -> None:
    history = _history([100.0] * 8 + [115.0] * 8 + [95.0] * 8)
    assert [p.index for p in detect_change_points(history, TOTAL_TIME_METRIC)] == [8, 16]


def test_flat_history_has_no_change_point_and_no_prediction() -> None:
    report = analyze_trend(_history([100.0] * 20), TOTAL_TIME_METRIC)
    assert report is not None
    assert report.change_points == ()
    assert report.predicted_crossing is None


def test_steady_ramp_is_a_slope_not_a_step() -> None:
    ramp = [100.0 + 0.5 * i for i in range(12)]
    report = analyze_trend(_history(ramp), TOTAL_TIME_METRIC)
    assert report is not None
    assert report.change_points == ()
    assert report.slope == pytest.approx(0.5, abs=0.1)
    assert report.slope_se is not None and report.slope_se < 0.1
    # start level ~100.5, threshold ~110.55, crossed when 100 + 0.5 i >= 110.55: i = 22
    assert report.threshold_level == pytest.approx(110.55, rel=0.01)
    assert report.predicted_crossing is not None
    assert abs(report.predicted_crossing - 22) <= 1
    assert report.note == "worsening"


def test_drift_after_a_flat_stretch_predicts_from_the_flat_level() -> None:
    levels = [100.0] * 10 + [100.0 + (i + 1) for i in range(8)]
    report = analyze_trend(_history(levels), TOTAL_TIME_METRIC)
    assert report is not None
    assert report.reference_level == pytest.approx(100.0, rel=0.01)
    assert report.predicted_crossing is not None
    assert abs(report.predicted_crossing - 19) <= 1


def test_improving_ramp_predicts_nothing() -> None:
    report = analyze_trend(_history([100.0 - 0.5 * i for i in range(12)]), TOTAL_TIME_METRIC)
    assert report is not None
    assert (report.predicted_crossing, report.note) == (None, "not worsening")


def test_higher_is_better_metric_worsens_downwards() -> None:
    report = analyze_trend(
        _history([100.0 - 0.5 * i for i in range(12)], better="higher"), TOTAL_TIME_METRIC
    )
    assert report is not None
    assert report.threshold_level == pytest.approx(0.9 * report.reference_level)
    assert report.predicted_crossing is not None


def test_unavailable_runs_are_left_out_of_the_series() -> None:
    history = _history([100.0] * 5)
    gap = entry_from_results(
        synthetic_document(
            [unavailable_metric(TOTAL_TIME_METRIC, unit="s", reason="crashed", better="lower")],
            run_id="gap",
        )
    )
    report = analyze_trend([*history[:2], gap, *history[2:]], TOTAL_TIME_METRIC)
    assert report is not None
    assert "gap" not in report.run_ids
    assert len(report.medians) == 5
    assert analyze_trend([gap], TOTAL_TIME_METRIC) is None


def test_fit_line_recovers_slope_and_needs_three_points() -> None:
    fit = fit_line([1.0, 3.0, 5.0, 7.0], x0=10)
    assert fit is not None
    assert (fit.slope, fit.intercept, fit.slope_se) == pytest.approx((2.0, -19.0, 0.0), abs=1e-9)
    assert fit_line([1.0, 2.0]) is None


def test_analyze_history_covers_every_metric() -> None:
    reports = analyze_history(_history([100.0] * 6))
    assert [r.metric for r in reports] == [TOTAL_TIME_METRIC]


def test_invalid_runs_are_left_out_of_the_detection() -> None:
    documents = _documents([100.0] * 8 + [125.0] + [100.0] * 3)
    busy = documents[8].model_copy(
        update={"validity": Validity(valid=False, reasons=("host busy: 51% CPU by others",))}
    )
    history = [entry_from_results(d) for d in [*documents[:8], busy, *documents[9:]]]
    report = analyze_trend(history, TOTAL_TIME_METRIC)
    assert report is not None
    assert "run-8" not in report.run_ids
    assert report.change_points == ()
    kept = analyze_trend(
        [entry_from_results(d) for d in _documents([100.0] * 8 + [125.0] * 4)], TOTAL_TIME_METRIC
    )
    assert kept is not None and [p.index for p in kept.change_points] == [8]
