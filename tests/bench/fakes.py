"""Fakes the measuring tests share: a clock that moves only when told, and a stub NVML that
follows pynvml's function names (no GPU here), with the per-device and GPM variants."""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace

import pynvml

from virnucpro.bench.gpu.processes import OwnProcesses

OWN_PID = 4242
HW_THERMAL = 0x40
GPM_VALUES = {
    pynvml.NVML_GPM_METRIC_SM_UTIL: 71.5,
    pynvml.NVML_GPM_METRIC_SM_OCCUPANCY: 40.0,
    pynvml.NVML_GPM_METRIC_ANY_TENSOR_UTIL: 55.0,
    pynvml.NVML_GPM_METRIC_DRAM_BW_UTIL: 20.0,
}


class FakeClock:
    """A clock that advances only when a test (or a fake) moves ``now``."""

    def __init__(self, start: float = 0.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now


def host(*pids: int) -> Callable[[], OwnProcesses]:
    """This run's processes as ``pids`` in the initial PID namespace (NVML's pids compare)."""
    first = pids[0] if pids else OWN_PID
    own = OwnProcesses(first, frozenset(pids), descendants=0, initial_namespace=True)
    return lambda: own


class FakeNvml:
    """Just enough of pynvml: per-device readings, each query costing 1 s of the fake clock."""

    NVMLError = pynvml.NVMLError

    def __init__(
        self,
        devices: int = 1,
        *,
        clock: FakeClock | None = None,
        power: bool = True,
        throttle: int = 0,
        processes: tuple[int, ...] = (),
        init_error: Exception | None = None,
    ) -> None:
        self.count = devices
        self.clock = clock or FakeClock()
        self.power = power
        self.throttle = throttle
        self.processes = processes
        self.init_error = init_error
        self.energy_mj = [5_000_000] * devices
        self.process_queries = 0
        self.shutdowns = 0

    def nvmlInit(self) -> None:
        if self.init_error is not None:
            raise self.init_error

    def nvmlShutdown(self) -> None:
        self.shutdowns += 1

    def nvmlSystemGetDriverVersion(self) -> bytes:
        return b"550.54.15"

    def nvmlDeviceGetCount(self) -> int:
        return self.count

    def nvmlDeviceGetHandleByIndex(self, i: int) -> int:
        return i

    def nvmlDeviceGetName(self, h: int) -> bytes:
        return b"NVIDIA H100"

    def nvmlDeviceGetUUID(self, h: int) -> str:
        return f"GPU-abcd{h}-0000"

    def nvmlDeviceGetPciInfo(self, h: int) -> SimpleNamespace:
        return SimpleNamespace(busId=f"00000000:0{h}:00.0".encode())

    def nvmlDeviceGetUtilizationRates(self, h: int) -> SimpleNamespace:
        self.clock.now += 1.0
        return SimpleNamespace(gpu=90 - 10 * h, memory=40)

    def nvmlDeviceGetMemoryInfo(self, h: int) -> SimpleNamespace:
        return SimpleNamespace(used=(h + 1) * 2**30, total=80 * 2**30, free=0)

    def nvmlDeviceGetPowerUsage(self, h: int) -> int:
        if not self.power:
            raise pynvml.NVMLError_NotSupported()
        return 312_500

    def nvmlDeviceGetTotalEnergyConsumption(self, h: int) -> int:
        self.energy_mj[h] += 1500
        return self.energy_mj[h]

    def nvmlDeviceGetClockInfo(self, h: int, clock: int) -> int:
        assert clock == pynvml.NVML_CLOCK_SM
        return 1980

    def nvmlDeviceGetTemperature(self, h: int, sensor: int) -> int:
        assert sensor == pynvml.NVML_TEMPERATURE_GPU
        return 61

    def nvmlDeviceGetCurrentClocksEventReasons(self, h: int) -> int:
        return self.throttle

    def nvmlDeviceGetComputeRunningProcesses(self, h: int) -> list[SimpleNamespace]:
        self.process_queries += 1
        return [SimpleNamespace(pid=p, usedGpuMemory=1) for p in self.processes]


class DeviceNvml(FakeNvml):
    """FakeNvml whose device ``busy`` is throttled and used by another process."""

    def __init__(self, devices: int, *, busy: int | None = None, **kwargs: object) -> None:
        super().__init__(devices, **kwargs)  # type: ignore[arg-type]
        self.busy = busy
        self.initialized = False

    def nvmlInit(self) -> None:
        self.initialized = True

    def nvmlDeviceGetCurrentClocksEventReasons(self, h: int) -> int:
        return HW_THERMAL if h == self.busy else 0

    def nvmlDeviceGetComputeRunningProcesses(self, h: int) -> list[SimpleNamespace]:
        return [SimpleNamespace(pid=99, usedGpuMemory=1)] if h == self.busy else []


class GpmNvml(DeviceNvml):
    """DeviceNvml with NVML's GPM functions (Hopper: supported; else ``supported=False``)."""

    c_nvmlGpmMetricsGet_t = pynvml.c_nvmlGpmMetricsGet_t
    NVML_GPM_METRICS_GET_VERSION = pynvml.NVML_GPM_METRICS_GET_VERSION

    def __init__(self, devices: int = 1, *, supported: bool = True, **kwargs: object) -> None:
        super().__init__(devices, **kwargs)  # type: ignore[arg-type]
        self.supported = supported
        self.freed = 0
        for name in ("SM_UTIL", "SM_OCCUPANCY", "ANY_TENSOR_UTIL", "DRAM_BW_UTIL"):
            setattr(self, f"NVML_GPM_METRIC_{name}", getattr(pynvml, f"NVML_GPM_METRIC_{name}"))

    def nvmlGpmQueryDeviceSupport(self, h: int) -> SimpleNamespace:
        return SimpleNamespace(isSupportedDevice=int(self.supported))

    def nvmlGpmSampleAlloc(self) -> object:
        return pynvml.c_nvmlGpmSample_t()

    def nvmlGpmSampleGet(self, h: int, sample: object) -> object:
        return sample

    def nvmlGpmSampleFree(self, sample: object) -> None:
        self.freed += 1

    def nvmlGpmMetricsGet(self, request: pynvml.c_nvmlGpmMetricsGet_t) -> object:
        for k in range(request.numMetrics):
            request.metrics[k].value = GPM_VALUES[request.metrics[k].metricId]
            request.metrics[k].nvmlReturn = 0
        return request
