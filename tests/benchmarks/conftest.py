"""The benchmark suites' pytest wiring: options, the shared session fixture, skips, results.

``virnucpro benchmark`` runs these suites in-process with ``--bench-config FILE``; they also run
by hand: ``pytest -m benchmark tests/benchmarks --bench-tier quick``. The session fixture
``bench`` (a :class:`~virnucpro.bench.run.session.BenchSession`) is created by the first suite
that needs it; at session end the collected results are
built into one validated results document, written to the results path and printed. A test
that cannot run here calls ``pytest.skip(reason)``; every skip is recorded in the document's
``skipped`` map under ``<suite>.<test>`` (see :func:`pytest_runtest_makereport`).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from virnucpro.bench.options import (
    DATA_SIZES,
    TIERS,
    BenchOptions,
    SessionConfig,
    for_tier,
    read_session_config,
)
from virnucpro.bench.run.collector import ResultsCollector, new_run_id
from virnucpro.bench.run.session import BenchSession, start_session
from virnucpro.bench.run.suites import short_test_name

if TYPE_CHECKING:
    from virnucpro.bench.schema import ResultsDocument

DEFAULT_RESULTS_NAME = "results.json"
SKIPPED_PREFIX = "Skipped: "


# ----------------------------------------------------------------------------- options


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("virnucpro-benchmark", "virnucpro benchmark suites")
    group.addoption("--bench-config", type=Path, help="options file written by the runner")
    group.addoption("--bench-tier", choices=tuple(TIERS), help="tier defaults (direct use)")
    group.addoption("--bench-data-size", choices=DATA_SIZES, help="generated data size")
    group.addoption("--bench-models", help="model preset (default: the tier's)")
    group.addoption("--bench-rounds", type=int, help="measured rounds (every suite)")
    group.addoption("--bench-results", type=Path, help="where to write the results document")


def _option(config: pytest.Config, name: str) -> object:
    return config.getoption(name, default=None)


def session_config(config: pytest.Config) -> SessionConfig:
    """The runner's config file, or one built from the ``--bench-*`` options (direct use)."""
    path = _option(config, "bench_config")
    if path is not None:
        return read_session_config(Path(str(path)))
    rounds = _option(config, "bench_rounds")
    options: BenchOptions = for_tier(
        _option(config, "bench_tier"),  # type: ignore[arg-type]
        data_size=_option(config, "bench_data_size"),
        models=_option(config, "bench_models"),
        rounds=rounds,
        scaling_rounds=rounds,
    )
    results = _option(config, "bench_results") or options.output_dir / DEFAULT_RESULTS_NAME
    command = " ".join(["pytest", *config.invocation_params.args])
    return SessionConfig(
        options=options, results=Path(str(results)), run_id=new_run_id(), command=command
    )


# ----------------------------------------------------------------------------- pytest wiring


@dataclass
class BenchState:
    """Per pytest run: the collector (always), the session (once a suite asked for it)."""

    collector: ResultsCollector = field(default_factory=ResultsCollector)
    session: BenchSession | None = None
    written: Path | None = None
    document: ResultsDocument | None = None


STATE = pytest.StashKey[BenchState]()


def pytest_configure(config: pytest.Config) -> None:
    config.stash[STATE] = BenchState()


def _state(config: pytest.Config) -> BenchState:
    if STATE not in config.stash:
        config.stash[STATE] = BenchState()
    return config.stash[STATE]


@pytest.fixture(scope="session")
def bench(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[BenchSession]:
    """The shared benchmark session; the GPU sampler runs for as long as it lives."""
    state = _state(request.config)
    config = session_config(request.config)
    session = start_session(config, state.collector, tmp_path_factory.mktemp("bench"))
    state.session = session
    try:
        yield session
    finally:
        session.sampler.stop()


def skip_key(nodeid: str) -> str:
    """``tests/benchmarks/test_scaling.py::test_over_gpus`` -> ``scaling.over_gpus``."""
    return short_test_name(nodeid).replace("::", ".")


def skip_message(report: pytest.TestReport) -> str:
    longrepr = report.longrepr
    text = longrepr[2] if isinstance(longrepr, tuple) else str(longrepr)
    return text.removeprefix(SKIPPED_PREFIX)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Iterator[None] | pytest.TestReport:
    """Record every skip of a suite test, with its reason, in the results document."""
    del call
    report: pytest.TestReport = yield
    if report.skipped:
        _state(item.config).collector.skip(skip_key(report.nodeid), skip_message(report))
    return report


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Write the results document (validated) when a suite started the benchmark session."""
    del exitstatus
    state = _state(session.config)
    if state.session is None:
        return
    try:
        state.document = state.session.document()
        from virnucpro.bench.schema import write_document

        state.written = write_document(state.document, state.session.config.results)
    except Exception as exc:  # reported in one line; the run then counts as failed
        why = f"{exc.__class__.__name__}: {exc}"
        print(f"virnucpro benchmark: error: results document not written: {why}", file=sys.stderr)
        session.exitstatus = pytest.ExitCode.INTERNAL_ERROR


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Print the results document's path and what it holds."""
    state = _state(terminalreporter.config)
    doc = state.document
    if state.written is None or doc is None:
        return
    measured = sum(1 for m in doc.metrics if m.available)
    validity = "valid" if doc.validity.valid else "INVALID: " + "; ".join(doc.validity.reasons)
    terminalreporter.write_sep("-", "virnucpro benchmark results")
    terminalreporter.write_line(f"{state.written} ({os.path.getsize(state.written)} bytes)")
    terminalreporter.write_line(
        f"{len(doc.metrics)} metrics ({measured} measured), {len(doc.skipped)} skipped, "
        f"run {validity}"
    )
    for key, reason in doc.skipped.items():
        terminalreporter.write_line(f"  skipped {key}: {reason}")
