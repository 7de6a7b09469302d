"""``run_benchmark``: exit codes, reports and baselines around a stubbed suite run."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from tests.bench.output_records import ROWS, flip, same_rounds
from tools.bench.history.baseline import update_baseline
from tools.bench.history.runs import add_run, entry_from_results
from tools.bench.synthetic import draw_samples, synthetic_document
from virnucpro.bench.metric_names import TOTAL_TIME_METRIC
from virnucpro.bench.options import BenchOptions, read_session_config
from virnucpro.bench.run.runner import FAILURES_FILE
from virnucpro.bench.run.suites import NullProgress, ProgressSink, SuiteRequest, SuiteRun, SuiteTest
from virnucpro.bench.schema import (
    ResultsDocument,
    metric_from_samples,
    write_document,
)
from virnucpro.cli.bench_run import NO_BASELINE_NOTE, BenchOutcome, run_benchmark
from virnucpro.errors import InputError

FAILED_TEST = "tests/benchmarks/test_end_to_end.py::test_rounds"


def _doc(
    level: float, *, seed: int, run_id: str = "run", invalid: str | None = None
) -> ResultsDocument:
    samples = draw_samples(np.random.default_rng(seed), level=level, noise=0.01, count=12)
    metric = metric_from_samples(TOTAL_TIME_METRIC, samples, unit="s", better="lower")
    return synthetic_document([metric], run_id=run_id, invalid_reason=invalid)


class FakeSuites:
    """Stands in for the pytest run: writes a prepared document and reports a prepared run."""

    def __init__(self, doc: ResultsDocument | None, run: SuiteRun | None = None) -> None:
        self.doc = doc
        self.run = run or SuiteRun(0, (SuiteTest(FAILED_TEST, "passed"),))
        self.requests: list[SuiteRequest] = []

    def __call__(self, request: SuiteRequest, progress: ProgressSink) -> SuiteRun:
        self.requests.append(request)
        progress.collected(len(self.run.tests))
        for test in self.run.tests:
            progress.finished(test.nodeid, test.outcome)
        if self.doc is not None:
            write_document(self.doc, request.results_path)
        return self.run


@pytest.fixture
def options(bench_options: BenchOptions) -> BenchOptions:
    return bench_options


def _run(options: BenchOptions, fake: FakeSuites, **changes: object) -> BenchOutcome:
    return run_benchmark(replace(options, **changes), suite_runner=fake, progress=NullProgress())


def _store_baseline(options: BenchOptions) -> None:
    update_baseline(_doc(100.0, seed=1, run_id="base"), options.baseline_dir)


def test_allowed_no_baseline_passes_and_writes_reports(options: BenchOptions) -> None:
    suites = FakeSuites(_doc(100.0, seed=2))
    outcome = _run(options, suites, require_baseline=False)
    assert (outcome.exit_code, outcome.outcome) == (0, "no_baseline")
    assert NO_BASELINE_NOTE in outcome.messages
    md, js = outcome.report_paths
    assert md.suffix == ".md" and md.is_file() and md.parent == options.output_dir
    assert json.loads(js.read_text())["kind"] == "virnucpro-benchmark-report"
    assert outcome.results_path is not None and outcome.results_path.is_file()
    config = read_session_config(suites.requests[0].config_path)
    assert config.options.suites == ("end_to_end",)
    assert config.results == suites.requests[0].results_path


def test_pass_against_the_stored_baseline(options: BenchOptions) -> None:
    _store_baseline(options)
    outcome = _run(options, FakeSuites(_doc(100.0, seed=2)))
    assert (outcome.exit_code, outcome.outcome) == (0, "pass")
    assert outcome.verdict is not None and "base" in (outcome.verdict.baseline or "")


def test_regression_exits_1(options: BenchOptions) -> None:
    _store_baseline(options)
    outcome = _run(options, FakeSuites(_doc(130.0, seed=3)))
    assert (outcome.exit_code, outcome.outcome) == (1, "regression")
    assert outcome.verdict is not None and outcome.verdict.failures[0].name == TOTAL_TIME_METRIC


def test_advisory_gate_reports_a_regression_but_exits_0(options: BenchOptions) -> None:
    _store_baseline(options)
    outcome = _run(options, FakeSuites(_doc(130.0, seed=3)), fail_on_regression=False)
    assert (outcome.exit_code, outcome.outcome) == (0, "regression")
    md = outcome.report_paths[0].read_text()
    assert "regression" in md.lower()


def test_no_baseline_exits_2_by_default(options: BenchOptions) -> None:
    outcome = _run(options, FakeSuites(_doc(100.0, seed=2)))
    assert (outcome.exit_code, outcome.outcome) == (2, "no_baseline")


def test_failing_suite_exits_2_and_names_the_test(options: BenchOptions) -> None:
    failed = SuiteTest(FAILED_TEST, "failed", "AssertionError: boom", "Traceback ...\nE boom")
    suites = FakeSuites(_doc(100.0, seed=2), SuiteRun(1, (failed,)))
    outcome = _run(options, suites)
    assert (outcome.exit_code, outcome.outcome) == (2, "could_not_judge")
    assert outcome.verdict is not None
    assert any(FAILED_TEST in reason for reason in outcome.verdict.reasons)
    log = suites.requests[0].results_path.with_name(FAILURES_FILE)
    assert "E boom" in log.read_text()
    assert len(outcome.report_paths) == 2  # the partial document is still reported


def test_no_results_document_exits_2(options: BenchOptions) -> None:
    outcome = _run(options, FakeSuites(None))
    assert (outcome.exit_code, outcome.outcome) == (2, "could_not_judge")
    assert outcome.report_paths == () and outcome.results is None


def test_invalid_run_is_not_judged_nor_stored(options: BenchOptions) -> None:
    doc = _doc(100.0, seed=2, invalid="GPU 0 throttled")
    outcome = _run(options, FakeSuites(doc), update_baseline=True)
    assert outcome.exit_code == 2
    assert outcome.baseline_written is None
    assert any("not stored" in m for m in outcome.messages)
    assert not list(options.baseline_dir.rglob("*.json"))


def test_update_baseline_stores_even_after_a_regression(options: BenchOptions) -> None:
    _store_baseline(options)
    outcome = _run(options, FakeSuites(_doc(130.0, seed=3, run_id="new")), update_baseline=True)
    assert outcome.outcome == "regression"  # against the previous baseline
    assert outcome.exit_code == 0 and outcome.baseline_written is not None
    assert json.loads(outcome.baseline_written.read_text())["source_run_id"] == "new"


def test_history_only_when_asked(options: BenchOptions) -> None:
    assert _run(options, FakeSuites(_doc(100.0, seed=2))).history_written is None
    outcome = _run(options, FakeSuites(_doc(100.0, seed=2)), append_history=True)
    assert outcome.history_written is not None
    assert len(outcome.history_written.read_text().splitlines()) == 1
    assert outcome.history_written.is_relative_to(options.output_dir / "history")
    assert not outcome.history_written.is_relative_to(options.baseline_dir)


DRIFTING_RUNS = (100.0, 112.0, 95.0, 118.0, 104.0, 92.0, 115.0)  # about ±10% between runs


def _write_history(folder: Path) -> Path:
    for i, level in enumerate(DRIFTING_RUNS):
        add_run(folder, entry_from_results(_doc(level, seed=20 + i, run_id=f"h{i}")))
    return folder


def test_the_output_dir_history_measures_the_between_run_noise(options: BenchOptions) -> None:
    _store_baseline(options)
    assert _run(options, FakeSuites(_doc(120.0, seed=3))).outcome == "regression"
    _write_history(options.output_dir / "history")
    outcome = _run(options, FakeSuites(_doc(120.0, seed=3)))
    assert (outcome.exit_code, outcome.outcome) == (2, "inconclusive")
    assert outcome.verdict is not None
    assert any("between-run noise from 7 runs" in r for r in outcome.verdict.reasons)
    alone = _run(options, FakeSuites(_doc(120.0, seed=3)), use_history=False)
    assert (alone.exit_code, alone.outcome) == (1, "regression")


def test_a_history_named_elsewhere_is_used(options: BenchOptions, tmp_path: Path) -> None:
    _store_baseline(options)
    history = _write_history(tmp_path / "elsewhere")
    outcome = _run(options, FakeSuites(_doc(120.0, seed=3)), history_dir=history)
    assert outcome.outcome == "inconclusive"
    assert outcome.verdict is not None
    assert any(str(history) in r for r in outcome.verdict.reasons)


def test_a_damaged_history_is_could_not_judge_and_the_reports_are_kept(
    options: BenchOptions,
) -> None:
    _store_baseline(options)
    history = _write_history(options.output_dir / "history")
    (damaged,) = history.glob("*/*.jsonl")
    damaged.write_text("{oops\n", encoding="utf-8")
    outcome = _run(options, FakeSuites(_doc(120.0, seed=3)))
    assert (outcome.exit_code, outcome.outcome) == (2, "could_not_judge")
    assert outcome.verdict is not None and str(damaged) in outcome.verdict.reasons[0]
    assert len(outcome.report_paths) == 2


def test_compare_to_a_previous_report(options: BenchOptions) -> None:
    first = _run(options, FakeSuites(_doc(100.0, seed=1, run_id="first")))
    report_json = first.report_paths[1]
    outcome = _run(options, FakeSuites(_doc(130.0, seed=3)), compare_to=report_json)
    assert (outcome.exit_code, outcome.outcome) == (1, "regression")


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"suites": ("nope",)}, "unknown suite"),
        ({"data_size": "huge"}, "--data-size"),
        ({"rounds": 0}, "--rounds"),
        ({"engine": "warp"}, "unknown engine"),
        ({"models": "giant"}, "unknown preset"),
        ({"input": Path("/nonexistent/reads.fa")}, "no such file"),
        ({"compare_to": Path("/nonexistent/report.json")}, "no such file"),
        ({"history_dir": Path("/nonexistent/history")}, "--history /nonexistent/history: no such"),
    ],
)
def test_bad_options_are_refused_before_running(
    options: BenchOptions, changes: dict[str, object], message: str
) -> None:
    suites = FakeSuites(_doc(100.0, seed=2))
    with pytest.raises(InputError, match=message):
        _run(options, suites, **changes)
    assert suites.requests == []


def test_a_baseline_keeps_its_outputs_and_a_run_that_changes_them_exits_1(
    options: BenchOptions,
) -> None:
    stored = _doc(100.0, seed=1, run_id="base").model_copy(update={"outputs": same_rounds()})
    path = update_baseline(stored, options.baseline_dir)
    assert ResultsDocument.model_validate(json.loads(path.read_text())["results"]).outputs
    faster = _doc(80.0, seed=2).model_copy(update={"outputs": same_rounds(flip(ROWS, 0))})
    changed = _run(options, FakeSuites(faster), fail_on_regression=False)
    assert (changed.exit_code, changed.outcome) == (1, "outputs_changed")  # advisory or not
    md = changed.report_paths[0].read_text()
    assert md.splitlines()[0] == "# VirNucPro Benchmark Report: OUTPUTS CHANGED"
    accepted = _run(options, FakeSuites(faster), accept_output_change=True)
    assert (accepted.exit_code, accepted.outcome) == (0, "pass")
    first = accepted.report_paths[0].read_text().splitlines()[0]
    assert first == "# VirNucPro Benchmark Report: outputs changed and were accepted"
