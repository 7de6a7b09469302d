"""Running the suites with pytest in-process: each test's outcome and the progress sink."""

from __future__ import annotations

from pathlib import Path
from textwrap import dedent

from virnucpro.bench.run.suites import (
    SuiteRequest,
    SuiteRun,
    SuiteTest,
    run_pytest,
    short_test_name,
)


class Progress:
    """A progress sink that remembers what it was told."""

    def __init__(self) -> None:
        self.events: list[tuple[str, object]] = []

    def phase(self, text: str) -> None:
        self.events.append(("phase", text))

    def collected(self, total: int) -> None:
        self.events.append(("collected", total))

    def finished(self, nodeid: str, outcome: str) -> None:
        self.events.append(("finished", (nodeid, outcome)))

    def round_done(self, done: int, total: int, median_s: float) -> None:
        self.events.append(("round", (done, total)))


def test_short_test_name() -> None:
    assert (
        short_test_name("tests/benchmarks/test_scaling.py::test_cpu_ranks") == "scaling::cpu_ranks"
    )
    assert short_test_name("t/test_a.py::test_b[esm]") == "a::b[esm]"


def test_suite_run_problems() -> None:
    assert SuiteRun(0).problems() == ()
    assert SuiteRun(5).problems() == ("no benchmark test was collected",)
    assert "pytest exit code 3" in SuiteRun(3).problems()[0]
    failed = SuiteRun(1, (SuiteTest("t.py::x", "failed", "boom"),))
    assert failed.problems() == ("suite failed: t.py::x: boom",)


SUITE_FILE = """
import pytest

pytestmark = pytest.mark.benchmark


def test_passes():
    pass


def test_fails():
    assert 1 == 2, "numbers differ"


def test_skips():
    pytest.skip("no GPU here")
"""


def test_pytest_plugin_reports_each_test(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[tool.pytest.ini_options]\nmarkers = ["benchmark: suites"]\n'
    )
    (tmp_path / "conftest.py").write_text(
        'def pytest_addoption(parser):\n    parser.addoption("--bench-config")\n'
    )
    suite = tmp_path / "test_suite.py"
    suite.write_text(dedent(SUITE_FILE))
    request = SuiteRequest(tmp_path, (suite,), tmp_path / "config.json", tmp_path / "r.json")
    progress = Progress()
    run = run_pytest(request, progress)
    outcomes = {t.nodeid.rsplit("::", 1)[-1]: t for t in run.tests}
    assert run.exit_code == 1
    assert {name: t.outcome for name, t in outcomes.items()} == {
        "test_passes": "passed",
        "test_fails": "failed",
        "test_skips": "skipped",
    }
    assert "numbers differ" in outcomes["test_fails"].message
    assert outcomes["test_skips"].message == "no GPU here"
    assert ("collected", 3) in progress.events
    assert sum(1 for kind, _ in progress.events if kind == "finished") == 3


MEASURING_SUITE = """
import pytest

from virnucpro.bench.measure import measure

pytestmark = pytest.mark.benchmark


def test_measures():
    measure(lambda: None, rounds=3, warmup=1)
"""


def test_rounds_measured_inside_the_suites_reach_the_progress_sink(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[tool.pytest.ini_options]\nmarkers = ["benchmark: suites"]\n'
    )
    (tmp_path / "conftest.py").write_text(
        'def pytest_addoption(parser):\n    parser.addoption("--bench-config")\n'
    )
    suite = tmp_path / "test_measuring.py"
    suite.write_text(dedent(MEASURING_SUITE))
    request = SuiteRequest(tmp_path, (suite,), tmp_path / "config.json", tmp_path / "r.json")
    progress = Progress()
    assert run_pytest(request, progress).exit_code == 0
    rounds = [value for kind, value in progress.events if kind == "round"]
    assert rounds == [(1, 3), (2, 3), (3, 3)]
    assert progress.events.index(("round", (3, 3))) < next(
        i for i, (kind, _) in enumerate(progress.events) if kind == "finished"
    )
