"""How close the fast engine's embedding stages come to the machine's matmul ceiling (not a test).

Achieved FLOP/s counts only the matmul FLOPs of the forward pass over **real** tokens
(:mod:`virnucpro.bench.gpu.roofline` has the formulas; padding counts against the engine). The
ceiling is the FLOP/s of a large square matmul in the same dtype, on the same device, with the
same threads, timed just before every measured round (machines shared with other work drift;
both sides see it).
On the CPU: ESM-2 t12_35M (random weights) in fp32. With CUDA also ESM-2 3B and DNABERT-S in
bf16. Prints a table; ``--json PATH`` writes the rows with their raw samples.

    python scripts/perf_esm_ceiling.py --proteins 96 --token-budgets 1024 2048 4096 --json c.json
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from tabulate import tabulate

from virnucpro.atomic import atomic_write_text
from virnucpro.bench.gpu.roofline import ESM_SPECIAL_TOKENS, dnabert_flops, esm_flops
from virnucpro.bench.measure import Measurement, measure
from virnucpro.bench.workload.reads import SIZES, make_reads
from virnucpro.engines.fast import FastEngine
from virnucpro.models.esm2 import ESM2_SIZES
from virnucpro.models.presets import ModelSet, load_model_set
from virnucpro.stages.chunking import chunk_records
from virnucpro.stages.fasta import FastaRecord
from virnucpro.stages.translate import KeptFrame, keep_frames

CPU_PRESET = "dnabert-s+esm2-35m"
GPU_PRESET = "dnabert-s+esm2-3b"
CPU_CEILING_SIZE = 2048
GPU_CEILING_SIZE = 8192
CPU_ESM = "esm2_t12_35M_UR50D"
STATISTICS = ("median", "minimum")
DEFAULT_ROUNDS = 3
DEFAULT_PROTEINS = 96
FRACTION_GOAL = 0.5


@dataclass(frozen=True)
class CeilingRow:
    """One measured stage against the matmul ceiling of its dtype and device.

    ``ceiling_samples`` are timed right before each stage round (interleaved), so machine
    contention hits both alike; fractions are given best-to-best and median-to-median.
    """

    model: str
    device: str
    dtype: str
    token_budget: int
    sequences: int
    tokens: int
    flops: int
    ceiling_size: int
    samples: tuple[float, ...]
    ceiling_samples: tuple[float, ...]

    def ceiling_flops_per_s(self, statistic: str) -> float:
        seconds = getattr(Measurement(samples=self.ceiling_samples), statistic)
        return 2 * self.ceiling_size**3 / seconds

    def flops_per_s(self, statistic: str) -> float:
        return self.flops / getattr(Measurement(samples=self.samples), statistic)

    def fraction(self, statistic: str) -> float:
        return self.flops_per_s(statistic) / self.ceiling_flops_per_s(statistic)

    def as_dict(self) -> dict[str, object]:
        derived = {
            f"{name}_{stat}": fn(stat)
            for stat in STATISTICS
            for name, fn in (
                ("flops_per_s", self.flops_per_s),
                ("ceiling_flops_per_s", self.ceiling_flops_per_s),
                ("fraction_of_ceiling", self.fraction),
            )
        }
        return {**asdict(self), **derived}


@dataclass(frozen=True)
class Workload:
    """One stage to measure: how to run it once, and what one run computes."""

    model: str
    device: torch.device
    dtype: torch.dtype
    token_budget: int
    sequences: int
    tokens: int
    flops: int
    run: Callable[[], object]


def build_frames(reads: str, expected_length: int) -> list[KeptFrame]:
    """Stages 1-4 of the benchmark reads, once, shared by both engines."""
    size = reads if reads in SIZES else int(reads)
    records = [FastaRecord(i, s) for i, s in make_reads(size, expected_length=expected_length)]
    return keep_frames(chunk_records(records, expected_length))


def _engine(models: ModelSet, precision: str, budget: int) -> tuple[FastEngine, torch.dtype]:
    engine = FastEngine(precision=precision, token_budget=budget)  # type: ignore[arg-type]
    prepared = engine.prepare(models)  # the one-time cast stays out of the timing
    return engine, next(prepared.esm.parameters()).dtype


def esm_workload(
    models: ModelSet, proteins: Sequence[str], precision: str, budget: int
) -> Workload:
    engine, dtype = _engine(models, precision, budget)
    residues = np.fromiter(map(len, proteins), dtype=np.int64)
    return Workload(
        model=models.esm.identity.name,
        device=models.device,
        dtype=dtype,
        token_budget=budget,
        sequences=len(proteins),
        tokens=int(residues.sum()) + ESM_SPECIAL_TOKENS * len(proteins),
        flops=esm_flops(residues, models.esm.model.config),
        run=lambda: engine.embed_protein(models, proteins),
    )


def dnabert_workload(
    models: ModelSet, sequences: Sequence[str], precision: str, budget: int
) -> Workload:
    engine, dtype = _engine(models, precision, budget)
    encoded = models.dnabert.tokenizer.encode_batch(sequences)
    tokens = np.fromiter(map(len, encoded), dtype=np.int64)
    return Workload(
        model=models.dnabert.identity.name,
        device=models.device,
        dtype=dtype,
        token_budget=budget,
        sequences=len(sequences),
        tokens=int(tokens.sum()),
        flops=dnabert_flops(tokens, models.dnabert.model.config),
        run=lambda: engine.embed_dna(models, sequences),
    )


def _clock(fn: Callable[[], object], device: torch.device) -> float:
    return measure(fn, rounds=1, warmup=0, device=device).samples[0]


def _square_matmul(dtype: torch.dtype, device: torch.device) -> tuple[int, Callable[[], object]]:
    size = GPU_CEILING_SIZE if device.type == "cuda" else CPU_CEILING_SIZE
    a = torch.randn(size, size, device=device).to(dtype)
    b = torch.randn(size, size, device=device).to(dtype)
    return size, lambda: a @ b


def square_matmul_flops_per_s(dtype: torch.dtype, device: torch.device, rounds: int) -> float:
    """Best FLOP/s of the ceiling matmul over ``rounds`` (after one warm-up)."""
    size, matmul = _square_matmul(dtype, device)
    return 2 * size**3 / measure(matmul, rounds=rounds, warmup=1, device=device).minimum


def measure_rows(workloads: Sequence[Workload], rounds: int) -> list[CeilingRow]:
    """Warm each workload up, then per round: a ceiling matmul and one run of each, in turn."""
    ceilings = {(w.dtype, w.device): _square_matmul(w.dtype, w.device) for w in workloads}
    for workload in workloads:
        workload.run()
        ceilings[(workload.dtype, workload.device)][1]()
    stage: list[list[float]] = [[] for _ in workloads]
    ceiling: list[list[float]] = [[] for _ in workloads]
    for _ in range(rounds):
        for workload, times, ceiling_times in zip(workloads, stage, ceiling, strict=True):
            ceiling_times.append(
                _clock(ceilings[(workload.dtype, workload.device)][1], workload.device)
            )
            times.append(_clock(workload.run, workload.device))
    return [
        CeilingRow(
            model=w.model,
            device=str(w.device),
            dtype=str(w.dtype).removeprefix("torch."),
            token_budget=w.token_budget,
            sequences=w.sequences,
            tokens=w.tokens,
            flops=w.flops,
            ceiling_size=ceilings[(w.dtype, w.device)][0],
            samples=tuple(times),
            ceiling_samples=tuple(ceiling_times),
        )
        for w, times, ceiling_times in zip(workloads, stage, ceiling, strict=True)
    ]


def cpu_workloads(frames: Sequence[KeptFrame], args: argparse.Namespace) -> list[Workload]:
    models = load_model_set(preset=CPU_PRESET, device="cpu")
    if models.esm.model.config != ESM2_SIZES[CPU_ESM]:
        raise SystemExit(f"preset {CPU_PRESET} no longer holds {CPU_ESM}")
    proteins = [f.protein for f in frames[: args.proteins]]
    budgets = args.token_budgets or [FastEngine().token_budget("cpu")]
    return [esm_workload(models, proteins, "fp32", b) for b in budgets]


def gpu_workloads(frames: Sequence[KeptFrame], args: argparse.Namespace) -> list[Workload]:
    models = load_model_set(preset=GPU_PRESET, device="cuda")
    budget = args.gpu_token_budget or FastEngine().token_budget("cuda")
    return [
        esm_workload(models, [f.protein for f in frames], "bf16", budget),
        dnabert_workload(models, [f.nucleotide for f in frames], "bf16", budget),
    ]


def table(rows: Sequence[CeilingRow]) -> str:
    body = []
    for r in rows:
        median_s = Measurement(samples=r.samples).median
        body.append(
            [
                r.model,
                r.dtype,
                r.token_budget,
                r.tokens,
                f"{median_s:.3f}",
                f"{r.tokens / median_s:,.0f}",
                f"{r.flops_per_s('median') / 1e9:.1f}",
                f"{r.ceiling_flops_per_s('median') / 1e9:.1f}",
                f"{r.fraction('median'):.1%}",
                f"{r.fraction('minimum'):.1%}",
            ]
        )
    headers = ["model", "dtype", "budget", "tokens", "median s", "tokens/s", "GFLOP/s"]
    return tabulate(body, headers=[*headers, "ceiling GFLOP/s", "fraction", "fraction (best)"])


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reads", default="small", help="benchmark reads the proteins come from")
    parser.add_argument("--proteins", type=int, default=DEFAULT_PROTEINS, help="CPU workload")
    parser.add_argument("--rounds", type=int, default=DEFAULT_ROUNDS)
    parser.add_argument("--token-budgets", type=int, nargs="*", default=None, help="CPU sweep")
    parser.add_argument("--gpu-token-budget", type=int, default=None)
    parser.add_argument("--threads", type=int, default=None, help="torch intra-op threads")
    parser.add_argument("--skip-gpu", action="store_true", help="CPU rows only")
    parser.add_argument("--json", type=Path, default=None)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    started = time.perf_counter()
    frames = build_frames(args.reads, 500)
    workloads = cpu_workloads(frames, args)
    gpu_note = "measured"
    if args.skip_gpu:
        gpu_note = "unavailable: --skip-gpu"
    elif not torch.cuda.is_available():
        gpu_note = "unavailable: no CUDA device on this machine"
    else:
        workloads += gpu_workloads(frames, args)
    rows = measure_rows(workloads, args.rounds)
    print(f"{torch.get_num_threads()} CPU threads; GPU rows: {gpu_note}")
    print(table(rows))
    if args.json:
        data = {
            "script": "perf_esm_ceiling",
            "threads": torch.get_num_threads(),
            "torch": torch.__version__,
            "gpu": gpu_note,
            "fraction_goal": FRACTION_GOAL,
            "seconds": time.perf_counter() - started,
            "rows": [r.as_dict() for r in rows],
        }
        atomic_write_text(args.json, json.dumps(data, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
