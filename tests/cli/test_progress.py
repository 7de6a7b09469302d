"""Plain progress lines for logs: elapsed time first, one line per suite test, every few rounds."""

from __future__ import annotations

import io

from virnucpro.cli.progress import PlainProgress, elapsed


def test_elapsed() -> None:
    assert elapsed(0) == "0:00:00"
    assert elapsed(59.9) == "0:00:59"
    assert elapsed(3 * 3600 + 62) == "3:01:02"


def test_lines_per_suite_test_and_every_few_rounds() -> None:
    ticks = iter(range(0, 1000, 10))
    out = io.StringIO()
    with PlainProgress(out, every=5, clock=lambda: float(next(ticks))) as progress:
        progress.phase("preparing the workload")
        progress.collected(2)
        progress.phase("running end_to_end::total_time")
        for done in range(1, 13):
            progress.round_done(done, 12, 2.0 + done / 100)
        progress.finished("tests/benchmarks/test_end_to_end.py::test_total_time", "passed")
    assert out.getvalue().splitlines() == [
        "[0:00:10] preparing the workload",
        "[0:00:20] 2 suite tests to run",
        "[0:00:30] running end_to_end::total_time",
        "[0:00:40]   round 5/12, latest median 2.05 s",
        "[0:00:50]   round 10/12, latest median 2.1 s",
        "[0:01:00]   round 12/12, latest median 2.12 s",
        "[0:01:10] end_to_end::total_time: passed (1/2 suite tests done)",
    ]
