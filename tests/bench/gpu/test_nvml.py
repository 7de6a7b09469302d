"""The sampler against a stub NVML (no GPU here): the stub follows pynvml's function names."""

from __future__ import annotations

import sys
import time
from types import SimpleNamespace

import pynvml
import pytest

from tests.bench.fakes import HW_THERMAL, OWN_PID, FakeNvml, host
from virnucpro.bench.gpu import nvml as nvml_mod
from virnucpro.bench.gpu.nvml import cuda_uuids as CUDA_UUIDS
from virnucpro.bench.gpu.nvml import (
    decode_throttle_reasons,
    driver_version,
    load_nvml,
    resolve_devices,
)
from virnucpro.bench.gpu.sampler import DEFAULT_INTERVAL_S, GpuSampler
from virnucpro.bench.gpu.telemetry import assess_validity, telemetry_metrics
from virnucpro.bench.schema import GpuSample, GpuTelemetry

NEVER = 3600.0  # an interval the test never reaches: only the start and stop readings happen
GPU_IDLE = 0x1


@pytest.fixture(autouse=True)
def _no_cuda_mapping(monkeypatch):
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    monkeypatch.setattr(nvml_mod, "cuda_uuids", lambda: None)


def _sample(fake: FakeNvml, **kwargs) -> GpuTelemetry:
    kwargs.setdefault("own", host(OWN_PID))
    with GpuSampler(interval=NEVER, nvml=fake, clock=fake.clock, **kwargs) as sampler:
        sampler.set_stage("esm")
    return sampler.telemetry()


def test_default_interval():
    assert DEFAULT_INTERVAL_S == 0.2


def test_samples_readings_with_units_converted():
    fake = FakeNvml(devices=2, processes=(OWN_PID,))
    t = _sample(fake, process_every=1)
    assert t.available and t.interval_s == NEVER
    assert t.devices == (
        "NVIDIA H100 (nvml 0, pci 00000000:00:00.0)",
        "NVIDIA H100 (nvml 1, pci 00000000:01:00.0)",
    )
    assert len(t.samples) == 4  # start and stop readings of two devices
    first = t.samples[0]
    assert (first.device, first.utilization_gpu, first.utilization_mem) == (0, 90, 40)
    assert first.memory_used_bytes == 2**30
    assert first.power_w == pytest.approx(312.5)
    assert first.sm_clock_mhz == 1980 and first.temperature_c == 61
    assert first.energy_j == pytest.approx(1.5)  # 1500 mJ since the baseline reading
    assert t.samples[2].energy_j == pytest.approx(3.0)
    assert first.other_processes == 0  # our own pid is not "other"
    assert fake.shutdowns == 1


def test_samples_tagged_with_stage():
    fake = FakeNvml()
    with GpuSampler(interval=NEVER, nvml=fake, own=host()) as sampler:
        with sampler.stage("dnabert"):
            sampler.sample_now()
        sampler.sample_now()
        sampler.set_stage("esm")
    stages = [s.stage for s in sampler.telemetry().samples]
    assert stages == [None, "dnabert", None, "esm"]


def test_processes_polled_less_often():
    fake = FakeNvml(processes=(1, 2))
    with GpuSampler(interval=NEVER, nvml=fake, process_every=2, own=host()) as sampler:
        sampler.sample_now()
        sampler.sample_now()
    counts = [s.other_processes for s in sampler.telemetry().samples]
    assert counts == [2, None, 2, None]
    assert fake.process_queries == 2


def test_other_process_makes_run_invalid():
    t = _sample(FakeNvml(processes=(OWN_PID, 999)), process_every=1)
    reasons = assess_validity(t)
    assert len(reasons) == 1 and "1 other process" in reasons[0]


def test_throttle_decoding():
    assert decode_throttle_reasons(0) == ()
    assert decode_throttle_reasons(GPU_IDLE | HW_THERMAL) == ("gpu_idle", "hw_thermal_slowdown")
    assert decode_throttle_reasons(0x4 | 0x800) == ("sw_power_cap", "bit_0x800")


