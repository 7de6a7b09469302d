"""The benchmark's progress: a bar on a terminal (:class:`RichProgress`), plain lines for logs.

GitHub Actions logs and ``> file`` are not terminals, and a progress bar there shows nothing
until the run ends. Each line starts with the elapsed time, so a log read hours into a nightly
run says where it is and how fast it goes (:class:`PlainProgress`).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import IO, TYPE_CHECKING, TextIO

from virnucpro.bench.run.suites import short_test_name

if TYPE_CHECKING:
    from rich.console import Console

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


class RichProgress:
    """A progress bar advanced once per finished suite test. It appears with the runner's first
    phase, after the options were checked (an option error stays one line), and draws on its
    own copy of stderr, so pytest's output capture does not swallow it."""

    def __init__(self, console: Console) -> None:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
        )

        self.progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            redirect_stdout=False,
            redirect_stderr=False,
        )
        self._task = self.progress.add_task("preparing", total=None)
        self._started = False

    def __enter__(self) -> RichProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._started:
            self.progress.stop()

    def phase(self, text: str) -> None:
        if not self._started:
            self.progress.start()
            self._started = True
        self.progress.update(self._task, description=text)

    def collected(self, total: int) -> None:
        self.progress.update(self._task, total=total, completed=0)

    def finished(self, nodeid: str, outcome: str) -> None:
        self.progress.advance(self._task)
        self.progress.update(self._task, description=f"{short_test_name(nodeid)}: {outcome}")

    def round_done(self, done: int, total: int, median_s: float) -> None:
        del done, total, median_s  # the bar counts suite tests; rounds go to logs only


def progress_stream(stream: IO[str]) -> IO[str]:
    """A private duplicate of ``stream`` (pytest redirects the descriptors while a test runs)."""
    try:
        return os.fdopen(os.dup(stream.fileno()), "w", encoding="utf-8")
    except (AttributeError, OSError, ValueError):
        return stream
