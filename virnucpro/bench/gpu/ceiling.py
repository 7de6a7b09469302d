"""The roofline's ceiling: the FLOP/s of a large square matmul, measured in the run.

The matmul runs in the stage's dtype (bf16 on a GPU, fp32 on the CPU unless the engine runs
another dtype), on the same device and threads as the model stages. A GPU right after model
building runs below its steady clocks, and one cold matmul is a low ceiling that inflates every
fraction of it; so on a GPU the matmul first runs for :attr:`CeilingPlan.warmup_s` (about a
second), then 60 matmuls are timed in blocks of 10 between CUDA events, and the ceiling is the
**best** block (the steady state the model stages are held to). The clocks, power and throttle
reasons read while the blocks run (a reading is taken while each block is still on the GPU) are
kept beside the figures (:class:`Ceiling`). On the CPU: one warm-up matmul, then single timed
matmuls, the best of them.
"""

from __future__ import annotations

import contextlib
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import torch

from virnucpro.bench.schema import GpuSample
from virnucpro.pipeline.metrics import synchronize

CEILING_SIZES = {"cuda": 8192, "cpu": 2048}  # square matmul side: large enough to saturate
CEILING_STAGE = "ceiling"  # the sampler's stage tag while the ceiling's blocks run


def ceiling_dtype(device: torch.device, precision: str) -> torch.dtype:
    """The ceiling's dtype: the stage's compute dtype (fp32 for ``fp32``, else the half type)."""
    from virnucpro.engines.precision import dtype_of, resolve_precision

    return dtype_of(resolve_precision(precision, device))


@dataclass(frozen=True)
class CeilingPlan:
    """How the ceiling is timed: warm-up, then ``blocks`` timed blocks of ``matmuls`` each."""

    warmup_s: float  # keep multiplying at least this long (and at least one block) first
    blocks: int  # timed figures
    matmuls: int  # matmuls per block (one pair of CUDA events around them on a GPU)

    @property
    def timed_matmuls(self) -> int:
        return self.blocks * self.matmuls


CEILING_PLANS = {
    "cuda": CeilingPlan(warmup_s=1.0, blocks=6, matmuls=10),  # ~1 s + 60 x ~1.4 ms on an H200
    "cpu": CeilingPlan(warmup_s=0.0, blocks=5, matmuls=1),  # 5 x ~0.3 s at 2048 on one core
}


class Sampler(Protocol):
    """What the ceiling needs of a GPU sampler (:class:`virnucpro.bench.gpu.sampler.GpuSampler`)."""

    def stage(self, name: str) -> Any: ...

    def sample_now(self) -> None: ...

    def telemetry(self) -> Any: ...


@dataclass(frozen=True)
class Ceiling:
    """The ceiling's figures (one per timed block), how they were taken, and the conditions."""

    dtype: str
    device: str
    size: int
    flops_per_s: tuple[float, ...]
    plan: CeilingPlan
    warmup_seconds: float
    warmup_matmuls: int
    sm_clock_mhz: tuple[int, ...] = ()  # readings while the blocks ran
    power_w: tuple[float, ...] = ()
    throttle_reasons: tuple[str, ...] = ()
    conditions_reason: str | None = None  # why no clock or power was read

    @property
    def best(self) -> float:
        """The steady-state ceiling: the fastest block."""
        return max(self.flops_per_s)

    def conditions(self) -> str:
        """The clocks and power while the blocks ran, in a few words (or why none were read)."""
        if self.conditions_reason is not None:
            return f"clocks and power unavailable ({self.conditions_reason})"
        parts = []
        if self.sm_clock_mhz:
            low, high = min(self.sm_clock_mhz), max(self.sm_clock_mhz)
            parts.append(f"SM clock {low}-{high} MHz" if low != high else f"SM clock {low} MHz")
        if self.power_w:
            parts.append(f"power median {statistics.median(self.power_w):.0f} W")
        parts.append(f"throttle: {', '.join(self.throttle_reasons) or 'none'}")
        return ", ".join(parts)

    def as_dict(self) -> dict[str, Any]:
        return {
            "dtype": self.dtype,
            "device": self.device,
            "matmul": f"{self.size}x{self.size}",
            "flops_per_s": list(self.flops_per_s),
            "best_flops_per_s": self.best,
            "blocks": self.plan.blocks,
            "matmuls_per_block": self.plan.matmuls,
            "warmup_seconds": self.warmup_seconds,
            "warmup_matmuls": self.warmup_matmuls,
            "sm_clock_mhz": list(self.sm_clock_mhz),
            "power_w": list(self.power_w),
            "throttle_reasons": list(self.throttle_reasons),
            "conditions": self.conditions(),
        }


