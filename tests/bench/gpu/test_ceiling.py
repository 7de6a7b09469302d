"""The roofline's ceiling: warmed up, timed in blocks, the best block, clocks read meanwhile.

A fake matmul advances a fake clock: slow while the "GPU" warms up (its first second), fast
after. A ceiling from one cold matmul and a few timed ones would be the slow figure, and every
model stage's fraction of it too high; the ceiling must be the steady, fast one.
"""

from __future__ import annotations

import pytest
import torch

from tests.bench.fakes import FakeClock, FakeNvml, host
from virnucpro.bench.gpu.ceiling import (
    CEILING_PLANS,
    CEILING_STAGE,
    Ceiling,
    CeilingPlan,
    measure_ceiling,
)
from virnucpro.bench.gpu.sampler import GpuSampler

SIZE = 1000
FLOPS = 2 * SIZE**3
COLD_S, WARM_S = 0.020, 0.005  # per matmul before and after the first second
NEVER = 3600.0


class WarmingMatmul:
    """A matmul whose cost falls once the device has run for a second (fake clock)."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.calls = 0

    def __call__(self) -> None:
        self.calls += 1
        self.clock.now += COLD_S if self.clock.now < 1.0 else WARM_S


def test_the_gpu_plan_warms_up_a_second_and_times_over_fifty_matmuls() -> None:
    plan = CEILING_PLANS["cuda"]
    assert plan.warmup_s >= 1.0 and plan.timed_matmuls >= 50 and plan.blocks >= 5


def test_the_ceiling_is_the_steady_state_after_the_warm_up() -> None:
    clock = FakeClock()
    matmul = WarmingMatmul(clock)
    plan = CeilingPlan(warmup_s=1.0, blocks=6, matmuls=10)
    ceiling = measure_ceiling(
        torch.float32, torch.device("cpu"), plan=plan, workload=(SIZE, matmul), clock=clock
    )
    assert ceiling.warmup_seconds >= 1.0 and ceiling.warmup_matmuls >= 1.0 / COLD_S
    assert matmul.calls == ceiling.warmup_matmuls + 60
    assert len(ceiling.flops_per_s) == 6
    assert ceiling.best == pytest.approx(FLOPS / WARM_S)  # not the cold FLOPS / COLD_S
    assert ceiling.as_dict()["best_flops_per_s"] == ceiling.best


def test_the_best_block_is_the_ceiling_not_the_median() -> None:
    clock = FakeClock()
    costs = iter([0.0, 0.004, 0.010, 0.010, 0.008])  # warm-up, then 4 blocks of one matmul

    def matmul() -> None:
        clock.now += next(costs)

    ceiling = measure_ceiling(
        torch.float32,
        torch.device("cpu"),
        plan=CeilingPlan(warmup_s=0.0, blocks=4, matmuls=1),
        workload=(SIZE, matmul),
        clock=clock,
    )
    assert ceiling.best == pytest.approx(FLOPS / 0.004)


def test_clocks_and_power_are_read_while_the_blocks_run() -> None:
    clock = FakeClock()
    fake = FakeNvml(clock=clock)
    with GpuSampler(
        interval=NEVER, devices=(0,), nvml=fake, own=host(), env={}, cuda_uuids=lambda: None
    ) as sampler:
        ceiling = measure_ceiling(
            torch.float32,
            torch.device("cpu"),
            plan=CeilingPlan(warmup_s=0.0, blocks=3, matmuls=2),
            workload=(SIZE, WarmingMatmul(FakeClock())),
            sampler=sampler,
        )
        tagged = [s for s in sampler.telemetry().samples if s.stage == CEILING_STAGE]
    assert len(tagged) == 3  # one reading per block
    assert ceiling.sm_clock_mhz == (1980, 1980, 1980) and ceiling.power_w == (312.5,) * 3
    assert ceiling.conditions() == "SM clock 1980 MHz, power median 312 W, throttle: none"


def _one_block(sampler: GpuSampler | None = None) -> Ceiling:
    clock = FakeClock()
    return measure_ceiling(
        torch.float32,
        torch.device("cpu"),
        plan=CeilingPlan(warmup_s=0.0, blocks=1, matmuls=1),
        workload=(SIZE, WarmingMatmul(clock)),
        clock=clock,
        sampler=sampler,
    )


def test_without_a_sampler_the_conditions_say_why() -> None:
    assert _one_block().conditions() == "clocks and power unavailable (no GPU sampler)"
    with GpuSampler(devices=()) as cpu_run:
        ceiling = _one_block(cpu_run)
    assert "not used: the run is on the CPU" in ceiling.conditions()


def test_a_real_cpu_matmul_gives_flops_per_second() -> None:
    plan = CeilingPlan(warmup_s=0.0, blocks=2, matmuls=1)
    ceiling = measure_ceiling(torch.float32, torch.device("cpu"), plan=plan)
    assert len(ceiling.flops_per_s) == 2 and all(f > 0 for f in ceiling.flops_per_s)
    assert (ceiling.size, ceiling.dtype, ceiling.device) == (2048, "float32", "cpu")


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_the_ceiling_on_a_gpu_is_warm_timed_with_events_and_read_under_load() -> None:
    device = torch.device("cuda", 0)
    with GpuSampler(devices=(0,)) as sampler:
        ceiling = measure_ceiling(torch.bfloat16, device, sampler=sampler)
    assert ceiling.warmup_seconds >= 1.0
    assert len(ceiling.flops_per_s) * ceiling.plan.matmuls >= 50
    assert ceiling.best >= max(ceiling.flops_per_s) > 0
    if sampler.telemetry().available:  # NVML present: the clocks were read under load
        assert ceiling.sm_clock_mhz and ceiling.conditions_reason is None
