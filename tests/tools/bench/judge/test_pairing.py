"""One answer per set of runs: ``compare`` judges an A/B run's two sides as the run judged them."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pytest

from tests.bench.ab_records import ab_record, drawn_rounds, side_documents
from tools.bench.cli.main import main
from tools.bench.history.source import from_reports
from tools.bench.judge.paired import judge_record
from tools.bench.judge.pairing import UNPAIRED_NOTE, compare_documents, find_pairing, pairs_of
from tools.bench.report.document import build_report, write_reports
from tools.bench.site.charts import metric_figure
from tools.bench.thresholds import DEFAULT_THRESHOLDS
from virnucpro.bench.ab.schema import ABRecord
from virnucpro.bench.metric_names import PAIRS_LABEL, TOTAL_TIME_METRIC
from virnucpro.bench.schema import ResultsDocument, write_document
from virnucpro.bench.workload.reads import make_reads, write_fasta

FIXED_NOW = datetime(2026, 12, 3, 9, 0, tzinfo=timezone.utc)


@pytest.fixture(scope="module")
def workload(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("workload")
    return write_fasta(make_reads(20, expected_length=300), folder / "reads.fa")


def _run(
    slowdown: float, workload: Path, pairs: str
) -> tuple[ABRecord, dict[str, ResultsDocument]]:
    rounds = drawn_rounds(20, slowdown=slowdown, seed=int(slowdown * 100))
    record = ab_record(rounds, workload=str(workload))
    return record, side_documents(record, workload, pairs=pairs)


@pytest.mark.parametrize(("slowdown", "outcome"), [(0.15, "regression"), (0.0, "pass")])
def test_compare_of_an_ab_run_s_sides_gives_the_run_s_verdict(
    workload: Path, slowdown: float, outcome: str
) -> None:
    record, sides = _run(slowdown, workload, "feedc0de00000001")
    ab = judge_record(record, thresholds=DEFAULT_THRESHOLDS, label="main (aaaa)")
    assert ab.outcome == outcome
    comparison = compare_documents(sides["base"], sides["head"], base_label="base")
    assert comparison.paired and comparison.verdict.mode == "paired"
    assert (comparison.verdict.outcome, comparison.verdict.exit_code) == (outcome, ab.exit_code)
    mine = {j.name: j for j in comparison.verdict.judgements}
    for judged in ab.judgements:  # every metric, with the same change and interval
        again = mine[judged.name]
        assert (again.status, again.change, again.interval_low, again.interval_high) == (
            judged.status,
            judged.change,
            judged.interval_low,
            judged.interval_high,
        )
    assert comparison.how.startswith("paired comparison: the two files are the base and head")
    assert comparison.verdict.reasons[0] == comparison.how


@pytest.mark.parametrize(("slowdown", "code", "word"), [(0.15, 1, "REGRESSION"), (0.0, 0, "PASS")])
def test_the_command_pairs_results_base_with_the_run_s_report(
    workload: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    slowdown: float,
    code: int,
    word: str,
) -> None:
    """The A/B run writes runs/ab-*/results-base.json and benchmark_*.json (the head side)."""
    record, sides = _run(slowdown, workload, "feedc0de00000002")
    verdict = judge_record(record, thresholds=DEFAULT_THRESHOLDS, label="main (aaaa)")
    base = write_document(sides["base"], tmp_path / "results-base.json")
    _, report = write_reports(
        build_report(sides["head"], verdict=verdict, now=FIXED_NOW), tmp_path / "reports"
    )
    assert main(["compare", str(base), str(report)]) == code == verdict.exit_code
    out = capsys.readouterr().out
    assert out.startswith("paired comparison")
    assert f"Verdict: **{word}** (exit code {code}), by the paired A/B judge" in out
    assert "paired median change (+ worse) [95% interval]" in out


def test_two_different_ab_runs_are_compared_unpaired_and_it_says_so(workload: Path) -> None:
    _, first = _run(0.0, workload, "aaaaaaaaaaaaaaaa")
    _, second = _run(0.15, workload, "bbbbbbbbbbbbbbbb")
    comparison = compare_documents(first["head"], second["head"], base_label="first")
    assert not comparison.paired and comparison.verdict.mode == "stored"
    assert comparison.how.startswith(UNPAIRED_NOTE)
    assert "two different A/B runs (pairs aaaaaaaaaaaaaaaa and bbbbbbbbbbbbbbbb)" in comparison.how
    assert comparison.verdict.outcome != "regression"  # unpaired: never a failure by itself


def test_sides_given_the_wrong_way_round_are_named(workload: Path) -> None:
    _, sides = _run(0.0, workload, "cccccccccccccccc")
    why = find_pairing(sides["head"], sides["base"])
    assert why == "BASE is the head side and CANDIDATE the base side: give base, head"
    assert pairs_of(sides["head"]) == ("cccccccccccccccc", "head")


def test_plain_runs_are_not_sides(workload: Path) -> None:
    _, sides = _run(0.0, workload, "dddddddddddddddd")
    total = sides["base"].metric(TOTAL_TIME_METRIC)
    assert total is not None and total.labels[PAIRS_LABEL] == "dddddddddddddddd"
    plain = sides["base"].model_copy(
        update={
            "metrics": tuple(m.model_copy(update={"labels": {}}) for m in sides["base"].metrics)
        }
    )
    assert find_pairing(plain, sides["head"]) == "only one run is a side of an A/B run"


def test_two_ab_reports_get_the_same_verdicts_from_compare_and_on_the_dashboard(
    workload: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 17's done-when: one REGRESSION and one PASS A/B report; ``compare`` of each run's
    sides says the same, and the dashboard built from the reports marks each point so."""
    reports = tmp_path / "reports"
    expected = {}
    for k, (slowdown, pairs) in enumerate(((0.15, "1" * 16), (0.0, "2" * 16))):
        record, sides = _run(slowdown, workload, pairs)
        verdict = judge_record(record, thresholds=DEFAULT_THRESHOLDS, label="main (aaaa)")
        base = write_document(sides["base"], tmp_path / f"results-base-{k}.json")
        now = FIXED_NOW.replace(minute=k)
        _, report = write_reports(build_report(sides["head"], verdict=verdict, now=now), reports)
        assert main(["compare", str(base), str(report)]) == verdict.exit_code
        assert f"Verdict: **{verdict.outcome.upper()}**" in capsys.readouterr().out
        expected[sides["head"].run.run_id] = verdict.outcome
    assert sorted(expected.values()) == ["pass", "regression"]
    loaded = from_reports(reports)
    (runs,) = loaded.histories.values()
    assert {e.run_id: e.outcome for e in runs} == expected
    assert {e.mode for e in runs} == {"ab"}
    figure = metric_figure(runs, TOTAL_TIME_METRIC, None)
    marked = {
        trace["name"]: [row[0] for row in trace["customdata"]]
        for trace in figure["data"]
        if trace.get("customdata")
    }
    by_outcome = {outcome: run_id for run_id, outcome in expected.items()}
    assert marked == {
        "REGRESSION run": [by_outcome["regression"]],
        "PASS run": [by_outcome["pass"]],
    }
