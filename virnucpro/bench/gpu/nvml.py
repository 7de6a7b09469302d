"""GPU telemetry over NVML: a background sampler of the run's GPUs, with stage and round tags.

:class:`GpuSampler` reads each of the run's devices every ``interval`` seconds (NVML utilization
is itself averaged over 1/6 s to 1 s, so faster polling buys nothing), tagging each reading with
the current stage and measured round: utilization (GPU, memory), memory used, power (mW -> W),
energy (mJ -> J, change since start), SM clock, temperature, clock-event (throttle) reasons,
GPM hardware activity where the GPU has it (:mod:`virnucpro.bench.gpu.gpm`) and, every
:data:`PROCESS_POLL_EVERY` readings (the query costs milliseconds), the number of *other*
compute processes. An unsupported field (``NVMLError_NotSupported``) is ``None``; the others are
still recorded. Without ``pynvml`` (``nvidia-ml-py``), a driver or a visible GPU the telemetry
is ``available=False`` with the reason, never zeros; a run on the CPU (``devices=()``) does not
start NVML at all and its GPU figures read "not used". Summaries and validity are in
:mod:`virnucpro.bench.gpu.telemetry`.

The sampler's cost is not estimated here: :mod:`virnucpro.bench.gpu.overhead` measures it by timing
the same work with the sampler polling and paused (:meth:`GpuSampler.paused`).

Device numbering: ``devices`` are CUDA ordinals (what ``--gpus`` takes). NVML numbers GPUs in
PCI bus order; CUDA numbers the devices it sees (``CUDA_VISIBLE_DEVICES``) fastest first unless
``CUDA_DEVICE_ORDER=PCI_BUS_ID``. CUDA's own device UUIDs are matched to NVML's (exact) whenever
CUDA is available here. Otherwise ``CUDA_VISIBLE_DEVICES`` is read: UUID entries are matched by
UUID prefix, integer entries are taken as NVML (PCI-order) indices, which is exact with
``CUDA_DEVICE_ORDER=PCI_BUS_ID`` or identical GPUs. MIG instances are not mapped.
``GpuSample.device`` is the position in ``GpuTelemetry.devices`` (the run's device order).

Other processes: our own pid and its descendants are excluded. In a container with its own PID
namespace NVML may report host pids (or none at all), so there the count can be wrong.
"""

from __future__ import annotations

import importlib
import os
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from itertools import takewhile
from types import ModuleType
from typing import Any

from virnucpro.bench.gpu.gpm import GpmReader
from virnucpro.bench.schema import GpuSample, GpuTelemetry

DEFAULT_INTERVAL_S = 0.2
PROCESS_POLL_EVERY = 5  # query compute processes on every 5th sample (1 s at the default)
MW_PER_W = 1000.0
MJ_PER_J = 1000.0
NVML_CLOCK_SM = 1  # pynvml.NVML_CLOCK_SM
NVML_TEMPERATURE_GPU = 0  # pynvml.NVML_TEMPERATURE_GPU

# Clock-event (throttle) reason bits, as nvml.h defines them.
THROTTLE_REASON_BITS: dict[int, str] = {
    0x1: "gpu_idle",
    0x2: "applications_clocks_setting",
    0x4: "sw_power_cap",
    0x8: "hw_slowdown",
    0x10: "sync_boost",
    0x20: "sw_thermal_slowdown",
    0x40: "hw_thermal_slowdown",
    0x80: "hw_power_brake_slowdown",
    0x100: "display_clock_setting",
    0x200: "board_limit",
    0x400: "reliability",
}
NOT_USED = "not used: the run is on the CPU"

_INIT_REASONS = {
    "NVMLError_LibraryNotFound": "NVML library not found (no NVIDIA driver installed)",
    "NVMLError_DriverNotLoaded": "NVIDIA driver not loaded",
    "NVMLError_NoPermission": "no permission to use NVML",
}


def decode_throttle_reasons(mask: int) -> tuple[str, ...]:
    """Names of the bits set in a clock-event reason mask; unknown bits as ``bit_0x...``."""
    names = [name for bit, name in THROTTLE_REASON_BITS.items() if mask & bit]
    unknown = mask & ~sum(THROTTLE_REASON_BITS)
    names += [f"bit_{1 << i:#x}" for i in range(unknown.bit_length()) if unknown >> i & 1]
    return tuple(names)


def _errors(nvml: ModuleType) -> type[BaseException] | tuple[()]:
    return getattr(nvml, "NVMLError", ())


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _call(nvml: ModuleType, name: str, *args: object) -> Any:
    """An NVML query, or ``None`` when missing, not supported or failing on this device."""
    fn = getattr(nvml, name, None)
    if fn is None:
        return None
    try:
        return fn(*args)
    except _errors(nvml):
        return None


