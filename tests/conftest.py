"""Shared fixtures (small FASTA inputs whose frames survive: random DNA keeps almost none), and
the session check that the suite leaves the checkout as it found it (``tests/checkout_state.py``).
"""

from __future__ import annotations

import random
import subprocess
from pathlib import Path

import pytest

from tests.checkout_state import Snapshot, leftovers, snapshot
from virnucpro.bench.options import BenchOptions
from virnucpro.stages.translate import CODON_TABLE

SENSE_CODONS = sorted(c for c, aa in CODON_TABLE.items() if aa != "*")
REPO = Path(__file__).resolve().parents[1]
BEFORE = pytest.StashKey[Snapshot | str]()
NOT_CLEAN = (
    "the test session left these in the checkout (tests must write into temporary folders and "
    "use a clone for git: tests/repos.py; allowed: tests/checkout_state.py ALLOWED; a file "
    "edited by hand while the tests ran shows here too)"
)


def _benchmark_session(session: pytest.Session) -> bool:
    """The benchmark suites (``-m benchmark``, or ``virnucpro benchmark`` running them): they
    write their results under ``tests/reports/`` by design, so the check is not theirs."""
    if session.config.getoption("bench_config", default=None) is not None:
        return True
    return any(item.get_closest_marker("benchmark") for item in session.items)


def pytest_sessionstart(session: pytest.Session) -> None:
    if _benchmark_session(session):
        return
    try:
        session.config.stash[BEFORE] = snapshot(REPO)
    except (OSError, subprocess.SubprocessError, AssertionError) as exc:  # no git, no checkout
        session.config.stash[BEFORE] = f"{type(exc).__name__}: {exc}"


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Fail the run, naming each path, when the tests left anything in the checkout."""
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    before = session.config.stash.get(BEFORE, None)
    if isinstance(before, str):
        if reporter is not None:
            reporter.write_line(f"checkout check not run: cannot read the git state ({before})")
        return
    if before is None or _benchmark_session(session):
        return
    factory = getattr(session.config, "_tmp_path_factory", None)
    basetemp = factory.getbasetemp() if factory is not None else None
    left = leftovers(before, snapshot(REPO), REPO, basetemp)
    if not left:
        return
    if reporter is not None:
        reporter.write_line("")
        reporter.write_sep("=", "checkout not clean", red=True)
        reporter.write_line(NOT_CLEAN)
        for line in left:
            reporter.write_line(f"  {line}")
    if exitstatus in (pytest.ExitCode.OK, pytest.ExitCode.NO_TESTS_COLLECTED):
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def orf_sequence(rng: random.Random, length: int) -> str:
    """A stop-free forward frame of ``length`` bases (F1 is kept for every chunk)."""
    codons = [rng.choice(SENSE_CODONS) for _ in range(length // 3 + 1)]
    return "".join(codons)[:length]


def write_orf_fasta(path: Path, lengths: list[int], *, seed: int = 7) -> Path:
    rng = random.Random(seed)
    with path.open("w") as handle:
        for i, length in enumerate(lengths):
            handle.write(f">read{i} sample\n{orf_sequence(rng, length)}\n")
    return path


@pytest.fixture
def orf_fasta(tmp_path: Path) -> Path:
    return write_orf_fasta(tmp_path / "reads.fasta", [180, 300, 500, 501, 1200, 777])


@pytest.fixture
def bench_options(tmp_path: Path) -> BenchOptions:
    """Benchmark options for a stubbed run: one suite, the vanilla engine, CPU, folders in tmp."""
    return BenchOptions(
        suites=("end_to_end",),
        data_size="tiny",
        engine="vanilla",
        gpus=(),
        output_dir=tmp_path / "reports",
        baseline_dir=tmp_path / "baselines",
    )
