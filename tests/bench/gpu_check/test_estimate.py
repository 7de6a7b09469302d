"""The dry run's estimate of each step on the GPU machine: host CPU time, GPU compute of the
published sizes, fixed costs; against each step's GPU limit and the budget."""

from __future__ import annotations

import numpy as np
import pytest

from virnucpro.bench.gpu.roofline import dnabert_flops, esm_flops
from virnucpro.bench.gpu_check import estimate as est
from virnucpro.bench.gpu_check.estimate import PassWork, estimate, pass_flops
from virnucpro.bench.gpu_check.spec import STEP_SPECS, StepOutcome
from virnucpro.models.dnabert import DNABERT_S_CONFIG
from virnucpro.models.dnabert_tokenizer import build_synthetic_tokenizer
from virnucpro.models.esm2 import ESM2_SIZES

LIMITS = {s.name: s.limit_s for s in STEP_SPECS}
WORK = PassWork(dnabert_flops=int(10e12), esm_flops=int(390e12), frames=400)


def _step(name: str, cpu: float, **figures: object) -> StepOutcome:
    return StepOutcome(name, name, "ok", cpu * 2, LIMITS[name], dict(figures), "", cpu)


def test_a_pass_counts_the_published_sizes_over_the_frames() -> None:
    nucleotides, proteins = ["ACGT" * 120, "GGCA" * 100], ["M" * 160, "K" * 133]
    work = pass_flops(nucleotides, proteins)
    tokens = np.array([len(t) for t in build_synthetic_tokenizer().encode_batch(nucleotides)])
    assert work.dnabert_flops == dnabert_flops(tokens, DNABERT_S_CONFIG)
    assert work.esm_flops == esm_flops(np.array([160, 133]), ESM2_SIZES["esm2_t36_3B_UR50D"])
    assert work.frames == 2


def test_vanilla_is_slower_per_pass_than_fast_by_rate_and_per_sequence_launches() -> None:
    assert WORK.fast_s == pytest.approx(400e12 / est.FAST_FLOPS)
    assert WORK.vanilla_s == pytest.approx(400e12 / est.VANILLA_FLOPS + 400 * 0.005)


def test_each_step_is_host_time_plus_gpu_compute_plus_fixed_costs() -> None:
    steps = [
        _step("throughput", 10.0, passes={"fast": 4}),
        _step("end_to_end", 15.0, passes={"vanilla": 4, "fast": 4}),
        _step("gpu_tests", 6.0, counts={"skipped": 9, "deselected": 90}),
        _step("ab_self_check", 20.0),
    ]
    result = {s.name: s for s in estimate(steps, WORK, 450.0).steps}
    throughput = result["throughput"]
    assert throughput.host_s == 10.0
    assert throughput.gpu_s == pytest.approx(4 * WORK.fast_s + est.ceiling_s())
    assert throughput.fixed_s == est.CUDA_START_S + est.MODEL_BUILD_S  # the first model step
    assert result["end_to_end"].fixed_s == 0.0  # same process, models already built
    assert result["end_to_end"].gpu_s == pytest.approx(4 * (WORK.fast_s + WORK.vanilla_s))
    assert result["gpu_tests"].fixed_s == est.CUDA_START_S + 9 * est.GPU_TEST_S
    assert result["ab_self_check"].fixed_s == 2 * est.CUDA_START_S


def test_it_fits_only_within_every_limit_and_the_budget() -> None:
    fast = [_step("throughput", 10.0, passes={"fast": 4}), _step("quick_tier", 10.0)]
    assert estimate(fast, WORK, 450.0).fits
    slow = [_step("quick_tier", LIMITS["quick_tier"] + 1)]
    assert not estimate(slow, WORK, 450.0).fits
    assert not estimate(fast, WORK, budget_s=40.0).fits  # each fits, the sum does not


def test_a_step_that_did_not_run_has_no_estimate() -> None:
    never = StepOutcome("quick_tier", "q", "not run", None, None)
    assert estimate([never], WORK, 450.0).steps == ()
