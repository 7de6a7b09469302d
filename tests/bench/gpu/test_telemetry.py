"""Per-device truth and hardware activity, against a stub NVML (no GPU here).

The stubs follow pynvml's function names (nvidia-ml-py), GPM included: the sampler polls the
run's GPUs only, a CPU run reports "not used", GPM metrics appear where the GPU has them, and
energy, utilization and clocks are summarized from the readings inside each round.
"""

from __future__ import annotations

import pynvml
import pytest

from tests.bench.fakes import DeviceNvml, FakeClock, FakeNvml, GpmNvml, host
from virnucpro.bench.gpu.gpm import GpmReader
from virnucpro.bench.gpu.sampler import NOT_USED, GpuSampler
from virnucpro.bench.gpu.telemetry import RoundWork, assess_validity, telemetry_metrics
from virnucpro.bench.metric_names import GPU_ROUND_UTILIZATION, POOLED_POLLS, SAMPLES_LABEL
from virnucpro.bench.schema import GpuSample, GpuTelemetry

NEVER = 3600.0


def _run(fake: FakeNvml, devices, env=None, cuda_uuids=lambda: None) -> GpuTelemetry:
    with (
        GpuSampler(
            interval=NEVER,
            devices=devices,
            nvml=fake,
            clock=fake.clock,
            own=host(),
            env=env or {},
            cuda_uuids=cuda_uuids,
        ) as sampler,
        sampler.measured_round(0),
    ):
        sampler.sample_now()
    return sampler.telemetry()


# ----------------------------------------------------------------------------- item 1: devices


def test_the_sampler_polls_only_the_runs_gpu_through_cuda_visible_devices() -> None:
    t = _run(DeviceNvml(3), devices=(0,), env={"CUDA_VISIBLE_DEVICES": "2,0"})
    assert t.devices == ("NVIDIA H100 (nvml 2, pci 00000000:02:00.0)",)
    assert {s.device for s in t.samples} == {0}


def test_cuda_order_comes_from_cudas_uuids_not_pci_order() -> None:
    uuids = lambda: ["GPU-abcd2-0000", "GPU-abcd0-0000", "GPU-abcd1-0000"]  # noqa: E731
    t = _run(DeviceNvml(3), devices=(1, 2), cuda_uuids=uuids)
    assert [d.split("(")[1].split(",")[0] for d in t.devices] == ["nvml 0", "nvml 1"]


def test_without_cuda_facts_ordinals_follow_pci_order() -> None:
    t = _run(DeviceNvml(2), devices=(1,))
    assert t.devices == ("NVIDIA H100 (nvml 1, pci 00000000:01:00.0)",)


def test_a_cpu_run_on_a_gpu_machine_reports_not_used_and_never_starts_nvml() -> None:
    fake = DeviceNvml(2)
    t = _run(fake, devices=())
    assert not fake.initialized
    assert not t.available and t.reason == NOT_USED
    metrics = telemetry_metrics(t)
    util = next(m for m in metrics if m.name == "gpu.utilization")
    assert not util.available and util.reason == NOT_USED
    assert all(not m.available and m.reason == NOT_USED for m in metrics)


def test_validity_judges_only_the_runs_devices() -> None:
    fake = DeviceNvml(2, busy=1)
    assert assess_validity(_run(fake, devices=(0,))) == []
    reasons = assess_validity(_run(DeviceNvml(2, busy=1), devices=(0, 1)))
    assert len(reasons) == 2 and all(r.startswith("GPU 1 ") for r in reasons)


# ----------------------------------------------------------------------------- item 2: GPM


def test_gpm_metrics_where_the_gpu_has_them() -> None:
    fake = GpmNvml()
    t = _run(fake, devices=(0,))
    assert t.gpm_reason is None
    later = t.samples  # the reader's first GPM sample is taken when the sampler starts
    assert all((s.sm_active, s.tensor_active) == (71.5, 55.0) for s in later)
    assert all((s.sm_occupancy, s.dram_bw_util) == (40.0, 20.0) for s in later)
    metrics = {m.name: m for m in telemetry_metrics(t)}
    assert metrics["gpu.sm_active"].available and metrics["gpu.sm_active"].median == 71.5
    assert metrics["gpu.tensor_active"].labels["readings"] == str(len(later))
    assert fake.freed == 2  # both GPM buffers released at stop


