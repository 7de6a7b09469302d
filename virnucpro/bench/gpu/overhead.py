"""The GPU sampler's cost, measured: the same work timed with and without the sampler polling.

Rounds come in pairs, one with the sampler polling and one with it paused, their order
alternating from pair to pair (ABBA), so drift of the machine hits both sides alike. Each pair
gives one sample of the overhead, ``(with - without) / without``; the figure is their median.
It exists only where it was measured this way: without a running sampler (no NVML, no GPU, a
CPU run) it is *unavailable* with the reason, never a proxy.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass

from virnucpro.bench.measure import measure
from virnucpro.bench.metric_names import SAMPLER_OVERHEAD_METRIC
from virnucpro.bench.schema import Metric, metric_from_samples, unavailable_metric

SAMPLER_OVERHEAD = SAMPLER_OVERHEAD_METRIC
DEFAULT_PAIRS = 5


@dataclass(frozen=True)
class OverheadMeasurement:
    """Seconds of each pair's two rounds, and whether the sampler was really polling."""

    with_sampler: tuple[float, ...]
    without_sampler: tuple[float, ...]
    sampler_active: bool
    reason: str | None = None  # why the sampler was not polling

    @property
    def fractions(self) -> tuple[float, ...]:
        """Per pair: ``(with - without) / without``."""
        return tuple(
            (w - wo) / wo
            for w, wo in zip(self.with_sampler, self.without_sampler, strict=True)
            if wo > 0
        )

    @property
    def median(self) -> float | None:
        return statistics.median(self.fractions) if self.fractions else None

    def metric(self) -> Metric:
        """``gpu.sampler_overhead``: one sample per pair, or unavailable with the reason."""
        if not self.sampler_active:
            why = f"not measured: the sampler was not polling ({self.reason or 'unknown'})"
            return unavailable_metric(SAMPLER_OVERHEAD, unit="ratio", better="lower", reason=why)
        return metric_from_samples(
            SAMPLER_OVERHEAD,
            self.fractions,
            unit="ratio",
            better="lower",
            labels={"pairs": str(len(self.fractions)), "method": "interleaved with/without"},
        )


def measure_sampler_overhead(
    run: Callable[[], object],
    *,
    paused: Callable[[], AbstractContextManager[object]],
    active: Callable[[], tuple[bool, str | None]],
    pairs: int = DEFAULT_PAIRS,
    device: object = None,
    clock: Callable[[], float] = time.perf_counter,
) -> OverheadMeasurement:
    """Time ``run`` in ``pairs`` pairs, one round of each inside ``paused()`` (no polling).

    ``active()`` says whether the sampler polls outside ``paused()``, and if not, why.
    """
    if pairs < 1:
        raise ValueError(f"pairs must be at least 1, got {pairs}")

    def once() -> float:
        return measure(run, rounds=1, warmup=0, device=device, clock=clock).samples[0]  # type: ignore[arg-type]

    with_sampler: list[float] = []
    without: list[float] = []
    for index in range(pairs):
        for sampled in (index % 2 == 0, index % 2 == 1):
            if sampled:
                with_sampler.append(once())
            else:
                with paused():
                    without.append(once())
    polling, reason = active()
    return OverheadMeasurement(tuple(with_sampler), tuple(without), polling, reason)
