"""GPU telemetry over NVML: a background sampler, stage tags, summaries and run validity.

:class:`GpuSampler` reads every sampled device each ``interval`` seconds (NVML utilization is
itself averaged over 1/6 s to 1 s, so faster polling buys nothing), tagging each reading with
the current stage: utilization (GPU, memory), memory used, power (mW -> W), energy (mJ -> J,
change since start), SM clock, temperature, clock-event (throttle) reasons and, every
:data:`PROCESS_POLL_EVERY` readings (the query costs milliseconds), the number of *other*
compute processes. An unsupported field (``NVMLError_NotSupported``) is ``None``; the others are
still recorded. Without ``pynvml`` (``nvidia-ml-py``), a driver or a visible GPU the telemetry
is ``available=False`` with the reason, never zeros.

``overhead_fraction`` is the sampler's own cost: seconds inside NVML calls over the wall time
sampled. It is a proxy (the polling thread also competes for the GIL and a core); the claim that
sampling costs at most 1 % of throughput is checked on a GPU, timing a run with and without it.

Device numbering: NVML numbers GPUs in PCI bus order; CUDA numbers them fastest first unless
``CUDA_DEVICE_ORDER=PCI_BUS_ID``. When CUDA is already initialized in this process, the visible
devices are matched to NVML by UUID (exact). Otherwise ``CUDA_VISIBLE_DEVICES`` is read: UUID
entries are matched by UUID prefix, integer entries are taken as NVML (PCI-order) indices, which
is exact with ``CUDA_DEVICE_ORDER=PCI_BUS_ID`` or identical GPUs and may be wrong on a machine
mixing GPU models. MIG instances are not mapped. ``GpuSample.device`` is the position in
``GpuTelemetry.devices`` (the CUDA ordinal when mapped from CUDA).

Other processes: our own pid and its descendants are excluded. In a container with its own PID
namespace NVML may report host pids (or none at all), so there the count can be wrong.
"""

from __future__ import annotations

import importlib
import os
import statistics
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from itertools import takewhile
from types import ModuleType
from typing import Any

from virnucpro.bench.schema import (
    Direction,
    GpuSample,
    GpuTelemetry,
    Metric,
    metric_from_samples,
    unavailable_metric,
)

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
# Reasons that mean the hardware was unfit to measure; idle, power cap and clock settings are not.
INVALIDATING_THROTTLE_REASONS = frozenset(
    {"hw_slowdown", "sw_thermal_slowdown", "hw_thermal_slowdown", "hw_power_brake_slowdown"}
)
MAX_THROTTLED_FRACTION = 0.0  # any throttled sample during measurement invalidates the run

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
    """UUIDs of the devices CUDA sees, when CUDA is already initialized here (else ``None``)."""
    import torch

    if not (torch.cuda.is_available() and torch.cuda.is_initialized()):
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
    indices: Sequence[int] | None = None,
    *,
    env: Mapping[str, str] | None = None,
    cuda_uuids: Callable[[], list[str] | None] = _cuda_uuids,
) -> list[NvmlDevice]:
    """The devices to sample: NVML ``indices`` if given, else those CUDA uses (see module doc)."""
    devices = _all_devices(nvml)
    if indices is not None:
        chosen = [d for i in indices for d in devices if d[0] == i]
    else:
        entries = cuda_uuids() or _visible_entries(os.environ if env is None else env)
        uuids = [_text(_call(nvml, "nvmlDeviceGetUUID", h) or "") for _, h in devices]
        chosen = devices if entries is None else _match(entries, devices, uuids)
    return [_describe(nvml, index, handle) for index, handle in chosen]


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
) -> GpuSample:
    """One reading of one device; unsupported fields are ``None``."""
    h = device.handle
    util = _call(nvml, "nvmlDeviceGetUtilizationRates", h)
    memory = _call(nvml, "nvmlDeviceGetMemoryInfo", h)
    power_mw = _call(nvml, "nvmlDeviceGetPowerUsage", h)
    mask = _throttle_mask(nvml, h)
    return GpuSample(
        t=t,
        device=position,
        stage=stage,
        utilization_gpu=getattr(util, "gpu", None),
        utilization_mem=getattr(util, "memory", None),
        memory_used_bytes=getattr(memory, "used", None),
        power_w=None if power_mw is None else power_mw / MW_PER_W,
        energy_j=_energy_j(_energy_mj(nvml, h), device.energy_start_mj),
        sm_clock_mhz=_call(nvml, "nvmlDeviceGetClockInfo", h, NVML_CLOCK_SM),
        temperature_c=_call(nvml, "nvmlDeviceGetTemperature", h, NVML_TEMPERATURE_GPU),
        throttle_reasons=decode_throttle_reasons(mask) if mask is not None else (),
        other_processes=None if own_pids is None else _other_processes(nvml, h, own_pids),
    )