def test_gpm_absent_reads_unavailable_not_supported() -> None:
    t = _run(GpmNvml(supported=False), devices=(0,))
    assert t.gpm_reason is not None and t.gpm_reason.startswith("not supported by this GPU")
    assert all(s.sm_active is None for s in t.samples)
    metric = next(m for m in telemetry_metrics(t) if m.name == "gpu.sm_active")
    assert not metric.available
    assert metric.reason is not None and metric.reason.startswith("unavailable (not supported")


def test_an_nvml_without_gpm_functions_says_so() -> None:
    reader = GpmReader(FakeNvml(), 0)  # type: ignore[arg-type]
    assert not reader.available and "no GPM functions" in (reader.reason or "")
    assert set(reader.read().values()) == {None}


def test_a_gpm_call_failing_gives_none_not_a_number() -> None:
    fake = GpmNvml()

    def broken(request: object) -> object:
        raise pynvml.NVMLError_Unknown()

    fake.nvmlGpmMetricsGet = broken  # type: ignore[method-assign]
    reader = GpmReader(fake, 0)  # type: ignore[arg-type]
    assert reader.available and set(reader.read().values()) == {None}


# ----------------------------------------------------------------------------- rounds, energy


def _round_samples() -> list[GpuSample]:
    return [
        GpuSample(
            t=0, device=0, round_index=0, utilization_gpu=50, energy_j=10.0, sm_clock_mhz=1980
        ),
        GpuSample(t=0, device=1, round_index=0, utilization_gpu=70, energy_j=5.0),
        GpuSample(t=1, device=0, round_index=0, utilization_gpu=90, energy_j=30.0),
        GpuSample(t=1, device=1, round_index=0, utilization_gpu=90, energy_j=15.0),
        GpuSample(t=2, device=0, round_index=1, utilization_gpu=100, energy_j=30.0),
        GpuSample(t=2, device=1, round_index=1, utilization_gpu=100, energy_j=15.0),
        GpuSample(
            t=3,
            device=0,
            round_index=1,
            utilization_gpu=80,
            energy_j=60.0,
            sm_clock_mhz=1410,
            throttle_reasons=("sw_power_cap",),
        ),
        GpuSample(
            t=3, device=1, round_index=1, utilization_gpu=80, energy_j=25.0, sm_clock_mhz=1755
        ),
    ]


def _telemetry(samples: list[GpuSample], devices: int = 2) -> GpuTelemetry:
    names = tuple(f"gpu{k}" for k in range(devices))
    return GpuTelemetry(available=True, interval_s=0.2, devices=names, samples=tuple(samples))


def test_energy_per_round_per_read_and_per_token() -> None:
    t = _telemetry(_round_samples())
    metrics = {m.name: m for m in telemetry_metrics(t, RoundWork(reads=200, tokens=10_000))}
    assert metrics["gpu.round.energy"].samples == (30.0, 40.0)  # 20 + 10, then 30 + 10
    assert metrics["gpu.energy_per_1k_reads"].samples == (150.0, 200.0)
    assert metrics["gpu.energy_per_token"].samples == pytest.approx((0.003, 0.004))
    assert metrics["gpu.energy_per_token"].unit == "J/token"


def test_energy_per_read_needs_the_rounds_work() -> None:
    metrics = {m.name: m for m in telemetry_metrics(_telemetry(_round_samples()))}
    assert metrics["gpu.round.energy"].available
    assert not metrics["gpu.energy_per_1k_reads"].available


def test_utilization_per_round_is_the_mean_of_its_readings_with_their_count() -> None:
    metrics = {m.name: m for m in telemetry_metrics(_telemetry(_round_samples()))}
    util = metrics["gpu.round.utilization"]
    assert util.samples == (75.0, 90.0) and util.labels == {"readings": "4,4"}


def test_pooled_readings_are_marked_and_round_means_are_not() -> None:
    """Polls pooled over the run, a device or a stage carry the marker the checker skips on."""
    samples = [s.model_copy(update={"stage": "esm"}) for s in _round_samples()]
    metrics = {m.name: m for m in telemetry_metrics(_telemetry(samples))}
    for name in ("gpu.utilization", "gpu.dev0.utilization", "gpu.esm.utilization"):
        assert metrics[name].labels[SAMPLES_LABEL] == POOLED_POLLS, name
    assert SAMPLES_LABEL not in metrics[GPU_ROUND_UTILIZATION].labels


