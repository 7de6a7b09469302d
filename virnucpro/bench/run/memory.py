"""Peak memory of a measured region: CUDA allocator peaks and host RSS.

CUDA peaks come from torch's allocator statistics (reset at the start of the region, read at its
end) and so must be taken **in the process that does the work**: a multi-process run tracks
memory in each worker. Host RSS is sampled with psutil during the region (its peak). Every
figure that cannot be measured (no CUDA, no psutil) becomes an *unavailable* metric with the
reason, never zero.

``memory.nvml_device_used`` (NVML's "used" memory of the run's GPUs over each round) is measured
by the memory suite from the GPU sampler's readings: it includes the CUDA context and any other
process, so it is larger than the allocator's figures. The metric names live in
:mod:`virnucpro.bench.metric_names`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import torch

from virnucpro.bench.metric_names import (
    BYTES,
    CUDA_PEAK_ALLOCATED,
    CUDA_PEAK_RESERVED,
    HOST_PEAK_RSS,
)
from virnucpro.bench.schema import Metric, metric_from_samples, unavailable_metric
from virnucpro.pipeline.metrics import synchronize

RSS_SAMPLE_INTERVAL_S = 0.05

RssReader = Callable[[], int]


@dataclass(frozen=True)
class MemoryUsage:
    """Peaks of one region; a ``None`` figure comes with the reason it is missing."""

    device: str
    cuda_peak_allocated: int | None
    cuda_peak_reserved: int | None
    cuda_reason: str | None
    host_peak_rss: int | None
    host_reason: str | None

    def metrics(self) -> tuple[Metric, ...]:
        return (
            _bytes_metric(CUDA_PEAK_ALLOCATED, self.cuda_peak_allocated, self.cuda_reason),
            _bytes_metric(CUDA_PEAK_RESERVED, self.cuda_peak_reserved, self.cuda_reason),
            _bytes_metric(HOST_PEAK_RSS, self.host_peak_rss, self.host_reason),
        )


def _bytes_metric(name: str, value: int | None, reason: str | None) -> Metric:
    if value is None:
        return unavailable_metric(name, unit=BYTES, better="lower", reason=reason or "not measured")
    return metric_from_samples(name, [value], unit=BYTES, better="lower")


def _cuda_device(device: torch.device | str | None) -> tuple[torch.device | None, str | None]:
    """The CUDA device to track, or ``None`` and why not."""
    dev = torch.device(device) if device is not None else torch.device("cpu")
    if dev.type != "cuda":
        return None, f"device is {dev.type}: no CUDA memory to track"
    if not torch.cuda.is_available():
        return None, "CUDA is not available"
    return dev, None


def _psutil_rss() -> RssReader | None:
    try:
        import psutil
    except ImportError:
        return None
    process = psutil.Process()
    return lambda: int(process.memory_info().rss)


class RssSampler:
    """Peak RSS of this process over a region, read every ``interval`` seconds and at both ends."""

    def __init__(self, read: RssReader, interval: float = RSS_SAMPLE_INTERVAL_S) -> None:
        self._read = read
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)
        self.peak = read()

    def _sample(self) -> None:
        self.peak = max(self.peak, self._read())

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            self._sample()

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()


class MemoryTracking:
    """What :func:`track_memory` yields: ``usage`` is set when the block exits."""

    def __init__(self) -> None:
        self.usage: MemoryUsage | None = None

    def metrics(self) -> tuple[Metric, ...]:
        if self.usage is None:
            raise RuntimeError("memory is known only after the tracked block has finished")
        return self.usage.metrics()


@contextmanager
def track_memory(
    device: torch.device | str | None,
    *,
    rss_reader: RssReader | None = None,
    interval: float = RSS_SAMPLE_INTERVAL_S,
) -> Iterator[MemoryTracking]:
    """Track peak CUDA memory on ``device`` and peak host RSS of this process over the block."""
    cuda, cuda_reason = _cuda_device(device)
    read = rss_reader or _psutil_rss()
    tracking = MemoryTracking()
    if cuda is not None:
        synchronize(cuda)
        torch.cuda.reset_peak_memory_stats(cuda)
    if read is None:
        yield tracking
        peak_rss, host_reason = None, "psutil is not installed"
    else:
        with RssSampler(read, interval) as rss:
            yield tracking
        peak_rss, host_reason = rss.peak, None
    allocated = reserved = None
    if cuda is not None:
        synchronize(cuda)
        allocated = int(torch.cuda.max_memory_allocated(cuda))
        reserved = int(torch.cuda.max_memory_reserved(cuda))
    tracking.usage = MemoryUsage(
        device=str(device),
        cuda_peak_allocated=allocated,
        cuda_peak_reserved=reserved,
        cuda_reason=cuda_reason,
        host_peak_rss=peak_rss,
        host_reason=host_reason,
    )