def test_thermal_throttling_invalidates_but_idle_does_not():
    assert assess_validity(_sample(FakeNvml(throttle=GPU_IDLE | 0x2 | 0x4))) == []
    reasons = assess_validity(_sample(FakeNvml(throttle=HW_THERMAL | GPU_IDLE)))
    assert reasons == [
        "GPU 0 (NVIDIA H100 (nvml 0, pci 00000000:00:00.0)): clocks slowed by "
        "hw_thermal_slowdown in 2 of 2 samples"
    ]


def test_throttle_fallback_to_older_function():
    fake = FakeNvml()

    def missing(h: int) -> int:
        raise pynvml.NVMLError_FunctionNotFound()

    fake.nvmlDeviceGetCurrentClocksEventReasons = missing  # type: ignore[method-assign]
    fake.nvmlDeviceGetCurrentClocksThrottleReasons = lambda h: HW_THERMAL  # type: ignore[attr-defined]
    t = _sample(fake)
    assert t.samples[0].throttle_reasons == ("hw_thermal_slowdown",)


def test_not_supported_field_is_none_others_recorded():
    t = _sample(FakeNvml(power=False))
    assert all(s.power_w is None for s in t.samples)
    assert all(s.utilization_gpu == 90 for s in t.samples)
    metrics = {m.name: m for m in telemetry_metrics(t)}
    assert not metrics["gpu.power"].available and metrics["gpu.power"].reason
    assert metrics["gpu.utilization"].samples == (90.0, 90.0)


def test_not_started_is_unavailable():
    t = GpuSampler(nvml=FakeNvml()).telemetry()  # type: ignore[arg-type]
    assert not t.available and t.reason == "sampler was not started"


def test_library_missing_is_unavailable_with_reason(monkeypatch):
    monkeypatch.setitem(sys.modules, "pynvml", None)
    with GpuSampler() as sampler:
        pass
    t = sampler.telemetry()
    assert not t.available and "nvidia-ml-py" in (t.reason or "")
    assert t.samples == () and t.overhead_fraction is None  # never estimated by the sampler
    assert all(not m.available for m in telemetry_metrics(t))


@pytest.mark.parametrize(
    ("error", "words"),
    [
        (pynvml.NVMLError_LibraryNotFound, "library not found"),
        (pynvml.NVMLError_DriverNotLoaded, "driver not loaded"),
        (pynvml.NVMLError_Unknown, "could not start"),
    ],
)
def test_no_driver_is_unavailable_with_reason(error, words):
    t = _sample(FakeNvml(init_error=error()))
    assert not t.available and words in (t.reason or "")


def test_real_pynvml_functions_stubbed(monkeypatch):
    """Stubs on the real module; the queries left alone fail (no library) and read as None."""
    stubs = {
        "nvmlInit": lambda: None,
        "nvmlShutdown": lambda: None,
        "nvmlDeviceGetCount": lambda: 1,
        "nvmlDeviceGetHandleByIndex": lambda i: i,
        "nvmlDeviceGetName": lambda h: "NVIDIA H100",
        "nvmlDeviceGetUtilizationRates": lambda h: SimpleNamespace(gpu=77, memory=12),
        "nvmlDeviceGetPowerUsage": lambda h: 100_000,
    }
    for name, stub in stubs.items():
        monkeypatch.setattr(pynvml, name, stub)
    module, reason = load_nvml()
    assert module is pynvml and reason is None
    with GpuSampler(interval=NEVER, own=host()) as sampler:
        pass
    t = sampler.telemetry()
    assert t.available and t.devices == ("NVIDIA H100 (nvml 0, pci ?)",)
    sample = t.samples[0]
    assert (sample.utilization_gpu, sample.power_w) == (77, 100.0)
    assert sample.memory_used_bytes is None and sample.temperature_c is None
    assert sample.energy_j is None and sample.throttle_reasons == ()


def test_driver_version():
    assert driver_version(FakeNvml()) == "550.54.15"  # type: ignore[arg-type]
    error = pynvml.NVMLError_DriverNotLoaded()
    assert driver_version(FakeNvml(init_error=error)) is None  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("visible", "expected"),
    [
        (None, [0, 1, 2]),
        ("2,0", [2, 0]),
        ("1,bad,2", [1]),
        ("", []),
        ("-1", []),
        ("GPU-abcd2", [2]),
        ("MIG-xyz", []),
    ],
)
def test_resolve_devices_follows_cuda_visible_devices(visible, expected):
    env = {} if visible is None else {"CUDA_VISIBLE_DEVICES": visible}
    devices = resolve_devices(FakeNvml(devices=3), env=env)  # type: ignore[arg-type]
    assert [int(d.label.split("nvml ")[1].split(",")[0]) for d in devices] == expected


