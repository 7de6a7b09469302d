"""The measuring steps of the GPU check (``scripts/gpu_check.py``), run inside one process.

The model steps share one set of random-weight models built once, directly on the device (the
ESM-2 3B size in seconds, never as fp32 on the host), and one generated workload. Each step is
guarded on its own: its figures, or its error, are written to ``<step>.json`` in the step folder
as soon as it ends, so a step that fails, or a process killed at its time limit, loses nothing
measured before. The orchestrator (:mod:`virnucpro.bench.gpu_check.plan`) reads those files.

Sizes: on a GPU the published sizes (DNABERT-S, ESM-2 3B) in bf16; in a dry run tiny models in
fp32 on the CPU. Everything else is the same (the ``small`` workload, the rounds and pairs), so
a dry run's time per step is a fair basis for the estimate of the step on the GPU
(:mod:`virnucpro.bench.gpu_check.estimate`): each step records the CPU time it took
(``cpu_seconds``; the first step of the process includes the process's start) and the passes of
each engine it ran (``passes``).
"""

from __future__ import annotations

import json
import time
import traceback
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch

from virnucpro.atomic import atomic_write_text

STATUS_OK = "ok"
STATUS_FAILED = "failed"
MODEL_STEPS = ("throughput", "end_to_end", "equivalence", "sampler_overhead")
Figures = dict[str, Any]


@dataclass(frozen=True)
class CheckSizes:
    """How big the check runs: the published sizes on a GPU, tiny ones in a dry run."""

    preset: str
    data_size: str | int  # a named size or a read count
    device: str
    fast_precision: str
    rounds: int  # measured rounds of the throughput and end-to-end steps
    overhead_pairs: int
    threads: int | None = None  # torch CPU threads (None: torch's default)
    expected_length: int = 500


GPU_SIZES = CheckSizes("dnabert-s+esm2-3b", "small", "cuda", "bf16", rounds=3, overhead_pairs=5)
DRY_RUN_SIZES = CheckSizes("tiny", "small", "cpu", "fp32", rounds=3, overhead_pairs=5, threads=1)


@dataclass
class ModelContext:
    """Models, workload and frames shared by the model steps (built on first use)."""

    sizes: CheckSizes
    scratch: Path
    _models: Any = None
    _fasta: Path | None = None
    _frames: list[Any] | None = None
    build_seconds: dict[str, float] = field(default_factory=dict)

    @property
    def device(self) -> torch.device:
        return torch.device(self.sizes.device)

    def models(self) -> Any:
        if self._models is None:
            from virnucpro.models.presets import load_model_set

            start = time.perf_counter()
            self._models = load_model_set(
                preset=self.sizes.preset, device=self.device, draw_on_device=True
            )
            self.build_seconds["models"] = time.perf_counter() - start
        return self._models

    def fasta(self) -> Path:
        if self._fasta is None:
            from virnucpro.bench.workload.reads import make_reads, write_fasta

            path = self.scratch / f"reads_{self.sizes.data_size}.fasta"
            reads = make_reads(self.sizes.data_size, expected_length=self.sizes.expected_length)
            write_fasta(reads, path)
            self._fasta = path
        return self._fasta

    def frames(self) -> list[Any]:
        if self._frames is None:
            from virnucpro.pipeline.equivalence import load_frames

            self._frames = load_frames(self.fasta(), self.sizes.expected_length)
        return self._frames

    def sampler(self) -> Any:
        """A GPU sampler of the device the check runs on (none on the CPU: "not used")."""
        from virnucpro.bench.gpu.sampler import GpuSampler

        index = self.device.index or 0
        return GpuSampler(devices=(index,) if self.device.type == "cuda" else ())

    def predict_round(self, engine: str, outdir: str) -> Callable[[], object]:
        """One end-to-end ``predict`` of the workload with the shared models."""
        from virnucpro.pipeline import PredictConfig, predict

        config = PredictConfig(
            input=self.fasta(),
            outdir=self.scratch / outdir,
            expected_length=self.sizes.expected_length,
            engine=engine,
            models=self.sizes.preset,
            precision="auto" if engine == "vanilla" else self.sizes.fast_precision,
            force=True,
        )
        return lambda: predict(config, models=self.models())


def _median(samples: tuple[float, ...] | list[float]) -> float:
    import statistics

    return statistics.median(samples)


