"""Side-by-side comparison: direction-aware classification, comparability, rendering."""

from __future__ import annotations

import pytest

from tests.tools.bench import make_fixtures as mf
from tools.bench.compare import (
    CHANGE_THRESHOLD,
    comparability_differences,
    compare_metrics,
    identify_improvements,
    identify_regressions,
    render_comparison,
)
from virnucpro.bench.metric_names import TOTAL_TIME_METRIC
from virnucpro.bench.schema import (
    Direction,
    Metric,
    ResultsDocument,
    metric_from_samples,
    unavailable_metric,
)

QUIET = (1.0, 1.0, 1.0, 1.0, 1.0)


def _doc(*metrics: Metric) -> ResultsDocument:
    return mf.load_fixture("gpu_run").model_copy(update={"metrics": metrics})


def _metric(name: str, centre: float, better: Direction, unit: str = "s") -> Metric:
    return metric_from_samples(name, tuple(centre * q for q in QUIET), unit=unit, better=better)


def _status(base: float, cand: float, better: Direction) -> str:
    (change,) = compare_metrics(_doc(_metric("m", base, better)), _doc(_metric("m", cand, better)))
    return change.status


@pytest.mark.parametrize(
    ("base", "cand", "better", "status"),
    [
        (10.0, 12.0, "lower", "regression"),  # time up
        (10.0, 8.0, "lower", "improvement"),  # time down
        (100.0, 120.0, "higher", "improvement"),  # throughput up
        (100.0, 80.0, "higher", "regression"),  # throughput down
        (10.0, 10.0 * (1 + CHANGE_THRESHOLD / 2), "lower", "unchanged"),
        (10.0, 12.0, "none", "undirected"),
        (0.0, 0.0, "lower", "unchanged"),
        (0.0, 1.0, "lower", "undirected"),
    ],
)
def test_direction_aware_classification(
    base: float, cand: float, better: Direction, status: str
) -> None:
    assert _status(base, cand, better) == status


def test_change_within_the_iqr_is_noise() -> None:
    noisy = metric_from_samples("m", (8.0, 10.0, 12.0, 9.0, 11.0), unit="s", better="lower")
    shifted = metric_from_samples("m", (9.0, 11.0, 13.0, 10.0, 12.0), unit="s", better="lower")
    (change,) = compare_metrics(_doc(noisy), _doc(shifted))
    assert change.change == pytest.approx(0.1) and change.status == "unchanged"
    assert "noise" in change.reason


def test_unavailable_side_is_not_compared() -> None:
    gone = unavailable_metric("m", unit="B", reason="no CUDA device", better="lower")
    (change,) = compare_metrics(_doc(gone), _doc(_metric("m", 5.0, "lower", "B")))
    assert change.status == "unavailable" and change.reason == "not measured in the baseline"
    text = render_comparison(_doc(gone), _doc(_metric("m", 5.0, "lower", "B")))
    assert "`m`: unavailable (no CUDA device) -> 5 B" in text


def test_identify_regressions_and_improvements_on_fixtures() -> None:
    base, cand = mf.load_fixture("gpu_run"), mf.load_fixture("regression_run")
    worse = {c.name for c in identify_regressions(base, cand)}
    assert {TOTAL_TIME_METRIC, "stage.esm.time", "throughput.esm.tokens_per_s"} <= worse
    assert "gpu.utilization" in worse
    assert "throughput.dnabert.tokens_per_s" not in worse  # 4.8% is within the threshold
    assert identify_improvements(base, cand) == ()
    better = {c.name for c in identify_improvements(cand, base)}
    assert {TOTAL_TIME_METRIC, "throughput.esm.tokens_per_s"} <= better


def test_comparability_differences_name_the_parts() -> None:
    diffs = comparability_differences(mf.load_fixture("cpu_run"), mf.load_fixture("gpu_run"))
    text = "\n".join(diffs)
    for part in (
        "`gpu_count`: none vs 4",
        "workload:",
        "precision: float32 vs bfloat16",
        "device type: cpu vs cuda",
    ):
        assert part in text
    assert (
        comparability_differences(mf.load_fixture("gpu_run"), mf.load_fixture("regression_run"))
        == ()
    )


def test_render_warns_when_runs_are_not_comparable() -> None:
    text = render_comparison(mf.load_fixture("cpu_run"), mf.load_fixture("gpu_run"))
    assert "**Warning: these runs are not comparable.**" in text
    same = render_comparison(mf.load_fixture("gpu_run"), mf.load_fixture("regression_run"))
    assert "not comparable" not in same


def test_render_sections_and_one_sided_metrics() -> None:
    base = _doc(
        _metric("a.time", 10.0, "lower"),
        _metric("b.rate", 5.0, "higher"),
        _metric("old", 1.0, "lower"),
    )
    cand = _doc(
        _metric("a.time", 13.0, "lower"),
        _metric("b.rate", 7.0, "higher"),
        _metric("new", 1.0, "lower"),
    )
    text = render_comparison(base, cand)
    headings = ["## All Shared Metrics", "## Regressions", "## Improvements", "## Unchanged"]
    assert [text.index(h) for h in headings] == sorted(text.index(h) for h in headings)
    regressions = text.split("## Regressions")[1].split("## Improvements")[0]
    improvements = text.split("## Improvements")[1].split("## Unchanged")[0]
    assert "`a.time`" in regressions and "`b.rate`" not in regressions
    assert "`b.rate`" in improvements and "+40.0%" in improvements
    assert "only in the baseline: `old`" in text and "only in the candidate: `new`" in text


def test_render_shows_the_verdict_column() -> None:
    text = render_comparison(
        mf.load_fixture("gpu_run"), mf.load_fixture("regression_run"), verdict=mf.load_verdict()
    )
    assert "Checker verdict: **REGRESSION** (exit code 1)." in text
    row = next(line for line in text.splitlines() if line.startswith("| `gpu.utilization`"))
    assert row.rstrip(" |").endswith("warn")


def test_invalid_side_is_flagged() -> None:
    text = render_comparison(mf.load_fixture("invalid_run"), mf.load_fixture("gpu_run"))
    assert "> **The baseline run is INVALID:**" in text


@pytest.mark.parametrize(
    ("baseline", "candidate", "verdict"),
    [("gpu_run", "regression_run", True), ("cpu_run", "gpu_run", False)],
)
def test_comparison_matches_snapshot(baseline: str, candidate: str, verdict: bool) -> None:
    text = render_comparison(
        mf.load_fixture(baseline),
        mf.load_fixture(candidate),
        verdict=mf.load_verdict() if verdict else None,
    )
    mf.assert_snapshot(f"compare_{baseline}_vs_{candidate}.md", text)
