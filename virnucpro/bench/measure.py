"""The measurement core: warm up, time rounds honestly, keep raw samples, derive statistics.

:func:`measure` times rounds with the GPU synchronized at both ends and keeps every raw time;
the statistics are derived from them (:class:`Measurement`). Rates become schema
:class:`~virnucpro.bench.schema.Metric` records (:func:`rate_metrics`), per-stage times come
from the pipeline's own :class:`~virnucpro.pipeline.metrics.RunMetrics` (:func:`stage_metrics`).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TypeVar

import torch

from virnucpro.bench import stats
from virnucpro.bench.schema import Metric, StageTiming, metric_from_samples, unavailable_metric
from virnucpro.bench.stats import CONFIDENCE_LEVEL, ConfidenceInterval
from virnucpro.errors import InputError, RunFailure
from virnucpro.pipeline.metrics import RunMetrics, synchronize

T = TypeVar("T")
Clock = Callable[[], float]
RoundCallback = Callable[[int, float, T], None]
RoundObserver = Callable[[int, int, float], None]  # (rounds done, rounds planned, median so far)
_ROUND_OBSERVERS: list[RoundObserver] = []

DEFAULT_ROUNDS = 5
DEFAULT_WARMUP = 1

# What each rate counts: kind -> unit. Metric names end in "<kind>_per_s".
RATE_UNITS: dict[str, str] = {
    "reads": "reads/s",
    "chunks": "chunks/s",
    "frames": "frames/s",
    "tokens": "tokens/s",
    "bases": "bp/s",
}
SECONDS_UNIT = "s"


@dataclass(frozen=True)
class Measurement:
    """Raw per-round seconds (warm-up kept apart) and the statistics derived from them."""

    samples: tuple[float, ...]
    warmup: tuple[float, ...] = ()
    confidence_level: float = CONFIDENCE_LEVEL

    def __post_init__(self) -> None:
        if not self.samples:
            raise ValueError("a measurement needs at least one measured round")

    @property
    def rounds(self) -> int:
        return len(self.samples)

    @property
    def cold_seconds(self) -> float | None:
        """The first warm-up call: includes one-time costs. ``None`` without warm-up."""
        return self.warmup[0] if self.warmup else None

    @property
    def median(self) -> float:
        return stats.median(self.samples)

    @property
    def minimum(self) -> float:
        return min(self.samples)

    @property
    def iqr(self) -> float | None:
        return stats.iqr(self.samples)

    @property
    def relative_noise(self) -> float | None:
        """IQR / median; ``None`` with one round or a zero median."""
        return stats.relative_noise(self.samples)

    @property
    def median_ci(self) -> ConfidenceInterval | None:
        """Distribution-free, from order statistics: the number of samples below the true
        median is Binomial(n, 1/2), so ``[x_(k), x_(n-1-k)]`` (sorted) covers it with
        probability ``1 - 2 P(B <= k)``; the narrowest reaching ``confidence_level``, with its
        exact coverage. None with too few rounds for that level, never a made-up interval."""
        return stats.median_confidence_interval(self.samples, self.confidence_level)


@contextlib.contextmanager
def observing_rounds(observer: RoundObserver) -> Iterator[None]:
    """Tell ``observer`` about each measured round of every :func:`measure` call in the block.

    The suites run in pytest in this process; this is how the command line hears of their
    rounds (progress lines in logs) without the suites knowing about it.
    """
    _ROUND_OBSERVERS.append(observer)
    try:
        yield
    finally:
        _ROUND_OBSERVERS.remove(observer)


def _tell_observers(samples: Sequence[float], rounds: int) -> None:
    if _ROUND_OBSERVERS:
        median = Measurement(samples=tuple(samples)).median
        for observer in tuple(_ROUND_OBSERVERS):
            observer(len(samples), rounds, median)


def _check_counts(rounds: int, warmup: int) -> None:
    if rounds < 1:
        raise InputError(f"rounds must be at least 1, got {rounds}")
    if warmup < 0:
        raise InputError(f"warm-up rounds cannot be negative, got {warmup}")


def _timed_call(
    fn: Callable[[], T], device: torch.device | str | None, clock: Clock
) -> tuple[float, T]:
    synchronize(device)
    start = clock()
    result = fn()
    synchronize(device)
    return clock() - start, result


def measure(
    fn: Callable[[], T],
    *,
    rounds: int = DEFAULT_ROUNDS,
    warmup: int = DEFAULT_WARMUP,
    device: torch.device | str | None = None,
    on_round: RoundCallback[T] | None = None,
    clock: Clock = time.perf_counter,
) -> Measurement:
    """Call ``fn`` ``warmup`` then ``rounds`` times; time each call with the device synchronized.

    The GPU is synchronized before each clock starts and before it stops, since GPU work is
    asynchronous; the first warm-up is the cold cost (model load, CUDA context, first batch).
    ``on_round(index, seconds, result)`` is called after each measured round (not warm-ups),
    e.g. to keep the pipeline's :class:`~virnucpro.pipeline.metrics.RunMetrics` of that round.
    """
    _check_counts(rounds, warmup)
    warm = tuple(_timed_call(fn, device, clock)[0] for _ in range(warmup))
    samples = []
    for index in range(rounds):
        seconds, result = _timed_call(fn, device, clock)
        samples.append(seconds)
        if on_round is not None:
            on_round(index, seconds, result)
        _tell_observers(samples, rounds)
    return Measurement(samples=tuple(samples), warmup=warm)


def time_metric(
    name: str,
    seconds: Sequence[float],
    *,
    stage: str | None = None,
    labels: dict[str, str] | None = None,
) -> Metric:
    """Wall time in seconds, lower is better."""
    return metric_from_samples(
        name, seconds, unit=SECONDS_UNIT, better="lower", stage=stage, labels=labels
    )


def rate_samples(seconds: Sequence[float], count: int) -> tuple[float, ...]:
    """Per-round rates ``count / seconds``; rounds that took no measurable time are dropped."""
    return tuple(count / s for s in seconds if s > 0)


def rate_metric(
    prefix: str,
    kind: str,
    seconds: Sequence[float],
    count: int,
    *,
    stage: str | None = None,
) -> Metric:
    """``<prefix>.<kind>_per_s`` per round; unavailable (never 0) when nothing was counted."""
    if kind not in RATE_UNITS:
        raise ValueError(f"unknown rate kind {kind!r} (expected one of {', '.join(RATE_UNITS)})")
    name, unit = f"{prefix}.{kind}_per_s", RATE_UNITS[kind]
    if count <= 0:
        reason = f"no {kind} were processed (count {count})"
        return unavailable_metric(name, unit=unit, better="higher", stage=stage, reason=reason)
    samples = rate_samples(seconds, count)
    if not samples:
        reason = "no round took a measurable time"
        return unavailable_metric(name, unit=unit, better="higher", stage=stage, reason=reason)
    return metric_from_samples(name, samples, unit=unit, better="higher", stage=stage)


def rate_metrics(
    prefix: str,
    seconds: Sequence[float],
    counts: Mapping[str, int],
    *,
    stage: str | None = None,
) -> tuple[Metric, ...]:
    """One rate metric per ``kind -> count`` entry, all from the same per-round times."""
    return tuple(rate_metric(prefix, kind, seconds, n, stage=stage) for kind, n in counts.items())


def _stage_names(runs: Sequence[RunMetrics]) -> tuple[str, ...]:
    if not runs:
        raise RunFailure("no measured rounds to summarise")
    names = tuple(s.name for s in runs[0].stages)
    for index, run in enumerate(runs[1:], start=2):
        if tuple(s.name for s in run.stages) != names:
            raise RunFailure(f"round {index} ran other stages than round 1")
    return names


def _stage_timing(runs: Sequence[RunMetrics], name: str) -> StageTiming:
    stages = [run.stage(name) for run in runs]
    first = stages[0]
    assert first is not None  # _stage_names checked every round has it
    work = {(s.items_in, s.items_out, s.tokens) for s in stages if s is not None}
    if len(work) > 1:
        raise RunFailure(f"stage {name!r} processed different amounts across rounds: {work}")
    return StageTiming(
        stage=name,
        seconds=tuple(s.seconds for s in stages if s is not None),
        items_in=first.items_in,
        items_out=first.items_out,
        tokens=first.tokens,
    )


def stage_timings(runs: Sequence[RunMetrics]) -> tuple[StageTiming, ...]:
    """Per-stage times over measured rounds (one :class:`RunMetrics` per round), in run order.

    Every round must run the same stages on the same amount of work, or the times would not be
    samples of one quantity (:class:`~virnucpro.errors.RunFailure`).
    """
    return tuple(_stage_timing(runs, name) for name in _stage_names(runs))


def stage_metrics(timings: Sequence[StageTiming]) -> tuple[Metric, ...]:
    """``stage.<name>.time`` for each stage (seconds, lower is better)."""
    return tuple(time_metric(f"stage.{t.stage}.time", t.seconds, stage=t.stage) for t in timings)