def test_one_reading_is_not_a_figure() -> None:
    samples = [
        GpuSample(t=0, device=0, stage="esm", round_index=0, utilization_gpu=99, energy_j=1.0),
        GpuSample(t=1, device=0, stage="dnabert", utilization_gpu=10),
        GpuSample(t=2, device=0, stage="dnabert", utilization_gpu=30),
    ]
    metrics = {m.name: m for m in telemetry_metrics(_telemetry(samples, devices=1))}
    for name in ("gpu.esm.utilization", "gpu.round.utilization"):
        assert not metrics[name].available
        assert (
            "1 reading(s)" in (metrics[name].reason or "")
            and "not a figure" in metrics[name].reason
        )  # type: ignore[operator]
    assert metrics["gpu.dnabert.utilization"].samples == (10.0, 30.0)
    assert not metrics["gpu.round.energy"].available


def test_clocks_and_throttle_state_before_and_after_the_rounds() -> None:
    samples = _round_samples()
    samples[1] = samples[1].model_copy(update={"sm_clock_mhz": 1980})
    metrics = {m.name: m for m in telemetry_metrics(_telemetry(samples))}
    before, after = metrics["gpu.sm_clock_before_rounds"], metrics["gpu.sm_clock_after_rounds"]
    assert before.samples == (1980.0, 1980.0)
    assert before.labels["throttle"] == "dev0: none; dev1: none"
    assert after.samples == (1410.0, 1755.0)
    assert after.labels["throttle"] == "dev0: sw_power_cap; dev1: none"


def test_per_device_figures_when_the_run_used_several() -> None:
    metrics = {m.name: m for m in telemetry_metrics(_telemetry(_round_samples()))}
    assert metrics["gpu.dev0.utilization"].samples == (50.0, 90.0, 100.0, 80.0)
    assert metrics["gpu.dev1.utilization"].samples == (70.0, 90.0, 100.0, 80.0)


# ----------------------------------------------------------------------------- the sampler


def test_measured_rounds_tag_their_readings_with_one_at_each_end() -> None:
    fake = DeviceNvml(1)
    with GpuSampler(
        interval=NEVER,
        devices=(0,),
        nvml=fake,
        clock=fake.clock,
        own=host(),
        env={},
        cuda_uuids=lambda: None,
    ) as sampler:
        with sampler.measured_round(3):
            pass
        sampler.sample_now()
    rounds = [s.round_index for s in sampler.telemetry().samples]
    assert rounds == [None, 3, 3, None, None]


def test_paused_stops_polling_and_resumes() -> None:
    fake = DeviceNvml(1, clock=FakeClock())
    with GpuSampler(
        interval=NEVER, devices=(0,), nvml=fake, own=host(), env={}, cuda_uuids=lambda: None
    ) as sampler:
        assert sampler.polling
        with sampler.paused():
            assert not sampler.polling
        assert sampler.polling
    assert not sampler.polling


# ----------------------------------------------------------------------------- throttling


def _throttle_telemetry(warmup: tuple[str, ...], measured: tuple[str, ...]) -> GpuTelemetry:
    samples = [
        GpuSample(t=0.0, device=0, throttle_reasons=warmup),
        GpuSample(t=0.5, device=0, throttle_reasons=warmup),
        GpuSample(t=1.0, device=0, round_index=0, throttle_reasons=measured),
        GpuSample(t=1.5, device=0, round_index=0),
    ]
    return GpuTelemetry(available=True, devices=("H200",), samples=tuple(samples))


def test_throttling_is_judged_over_the_measured_rounds_not_the_warm_up() -> None:
    assert assess_validity(_throttle_telemetry(("hw_thermal_slowdown",), ())) == []
    reasons = assess_validity(_throttle_telemetry((), ("hw_slowdown",)))
    assert reasons == [
        "GPU 0 (H200): clocks slowed by hw_slowdown in 1 of 2 measured-round samples"
    ]