def load_nvml(module: ModuleType | None = None) -> tuple[ModuleType | None, str | None]:
    """Import and initialize NVML: ``(module, None)`` or ``(None, reason)``."""
    if module is None:
        try:
            module = importlib.import_module("pynvml")
        except ImportError:
            return None, "pynvml (nvidia-ml-py) is not installed"
    try:
        module.nvmlInit()
    except _errors(module) as exc:
        name = type(exc).__name__
        return None, _INIT_REASONS.get(name, f"NVML could not start ({name}: {exc})")
    return module, None


def shutdown_nvml(nvml: ModuleType) -> None:
    _call(nvml, "nvmlShutdown")


def driver_version(module: ModuleType | None = None) -> str | None:
    """The NVIDIA driver version, or ``None`` without NVML or a driver."""
    nvml, _ = load_nvml(module)
    if nvml is None:
        return None
    try:
        version = _call(nvml, "nvmlSystemGetDriverVersion")
        return None if version is None else _text(version)
    finally:
        shutdown_nvml(nvml)


def gpu_names(module: ModuleType | None = None) -> tuple[str, ...]:
    """Every GPU NVML sees, by name, in NVML (PCI) order; empty without NVML or a driver."""
    nvml, _ = load_nvml(module)
    if nvml is None:
        return ()
    try:
        return tuple(
            _text(_call(nvml, "nvmlDeviceGetName", h) or "unknown GPU")
            for _, h in _all_devices(nvml)
        )
    finally:
        shutdown_nvml(nvml)


@dataclass(frozen=True)
class NvmlDevice:
    """A sampled device: NVML handle, label (model, NVML index, PCI bus), energy at start (mJ)."""

    handle: Any
    label: str
    energy_start_mj: int | None = None


def _describe(nvml: ModuleType, index: int, handle: Any) -> NvmlDevice:
    name = _text(_call(nvml, "nvmlDeviceGetName", handle) or "unknown GPU")
    pci = _call(nvml, "nvmlDeviceGetPciInfo", handle)
    bus = _text(getattr(pci, "busId", "?")) if pci is not None else "?"
    return NvmlDevice(handle=handle, label=f"{name} (nvml {index}, pci {bus})")


def _all_devices(nvml: ModuleType) -> list[tuple[int, Any]]:
    count = _call(nvml, "nvmlDeviceGetCount") or 0
    handles = [(i, _call(nvml, "nvmlDeviceGetHandleByIndex", i)) for i in range(count)]
    return [(i, h) for i, h in handles if h is not None]


def _cuda_uuids() -> list[str] | None:
    """UUIDs of the devices CUDA sees, in CUDA's order (``None`` without CUDA here).

    Asking starts CUDA in this process: call it only for a run that uses the GPU anyway.
    """
    import torch

    if not torch.cuda.is_available():
        return None
    try:
        props = [torch.cuda.get_device_properties(i) for i in range(torch.cuda.device_count())]
        uuids = [str(p.uuid) for p in props]  # torch formats them without NVML's "GPU-"
    except (AttributeError, RuntimeError):
        return None
    return [u if u.startswith("GPU-") else f"GPU-{u}" for u in uuids]


def _visible_entries(env: Mapping[str, str]) -> list[str] | None:
    """``CUDA_VISIBLE_DEVICES`` entries (CUDA stops at the first invalid one), or ``None``."""
    raw = env.get("CUDA_VISIBLE_DEVICES")
    if raw is None:
        return None
    entries = (e.strip() for e in raw.split(","))
    return list(takewhile(lambda e: e.isdigit() or e.startswith(("GPU-", "MIG-")), entries))


def _match(
    entries: Sequence[str], devices: Sequence[tuple[int, Any]], uuids: list[str]
) -> list[tuple[int, Any]]:
    chosen = []
    for entry in entries:
        if entry.isdigit():
            chosen.extend(d for d in devices if d[0] == int(entry))
        elif entry.startswith("GPU-"):
            chosen.extend(d for d, u in zip(devices, uuids, strict=True) if u.startswith(entry))
    return chosen


def resolve_devices(
    nvml: ModuleType,
    cuda_devices: Sequence[int] | None = None,
    *,
    env: Mapping[str, str] | None = None,
    cuda_uuids: Callable[[], list[str] | None] = _cuda_uuids,
) -> list[NvmlDevice]:
    """The NVML devices behind CUDA ordinals ``cuda_devices`` (all CUDA sees when ``None``),
    in that order (see module doc)."""
    devices = _all_devices(nvml)
    uuids = [_text(_call(nvml, "nvmlDeviceGetUUID", h) or "") for _, h in devices]
    entries = cuda_uuids() or _visible_entries(os.environ if env is None else env)
    visible = devices if entries is None else _match(entries, devices, uuids)
    if cuda_devices is not None:
        visible = [visible[i] for i in cuda_devices if 0 <= i < len(visible)]
    return [_describe(nvml, index, handle) for index, handle in visible]


