"""One answer per set of runs: ``compare`` judges an A/B run's two sides as the run judged them."""

from __future__ import annotations

import re
from datetime import datetime, timezone
from pathlib import Path

import pytest

from tests.bench.ab_records import side_documents, timed_record
from tools.bench.cli.main import main
from tools.bench.history.source import from_reports
from tools.bench.judge.paired import judge_record
from tools.bench.judge.pairing import UNPAIRED_NOTE, compare_documents, find_pairing, pairs_of
from tools.bench.report.document import build_report, write_reports
from tools.bench.site.charts import metric_figure
from tools.bench.thresholds import DEFAULT_THRESHOLDS
from virnucpro.bench.ab.document import pairs_id
from virnucpro.bench.ab.schema import ABRecord, write_record
from virnucpro.bench.metric_names import PAIRS_LABEL, TOTAL_TIME_METRIC
from virnucpro.bench.schema import ResultsDocument, write_document
from virnucpro.bench.workload.reads import make_reads, write_fasta

FIXED_NOW = datetime(2026, 12, 3, 9, 0, tzinfo=timezone.utc)


@pytest.fixture(scope="module")
def workload(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("workload")
    return write_fasta(make_reads(20, expected_length=300), folder / "reads.fa")


def _run(
    slowdown: float, workload: Path, folder: Path
) -> tuple[ABRecord, dict[str, ResultsDocument], Path]:
    """An A/B run as it is written: the raw pairs, and both sides' documents beside them."""
    record = timed_record(slowdown, seed=int(slowdown * 100) + 3)
    record = record.model_copy(update={"workload": str(workload)})
    folder.mkdir(parents=True, exist_ok=True)
    pairs_path = write_record(record, folder / "ab_pairs.json")
    sides = side_documents(record, workload, pairs=pairs_id(pairs_path))
    for side, doc in sides.items():
        write_document(doc, folder / f"results-{side}.json")
    return record, sides, pairs_path


def _run_verdict(record: ABRecord):  # type: ignore[no-untyped-def]
    outputs = record.check_outputs(accepted=False)
    return judge_record(record, thresholds=DEFAULT_THRESHOLDS, label="main (aaaa)", outputs=outputs)


@pytest.mark.parametrize(("slowdown", "outcome"), [(0.15, "regression"), (0.0, "pass")])
def test_compare_of_an_ab_run_s_sides_gives_the_run_s_verdict(
    workload: Path, tmp_path: Path, slowdown: float, outcome: str
) -> None:
    record, sides, pairs_path = _run(slowdown, workload, tmp_path / "run")
    ab = _run_verdict(record)
    assert ab.outcome == outcome
    comparison = compare_documents(
        sides["base"], sides["head"], base_label="base", base_path=tmp_path / "run" / "x.json"
    )
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
    assert comparison.verdict.design == ab.design  # the same look and level
    assert comparison.how.startswith("paired comparison: the two files are the base and head")
    assert f"judged from its raw pairs {pairs_path}" in comparison.how
    assert comparison.verdict.reasons[0] == comparison.how


def test_without_the_raw_pairs_file_the_documents_pairs_are_judged_and_it_says_so(
    workload: Path, tmp_path: Path
) -> None:
    _, sides, pairs_path = _run(0.15, workload, tmp_path / "run")
    pairs_path.unlink()
    comparison = compare_documents(sides["base"], sides["head"], base_label="base")
    assert comparison.paired and comparison.verdict.outcome == "regression"
    assert "the raw pairs file was not found" in comparison.how


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
    record, sides, _ = _run(slowdown, workload, tmp_path / "run")
    verdict = _run_verdict(record)
    base = tmp_path / "run" / "results-base.json"
    _, report = write_reports(
        build_report(sides["head"], verdict=verdict, now=FIXED_NOW), tmp_path / "reports"
    )
    assert main(["compare", str(base), str(report)]) == code == verdict.exit_code
    out = capsys.readouterr().out
    assert out.startswith("paired comparison")
    assert f"Verdict: **{word}** (exit code {code}), by the paired A/B judge" in out
    assert re.search(r"paired median change \(\+ worse\) \[[\d.]+% interval\]", out)


def test_two_different_ab_runs_are_compared_unpaired_and_it_says_so(
    workload: Path, tmp_path: Path
) -> None:
    _, first, one = _run(0.0, workload, tmp_path / "one")
    _, second, two = _run(0.15, workload, tmp_path / "two")
    comparison = compare_documents(first["head"], second["head"], base_label="first")
    ids = (pairs_id(one), pairs_id(two))
    assert not comparison.paired and comparison.verdict.mode == "stored"
    assert comparison.how.startswith(UNPAIRED_NOTE)
    assert f"two different A/B runs (pairs {ids[0]} and {ids[1]})" in comparison.how
    assert comparison.verdict.outcome != "regression"  # unpaired: never a failure by itself


def test_sides_given_the_wrong_way_round_are_named(workload: Path, tmp_path: Path) -> None:
    _, sides, path = _run(0.0, workload, tmp_path / "run")
    why = find_pairing(sides["head"], sides["base"])
    assert why == "BASE is the head side and CANDIDATE the base side: give base, head"
    assert pairs_of(sides["head"]) == (pairs_id(path), "head")


def test_plain_runs_are_not_sides(workload: Path, tmp_path: Path) -> None:
    _, sides, path = _run(0.0, workload, tmp_path / "run")
    total = sides["base"].metric(TOTAL_TIME_METRIC)
    assert total is not None and total.labels[PAIRS_LABEL] == pairs_id(path)
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
    for k, slowdown in enumerate((0.15, 0.0)):
        record, sides, _ = _run(slowdown, workload, tmp_path / f"run-{k}")
        verdict = _run_verdict(record)
        base = tmp_path / f"run-{k}" / "results-base.json"
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
