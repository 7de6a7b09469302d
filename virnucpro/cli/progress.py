"""Progress as plain lines, for logs: what a run prints when stdout is not a terminal.

GitHub Actions logs and ``> file`` are not terminals, and a progress bar there shows nothing
until the run ends. Each line starts with the elapsed time, so a log read hours into a nightly
run says where it is and how fast it goes.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TextIO

from virnucpro.bench.run.suites import short_test_name

ROUND_LINE_EVERY = 5  # a line every this many measured rounds (and after the last one)


def elapsed(seconds: float) -> str:
    """``h:mm:ss``."""
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}"


class PlainProgress:
    """A benchmark progress sink writing one line per suite test and every few rounds."""

    def __init__(
        self,
        stream: TextIO,
        *,
        every: int = ROUND_LINE_EVERY,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._stream = stream
        self._every = every
        self._clock = clock
        self._start = clock()
        self._total: int | None = None
        self._done = 0

    def __enter__(self) -> PlainProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        self._stream.flush()

    def _line(self, text: str) -> None:
        print(f"[{elapsed(self._clock() - self._start)}] {text}", file=self._stream, flush=True)

    def phase(self, text: str) -> None:
        self._line(text)

    def collected(self, total: int) -> None:
        self._total = total
        self._line(f"{total} suite tests to run")

    def finished(self, nodeid: str, outcome: str) -> None:
        self._done += 1
        of = f"/{self._total}" if self._total is not None else ""
        self._line(f"{short_test_name(nodeid)}: {outcome} ({self._done}{of} suite tests done)")

    def round_done(self, done: int, total: int, median_s: float) -> None:
        if done % self._every == 0 or done == total:
            self._line(f"  round {done}/{total}, latest median {median_s:.4g} s")
