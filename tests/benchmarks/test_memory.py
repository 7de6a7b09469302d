"""Memory suite: peak memory of every measured round (so the checker has samples).

``memory.cuda_peak_allocated`` / ``memory.cuda_peak_reserved`` come from torch's allocator in
this process (unavailable on the CPU, with the reason); ``memory.host_peak_rss`` is this
process's peak RSS during the round; ``memory.nvml_device_used`` is NVML's "used" memory of the
GPU over the round (it includes the CUDA context and any other process).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import pytest

from virnucpro.bench.metric_names import (
    BYTES,
    CUDA_PEAK_ALLOCATED,
    CUDA_PEAK_RESERVED,
    HOST_PEAK_RSS,
    NVML_DEVICE_USED,
)
from virnucpro.bench.schema import Metric, metric_from_samples, unavailable_metric

if TYPE_CHECKING:
    from virnucpro.bench.run.session import BenchSession

pytestmark = pytest.mark.benchmark

NO_NVML_FIGURES = "NVML reported no memory figures during the rounds"


def bytes_over_rounds(name: str, values: Sequence[int | None], reason: str | None) -> Metric:
    """One sample per round, or unavailable with ``reason`` when a round has no figure."""
    if not values or any(v is None for v in values):
        why = reason or "not measured in every round"
        return unavailable_metric(name, unit=BYTES, better="lower", reason=why)
    return metric_from_samples(name, [float(v) for v in values], unit=BYTES, better="lower")  # type: ignore[arg-type]


def test_peak_memory_per_round(bench: BenchSession) -> None:
    """Allocator peaks and host RSS peak of each measured round."""
    usages = [r.memory for r in bench.rounds().records]
    first = usages[0]
    metrics = (
        bytes_over_rounds(
            CUDA_PEAK_ALLOCATED, [u.cuda_peak_allocated for u in usages], first.cuda_reason
        ),
        bytes_over_rounds(
            CUDA_PEAK_RESERVED, [u.cuda_peak_reserved for u in usages], first.cuda_reason
        ),
        bytes_over_rounds(HOST_PEAK_RSS, [u.host_peak_rss for u in usages], first.host_reason),
    )
    assert metrics[2].available, metrics[2].reason  # psutil is a dependency
    assert len(metrics[2].samples) == bench.options.rounds
    if bench.device.type == "cuda":
        assert metrics[0].available, metrics[0].reason
    bench.collector.add_metrics(metrics)


def test_device_memory_per_round(bench: BenchSession) -> None:
    """NVML's used device memory, peak over each round's telemetry samples."""
    used = [r.device_used for r in bench.rounds().records]
    telemetry = bench.telemetry()
    reason = NO_NVML_FIGURES if telemetry.available else telemetry.reason
    metric = bytes_over_rounds(NVML_DEVICE_USED, used, reason)
    assert metric.available or metric.reason
    bench.collector.add_metric(metric)
