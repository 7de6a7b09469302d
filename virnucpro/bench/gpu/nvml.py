"""NVML access: load the library, find the run's devices, take one reading of a device.

:func:`read_sample` reads one device: utilization (GPU, memory), memory used, power (mW -> W),
energy (mJ -> J, change since start), SM clock, temperature, clock-event (throttle) reasons and
GPM hardware activity where the GPU has it (:mod:`virnucpro.bench.gpu.gpm`); the number of
*other* compute processes comes from :func:`process_count`. An unsupported field
(``NVMLError_NotSupported``) is ``None``; the others are still recorded. The background sampler
that tags readings with stages and rounds is :mod:`virnucpro.bench.gpu.sampler`.

Device numbering: ``devices`` are CUDA ordinals (what ``--gpus`` takes). NVML numbers GPUs in
PCI bus order; CUDA numbers the devices it sees (``CUDA_VISIBLE_DEVICES``) fastest first unless
``CUDA_DEVICE_ORDER=PCI_BUS_ID``. CUDA's own device UUIDs are matched to NVML's (exact) whenever
CUDA is available here. Otherwise ``CUDA_VISIBLE_DEVICES`` is read: UUID entries are matched by
UUID prefix, integer entries are taken as NVML (PCI-order) indices, which is exact with
``CUDA_DEVICE_ORDER=PCI_BUS_ID`` or identical GPUs. MIG instances are not mapped.
``GpuSample.device`` is the position in ``GpuTelemetry.devices`` (the run's device order).

Other processes: our own processes (this one and its descendants, by every pid ``/proc`` gives
them) are excluded; in a PID namespace of our own, where NVML's pids are the host's, the count
is decided as :mod:`virnucpro.bench.gpu.processes` says, and where it cannot be told the
telemetry says why (``processes_unknown``) instead of counting this run as another process.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from itertools import takewhile
from types import ModuleType
from typing import Any

from virnucpro.bench.gpu.gpm import GpmReader
from virnucpro.bench.gpu.processes import Listed, OwnProcesses, ProcessCount, count_others
from virnucpro.bench.schema import GpuSample

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


def cuda_uuids() -> list[str] | None:
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
    cuda_uuids: Callable[[], list[str] | None] = cuda_uuids,
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


def _throttle_mask(nvml: ModuleType, handle: Any) -> int | None:
    mask = _call(nvml, "nvmlDeviceGetCurrentClocksEventReasons", handle)
    if mask is None:
        mask = _call(nvml, "nvmlDeviceGetCurrentClocksThrottleReasons", handle)
    return mask


def process_count(
    nvml: ModuleType, handle: Any, own: OwnProcesses, reserved: int | None
) -> ProcessCount:
    """Other compute processes on a device (``others=None`` without the query, or unknown)."""
    processes = _call(nvml, "nvmlDeviceGetComputeRunningProcesses", handle)
    if processes is None:
        return ProcessCount(None)
    listed = [Listed(getattr(p, "pid", None), getattr(p, "usedGpuMemory", None)) for p in processes]
    return count_others(listed, own, reserved)


def energy_mj(nvml: ModuleType, handle: Any) -> int | None:
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
    other_processes: int | None = None,
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
        energy_j=_energy_j(energy_mj(nvml, h), device.energy_start_mj),
        sm_clock_mhz=_call(nvml, "nvmlDeviceGetClockInfo", h, NVML_CLOCK_SM),
        temperature_c=_call(nvml, "nvmlDeviceGetTemperature", h, NVML_TEMPERATURE_GPU),
        throttle_reasons=decode_throttle_reasons(mask) if mask is not None else (),
        other_processes=other_processes,
        **activity,
    )