def test_resolve_devices_prefers_cuda_uuids_and_explicit_indices():
    fake = FakeNvml(devices=3)
    by_uuid = resolve_devices(fake, cuda_uuids=lambda: ["GPU-abcd1-0000"])  # type: ignore[arg-type]
    assert [d.handle for d in by_uuid] == [1]
    assert [d.handle for d in resolve_devices(fake, [2])] == [2]  # type: ignore[arg-type]


def _telemetry(samples: list[GpuSample], devices: int = 1) -> GpuTelemetry:
    names = tuple(f"gpu{k}" for k in range(devices))
    return GpuTelemetry(available=True, interval_s=0.2, devices=names, samples=tuple(samples))


def test_summary_metrics_per_device_and_stage():
    samples = [
        GpuSample(t=0.0, device=0, stage="dnabert", utilization_gpu=20, energy_j=1.0),
        GpuSample(t=0.0, device=1, stage="dnabert", utilization_gpu=40, energy_j=2.0),
        GpuSample(t=0.2, device=0, stage="esm", utilization_gpu=90, energy_j=5.0),
        GpuSample(t=0.2, device=1, stage="esm", utilization_gpu=100, energy_j=7.0),
    ]
    t = _telemetry(samples, devices=2)
    metrics = {m.name: m for m in telemetry_metrics(t)}
    util = metrics["gpu.utilization"]
    assert (util.unit, util.better, util.samples) == ("%", "higher", (20.0, 40.0, 90.0, 100.0))
    assert metrics["gpu.dev1.utilization"].samples == (40.0, 100.0)
    assert metrics["gpu.esm.utilization"].samples == (90.0, 100.0)
    assert metrics["gpu.esm.utilization"].stage == "esm"
    assert not metrics["gpu.esm.power"].available and metrics["gpu.esm.power"].stage == "esm"
    assert metrics["gpu.energy"].samples == (12.0,)  # last delta of each device
    assert metrics["gpu.energy"].better == "lower"
    assert not metrics["gpu.power"].available


def test_brief_throttling_tolerated_by_fraction():
    samples = [GpuSample(t=float(i), device=0) for i in range(9)]
    samples.append(GpuSample(t=9.0, device=0, throttle_reasons=("hw_slowdown",)))
    t = _telemetry(samples)
    assert len(assess_validity(t)) == 1
    assert assess_validity(t, max_throttled_fraction=0.1) == []


def test_unavailable_telemetry_judges_nothing():
    assert assess_validity(GpuTelemetry(available=False, reason="no GPU")) == []


def test_cuda_uuids_get_nvml_prefix(monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "is_initialized", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.setattr(
        torch.cuda, "get_device_properties", lambda i: SimpleNamespace(uuid=f"abcd{1 - i}-0000")
    )
    assert CUDA_UUIDS() == ["GPU-abcd1-0000", "GPU-abcd0-0000"]
    fake = FakeNvml(devices=2)
    assert [d.handle for d in resolve_devices(fake, cuda_uuids=CUDA_UUIDS)] == [1, 0]  # type: ignore[arg-type]


def test_zero_devices_releases_nvml():
    fake = FakeNvml(devices=0)
    t = _sample(fake)
    assert not t.available and t.reason == "no visible NVIDIA GPU"
    assert fake.shutdowns == 1


def test_background_thread_keeps_sampling():
    """Waits for readings (bounded); asserts that they arrive, not how fast."""
    fake = FakeNvml()
    with GpuSampler(interval=0.01, nvml=fake, own=host()) as sampler:
        deadline = time.monotonic() + 10.0
        while len(sampler.telemetry().samples) < 4 and time.monotonic() < deadline:
            time.sleep(0.01)
    samples = sampler.telemetry().samples
    assert len(samples) >= 5  # at least 3 from the thread plus the start and stop readings
    assert [s.t for s in samples] == sorted(s.t for s in samples)