def step_throughput(ctx: ModelContext) -> Figures:
    """DNABERT-S and ESM-2 in the fast engine: tokens/s, roofline fraction, peak memory."""
    from virnucpro.bench.gpu.ceiling import ceiling_dtype, measure_ceiling
    from virnucpro.bench.gpu.roofline import stage_work
    from virnucpro.bench.measure import measure
    from virnucpro.bench.run.memory import track_memory
    from virnucpro.engines.fast import FastEngine

    models, frames = ctx.models(), ctx.frames()
    engine = FastEngine(precision=ctx.sizes.fast_precision)  # type: ignore[arg-type]
    engine.prepare(models)  # the one-time cast stays out of the timing
    dtype = ceiling_dtype(ctx.device, ctx.sizes.fast_precision)
    calls = {
        "dnabert": ([f.nucleotide for f in frames], engine.embed_dna),
        "esm": ([f.protein for f in frames], engine.embed_protein),
    }
    stages: Figures = {}
    with ctx.sampler() as sampler:
        ceiling = measure_ceiling(dtype, ctx.device, sampler=sampler)  # clocks read meanwhile
        for stage, (sequences, embed) in calls.items():
            work = stage_work(models, engine, stage, sequences, dtype)
            with track_memory(ctx.device) as tracking, sampler.stage(stage):
                timed = measure(
                    lambda embed=embed, sequences=sequences: embed(models, sequences),
                    rounds=ctx.sizes.rounds,
                    warmup=1,
                    device=ctx.device,
                )
                sampler.sample_now()  # a reading at the stage's end, however short it was
            seconds = _median(timed.samples)
            usage = tracking.usage
            stages[stage] = {
                "model": work.model,
                "dtype": work.dtype,
                "sequences": work.sequences,
                "real_tokens": work.real_tokens,
                "padded_tokens": work.padded_tokens,
                "padding_share": work.padding_share,
                "seconds": list(timed.samples),
                "tokens_per_s": work.real_tokens / seconds,
                "flops": work.flops,
                "flops_per_s": work.flops / seconds,
                "fraction_of_ceiling": work.flops / seconds / ceiling.best,
                "peak_allocated_bytes": None if usage is None else usage.cuda_peak_allocated,
                "peak_memory_reason": None if usage is None else usage.cuda_reason,
                "attention_kernel": attention_kernel(engine, models, stage, sequences),
            }
    activity = _activity(sampler.telemetry(), tuple(calls))
    return {
        "gpu_activity": activity,
        "ceiling": ceiling.as_dict(),
        "stages": stages,
        "models_build_seconds": ctx.build_seconds.get("models"),
        "passes": {"fast": ctx.sizes.rounds + 1},  # each stage: one warm-up, then the rounds
    }


def attention_kernel(engine: Any, models: Any, stage: str, sequences: list[str]) -> str:
    """The SDPA kernel the stage's model runs on the engine's first batch (``flash_attention``,
    ``efficient_attention``, ``cudnn_attention``, ``math``), as torch's dispatcher picks it for
    that batch's shapes, dtype and mask; or why it could not be told."""
    import numpy as np

    from virnucpro.bench.gpu.roofline import ESM_SPECIAL_TOKENS
    from virnucpro.engines.batching import Ragged, plan_batches

    budget = engine.token_budget(models.device)
    prepared = engine.prepare(models)
    try:
        if stage == "dnabert":
            tokenizer = models.dnabert.tokenizer
            ragged = Ragged.from_lists(tokenizer.encode_batch(sequences))
            ids, mask = ragged.padded(plan_batches(ragged.lengths, budget)[0], tokenizer.pad_id)
            return str(prepared.dnabert.sdpa_backend(ids.to(models.device), mask.to(models.device)))
        lengths = np.fromiter(map(len, sequences), np.int64, count=len(sequences))
        lengths += ESM_SPECIAL_TOKENS
        first = plan_batches(lengths, budget)[0]
        tokens = models.esm.alphabet.batch_tokens([sequences[i] for i in first], truncation=None)
        padded = bool(lengths[first].min() != lengths[first].max())
        return str(prepared.esm.sdpa_backend(tokens, padded=padded))
    except RuntimeError as exc:  # no enabled kernel takes these inputs: torch says why
        return f"none ({exc})"


STAGE_ACTIVITY = ("utilization", "sm_active", "tensor_active")  # summarized per stage
RUN_ACTIVITY = ("sm_occupancy", "dram_bw_util")  # over the whole step


def _activity(telemetry: Any, stages: tuple[str, ...]) -> Figures:
    """Median GPU activity per stage from the sampler, or why there is none."""
    from virnucpro.bench.gpu.telemetry import telemetry_metrics

    if not telemetry.available:
        return {"unavailable": telemetry.reason}
    metrics = {m.name: m for m in telemetry_metrics(telemetry)}
    figures: Figures = {"gpm": telemetry.gpm_reason or "read", "devices": list(telemetry.devices)}
    names = [f"gpu.{stage}.{q}" for stage in stages for q in STAGE_ACTIVITY]
    for name in [*names, *(f"gpu.{q}" for q in RUN_ACTIVITY)]:
        metric = metrics[name]
        figures[name] = metric.median if metric.available else metric.reason
    return figures


def step_end_to_end(ctx: ModelContext) -> Figures:
    """Fast (bf16 on a GPU) against vanilla (fp32, as published) end to end, interleaved."""
    from virnucpro.bench.measure import measure

    runs = {
        "vanilla": ctx.predict_round("vanilla", "e2e_vanilla"),
        "fast": ctx.predict_round("fast", "e2e_fast"),
    }
    for run in runs.values():
        run()  # warm-up: kernels, allocator, the fast engine's one-time cast
    times: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(ctx.sizes.rounds):
        for name, run in runs.items():
            times[name] += measure(run, rounds=1, warmup=0, device=ctx.device).samples
    speedups = [v / f for v, f in zip(times["vanilla"], times["fast"], strict=True)]
    return {
        "reads": len(_read_ids(ctx.fasta())),
        "frames": len(ctx.frames()),
        "seconds": times,
        "speedup": speedups,
        "speedup_median": _median(speedups),
        "fast_precision": ctx.sizes.fast_precision,
        "passes": {name: len(seconds) + 1 for name, seconds in times.items()},
    }


