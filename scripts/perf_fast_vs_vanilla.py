"""Measure the fast engine against the vanilla engine on the same kept frames (not a test).

Reads from :func:`virnucpro.bench.workload.reads.make_reads` go through stages 1-4 once; then each
engine embeds (DNABERT-S, ESM-2) and classifies the same frames. One warm-up run per engine
(the fast engine's first call also casts its models), then rounds that alternate the engines,
so drift on a shared machine hits both alike. Prints a table of median seconds, spread
(IQR / median) and speedup per stage and in total; ``--json PATH`` writes the raw samples.

    python scripts/perf_fast_vs_vanilla.py --reads small --rounds 5 --json perf.json
"""

from __future__ import annotations

import argparse
import json
import platform
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from perf_esm_ceiling import build_frames, square_matmul_flops_per_s
from tabulate import tabulate

from virnucpro.atomic import atomic_write_text
from virnucpro.bench.gpu.roofline import dnabert_flops, esm_flops
from virnucpro.bench.measure import Measurement
from virnucpro.engines import Engine, get_engine
from virnucpro.models.presets import ModelSet, load_model_set
from virnucpro.pipeline.equivalence import PredictionSet, compare_engines, predict_frames
from virnucpro.stages.translate import KeptFrame

STAGES = ("dnabert", "esm", "classify")
TOTAL = "total"
DEFAULT_ROUNDS = 3
CEILING_ROUNDS = 5
SPEEDUP_GOAL = 10.0
EXPECTED_LENGTH = 500


@dataclass(frozen=True)
class EngineRuns:
    """Every measured round of one engine: per stage and total seconds."""

    name: str
    precision: str
    runs: tuple[PredictionSet, ...]

    def measurement(self, stage: str) -> Measurement:
        if stage == TOTAL:
            return Measurement(samples=tuple(r.seconds or 0.0 for r in self.runs))
        return Measurement(samples=tuple(r.stage_seconds[stage] for r in self.runs))


def run_rounds(
    engines: Sequence[Engine], models: ModelSet, frames: Sequence[KeptFrame], rounds: int
) -> list[EngineRuns]:
    """One warm-up per engine, then ``rounds`` rounds, engines alternating within a round."""
    for engine in engines:
        predict_frames(engine, models, frames)
    runs: list[list[PredictionSet]] = [[] for _ in engines]
    for _ in range(rounds):
        for engine, kept in zip(engines, runs, strict=True):
            kept.append(predict_frames(engine, models, frames))
    return [EngineRuns(e.name, e.precision, tuple(r)) for e, r in zip(engines, runs, strict=True)]


@dataclass(frozen=True)
class FlopBound:
    """The speedup no fp32 engine can beat: all matmul FLOPs at the square-matmul ceiling."""

    flops: int
    ceiling_flops_per_s: float

    @property
    def ideal_seconds(self) -> float:
        return self.flops / self.ceiling_flops_per_s

    def speedup_limit(self, reference_seconds: float) -> float:
        return reference_seconds / self.ideal_seconds


def flop_bound(models: ModelSet, frames: Sequence[KeptFrame], rounds: int) -> FlopBound:
    """Matmul FLOPs of both embedding stages (see perf_esm_ceiling) and the fp32 ceiling."""
    encoded = models.dnabert.tokenizer.encode_batch([f.nucleotide for f in frames])
    dna_tokens = np.fromiter(map(len, encoded), dtype=np.int64)
    residues = np.fromiter((len(f.protein) for f in frames), dtype=np.int64)
    flops = dnabert_flops(dna_tokens, models.dnabert.model.config) + esm_flops(
        residues, models.esm.model.config
    )
    ceiling = square_matmul_flops_per_s(torch.float32, models.device, rounds)
    return FlopBound(flops=flops, ceiling_flops_per_s=ceiling)


def speedups(reference: EngineRuns, candidate: EngineRuns, statistic: str) -> dict[str, float]:
    """Per stage and total: reference time over candidate time, by ``median`` or ``minimum``."""
    return {
        stage: getattr(reference.measurement(stage), statistic)
        / getattr(candidate.measurement(stage), statistic)
        for stage in (*STAGES, TOTAL)
    }


