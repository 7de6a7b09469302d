"""Scaling suite: the same workload on 1..N GPUs (``--gpus``), else on 1 vs 2 CPU ranks.

Every point is a real ``virnucpro predict`` launch with local ranks (torch.distributed: NCCL on
GPUs, gloo on the CPU); worker counts are interleaved round by round so drift of a shared
machine hits them alike. The time of a point is the run's own total minus model loading (a
per-process constant that does not scale), and per model stage the slowest rank's stage time.
Efficiency at ``n`` workers, per round: ``t(base) * base / (t(n) * n)``.
"""

from __future__ import annotations

import argparse
import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

import virnucpro.bench.paired_stats as paired_stats
from virnucpro.bench.options import CPU_SCALING_RANKS
from virnucpro.bench.schema import Metric, ScalingPoint, metric_from_samples

if TYPE_CHECKING:
    from virnucpro.bench.run.session import BenchSession
    from virnucpro.pipeline.metrics import RunMetrics

pytestmark = pytest.mark.benchmark

TOTAL = "total"
SAMPLER_TAG = "scaling"
MODEL_STAGES = ("dnabert", "esm")
SHARDS_PER_RANK = 4  # enough shards that the token-balanced plan can even out the ranks
SHARD_OPTION = "--shard-frames"
EFFICIENCY_UNIT = "ratio"
NO_SHARD_OPTION = (
    "scaling: `virnucpro predict` has no --shard-frames option, so the workload runs as "
    "shards of up to 10,000 frames; ranks beyond the shard count idle"
)


def worker_counts(available: int) -> tuple[int, ...]:
    """1, 2, 4, ... up to ``available``, and ``available`` itself."""
    counts = {1 << k for k in range(available.bit_length()) if 1 << k <= available}
    return tuple(sorted(counts | {available}))


def predict_accepts(option: str) -> bool:
    """Whether ``virnucpro predict`` takes ``option`` (argparse keeps no public index)."""
    from virnucpro.cli import build_parser

    for action in build_parser()._actions:
        if isinstance(action, argparse._SubParsersAction):
            return option in action.choices["predict"]._option_string_actions
    return False


def _shard_args(bench: BenchSession, most_workers: int) -> list[str]:
    if not predict_accepts(SHARD_OPTION):
        bench.collector.note(NO_SHARD_OPTION)
        return []
    frames = max(1, bench.workload_fingerprint.kept_frames)
    return [SHARD_OPTION, str(max(1, math.ceil(frames / (most_workers * SHARDS_PER_RANK))))]


def _predict_argv(bench: BenchSession, outdir: Path, device: str, extra: list[str]) -> list[str]:
    return [
        "predict",
        str(bench.workload.path),
        "-o",
        str(outdir),
        "--models",
        bench.options.models,
        "--engine",
        bench.engine,
        "--precision",
        bench.precision_option(bench.engine),
        "--expected-length",
        str(bench.options.expected_length),
        "--device",
        device,
        "--force",
        "-q",
        *extra,
    ]


def _launch(argv: list[str], workers: int, gpus: Sequence[int] | None, outdir: Path) -> RunMetrics:
    from virnucpro.pipeline.distributed import launch_local
    from virnucpro.pipeline.metrics import RUN_METRICS_FILE, RunMetrics

    code = launch_local(argv, nproc=workers, gpus=gpus)
    assert code == 0, f"{workers} rank(s) exited with code {code}"
    return RunMetrics.read(outdir / RUN_METRICS_FILE)


def _slowest_rank(metrics: RunMetrics, stage: str) -> float | None:
    per_rank = metrics.extra.get("rank_stage_seconds", [])
    times = [r[stage] for r in per_rank if stage in r]  # type: ignore[union-attr]
    return max(times) if times else None


def point_times(metrics: RunMetrics) -> dict[str, float]:
    """Seconds per scaling stage of one launch: the total (less model loading), model stages."""
    load = metrics.stage("load_models")
    times = {TOTAL: metrics.total_seconds - (load.seconds if load else 0.0)}
    for stage in MODEL_STAGES:
        seconds = _slowest_rank(metrics, stage)
        if seconds is not None:
            times[stage] = seconds
    return times