def _read_ids(path: Path) -> list[str]:
    return [line for line in path.read_text().splitlines() if line.startswith(">")]


def step_equivalence(ctx: ModelContext) -> Figures:
    """The fast engine in its precision against fp32 vanilla on the workload's kept frames."""
    from virnucpro.pipeline.equivalence import equivalence_check

    report = equivalence_check(
        ctx.fasta(),
        ctx.models(),
        device=ctx.device,
        reference="vanilla",
        candidate="fast",
        expected_length=ctx.sizes.expected_length,
        candidate_options={"precision": ctx.sizes.fast_precision},
    )
    dna, esm = report.model("dnabert"), report.model("esm")
    return {
        "frames": report.frames,
        "candidate_precision": report.candidate_precision,
        "label_agreement": report.label_agreement,
        "chunk_call_agreement": report.chunk_call_agreement,
        "max_score_diff": report.max_abs_score_difference,
        "min_cosine_dnabert": dna.min_cosine,
        "min_cosine_esm": esm.min_cosine,
        "passed": report.passed,
        "failures": list(report.failures),
        "passes": {"vanilla": 1, "fast": 1},
    }


def step_sampler_overhead(ctx: ModelContext) -> Figures:
    """End-to-end fast rounds with the GPU sampler polling and paused, interleaved."""
    from virnucpro.bench.gpu.overhead import measure_sampler_overhead

    run = ctx.predict_round("fast", "overhead_fast")
    run()  # warm-up
    with ctx.sampler() as sampler:
        measured = measure_sampler_overhead(
            run,
            paused=sampler.paused,
            active=lambda: (sampler.polling, sampler.telemetry().reason),
            pairs=ctx.sizes.overhead_pairs,
            device=ctx.device,
        )
        telemetry = sampler.telemetry()
    return {
        **asdict(measured),
        "fractions": list(measured.fractions),
        "median": measured.median if measured.sampler_active else None,
        "interval_s": sampler.interval,
        "samples": len(telemetry.samples),
        "passes": {"fast": 1 + len(measured.with_sampler) + len(measured.without_sampler)},
    }


STEPS: dict[str, Callable[[ModelContext], Figures]] = {
    "throughput": step_throughput,
    "end_to_end": step_end_to_end,
    "equivalence": step_equivalence,
    "sampler_overhead": step_sampler_overhead,
}


def write_step(folder: Path, name: str, record: Figures) -> Path:
    path = folder / f"{name}.json"
    atomic_write_text(path, json.dumps(record, indent=1, default=str) + "\n")
    return path


def run_steps(names: list[str], folder: Path, ctx: ModelContext) -> int:
    """Run ``names`` in order, each guarded; one ``<name>.json`` per step. Exit code 0 if all
    passed, 1 if any failed (the failures are recorded, the next steps still run)."""
    failed = 0
    cpu = 0.0  # the first step's CPU time includes the process's start (imports)
    for name in names:
        start = time.perf_counter()
        try:
            figures = STEPS[name](ctx)
            record: Figures = {"status": STATUS_OK, "figures": figures}
        except Exception as exc:  # recorded in the step's file; the next step still runs
            failed += 1
            record = {
                "status": STATUS_FAILED,
                "error": f"{type(exc).__name__}: {exc}",
                "traceback": traceback.format_exc(),
            }
        record["seconds"] = time.perf_counter() - start
        now = time.process_time()
        record["cpu_seconds"], cpu = now - cpu, now
        write_step(folder, name, record)
        print(f"gpu_check step {name}: {record['status']} in {record['seconds']:.1f} s", flush=True)
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    """``python -m virnucpro.bench.gpu_check.steps STEP... --folder DIR --scratch DIR``."""
    import argparse

    parser = argparse.ArgumentParser(description="run GPU-check model steps (see gpu_check.py)")
    parser.add_argument("steps", nargs="+", choices=MODEL_STEPS)
    parser.add_argument("--folder", type=Path, required=True, help="one <step>.json per step")
    parser.add_argument("--scratch", type=Path, required=True, help="workload and outputs")
    parser.add_argument("--dry-run", action="store_true", help="tiny sizes on the CPU")
    args = parser.parse_args(argv)
    for folder in (args.folder, args.scratch):
        folder.mkdir(parents=True, exist_ok=True)
    sizes = DRY_RUN_SIZES if args.dry_run else GPU_SIZES
    if sizes.threads is not None:
        torch.set_num_threads(sizes.threads)
    return run_steps(args.steps, args.folder, ModelContext(sizes=sizes, scratch=args.scratch))


if __name__ == "__main__":
    raise SystemExit(main())