def table(results: Sequence[EngineRuns]) -> str:
    median, best = speedups(*results, "median"), speedups(*results, "minimum")
    rows = []
    for stage in (*STAGES, TOTAL):
        row: list[object] = [stage]
        for result in results:
            m = result.measurement(stage)
            row += [f"{m.median:.4f}", f"{m.minimum:.4f}", f"{(m.relative_noise or 0.0):.0%}"]
        rows.append([*row, f"{median[stage]:.2f}x", f"{best[stage]:.2f}x"])
    headers = ["stage"]
    for result in results:
        headers += [f"{result.name} median s", "min s", "IQR/med"]
    return tabulate(rows, headers=[*headers, "speedup (median)", "speedup (best)"])


def bound_lines(bound: FlopBound, results: Sequence[EngineRuns]) -> list[str]:
    vanilla, fast = (r.measurement(TOTAL).median for r in results)
    return [
        f"matmul work {bound.flops / 1e9:.1f} GFLOP; fp32 square-matmul ceiling "
        f"{bound.ceiling_flops_per_s / 1e9:.0f} GFLOP/s -> {bound.ideal_seconds:.3f} s at best",
        f"fast achieves {bound.flops / fast / 1e9:.0f} GFLOP/s "
        f"({bound.flops / fast / bound.ceiling_flops_per_s:.0%} of the ceiling); "
        f"no fp32 engine can beat {bound.speedup_limit(vanilla):.1f}x vanilla here "
        f"(goal {SPEEDUP_GOAL:g}x)",
    ]


def report_json(
    args: argparse.Namespace,
    frames: Sequence[KeptFrame],
    results: Sequence[EngineRuns],
    bound: FlopBound,
) -> dict[str, object]:
    equivalence = compare_engines(results[0].runs[-1], results[1].runs[-1])
    return {
        "script": "perf_fast_vs_vanilla",
        "reads": args.reads,
        "frames": len(frames),
        "models": args.models,
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "machine": platform.processor() or platform.machine(),
        "engines": {
            r.name: {
                "precision": r.precision,
                "samples": {s: list(r.measurement(s).samples) for s in (*STAGES, TOTAL)},
            }
            for r in results
        },
        "speedup_median": speedups(*results, "median"),
        "speedup_best": speedups(*results, "minimum"),
        "speedup_goal": SPEEDUP_GOAL,
        "matmul_flops": bound.flops,
        "fp32_ceiling_flops_per_s": bound.ceiling_flops_per_s,
        "speedup_limit_median": bound.speedup_limit(results[0].measurement(TOTAL).median),
        "equivalence": equivalence.as_dict(),
    }


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reads", default="small", help="size name (tiny/small/...) or count")
    parser.add_argument("--models", default="tiny", help="model preset")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--rounds", type=int, default=DEFAULT_ROUNDS)
    parser.add_argument("--precision", default="auto", help="fast engine precision")
    parser.add_argument("--token-budget", type=int, default=None)
    parser.add_argument("--threads", type=int, default=None, help="torch intra-op threads")
    parser.add_argument("--json", type=Path, default=None, help="write raw samples here")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    frames = build_frames(args.reads, EXPECTED_LENGTH)
    models = load_model_set(preset=args.models, device=args.device)
    engines = [
        get_engine("vanilla"),
        get_engine("fast", precision=args.precision, token_budget=args.token_budget),
    ]
    results = run_rounds(engines, models, frames, args.rounds)
    bound = flop_bound(models, frames, CEILING_ROUNDS)
    print(f"{len(frames)} kept frames, {torch.get_num_threads()} threads, {args.rounds} rounds")
    print(table(results))
    print("\n".join(bound_lines(bound, results)))
    data = report_json(args, frames, results, bound)
    print(f"equivalence passed: {data['equivalence']['passed']}")  # type: ignore[index]
    if args.json:
        atomic_write_text(args.json, json.dumps(data, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
