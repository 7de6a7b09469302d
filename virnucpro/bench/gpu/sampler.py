"""A background NVML sampler of the run's GPUs, with stage and round tags.

:class:`GpuSampler` reads each of the run's devices every ``interval`` seconds (NVML utilization
is itself averaged over 1/6 s to 1 s, so faster polling buys nothing) with
:func:`~virnucpro.bench.gpu.nvml.read_sample`, tagging each reading with the current stage and
measured round, and every :data:`PROCESS_POLL_EVERY` readings (the query costs milliseconds)
counts the *other* compute processes (:mod:`virnucpro.bench.gpu.processes`). Readings are taken
one at a time, from its thread or the caller's (:meth:`GpuSampler.sample_now`). Without
``pynvml`` (``nvidia-ml-py``), a driver or a visible GPU the telemetry is ``available=False``
with the reason, never zeros; a run on the CPU (``devices=()``) does not start NVML at all and
its GPU figures read "not used". Summaries and validity are in
:mod:`virnucpro.bench.gpu.telemetry`.

The sampler's cost is not estimated here: :mod:`virnucpro.bench.gpu.overhead` measures it by timing
the same work with the sampler polling and paused (:meth:`GpuSampler.paused`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import replace
from types import ModuleType

from virnucpro.bench.gpu.gpm import GpmReader
from virnucpro.bench.gpu.nvml import (
    NvmlDevice,
    cuda_uuids,
    energy_mj,
    load_nvml,
    process_count,
    read_sample,
    resolve_devices,
    shutdown_nvml,
)
from virnucpro.bench.gpu.processes import OwnProcesses, ProcessCount, cuda_reserved, own_processes
from virnucpro.bench.schema import GpuSample, GpuTelemetry

DEFAULT_INTERVAL_S = 0.2
PROCESS_POLL_EVERY = 5  # query compute processes on every 5th sample (1 s at the default)
NOT_USED = "not used: the run is on the CPU"


class GpuSampler:
    """Background NVML sampler of the run's GPUs; a context manager, then :meth:`telemetry`.

    ``devices``: the run's CUDA ordinals; ``None`` samples every GPU CUDA sees, ``()`` (a run on
    the CPU) samples nothing and reports the GPU as not used.
    """

    def __init__(
        self,
        interval: float = DEFAULT_INTERVAL_S,
        devices: Sequence[int] | None = None,
        *,
        nvml: ModuleType | None = None,
        process_every: int = PROCESS_POLL_EVERY,
        own: Callable[[], OwnProcesses] = own_processes,
        reserved: Callable[[int], int | None] = cuda_reserved,
        clock: Callable[[], float] = time.perf_counter,
        env: Mapping[str, str] | None = None,
        cuda_uuids: Callable[[], list[str] | None] = cuda_uuids,
    ) -> None:
        if interval <= 0 or process_every < 1:
            raise ValueError("the sampling interval and process_every must be positive")
        self.interval = interval
        self._cuda_devices = None if devices is None else tuple(devices)
        self._module = nvml
        self._process_every = process_every
        self._own = own
        self._reserved = reserved
        self._clock = clock
        self._env = env
        self._cuda_uuids = cuda_uuids
        self._lock = threading.Lock()  # the stage, round and samples
        self._reading = threading.Lock()  # one reading of the devices at a time (GPM buffers)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._nvml: ModuleType | None = None
        self._reason: str | None = "sampler was not started"
        self._devices: list[NvmlDevice] = []
        self._gpm: list[GpmReader] = []
        self._samples: list[GpuSample] = []
        self._stage: str | None = None
        self._round: int | None = None
        self._polls = 0
        self._process_polls = 0
        self._unknown: dict[str, int] = {}  # why other processes were unknown -> readings
        self._t0 = 0.0

    def __enter__(self) -> GpuSampler:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        """Initialize NVML and start polling; records why when it cannot."""
        if self._cuda_devices == ():
            self._reason = NOT_USED
            return
        self._nvml, self._reason = load_nvml(self._module)
        if self._nvml is None:
            return
        nvml = self._nvml
        self._devices = resolve_devices(
            nvml, self._cuda_devices, env=self._env, cuda_uuids=self._cuda_uuids
        )
        if not self._devices:
            self._reason = "no visible NVIDIA GPU"
            self.stop()
            return
        self._devices = [
            replace(d, energy_start_mj=energy_mj(nvml, d.handle)) for d in self._devices
        ]
        self._gpm = [GpmReader(nvml, d.handle) for d in self._devices]
        self._t0 = self._clock()
        self.sample_now()
        self._start_thread()

    def _start_thread(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="gpu-sampler", daemon=True)
        self._thread.start()

    def _stop_thread(self) -> None:
        if self._thread is not None:
            self._stop.set()
            self._thread.join()
            self._thread = None

    def stop(self) -> None:
        """Stop polling (after one last reading) and release NVML."""
        if self._nvml is None:
            return
        if self._thread is not None:
            self._stop_thread()
            self.sample_now()
        with self._reading:  # no reading of closed GPM buffers from another thread
            nvml, self._nvml = self._nvml, None
            for reader in self._gpm:
                reader.close()
            if nvml is not None:
                shutdown_nvml(nvml)

    def set_stage(self, name: str | None) -> None:
        with self._lock:
            self._stage = name

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        """Tag the samples taken inside the block with ``name``."""
        previous = self._stage
        self.set_stage(name)
        try:
            yield
        finally:
            self.set_stage(previous)

    @contextmanager
    def measured_round(self, index: int) -> Iterator[None]:
        """Tag the samples of measured round ``index``, with a reading at its start and end."""
        with self._lock:
            self._round = index
        self.sample_now()
        try:
            yield
        finally:
            self.sample_now()
            with self._lock:
                self._round = None

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.sample_now()

    @property
    def polling(self) -> bool:
        """Whether the background thread is reading the devices now."""
        return self._thread is not None

    @contextmanager
    def paused(self) -> Iterator[None]:
        """No polling inside the block (to time work without the sampler); resumes after."""
        if self._thread is None:
            yield
            return
        self._stop_thread()
        try:
            yield
        finally:
            self._start_thread()

    def sample_now(self) -> None:
        """Take one reading of every device now (also done at start, at stop and each interval).

        Called from the sampler's thread and from the caller's: readings are taken one at a
        time, so each GPM interval is (previous sample, this one) and samples stay in time order.
        """
        with self._reading:
            nvml = self._nvml
            if nvml is None:
                return
            start = self._clock()
            with self._lock:
                stage, index = self._stage, self._round
            counts = self._process_counts(nvml)
            t = start - self._t0
            readings = [
                read_sample(
                    nvml,
                    d,
                    position=k,
                    t=t,
                    stage=stage,
                    other_processes=counts[k].others,
                    round_index=index,
                    gpm=gpm,
                )
                for k, (d, gpm) in enumerate(zip(self._devices, self._gpm, strict=True))
            ]
            with self._lock:
                self._samples.extend(readings)
                self._polls += 1

    def _ordinal(self, position: int) -> int:
        return position if self._cuda_devices is None else self._cuda_devices[position]

    def _process_counts(self, nvml: ModuleType) -> list[ProcessCount]:
        """Other processes per device on every ``process_every``-th reading (else not polled)."""
        if self._polls % self._process_every:
            return [ProcessCount(None)] * len(self._devices)
        own = self._own()
        counts = [
            process_count(nvml, d.handle, own, self._reserved(self._ordinal(k)))
            for k, d in enumerate(self._devices)
        ]
        with self._lock:
            self._process_polls += len(counts)
            for count in counts:
                if count.unknown is not None:
                    self._unknown[count.unknown] = self._unknown.get(count.unknown, 0) + 1
        return counts

    def _processes_unknown(self) -> str | None:
        if not self._unknown:
            return None
        first, _ = max(self._unknown.items(), key=lambda item: item[1])
        return f"unknown on {sum(self._unknown.values())} of {self._process_polls} polls: {first}"

    def telemetry(self) -> GpuTelemetry:
        """What was sampled so far, or ``available=False`` and the reason."""
        if not self._devices:
            return GpuTelemetry(available=False, reason=self._reason or "no visible NVIDIA GPU")
        with self._lock:
            samples = tuple(self._samples)
            unknown = self._processes_unknown()
        missing = {r.reason for r in self._gpm if r.reason is not None}
        return GpuTelemetry(
            available=True,
            interval_s=self.interval,
            devices=tuple(d.label for d in self._devices),
            samples=samples,
            gpm_reason="; ".join(sorted(missing)) if missing else None,
            processes_unknown=unknown,
        )