class GpuSampler:
    """Background NVML sampler; use as a context manager, then call :meth:`telemetry`."""

    def __init__(
        self,
        interval: float = DEFAULT_INTERVAL_S,
        devices: Sequence[int] | None = None,
        *,
        nvml: ModuleType | None = None,
        process_every: int = PROCESS_POLL_EVERY,
        own_pids: Callable[[], set[int]] = _own_pids,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        if interval <= 0 or process_every < 1:
            raise ValueError("the sampling interval and process_every must be positive")
        self.interval = interval
        self._indices = devices
        self._module = nvml
        self._process_every = process_every
        self._own_pids = own_pids
        self._clock = clock
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._nvml: ModuleType | None = None
        self._reason: str | None = "sampler was not started"
        self._devices: list[NvmlDevice] = []
        self._samples: list[GpuSample] = []
        self._stage: str | None = None
        self._polls = 0
        self._poll_seconds = 0.0
        self._t0 = 0.0
        self._wall = 0.0

    def __enter__(self) -> GpuSampler:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        """Initialize NVML and start polling; records why when it cannot."""
        self._nvml, self._reason = load_nvml(self._module)
        if self._nvml is None:
            return
        self._devices = resolve_devices(self._nvml, self._indices)
        if not self._devices:
            self._reason = "no visible NVIDIA GPU"
            self.stop()
            return
        nvml = self._nvml
        self._devices = [
            replace(d, energy_start_mj=_energy_mj(nvml, d.handle)) for d in self._devices
        ]
        self._t0 = self._clock()
        self.sample_now()
        self._thread = threading.Thread(target=self._run, name="gpu-sampler", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop polling (after one last reading) and release NVML."""
        if self._nvml is None:
            return
        if self._thread is not None:
            self._stop.set()
            self._thread.join()
            self._thread = None
            self.sample_now()
            self._wall = self._clock() - self._t0
        shutdown_nvml(self._nvml)
        self._nvml = None

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
        thread = self._thread
        if thread is None:
            yield
            return
        self._stop.set()
        thread.join()
        self._thread = None
        try:
            yield
        finally:
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="gpu-sampler", daemon=True)
            self._thread.start()

    def sample_now(self) -> None:
        """Take one reading of every device now (also done at start, at stop and each interval)."""
        if self._nvml is None:
            return
        start = self._clock()
        with self._lock:
            stage = self._stage
        own = self._own_pids() if self._polls % self._process_every == 0 else None
        t, nvml = start - self._t0, self._nvml
        readings = [
            read_sample(nvml, d, position=k, t=t, stage=stage, own_pids=own)
            for k, d in enumerate(self._devices)
        ]
        with self._lock:
            self._samples.extend(readings)
            self._polls += 1
            self._poll_seconds += self._clock() - start

    def telemetry(self) -> GpuTelemetry:
        """What was sampled so far, or ``available=False`` and the reason."""
        if not self._devices:
            return GpuTelemetry(available=False, reason=self._reason or "no visible NVIDIA GPU")
        with self._lock:
            samples = tuple(self._samples)
            poll_seconds = self._poll_seconds
        wall = self._wall or self._clock() - self._t0
        return GpuTelemetry(
            available=True,
            interval_s=self.interval,
            devices=tuple(d.label for d in self._devices),
            samples=samples,
            overhead_fraction=poll_seconds / wall if wall > 0 else None,
        )


@dataclass(frozen=True)
class Quantity:
    """A sampled field summarised as a metric: ``gpu.[<subject>.]<name>``."""

    name: str
    field: str
    unit: str
    better: Direction


QUANTITIES = (
    Quantity("utilization", "utilization_gpu", "%", "higher"),
    Quantity("memory_utilization", "utilization_mem", "%", "none"),
    Quantity("memory_used", "memory_used_bytes", "bytes", "lower"),
    Quantity("power", "power_w", "W", "none"),
    Quantity("sm_clock", "sm_clock_mhz", "MHz", "none"),
    Quantity("temperature", "temperature_c", "C", "none"),
)
STAGE_QUANTITIES = ("utilization", "power")  # summarised per stage too
ENERGY = Quantity("energy", "energy_j", "J", "lower")
NOT_REPORTED = "not reported by NVML for these devices (not supported or failed)"


def _values(samples: Sequence[GpuSample], field: str) -> list[float]:
    return [float(v) for v in (getattr(s, field) for s in samples) if v is not None]


def _summary(
    name: str, q: Quantity, samples: Sequence[GpuSample], stage: str | None = None
) -> Metric:
    values = _values(samples, q.field)
    if not values:
        return unavailable_metric(
            name, unit=q.unit, better=q.better, reason=NOT_REPORTED, stage=stage
        )
    return metric_from_samples(name, values, unit=q.unit, better=q.better, stage=stage)


def _energy_total(t: GpuTelemetry) -> Metric:
    """Energy of all devices over the sampled period: one sample, the sum of last deltas."""
    last = {s.device: s.energy_j for s in t.samples if s.energy_j is not None}
    name = f"gpu.{ENERGY.name}"
    if not last:
        return unavailable_metric(name, unit=ENERGY.unit, better=ENERGY.better, reason=NOT_REPORTED)
    return metric_from_samples(name, [sum(last.values())], unit=ENERGY.unit, better=ENERGY.better)


def telemetry_metrics(t: GpuTelemetry) -> tuple[Metric, ...]:
    """``gpu.<q>`` over all samples, ``gpu.dev<k>.<q>`` per device (if several),
    ``gpu.<stage>.<q>`` per tagged stage, and ``gpu.energy``; the raw readings are the samples.
    """
    if not t.available:
        reason = t.reason or "GPU telemetry unavailable"
        return tuple(
            unavailable_metric(f"gpu.{q.name}", unit=q.unit, better=q.better, reason=reason)
            for q in (*QUANTITIES, ENERGY)
        )
    metrics = [_summary(f"gpu.{q.name}", q, t.samples) for q in QUANTITIES]
    if len(t.devices) > 1:
        for k in range(len(t.devices)):
            mine = [s for s in t.samples if s.device == k]
            metrics.extend(_summary(f"gpu.dev{k}.{q.name}", q, mine) for q in QUANTITIES)
    stages = dict.fromkeys(s.stage for s in t.samples if s.stage is not None)
    for stage in stages:
        tagged = [s for s in t.samples if s.stage == stage]
        chosen = [q for q in QUANTITIES if q.name in STAGE_QUANTITIES]
        metrics.extend(_summary(f"gpu.{stage}.{q.name}", q, tagged, stage) for q in chosen)
    metrics.append(_energy_total(t))
    return tuple(metrics)


def mean_utilization(t: GpuTelemetry, *, stage: str | None = None) -> float | None:
    """Mean GPU utilization (%) over all devices, optionally of one stage; ``None`` if unknown."""
    chosen = [s for s in t.samples if stage is None or s.stage == stage]
    values = _values(chosen, "utilization_gpu")
    return statistics.fmean(values) if values else None


def _throttle_reason(t: GpuTelemetry, k: int, max_fraction: float) -> str | None:
    mine = [s for s in t.samples if s.device == k]
    hit = [s for s in mine if INVALIDATING_THROTTLE_REASONS.intersection(s.throttle_reasons)]
    if not hit or len(hit) / len(mine) <= max_fraction:
        return None
    names = sorted({r for s in hit for r in s.throttle_reasons} & INVALIDATING_THROTTLE_REASONS)
    return (
        f"GPU {k} ({t.devices[k]}): clocks slowed by {', '.join(names)} "
        f"in {len(hit)} of {len(mine)} samples"
    )


def _process_reason(t: GpuTelemetry, k: int) -> str | None:
    counts = [s.other_processes for s in t.samples if s.device == k and s.other_processes]
    if not counts:
        return None
    return f"GPU {k} ({t.devices[k]}): used by up to {max(counts)} other process(es)"


def assess_validity(
    t: GpuTelemetry, *, max_throttled_fraction: float = MAX_THROTTLED_FRACTION
) -> list[str]:
    """Reasons the machine was unfit to measure: hardware/thermal throttling or another process
    on a measured GPU. Unavailable telemetry gives no reasons (nothing is known either way)."""
    if not t.available:
        return []
    reasons = []
    for k in range(len(t.devices)):
        reasons.append(_throttle_reason(t, k, max_throttled_fraction))
        reasons.append(_process_reason(t, k))
    return [r for r in reasons if r is not None]