def _measure(
    bench: BenchSession, counts: tuple[int, ...], kind: str, gpus: tuple[int, ...] | None
) -> dict[int, dict[str, list[float]]]:
    device = "cuda" if kind == "gpu" else "cpu"
    extra = _shard_args(bench, counts[-1])
    times: dict[int, dict[str, list[float]]] = {n: {} for n in counts}
    for index in range(bench.options.launch_rounds):
        order = counts if index % 2 == 0 else tuple(reversed(counts))
        for n in order:
            outdir = bench.outdir(f"scaling-{kind}-{n}")
            argv = _predict_argv(bench, outdir, device, extra)
            with bench.sampler.stage(SAMPLER_TAG):
                metrics = _launch(argv, n, gpus[:n] if gpus else None, outdir)
            bench.observe(metrics)
            for stage, seconds in point_times(metrics).items():
                times[n].setdefault(stage, []).append(seconds)
    return times


def _efficiency(
    kind: str, stage: str, workers: int, base: int, base_s: list[float], seconds: list[float]
) -> Metric:
    name = (
        f"scaling.efficiency.{workers}"
        if stage == TOTAL
        else f"scaling.{stage}.efficiency.{workers}"
    )
    return metric_from_samples(
        name,
        paired_stats.scaling_efficiencies(base_s, seconds, workers / base),
        unit=EFFICIENCY_UNIT,
        better="higher",
        stage=None if stage == TOTAL else stage,
        labels={"kind": kind, "base_workers": str(base)},
    )


def _record(bench: BenchSession, kind: str, times: dict[int, dict[str, list[float]]]) -> None:
    """Scaling points for every worker count and stage; efficiencies against the smallest."""
    rounds = bench.options.launch_rounds
    base = min(times)
    for workers, stages in sorted(times.items()):
        bench.collector.add_scaling(
            ScalingPoint(workers=workers, kind=kind, stage=stage, seconds=tuple(seconds))  # type: ignore[arg-type]
            for stage, seconds in stages.items()
            if len(seconds) == rounds
        )
        if workers == base:
            continue
        for stage, seconds in stages.items():
            base_s = times[base].get(stage, [])
            if len(base_s) == len(seconds) == rounds:
                bench.collector.add_metric(_efficiency(kind, stage, workers, base, base_s, seconds))


def _child_environment(bench: BenchSession, monkeypatch: pytest.MonkeyPatch) -> None:
    """Rank processes import the same virnucpro as this one (even from a plain checkout) and
    use the session's torch thread count when one is set."""
    import virnucpro

    root = str(Path(virnucpro.__file__).resolve().parents[1])
    current = os.environ.get("PYTHONPATH")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([root, current]) if current else root)
    if bench.options.threads is not None:
        monkeypatch.setenv("OMP_NUM_THREADS", str(bench.options.threads))


def test_over_gpus(bench: BenchSession, monkeypatch: pytest.MonkeyPatch) -> None:
    """End-to-end and per-model-stage time on 1, 2, 4 ... N GPUs (one rank per GPU)."""
    if len(bench.gpus) < 2:
        pytest.skip(f"needs at least 2 CUDA GPUs (found {len(bench.gpus)}); see scaling.cpu_ranks")
    _child_environment(bench, monkeypatch)
    counts = worker_counts(len(bench.gpus))
    _record(bench, "gpu", _measure(bench, counts, "gpu", bench.gpus))
    assert bench.collector.has_metric(f"scaling.efficiency.{counts[-1]}")


def test_cpu_ranks(bench: BenchSession, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without GPUs: 1 vs 2 local CPU ranks (gloo), end to end and per model stage."""
    if bench.gpus:
        pytest.skip("GPUs present: scaling is measured over GPUs (scaling.over_gpus)")
    _child_environment(bench, monkeypatch)
    _record(bench, "rank", _measure(bench, CPU_SCALING_RANKS, "rank", None))
    assert bench.collector.has_metric(f"scaling.efficiency.{CPU_SCALING_RANKS[-1]}")
