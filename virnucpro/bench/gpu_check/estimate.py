"""How long each step of the GPU check will take on the GPU machine, from a dry run here.

A dry run runs the same steps with the same workload (the ``small`` reads), rounds and pairs as
the GPU run; only the models (tiny on the CPU instead of the published sizes on the GPU) and the
device differ. So each step's time there is estimated as:

- **host work**: the step's CPU time in the dry run (user + system of its processes; a busy
  shared machine inflates CPU time far less than wall time), counted in full. It holds the
  Python work per read, the process starts, and the tiny models' compute too, which the GPU
  does not repeat: an over-estimate, on purpose. The GPU machine's cores are taken to be no
  slower than this machine's (:data:`HOST_SPEED`);
- **GPU compute** of the published sizes: the matmul FLOPs of a pass of each engine over the
  workload's frames (:func:`pass_flops`, the roofline's formulas), times the passes the step ran,
  at rates well below the H200's (:data:`FAST_FLOPS`, :data:`VANILLA_FLOPS`), plus the published
  DNABERT-S path's one launch-bound pass per sequence (:data:`VANILLA_PER_SEQUENCE_S`), plus the
  ceiling's warm-up and blocks;
- **fixed costs**: each process that starts CUDA (:data:`CUDA_START_S`), the 3B model build
  (:data:`MODEL_BUILD_S`, once, in the first model step), each ``gpu`` test run on the GPU
  (:data:`GPU_TEST_S`).

The rates and fixed costs are assumptions, chosen to be pessimistic; a run on the GPU replaces
them with measured step times (``summary.json``). The estimate fits when every step's figure is
within its GPU limit and their sum within the GPU budget.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from virnucpro.bench.gpu_check.spec import MODEL_STEP_NAMES, STEP_SPECS, StepOutcome, StepSpec

HOST_SPEED = 1.0  # host work there takes this share of its CPU time here (16 cores vs 2: <= 1)
H200_BF16_FLOPS = 790e12  # an 8192^3 bf16 matmul measured on the machine (one machine, 2026-10)
FAST_FLOPS = 0.25 * H200_BF16_FLOPS  # the fast engine's bf16 models: a quarter of the matmul
VANILLA_FLOPS = 25e12  # vanilla's fp32 (no TF32): well under the H200's ~67 TFLOP/s fp32 peak
VANILLA_PER_SEQUENCE_S = 0.005  # published DNABERT-S path: one sequence per launch-bound pass
CUDA_START_S = 10.0  # importing torch, starting CUDA and cuBLAS in one process
MODEL_BUILD_S = 20.0  # DNABERT-S + ESM-2 3B random weights drawn on the GPU, the bf16 copies
GPU_TEST_S = 5.0  # one ``gpu``-marked test on the GPU (tiny models, one ceiling)
CEILING_SIDE = 8192
CEILING_MATMULS = 60
CEILING_WARMUP_S = 1.0
CUDA_PROCESSES = {  # processes of each step that start CUDA on the GPU machine
    "model_steps": 1,
    "gpu_tests": 1,
    "quick_tier": 1,
    "ab_self_check": 2,  # two workers, head and base
}
GPU_MODELS = ("dnabert-s", "esm2_t36_3B_UR50D")


@dataclass(frozen=True)
class PassWork:
    """Matmul FLOPs of one pass over the workload at the published sizes, and its frames."""

    dnabert_flops: int
    esm_flops: int
    frames: int

    @property
    def fast_s(self) -> float:
        return (self.dnabert_flops + self.esm_flops) / FAST_FLOPS

    @property
    def vanilla_s(self) -> float:
        compute = (self.dnabert_flops + self.esm_flops) / VANILLA_FLOPS
        return compute + self.frames * VANILLA_PER_SEQUENCE_S


def pass_flops(nucleotides: Sequence[str], proteins: Sequence[str]) -> PassWork:
    """One pass of DNABERT-S and ESM-2 3B (published sizes) over the kept frames."""
    import numpy as np

    from virnucpro.bench.gpu.roofline import dnabert_flops, esm_flops
    from virnucpro.models.dnabert import DNABERT_S_CONFIG
    from virnucpro.models.dnabert_tokenizer import build_synthetic_tokenizer
    from virnucpro.models.esm2 import ESM2_SIZES

    tokens = np.fromiter(map(len, build_synthetic_tokenizer().encode_batch(list(nucleotides))), int)
    residues = np.fromiter(map(len, proteins), int, count=len(proteins))
    return PassWork(
        dnabert_flops=dnabert_flops(tokens, DNABERT_S_CONFIG),
        esm_flops=esm_flops(residues, ESM2_SIZES[GPU_MODELS[1]]),
        frames=len(proteins),
    )


def workload_pass(data_size: str | int, expected_length: int, scratch: Path) -> PassWork:
    """:func:`pass_flops` over the kept frames of the check's workload (the GPU run's too)."""
    from virnucpro.bench.workload.reads import make_reads, write_fasta
    from virnucpro.pipeline.equivalence import load_frames

    path = write_fasta(make_reads(data_size, expected_length=expected_length), scratch / "w.fa")
    frames = load_frames(path, expected_length)
    return pass_flops([f.nucleotide for f in frames], [f.protein for f in frames])


def ceiling_s() -> float:
    """The ceiling on the GPU: its warm-up and its timed matmuls."""
    return CEILING_WARMUP_S + CEILING_MATMULS * 2 * CEILING_SIDE**3 / H200_BF16_FLOPS


@dataclass(frozen=True)
class StepEstimate:
    """One step: the dry run's wall and CPU time, the estimate there, and its GPU limit."""

    name: str
    dry_seconds: float | None
    dry_cpu_seconds: float | None
    host_s: float
    gpu_s: float
    fixed_s: float
    limit_s: float

    @property
    def seconds(self) -> float:
        return self.host_s + self.gpu_s + self.fixed_s

    @property
    def fits(self) -> bool:
        return self.seconds <= self.limit_s

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "dry_seconds": self.dry_seconds,
            "dry_cpu_seconds": self.dry_cpu_seconds,
            "host_s": self.host_s,
            "gpu_s": self.gpu_s,
            "fixed_s": self.fixed_s,
            "estimate_s": self.seconds,
            "limit_s": self.limit_s,
            "fits": self.fits,
        }


