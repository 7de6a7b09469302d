"""The measuring runner: finding the checkout, refusing bad options, reading back the results."""

from __future__ import annotations

from pathlib import Path

import pytest

import virnucpro
from tools.bench.synthetic import synthetic_document
from virnucpro.bench.options import BenchOptions
from virnucpro.bench.run.runner import FAILURES_FILE, find_checkout, measure_suites, plan_run
from virnucpro.bench.run.suites import NullProgress, ProgressSink, SuiteRequest, SuiteRun, SuiteTest
from virnucpro.bench.schema import metric_from_samples, write_document
from virnucpro.errors import InputError

FAILED_TEST = "tests/benchmarks/test_end_to_end.py::test_rounds"


@pytest.fixture
def options(bench_options: BenchOptions) -> BenchOptions:
    return bench_options


def _suites(run: SuiteRun, *, write: bool) -> object:
    def fake(request: SuiteRequest, progress: ProgressSink) -> SuiteRun:
        if write:
            metric = metric_from_samples("a.time", [1.0, 1.1, 1.2], unit="s", better="lower")
            write_document(synthetic_document([metric]), request.results_path)
        return run

    return fake


def test_a_clean_run_is_read_back(options: BenchOptions) -> None:
    plan = plan_run(options, run_id="r1", command="test")
    assert not options.output_dir.exists()  # planning writes nothing: a refused run leaves none
    run = SuiteRun(0, (SuiteTest(FAILED_TEST, "passed"),))
    measured = measure_suites(plan, NullProgress(), _suites(run, write=True))  # type: ignore[arg-type]
    assert measured.problems == () and measured.failures_log is None
    assert measured.results is not None and measured.results.metric("a.time") is not None
    assert plan.request.config_path.is_file()


def test_a_failed_test_and_a_missing_document_are_problems(options: BenchOptions) -> None:
    plan = plan_run(options, run_id="r2", command="test")
    failed = SuiteTest(FAILED_TEST, "failed", "AssertionError: boom", "Traceback ...\nE boom")
    measured = measure_suites(plan, NullProgress(), _suites(SuiteRun(1, (failed,)), write=False))  # type: ignore[arg-type]
    assert measured.results is None
    assert any(FAILED_TEST in p for p in measured.problems)
    assert any("no results document" in p for p in measured.problems)
    assert measured.failures_log == plan.request.results_path.with_name(FAILURES_FILE)
    assert "E boom" in measured.failures_log.read_text()


def test_outside_a_checkout_says_what_is_missing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    installed = tmp_path / "site-packages" / "virnucpro" / "__init__.py"
    monkeypatch.setattr(virnucpro, "__file__", str(installed))
    with pytest.raises(InputError, match="source checkout") as caught:
        find_checkout(tmp_path)
    assert str(tmp_path / "tests" / "benchmarks") in str(caught.value)
    assert "\n" not in str(caught.value)
