"""Side-by-side comparison: the checker's one rule per row, comparability, exit codes."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.tools.bench import make_fixtures as mf
from tools.bench.cli.main import main
from tools.bench.judge.stored import check_regression
from tools.bench.report.compare import comparability_differences, render_comparison
from tools.bench.report.formatting import status_cell
from virnucpro.bench.metric_names import TOTAL_TIME_METRIC
from virnucpro.bench.schema import (
    Direction,
    Metric,
    ResultsDocument,
    metric_from_samples,
    write_document,
)

SPREAD = (0.99, 1.0, 1.01, 0.995, 1.005, 0.998, 1.002)


def _doc(*metrics: Metric) -> ResultsDocument:
    return mf.load_fixture("gpu_run").model_copy(update={"metrics": metrics})


def _metric(name: str, centre: float, better: Direction, unit: str = "s") -> Metric:
    return metric_from_samples(name, tuple(centre * q for q in SPREAD), unit=unit, better=better)


def _compare(base: ResultsDocument, cand: ResultsDocument) -> str:
    return render_comparison(base, cand, verdict=check_regression(cand, base))


def _rows(text: str) -> dict[str, list[str]]:
    table = text.split("## All Judged Metrics")[1].split("## Regressions")[0]
    rows = [line.strip("|").split("|") for line in table.splitlines() if line.startswith("| `")]
    return {cells[0].strip().strip("`"): [c.strip() for c in cells[1:]] for cells in rows}


def test_every_row_is_the_checkers_judgement() -> None:
    base, cand = mf.load_fixture("gpu_run"), mf.load_fixture("regression_run")
    verdict = check_regression(cand, base)
    rows = _rows(render_comparison(base, cand, verdict=verdict))
    assert set(rows) == {j.name for j in verdict.judgements}
    for judgement in verdict.judgements:
        status, reason = rows[judgement.name][3:5]
        assert (status, reason) == (status_cell(judgement), judgement.reason)


def test_sections_follow_the_checker_and_one_sided_metrics_are_listed() -> None:
    base = _doc(
        _metric(TOTAL_TIME_METRIC, 10.0, "lower"),
        _metric("b.rate", 5.0, "higher"),
        _metric("old", 1.0, "lower"),
    )
    cand = _doc(
        _metric(TOTAL_TIME_METRIC, 13.0, "lower"),
        _metric("b.rate", 7.0, "higher"),
        _metric("new", 1.0, "lower"),
    )
    text = _compare(base, cand)
    headings = ["## All Judged Metrics", "## Regressions", "## Improvements", "## Unchanged"]
    headings += ["## Inconclusive"]
    assert [text.index(h) for h in headings] == sorted(text.index(h) for h in headings)
    regressions = text.split("## Regressions")[1].split("## Warnings")[0]
    improvements = text.split("## Improvements")[1].split("## Unchanged")[0]
    inconclusive = text.split("## Inconclusive")[1].split("## Not Compared")[0]
    assert "None." in regressions  # two runs measured apart: their drift never fails alone
    assert f"`{TOTAL_TIME_METRIC}`" in inconclusive and "drift against the stored run" in text
    assert "`b.rate`" in improvements and "-40.0% worse" in improvements
    assert "only in the baseline: `old`" in text and "only in the candidate: `new`" in text
    assert "Verdict: **INCONCLUSIVE** (exit code 2)" in text
    assert "change of the median (+ worse) [interval]" in text


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
    text = _compare(mf.load_fixture("cpu_run"), mf.load_fixture("gpu_run"))
    assert "**Warning: these runs are not comparable.**" in text
    assert "Verdict: **NO BASELINE**" in text
    same = _compare(mf.load_fixture("gpu_run"), mf.load_fixture("regression_run"))
    assert "not comparable" not in same


def test_invalid_side_is_flagged() -> None:
    text = _compare(mf.load_fixture("invalid_run"), mf.load_fixture("gpu_run"))
    assert "> **The baseline run is INVALID:**" in text
    assert "Verdict: **COULD NOT JUDGE** (exit code 2)" in text


@pytest.mark.parametrize(
    ("level", "code", "word"),
    [(10.0, 0, "PASS"), (13.0, 2, "INCONCLUSIVE")],
)
def test_cli_exit_code_matches_what_it_prints(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], level: float, code: int, word: str
) -> None:
    base = write_document(_doc(_metric(TOTAL_TIME_METRIC, 10.0, "lower")), tmp_path / "b.json")
    cand = write_document(_doc(_metric(TOTAL_TIME_METRIC, level, "lower")), tmp_path / "c.json")
    assert main(["compare", str(base), str(cand)]) == code
    out = capsys.readouterr().out
    assert f"Verdict: **{word}** (exit code {code})" in out


@pytest.mark.parametrize(
    ("baseline", "candidate"), [("gpu_run", "regression_run"), ("cpu_run", "gpu_run")]
)
def test_comparison_matches_snapshot(baseline: str, candidate: str) -> None:
    text = _compare(mf.load_fixture(baseline), mf.load_fixture(candidate))
    mf.assert_snapshot(f"compare_{baseline}_vs_{candidate}.md", text)