def square_matmul(dtype: torch.dtype, device: torch.device) -> tuple[int, Callable[[], object]]:
    """The ceiling's workload: a ``size x size`` matmul, ``size`` by device kind."""
    size = CEILING_SIZES.get(device.type, CEILING_SIZES["cpu"])
    a = torch.randn(size, size, device=device).to(dtype)
    b = torch.randn(size, size, device=device).to(dtype)
    return size, lambda: a @ b


def _run_block(
    matmul: Callable[[], object],
    count: int,
    device: torch.device,
    clock: Callable[[], float],
    during: Callable[[], None],
) -> float:
    """Seconds for ``count`` matmuls: CUDA events on a GPU (``during`` runs while they do),
    the clock around a synchronized block elsewhere."""
    if device.type == "cuda":
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        for _ in range(count):
            matmul()
        end.record()
        during()  # the GPU is still multiplying: a reading of its clocks under load
        end.synchronize()
        return start.elapsed_time(end) / 1000.0
    synchronize(device)
    begin = clock()
    for _ in range(count):
        matmul()
    synchronize(device)
    seconds = clock() - begin
    during()
    return seconds


def _warm_up(
    matmul: Callable[[], object],
    plan: CeilingPlan,
    device: torch.device,
    clock: Callable[[], float],
) -> tuple[float, int]:
    """Multiply in blocks until ``plan.warmup_s`` has passed (at least one block on a GPU, one
    matmul elsewhere): the seconds it took and the matmuls run."""
    per_block = plan.matmuls if device.type == "cuda" else 1
    begin, done = clock(), 0
    while done == 0 or clock() - begin < plan.warmup_s:
        for _ in range(per_block):
            matmul()
        synchronize(device)
        done += per_block
    return clock() - begin, done


def _conditions(sampler: Sampler | None) -> dict[str, Any]:
    if sampler is None:
        return {"conditions_reason": "no GPU sampler"}
    telemetry = sampler.telemetry()
    if not telemetry.available:
        return {"conditions_reason": telemetry.reason}
    readings: list[GpuSample] = [s for s in telemetry.samples if s.stage == CEILING_STAGE]
    clocks = tuple(s.sm_clock_mhz for s in readings if s.sm_clock_mhz is not None)
    power = tuple(s.power_w for s in readings if s.power_w is not None)
    if not clocks and not power:
        return {"conditions_reason": "NVML gave no clock or power reading"}
    throttle = tuple(sorted({r for s in readings for r in s.throttle_reasons}))
    return {"sm_clock_mhz": clocks, "power_w": power, "throttle_reasons": throttle}


def measure_ceiling(
    dtype: torch.dtype,
    device: torch.device,
    *,
    plan: CeilingPlan | None = None,
    sampler: Sampler | None = None,
    workload: tuple[int, Callable[[], object]] | None = None,
    clock: Callable[[], float] = time.perf_counter,
) -> Ceiling:
    """The ceiling as the module doc says: warm-up, timed blocks, conditions from ``sampler``
    (its readings tagged :data:`CEILING_STAGE`, one taken while each block runs)."""
    plan = plan or CEILING_PLANS.get(device.type, CEILING_PLANS["cpu"])
    size, matmul = workload or square_matmul(dtype, device)
    warmup_seconds, warmup_matmuls = _warm_up(matmul, plan, device, clock)
    during = sampler.sample_now if sampler is not None else lambda: None
    tagged = sampler.stage(CEILING_STAGE) if sampler is not None else contextlib.nullcontext()
    with tagged:
        seconds = [
            _run_block(matmul, plan.matmuls, device, clock, during) for _ in range(plan.blocks)
        ]
    flops = 2 * size**3 * plan.matmuls
    figures = tuple(flops / s for s in seconds if s > 0)
    if not figures:
        raise RuntimeError(f"the {size}x{size} ceiling matmul took no measurable time")
    return Ceiling(
        dtype=str(dtype).removeprefix("torch."),
        device=str(device),
        size=size,
        flops_per_s=figures,
        plan=plan,
        warmup_seconds=warmup_seconds,
        warmup_matmuls=warmup_matmuls,
        **_conditions(sampler),
    )
