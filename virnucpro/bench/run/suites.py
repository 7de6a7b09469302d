"""Running the benchmark suites: pytest in this process, each test reported as it finishes.

:func:`run_pytest` runs the suite files with a plugin that tells a :class:`ProgressSink` about
every test and keeps each outcome (passed, failed with its message and traceback, skipped with
its reason), so :mod:`virnucpro.bench.run.runner` can name a failing test and the CLI can show a
progress bar instead of pytest's own output.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

PYTEST_ARGS = (
    "-o",
    "addopts=",  # the project's addopts deselect benchmarks and need the terminal plugin
    "--strict-markers",
    "--import-mode=importlib",
    "-p",
    "no:terminal",  # the progress sink and the summary replace pytest's own output
    "-p",
    "no:cacheprovider",
    "-m",
    "benchmark",
)
NO_TESTS_COLLECTED = 5  # pytest.ExitCode.NO_TESTS_COLLECTED


class ProgressSink(Protocol):
    """Where the runner reports progress (the CLI: a progress bar on a terminal, lines in logs)."""

    def phase(self, text: str) -> None: ...

    def collected(self, total: int) -> None: ...

    def finished(self, nodeid: str, outcome: str) -> None: ...

    def round_done(self, done: int, total: int, median_s: float) -> None: ...


class NullProgress:
    """Progress that goes nowhere (library use, tests)."""

    def phase(self, text: str) -> None:
        del text

    def collected(self, total: int) -> None:
        del total

    def finished(self, nodeid: str, outcome: str) -> None:
        del nodeid, outcome

    def round_done(self, done: int, total: int, median_s: float) -> None:
        del done, total, median_s


@dataclass(frozen=True)
class SuiteTest:
    """One suite test: passed, failed or skipped, with a one-line message and the details."""

    nodeid: str
    outcome: str
    message: str = ""
    details: str = ""


@dataclass(frozen=True)
class SuiteRequest:
    """What a suite runner needs: the checkout, the suite files, config and results paths."""

    root: Path
    suite_files: tuple[Path, ...]
    config_path: Path
    results_path: Path


@dataclass(frozen=True)
class SuiteRun:
    """What the suites did: pytest's exit code, each test, and errors outside any test."""

    exit_code: int
    tests: tuple[SuiteTest, ...] = ()
    errors: tuple[str, ...] = ()

    @property
    def failed(self) -> tuple[SuiteTest, ...]:
        return tuple(t for t in self.tests if t.outcome == "failed")

    def problems(self) -> tuple[str, ...]:
        """One line per failing test or session error; empty when the suites ran cleanly."""
        lines = [f"suite failed: {t.nodeid}: {t.message}" for t in self.failed]
        lines += list(self.errors)
        if not lines and self.exit_code not in (0, NO_TESTS_COLLECTED):
            lines.append(f"the benchmark suites stopped (pytest exit code {self.exit_code})")
        if not lines and self.exit_code == NO_TESTS_COLLECTED:
            lines.append("no benchmark test was collected")
        return tuple(lines)


SuiteRunner = Callable[[SuiteRequest, ProgressSink], SuiteRun]


class SuiteProgressPlugin:
    """A pytest plugin: tells the progress sink about each test and keeps each outcome."""

    def __init__(self, progress: ProgressSink) -> None:
        self._progress = progress
        self._tests: dict[str, SuiteTest] = {}
        self._errors: list[str] = []

    def pytest_collection_finish(self, session: object) -> None:
        self._progress.collected(len(session.items))  # type: ignore[attr-defined]

    def pytest_collectreport(self, report: object) -> None:
        if report.failed:  # type: ignore[attr-defined]
            where = report.nodeid or "the benchmark suites"  # type: ignore[attr-defined]
            self._errors.append(f"collecting {where} failed: {_last_line(report)}")

    def pytest_runtest_logreport(self, report: object) -> None:
        nodeid = report.nodeid  # type: ignore[attr-defined]
        known = self._tests.get(nodeid)
        if report.failed:  # type: ignore[attr-defined]
            if known is None or known.outcome != "failed":
                details = _with_captured_output(report)
                self._tests[nodeid] = SuiteTest(nodeid, "failed", _last_line(report), details)
        elif report.skipped:  # type: ignore[attr-defined]
            self._tests.setdefault(nodeid, SuiteTest(nodeid, "skipped", _skip_reason(report)))
        elif report.when == "call":  # type: ignore[attr-defined]
            self._tests.setdefault(nodeid, SuiteTest(nodeid, "passed"))

    def pytest_runtest_logstart(self, nodeid: str, location: object) -> None:
        del location
        self._progress.phase(f"running {short_test_name(nodeid)}")

    def pytest_runtest_logfinish(self, nodeid: str, location: object) -> None:
        del location
        known = self._tests.get(nodeid)
        self._progress.finished(nodeid, known.outcome if known else "passed")

    def result(self, exit_code: int) -> SuiteRun:
        return SuiteRun(int(exit_code), tuple(self._tests.values()), tuple(self._errors))


def short_test_name(nodeid: str) -> str:
    """``tests/benchmarks/test_scaling.py::test_cpu_ranks`` -> ``scaling::cpu_ranks``."""
    path, _, name = nodeid.partition("::")
    return f"{Path(path).stem.removeprefix('test_')}::{name.removeprefix('test_')}"


def _with_captured_output(report: object) -> str:
    """The failure text plus what the test (and the processes it started) printed."""
    parts = [str(getattr(report, "longreprtext", ""))]
    for title, content in getattr(report, "sections", ()):
        if content.strip():
            parts.append(f"---- {title} ----\n{content.rstrip()}")
    return "\n".join(parts)


def _last_line(report: object) -> str:
    text = str(getattr(report, "longreprtext", "") or "").strip()
    errors = [line[1:].strip() for line in text.splitlines() if line.startswith("E ")]
    lines = errors or text.splitlines() or ["(no message)"]
    return lines[-1] if not errors else errors[0]


def _skip_reason(report: object) -> str:
    longrepr = getattr(report, "longrepr", None)
    text = longrepr[2] if isinstance(longrepr, tuple) else str(longrepr)
    return text.removeprefix("Skipped: ")


def run_pytest(request: SuiteRequest, progress: ProgressSink) -> SuiteRun:
    """Run the suite files with pytest in this process; each measured round goes to ``progress``."""
    import pytest

    from virnucpro.bench.measure import observing_rounds

    plugin = SuiteProgressPlugin(progress)
    args = [
        *PYTEST_ARGS,
        "--rootdir",
        str(request.root),
        "-c",
        str(request.root / "pyproject.toml"),
        "--bench-config",
        str(request.config_path),
        *(str(f) for f in request.suite_files),
    ]
    with observing_rounds(progress.round_done):
        code = pytest.main(args, plugins=[plugin])
    return plugin.result(int(code))