def _own_pids() -> set[int]:
    """This process and its descendants (worker ranks are ours, not "other" processes)."""
    import psutil

    me = psutil.Process()
    return {me.pid, *(child.pid for child in me.children(recursive=True))}


def _throttle_mask(nvml: ModuleType, handle: Any) -> int | None:
    mask = _call(nvml, "nvmlDeviceGetCurrentClocksEventReasons", handle)
    if mask is None:
        mask = _call(nvml, "nvmlDeviceGetCurrentClocksThrottleReasons", handle)
    return mask


def _other_processes(nvml: ModuleType, handle: Any, own: set[int]) -> int | None:
    processes = _call(nvml, "nvmlDeviceGetComputeRunningProcesses", handle)
    if processes is None:
        return None
    return sum(1 for p in processes if getattr(p, "pid", None) not in own)


def _energy_mj(nvml: ModuleType, handle: Any) -> int | None:
    return _call(nvml, "nvmlDeviceGetTotalEnergyConsumption", handle)


def _energy_j(now_mj: int | None, start_mj: int | None) -> float | None:
    return None if now_mj is None or start_mj is None else (now_mj - start_mj) / MJ_PER_J


def read_sample(
    nvml: ModuleType,
    device: NvmlDevice,
    *,
    position: int,
    t: float,
    stage: str | None,
    own_pids: set[int] | None,
    round_index: int | None = None,
    gpm: GpmReader | None = None,
) -> GpuSample:
    """One reading of one device; unsupported fields are ``None``."""
    h = device.handle
    activity = gpm.read() if gpm is not None else {}
    util = _call(nvml, "nvmlDeviceGetUtilizationRates", h)
    memory = _call(nvml, "nvmlDeviceGetMemoryInfo", h)
    power_mw = _call(nvml, "nvmlDeviceGetPowerUsage", h)
    mask = _throttle_mask(nvml, h)
    return GpuSample(
        t=t,
        device=position,
        stage=stage,
        round_index=round_index,
        utilization_gpu=getattr(util, "gpu", None),
        utilization_mem=getattr(util, "memory", None),
        memory_used_bytes=getattr(memory, "used", None),
        power_w=None if power_mw is None else power_mw / MW_PER_W,
        energy_j=_energy_j(_energy_mj(nvml, h), device.energy_start_mj),
        sm_clock_mhz=_call(nvml, "nvmlDeviceGetClockInfo", h, NVML_CLOCK_SM),
        temperature_c=_call(nvml, "nvmlDeviceGetTemperature", h, NVML_TEMPERATURE_GPU),
        throttle_reasons=decode_throttle_reasons(mask) if mask is not None else (),
        other_processes=None if own_pids is None else _other_processes(nvml, h, own_pids),
        **activity,
    )


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
        own_pids: Callable[[], set[int]] = _own_pids,
        clock: Callable[[], float] = time.perf_counter,
        env: Mapping[str, str] | None = None,
        cuda_uuids: Callable[[], list[str] | None] = _cuda_uuids,
    ) -> None:
        if interval <= 0 or process_every < 1:
            raise ValueError("the sampling interval and process_every must be positive")
        self.interval = interval
        self._cuda_devices = None if devices is None else tuple(devices)
        self._module = nvml
        self._process_every = process_every
        self._own_pids = own_pids
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
            replace(d, energy_start_mj=_energy_mj(nvml, d.handle)) for d in self._devices
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
            own = self._own_pids() if self._polls % self._process_every == 0 else None
            t = start - self._t0
            readings = [
                read_sample(
                    nvml, d, position=k, t=t, stage=stage, own_pids=own, round_index=index, gpm=gpm
                )
                for k, (d, gpm) in enumerate(zip(self._devices, self._gpm, strict=True))
            ]
            with self._lock:
                self._samples.extend(readings)
                self._polls += 1

    def telemetry(self) -> GpuTelemetry:
        """What was sampled so far, or ``available=False`` and the reason."""
        if not self._devices:
            return GpuTelemetry(available=False, reason=self._reason or "no visible NVIDIA GPU")
        with self._lock:
            samples = tuple(self._samples)
        missing = {r.reason for r in self._gpm if r.reason is not None}
        return GpuTelemetry(
            available=True,
            interval_s=self.interval,
            devices=tuple(d.label for d in self._devices),
            samples=samples,
            gpm_reason="; ".join(sorted(missing)) if missing else None,
        )
