"""GPM readings under threads: the sampler thread and the main thread read the same device.

A fake NVML whose ``nvmlGpmSampleGet`` takes a little time and stamps each buffer with the order
it was filled in: two readings at once would fill one buffer twice, or hand ``MetricsGet`` a
pair that is not (older, newer). The reader must take one sample at a time.
"""

from __future__ import annotations

import ctypes
import threading
import time

import pynvml

from tests.bench.fakes import FakeClock, GpmNvml, host
from virnucpro.bench.gpu.gpm import GpmReader
from virnucpro.bench.gpu.sampler import GpuSampler

THREADS = 4
READS_PER_THREAD = 25
NEVER = 3600.0


class StampingGpmNvml(GpmNvml):
    """GPM buffers stamped with a fill counter; overlapping calls and bad pairs are recorded."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self._guard = threading.Lock()
        self.inside = 0
        self.most_inside = 0
        self.filled = 0
        self.stamps: dict[int, int] = {}
        self.bad_pairs: list[tuple[int | None, int | None]] = []
        self._buffers: list[ctypes.Array[ctypes.c_char]] = []

    def nvmlGpmSampleGet(self, h: int, sample: object) -> object:
        with self._guard:
            self.inside += 1
            self.most_inside = max(self.most_inside, self.inside)
        time.sleep(0.002)  # the driver copies counters: long enough for another thread to enter
        with self._guard:
            self.filled += 1
            self.stamps[_address(sample)] = self.filled
            self.inside -= 1
        return sample

    def nvmlGpmMetricsGet(self, request: pynvml.c_nvmlGpmMetricsGet_t) -> object:
        older = self.stamps.get(_address(request.sample1))
        newer = self.stamps.get(_address(request.sample2))
        if older is None or newer is None or older >= newer:
            self.bad_pairs.append((older, newer))
        return super().nvmlGpmMetricsGet(request)

    def nvmlGpmSampleAlloc(self) -> object:
        """A GPM sample pointer to a buffer of its own (pynvml's are opaque pointers)."""
        buffer = ctypes.create_string_buffer(8)
        self._buffers.append(buffer)
        return ctypes.cast(buffer, pynvml.c_nvmlGpmSample_t)


def _address(sample: object) -> int | None:
    return ctypes.cast(sample, ctypes.c_void_p).value  # type: ignore[arg-type]


def _hammer(read: object) -> None:
    start = threading.Barrier(THREADS)

    def worker() -> None:
        start.wait()
        for _ in range(READS_PER_THREAD):
            read()  # type: ignore[operator]

    threads = [threading.Thread(target=worker) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def test_one_gpm_sample_at_a_time_from_many_threads() -> None:
    fake = StampingGpmNvml()
    reader = GpmReader(fake, 0)  # type: ignore[arg-type]
    assert reader.available
    _hammer(reader.read)
    assert fake.most_inside == 1, "two nvmlGpmSampleGet calls ran at once"
    assert fake.bad_pairs == []  # every interval is (older buffer, newer buffer)
    assert fake.filled == 1 + THREADS * READS_PER_THREAD


def test_the_sampler_reads_one_at_a_time_beside_its_thread() -> None:
    """``sample_now`` from the main thread while the sampler thread polls, as the GPU check does."""
    fake = StampingGpmNvml(clock=FakeClock())
    with GpuSampler(
        interval=0.001,
        devices=(0,),
        nvml=fake,  # type: ignore[arg-type]
        own=host(),
        env={},
        cuda_uuids=lambda: None,
    ) as sampler:
        _hammer(sampler.sample_now)
    samples = sampler.telemetry().samples
    assert fake.most_inside == 1 and fake.bad_pairs == []
    assert all(s.sm_active == 71.5 for s in samples)
    assert [s.t for s in samples] == sorted(s.t for s in samples)