def _gpu_compute(step: StepOutcome, work: PassWork) -> float:
    passes: Mapping[str, int] = step.figures.get("passes", {})
    seconds = passes.get("fast", 0) * work.fast_s + passes.get("vanilla", 0) * work.vanilla_s
    return seconds + (ceiling_s() if step.name == "throughput" else 0.0)


def _fixed(step: StepOutcome, first_model_step: bool) -> float:
    fixed = CUDA_PROCESSES.get(step.name, 0) * CUDA_START_S
    if first_model_step:
        fixed += CUDA_PROCESSES["model_steps"] * CUDA_START_S + MODEL_BUILD_S
    if step.name == "gpu_tests":
        counts = step.figures.get("counts", {})
        fixed += GPU_TEST_S * (counts.get("skipped", 0) + counts.get("passed", 0))
    return fixed


def estimate_step(
    step: StepOutcome, spec: StepSpec, work: PassWork, *, first_model_step: bool
) -> StepEstimate:
    cpu = step.cpu_seconds if step.cpu_seconds is not None else step.seconds or 0.0
    return StepEstimate(
        name=step.name,
        dry_seconds=step.seconds,
        dry_cpu_seconds=step.cpu_seconds,
        host_s=HOST_SPEED * cpu,
        gpu_s=_gpu_compute(step, work),
        fixed_s=_fixed(step, first_model_step),
        limit_s=spec.limit_s,
    )


@dataclass(frozen=True)
class Estimate:
    """Every step's estimate, and whether they fit their limits and the budget."""

    steps: tuple[StepEstimate, ...]
    budget_s: float
    work: PassWork

    @property
    def seconds(self) -> float:
        return sum(s.seconds for s in self.steps)

    @property
    def fits(self) -> bool:
        return all(s.fits for s in self.steps) and self.seconds <= self.budget_s

    def as_dict(self) -> dict[str, Any]:
        return {
            "steps": [s.as_dict() for s in self.steps],
            "seconds": self.seconds,
            "budget_s": self.budget_s,
            "fits": self.fits,
            "pass": {
                "frames": self.work.frames,
                "dnabert_flops": self.work.dnabert_flops,
                "esm_flops": self.work.esm_flops,
                "fast_s": self.work.fast_s,
                "vanilla_s": self.work.vanilla_s,
            },
        }


def estimate(outcomes: Sequence[StepOutcome], work: PassWork, budget_s: float) -> Estimate:
    """The estimate of every step that ran in the dry run (a step that did not run has none)."""
    specs = {s.name: s for s in STEP_SPECS}
    ran = [o for o in outcomes if o.seconds is not None]
    first = next((o.name for o in ran if o.name in MODEL_STEP_NAMES), None)
    steps = tuple(
        estimate_step(o, specs[o.name], work, first_model_step=o.name == first) for o in ran
    )
    return Estimate(steps=steps, budget_s=budget_s, work=work)
