"""The GPU check's model steps: sizes, the records they write, the per-stage GPU activity."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from virnucpro.bench.gpu_check import steps as steps_mod
from virnucpro.bench.gpu_check.steps import DRY_RUN_SIZES, GPU_SIZES, _activity
from virnucpro.bench.schema import GpuSample, GpuTelemetry


def test_the_gpu_sizes_are_the_published_ones_in_bf16_and_the_dry_run_tiny_on_cpu() -> None:
    assert (GPU_SIZES.preset, GPU_SIZES.data_size) == ("dnabert-s+esm2-3b", "small")
    assert (GPU_SIZES.device, GPU_SIZES.fast_precision) == ("cuda", "bf16")
    assert (DRY_RUN_SIZES.preset, DRY_RUN_SIZES.device) == ("tiny", "cpu")


def test_the_dry_run_differs_from_the_gpu_run_only_in_models_and_device() -> None:
    """The same workload, rounds and pairs: the dry run's time is a basis for the estimate."""
    same = replace(DRY_RUN_SIZES, preset=GPU_SIZES.preset, device="cuda", fast_precision="bf16")
    assert replace(same, threads=None) == GPU_SIZES


def test_a_failing_model_step_is_recorded_and_the_next_still_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(ctx: object) -> dict:
        raise ValueError("CUDA out of memory (pretend)")

    passes = {"passed": True, "passes": {"vanilla": 1, "fast": 1}}
    monkeypatch.setattr(steps_mod, "STEPS", {"throughput": broken, "equivalence": lambda c: passes})
    ctx = steps_mod.ModelContext(sizes=steps_mod.DRY_RUN_SIZES, scratch=tmp_path)
    code = steps_mod.run_steps(["throughput", "equivalence"], tmp_path, ctx)
    assert code == 1
    failed = json.loads((tmp_path / "throughput.json").read_text())
    assert failed["status"] == "failed"
    assert failed["error"] == "ValueError: CUDA out of memory (pretend)"
    assert failed["cpu_seconds"] > 0  # the process's start (imports) is the first step's
    passed = json.loads((tmp_path / "equivalence.json").read_text())
    assert passed["status"] == "ok" and passed["figures"] == passes
    assert passed["cpu_seconds"] >= 0


def test_activity_per_stage_from_the_tagged_readings() -> None:
    samples = tuple(
        GpuSample(
            t=k,
            device=0,
            stage=stage,
            utilization_gpu=100,
            sm_active=sm,
            sm_occupancy=30.0,
            tensor_active=tensor,
            dram_bw_util=12.0,
        )
        for k, (stage, sm, tensor) in enumerate(
            [
                ("esm", 80.0, 60.0),
                ("esm", 90.0, 70.0),
                ("dnabert", 40.0, 20.0),
                ("dnabert", 50.0, 30.0),
            ]
        )
    )
    telemetry = GpuTelemetry(available=True, devices=("H200",), samples=samples)
    figures = _activity(telemetry, ("dnabert", "esm"))
    assert figures["gpu.esm.sm_active"] == 85.0 and figures["gpu.esm.tensor_active"] == 65.0
    assert figures["gpu.dnabert.sm_active"] == 45.0
    assert figures["gpu.sm_occupancy"] == 30.0 and figures["gpm"] == "read"


def test_no_telemetry_says_why() -> None:
    telemetry = GpuTelemetry(available=False, reason="not used: the run is on the CPU")
    assert _activity(telemetry, ("esm",)) == {"unavailable": "not used: the run is on the CPU"}


SDPA_KERNELS = {"flash_attention", "efficient_attention", "cudnn_attention", "math"}


def test_the_attention_kernel_of_each_stage_is_named() -> None:
    """Which SDPA kernel runs (issue 20, finding 6): asked of torch for the engine's first batch."""
    from virnucpro.engines.fast import FastEngine
    from virnucpro.models.presets import load_model_set

    models = load_model_set(preset="tiny", device="cpu")
    engine = FastEngine(precision="fp32")
    nucleotides = ["ACGTACGTTTGA" * 5, "ACGT" * 7]
    proteins = ["MKTAYIAKQR" * 3, "MKV"]
    dna = steps_mod.attention_kernel(engine, models, "dnabert", nucleotides)
    esm = steps_mod.attention_kernel(engine, models, "esm", proteins)
    assert dna in SDPA_KERNELS and esm in SDPA_KERNELS
