"""Throughput suite: tokens/s and frames/s of each model stage, its roofline, its GPU activity.

The roofline (:mod:`virnucpro.bench.gpu.roofline`) sets each model stage's achieved matmul FLOP/s,
from the model config and the real tokens of the rounds, against a square matmul in the stage's
dtype timed on the same device in this run (bf16 on a GPU, fp32 on the CPU); real and padded
tokens are recorded apart.

Rates come from the shared end-to-end rounds (each round's stage clock and token count). GPU
utilization per stage needs the samples tagged with the stage, which the pipeline cannot do from
outside, so on a GPU each model stage is run once more on its own under the sampler's tag; the
session's telemetry summary then carries ``gpu.<stage>.utilization``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from virnucpro.bench.measure import rate_metric, stage_timings
from virnucpro.bench.schema import StageTiming

if TYPE_CHECKING:
    from virnucpro.bench.run.session import BenchSession

pytestmark = pytest.mark.benchmark

MODEL_STAGES = ("dnabert", "esm")
PREFIX = "throughput"


def _timing(bench: BenchSession, stage: str) -> StageTiming | None:
    return next((t for t in stage_timings(bench.rounds().runs) if t.stage == stage), None)


@pytest.mark.parametrize("stage", MODEL_STAGES)
def test_model_stage(bench: BenchSession, stage: str) -> None:
    """``throughput.<stage>.tokens_per_s`` and ``.frames_per_s`` over the measured rounds."""
    timing = _timing(bench, stage)
    if timing is None:
        pytest.skip(f"stage {stage} did not run: the workload keeps no frame")
    assert timing.items_out == bench.workload_fingerprint.kept_frames
    prefix = f"{PREFIX}.{stage}"
    tokens = rate_metric(prefix, "tokens", timing.seconds, timing.tokens, stage=stage)
    frames = rate_metric(prefix, "frames", timing.seconds, timing.items_out, stage=stage)
    assert tokens.available and frames.available
    bench.collector.add_metrics((tokens, frames))


def _isolated_engine(bench: BenchSession) -> object:
    from virnucpro.engines import get_engine

    if bench.engine == "vanilla":
        return get_engine("vanilla")
    return get_engine(bench.engine, precision=bench.options.precision)


def test_stage_gpu_utilization(bench: BenchSession) -> None:
    """Each model stage once more on its own, its telemetry samples tagged with its name."""
    telemetry = bench.telemetry()
    if not telemetry.available:
        pytest.skip(f"GPU telemetry unavailable: {telemetry.reason}")
    from virnucpro.stages.chunking import chunk_records
    from virnucpro.stages.fasta import read_fasta
    from virnucpro.stages.translate import keep_frames

    frames = keep_frames(
        chunk_records(read_fasta(bench.workload.path), bench.options.expected_length)
    )
    if not frames:
        pytest.skip("the workload keeps no frame: no model stage to tag")
    engine = _isolated_engine(bench)
    models = bench.models()
    calls = {
        "dnabert": lambda: engine.embed_dna(models, [f.nucleotide for f in frames]),  # type: ignore[attr-defined]
        "esm": lambda: engine.embed_protein(models, [f.protein for f in frames]),  # type: ignore[attr-defined]
    }
    for stage in MODEL_STAGES:
        with bench.sampler.stage(stage):
            calls[stage]()
            bench.sampler.sample_now()
    tagged = {s.stage for s in bench.telemetry().samples}
    assert set(MODEL_STAGES) <= tagged


def _frames(bench: BenchSession) -> list:
    from virnucpro.pipeline.equivalence import load_frames

    return load_frames(bench.workload.path, bench.options.expected_length)


def test_roofline(bench: BenchSession) -> None:
    """``roofline.<stage>.*`` per model stage and the ceiling they are a fraction of."""
    from virnucpro.bench.gpu.ceiling import ceiling_dtype, measure_ceiling
    from virnucpro.bench.gpu.roofline import ceiling_metric, roofline_metrics, stage_work

    frames = _frames(bench)
    if not frames:
        pytest.skip("the workload keeps no frame: no model stage ran")
    bench.rounds()  # the stage times of the measured rounds
    engine = _isolated_engine(bench)
    dtype = ceiling_dtype(bench.device, bench.precision_option(bench.engine))
    ceiling = measure_ceiling(dtype, bench.device, sampler=bench.sampler)
    sequences = {"dnabert": [f.nucleotide for f in frames], "esm": [f.protein for f in frames]}
    metrics = [ceiling_metric(ceiling)]
    for stage in MODEL_STAGES:
        timing = _timing(bench, stage)
        assert timing is not None
        work = stage_work(bench.models(), engine, stage, sequences[stage], dtype)
        assert work.real_tokens == timing.tokens  # the rounds processed what was counted
        metrics.extend(roofline_metrics(work, timing.seconds, ceiling))
    assert all(m.available for m in metrics)
    bench.collector.add_metrics(metrics)
