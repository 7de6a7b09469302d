from __future__ import annotations

import sys

import pytest
import torch

from virnucpro.bench.run import memory
from virnucpro.bench.run.memory import (
    CUDA_PEAK_ALLOCATED,
    CUDA_PEAK_RESERVED,
    HOST_PEAK_RSS,
    MemoryTracking,
    track_memory,
)

NEVER = 3600.0  # RSS interval never reached: only the start and end readings happen
GIB = 2**30


def _by_name(metrics):
    return {m.name: m for m in metrics}


def test_cpu_region_has_host_peak_and_unavailable_cuda():
    with track_memory("cpu") as tracking:
        block = bytearray(32 * 2**20)
        block[::4096] = b"x" * len(block[::4096])
    metrics = _by_name(tracking.metrics())
    assert set(metrics) == {CUDA_PEAK_ALLOCATED, CUDA_PEAK_RESERVED, HOST_PEAK_RSS}
    for name in (CUDA_PEAK_ALLOCATED, CUDA_PEAK_RESERVED):
        assert not metrics[name].available
        assert "cpu" in (metrics[name].reason or "")
    rss = metrics[HOST_PEAK_RSS]
    assert rss.available and rss.unit == "bytes" and rss.better == "lower"
    assert rss.samples[0] > len(block)


def test_host_peak_is_the_largest_reading():
    readings = iter([100, 900, 300])
    with track_memory(None, rss_reader=lambda: next(readings), interval=NEVER) as tracking:
        pass
    # start reading 100, end reading 900 (the iterator's third value is never needed)
    assert tracking.usage is not None and tracking.usage.host_peak_rss == 900


def test_without_psutil_host_rss_is_unavailable(monkeypatch):
    monkeypatch.setitem(sys.modules, "psutil", None)
    with track_memory("cpu") as tracking:
        pass
    metric = _by_name(tracking.metrics())[HOST_PEAK_RSS]
    assert not metric.available and "psutil" in (metric.reason or "")


def test_metrics_refused_before_block_ends():
    with pytest.raises(RuntimeError):
        MemoryTracking().metrics()


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the no-CUDA case")
def test_cuda_device_without_cuda_is_unavailable():
    with track_memory("cuda:0", rss_reader=lambda: 1, interval=NEVER) as tracking:
        pass
    metric = _by_name(tracking.metrics())[CUDA_PEAK_ALLOCATED]
    assert not metric.available and metric.reason == "CUDA is not available"


def test_cuda_peaks_reset_then_read(monkeypatch):
    calls: list[str] = []
    monkeypatch.setattr(memory, "synchronize", lambda d: calls.append("sync"))
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "reset_peak_memory_stats", lambda d: calls.append("reset"))
    monkeypatch.setattr(torch.cuda, "max_memory_allocated", lambda d: 3 * GIB)
    monkeypatch.setattr(torch.cuda, "max_memory_reserved", lambda d: 4 * GIB)
    with track_memory("cuda:0", rss_reader=lambda: 1, interval=NEVER) as tracking:
        calls.append("work")
    assert calls == ["sync", "reset", "work", "sync"]
    metrics = _by_name(tracking.metrics())
    assert metrics[CUDA_PEAK_ALLOCATED].samples == (3 * GIB,)
    assert metrics[CUDA_PEAK_RESERVED].samples == (4 * GIB,)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_peak_on_a_real_gpu():
    with track_memory("cuda") as tracking:
        x = torch.empty(256 * 2**20, dtype=torch.uint8, device="cuda")
        del x
    usage = tracking.usage
    assert usage is not None and usage.cuda_peak_allocated is not None
    assert usage.cuda_peak_allocated >= 256 * 2**20
    assert usage.cuda_peak_reserved is not None
    assert usage.cuda_peak_reserved >= usage.cuda_peak_allocated
