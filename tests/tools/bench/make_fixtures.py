"""Build the committed sample results documents under ``fixtures/`` (deterministic).

Run ``python -m tests.tools.bench.make_fixtures`` from the repository root after a schema
change; ``test_report.py`` checks that the committed files equal what this script builds. The
tests also load fixtures and compare snapshots through the helpers at the end of this module.

Fixtures:
- ``cpu_run``: a quick CPU run with tiny random weights; GPU telemetry and CUDA memory
  unavailable; scaling and equivalence skipped.
- ``gpu_run``: a full run on four GPUs with telemetry, scaling over 1/2/4 GPUs, equivalence.
- ``invalid_run``: the GPU run on a machine that was not fit to measure.
- ``regression_run`` + ``regression_verdict``: a slower candidate of the GPU run and the verdict
  the checker would give against ``gpu_run`` (fail, warn, inconclusive, improved, ...).
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

from tools.bench.judge.stored import POOLED_NOTE
from tools.bench.report.analysis import STAGE_ORDER
from tools.bench.synthetic import synthetic_document
from tools.bench.verdict import MetricJudgement, Verdict
from virnucpro.bench.metric_names import POOLED_POLLS, SAMPLES_LABEL, TOTAL_TIME_METRIC
from virnucpro.bench.schema import (
    EquivalenceResult,
    GpuSample,
    GpuTelemetry,
    Metric,
    ResultsDocument,
    ScalingPoint,
    StageTiming,
    Validity,
    WorkloadFingerprint,
    document_to_json,
    metric_from_samples,
    read_document,
    unavailable_metric,
)

FIXTURES_DIR = Path(__file__).parent / "fixtures"
SNAPSHOTS_DIR = Path(__file__).parent / "snapshots"
UPDATE_ENV = "UPDATE_SNAPSHOTS"
FIXED_NOW = datetime(2025, 3, 5, 12, 0, 0, tzinfo=timezone.utc)
ROUNDS = 5
# Deterministic relative offsets of the rounds around a metric's centre value.
OFFSETS = (0.0, 0.6, -0.4, 1.0, -0.8, 0.2, -0.2)
NOISE = 0.01
NOISY = 0.3
GPU_COUNT = 4
TELEMETRY_SAMPLES = 8
H100_BYTES = 85_899_345_920
# Median seconds of each stage (in STAGE_ORDER), per workload; items and tokens come from the
# workload fingerprint.
STAGE_SECONDS = {
    "tiny": (0.05, 0.02, 0.4, 4.1, 6.3, 0.08, 0.03, 0.01, 0.04),
    "medium": (22.0, 9.0, 160.0, 610.0, 1450.0, 35.0, 6.0, 4.0, 18.0),
}
WORKLOAD_SCALE = {"tiny": 1, "medium": 1000}
OVERHEAD_SECONDS = {"tiny": 0.35, "medium": 12.0}  # total time beyond the sum of the stages


def samples(centre: float, *, spread: float = NOISE, n: int = ROUNDS) -> tuple[float, ...]:
    return tuple(round(centre * (1 + spread * o), 6) for o in OFFSETS[:n])


def _environment(*, gpu: bool, commit: str) -> dict[str, object]:
    return {
        "git_commit": commit,
        "git_dirty": False,
        "python": "3.11.9",
        "torch": "2.13.0+cu124" if gpu else "2.13.0+cpu",
        "cuda": "12.4" if gpu else None,
        "driver": "550.54.15" if gpu else None,
        "gpu_names": ("NVIDIA H100 80GB HBM3",) * GPU_COUNT if gpu else (),
        "gpu_count": GPU_COUNT if gpu else 0,
        "cpu_model": "Intel(R) Xeon(R) Platinum 8480+" if gpu else "AMD EPYC 7B13",
        "cpu_count": 16 if gpu else 2,
        "torch_threads": 16 if gpu else 2,
        "platform": "Linux-6.1.0-x86_64-with-glibc2.36",
    }


def _workload(name: str) -> WorkloadFingerprint:
    scale = WORKLOAD_SCALE[name]
    histogram = {"1-300": 28, "301-500": 96, "501-1000": 58, "1001-2000": 18}
    return WorkloadFingerprint(
        name=name,
        content_sha256=f"{scale:08x}" + "3f1a9c0e7b5d2a4c6e8f0a1b3c5d7e9f1a2b3c4d5e6f708192a3b4c5",
        reads=200 * scale,
        bases=131_400 * scale,
        chunks=240 * scale,
        expected_length=500,
        length_histogram={k: v * scale for k, v in histogram.items()},
        kept_frames=310 * scale,
        dnabert_tokens=52_000 * scale,
        esm_tokens=51_700 * scale,
        seed=7,
    )


def _stage_items(wl: WorkloadFingerprint, stage: str) -> tuple[int, int]:
    """Items into a stage and the tokens it embeds."""
    if stage in ("read", "chunk"):
        return wl.reads, 0
    if stage in ("translate", "write"):
        return wl.chunks, 0
    tokens = {"dnabert": wl.dnabert_tokens, "esm": wl.esm_tokens}.get(stage, 0)
    return wl.kept_frames, tokens


def _run(*, gpu: bool) -> dict[str, object]:
    return {
        "tier": "full" if gpu else "quick",
        "suites": ("end_to_end", "stages", "memory", "scaling", "equivalence")
        if gpu
        else ("end_to_end", "stages", "memory"),
        "engine": "fast",
        "model_preset": "published" if gpu else "tiny",
        "models_meaningful": gpu,
        "model_note": "" if gpu else "tiny random weights (seed 0)",
        "device": "cuda:0" if gpu else "cpu",
        "precision": "bfloat16" if gpu else "float32",
        "rounds": ROUNDS,
        "warmup_rounds": 1,
        "command": "virnucpro benchmark --tier full" if gpu else "virnucpro benchmark --quick",
    }


def _stage_seconds(workload: str, slowdown: dict[str, float]) -> dict[str, float]:
    pairs = zip(STAGE_ORDER, STAGE_SECONDS[workload], strict=True)
    return {stage: secs * slowdown.get(stage, 1.0) for stage, secs in pairs}


def _spread(stage: str) -> float:
    return NOISY if stage == "read" else NOISE


def _stage_records(wl: WorkloadFingerprint, seconds: dict[str, float]) -> tuple[StageTiming, ...]:
    records = []
    for stage, secs in seconds.items():
        items, tokens = _stage_items(wl, stage)
        records.append(
            StageTiming(
                stage=stage,
                seconds=samples(secs, spread=_spread(stage)),
                items_in=items,
                items_out=items,
                tokens=tokens,
            )
        )
    return tuple(records)


def _throughput_metrics(
    wl: WorkloadFingerprint, total: float, seconds: dict[str, float]
) -> list[Metric]:
    rates = {
        "end_to_end.reads_per_s": ("reads/s", wl.reads),
        "end_to_end.frames_per_s": ("frames/s", wl.kept_frames),
        "end_to_end.bp_per_s": ("bp/s", wl.bases),
    }
    metrics = [
        metric_from_samples(name, samples(count / total), unit=unit, better="higher")
        for name, (unit, count) in rates.items()
    ]
    for model, tokens in (("dnabert", wl.dnabert_tokens), ("esm", wl.esm_tokens)):
        metrics.append(
            metric_from_samples(
                f"throughput.{model}.tokens_per_s",
                samples(tokens / seconds[model]),
                unit="tokens/s",
                better="higher",
            )
        )
    return metrics


def _common_metrics(
    wl: WorkloadFingerprint, total: float, seconds: dict[str, float]
) -> list[Metric]:
    metrics = [metric_from_samples(TOTAL_TIME_METRIC, samples(total), unit="s", better="lower")]
    metrics += _throughput_metrics(wl, total, seconds)
    metrics += [
        metric_from_samples(
            f"stage.{stage}.time",
            samples(secs, spread=_spread(stage)),
            unit="s",
            better="lower",
            stage=stage,
        )
        for stage, secs in seconds.items()
    ]
    return metrics


def cpu_run() -> ResultsDocument:
    wl = _workload("tiny")
    seconds = _stage_seconds("tiny", {})
    total = sum(seconds.values()) + OVERHEAD_SECONDS["tiny"]
    no_cuda = "no CUDA device (torch.cuda.is_available() is False)"
    metrics = _common_metrics(wl, total, seconds)
    metrics += [
        unavailable_metric("memory.cuda_peak_allocated", unit="B", reason=no_cuda, better="lower"),
        unavailable_metric("memory.cuda_peak_reserved", unit="B", reason=no_cuda, better="lower"),
        unavailable_metric(
            "memory.nvml_device_used", unit="B", reason="NVML library not found", better="lower"
        ),
        metric_from_samples("memory.host_peak_rss", samples(1.42e9), unit="B", better="lower"),
        unavailable_metric("gpu.utilization", unit="%", reason=no_cuda, better="higher"),
        metric_from_samples("cold.model_load", samples(0.9), unit="s", better="lower"),
        metric_from_samples("cold.first_batch", samples(0.21), unit="s", better="lower"),
        metric_from_samples("custom.io_wait", samples(0.12), unit="s", better="lower"),
        *_roofline("float32", 1.7e11, {"dnabert": (0.21, 6458, 6766), "esm": (0.18, 4934, 5167)}),
    ]
    return synthetic_document(
        metrics,
        run_id="cpu-20250301-0900",
        created_at="2025-03-01T09:00:00+00:00",
        run=_run(gpu=False),
        environment=_environment(gpu=False, commit="1a2b3c4d5e6f"),
        workload=wl,
        stages=_stage_records(wl, seconds),
        gpu=GpuTelemetry(available=False, reason="NVML unavailable: NVMLError_LibraryNotFound"),
        skipped={
            "scaling": "needs 2 or more GPUs (found 0)",
            "equivalence": "vanilla comparison not requested (--vanilla-baseline)",
        },
        notes=("quick tier: 5 rounds after 1 warm-up round",),
    )


MODEL_NAMES = {
    "cpu": {"dnabert": "tiny-dnabert", "esm": "tiny-esm"},
    "gpu": {"dnabert": "dnabert-s", "esm": "esm2_t36_3B_UR50D"},
}


def _roofline(
    dtype: str, ceiling: float, stages: dict[str, tuple[float, int, int]]
) -> list[Metric]:
    """Roofline metrics: per stage (fraction of the ceiling, real tokens, padded tokens)."""
    models = MODEL_NAMES["gpu" if dtype == "bfloat16" else "cpu"]
    metrics = [
        metric_from_samples(
            f"roofline.ceiling.{dtype}.flops_per_s", samples(ceiling), unit="FLOP/s"
        )
    ]
    for stage, (fraction, real, padded) in stages.items():
        metrics += [
            metric_from_samples(
                f"roofline.{stage}.flops_per_s",
                samples(fraction * ceiling),
                unit="FLOP/s",
                better="higher",
                stage=stage,
                labels={"model": models[stage], "dtype": dtype},
            ),
            metric_from_samples(
                f"roofline.{stage}.fraction_of_ceiling",
                samples(fraction),
                unit="ratio",
                better="higher",
                stage=stage,
            ),
            metric_from_samples(f"roofline.{stage}.real_tokens", [real], unit="tokens"),
            metric_from_samples(
                f"roofline.{stage}.padded_tokens", [padded], unit="tokens", better="lower"
            ),
        ]
    return metrics


def _telemetry(util: float, *, throttled_device: int | None) -> GpuTelemetry:
    stage_cycle = ("dnabert", "esm", "esm", "dnabert")
    points = []
    for device in range(GPU_COUNT):
        for k in range(TELEMETRY_SAMPLES):
            throttled = device == throttled_device and k % 2 == 1
            points.append(
                GpuSample(
                    t=round(0.5 * k, 3),
                    device=device,
                    stage=stage_cycle[k % len(stage_cycle)],
                    utilization_gpu=round(util + 6 * OFFSETS[k % len(OFFSETS)] - device, 2),
                    utilization_mem=round(util / 2, 2),
                    memory_used_bytes=int(31e9 + 1e9 * device + 2e8 * k),
                    power_w=round(520 + 10 * OFFSETS[k % len(OFFSETS)], 1),
                    energy_j=round(1000.0 + 260.0 * k, 1),
                    sm_clock_mhz=1755 if throttled else 1980,
                    temperature_c=61 + device,
                    throttle_reasons=("SwThermalSlowdown",) if throttled else (),
                    other_processes=0,
                )
            )
    return GpuTelemetry(
        available=True,
        interval_s=0.5,
        devices=("NVIDIA H100 80GB HBM3",) * GPU_COUNT,
        samples=tuple(points),
        overhead_fraction=0.004,
    )


def _scaling(single: float, efficiency: dict[int, float], stage: str) -> tuple[ScalingPoint, ...]:
    return tuple(
        ScalingPoint(workers=n, kind="gpu", stage=stage, seconds=samples(single / (n * eff)))
        for n, eff in efficiency.items()
    )


def _equivalence(speedup: float) -> EquivalenceResult:
    return EquivalenceResult(
        reference_engine="vanilla",
        candidate_engine="fast",
        precision="bfloat16",
        frames=310_000,
        label_agreement=1.0,
        chunk_call_agreement=1.0,
        max_score_diff=0.0031,
        min_cosine_dnabert=0.9993,
        min_cosine_esm=0.9987,
        max_rel_diff_dnabert=0.012,
        max_rel_diff_esm=0.019,
        speedup=speedup,
        passed=True,
        criteria="label agreement >= 0.999, max |score diff| <= 0.01, min cosine >= 0.99",
    )


def gpu_run(
    *,
    slowdown: dict[str, float] | None = None,
    util: float = 88.0,
    run_id: str = "gpu-20250302-1000",
    created_at: str = "2025-03-02T10:00:00+00:00",
    commit: str = "1a2b3c4d5e6f",
) -> ResultsDocument:
    wl = _workload("medium")
    seconds = _stage_seconds("medium", slowdown or {})
    total = sum(seconds.values()) + OVERHEAD_SECONDS["medium"]
    efficiency = {1: 1.0, 2: 0.96, 4: 0.86}
    memory = [
        ("memory.cuda_peak_allocated", 24.6e9),
        ("memory.cuda_peak_reserved", 29.1e9),
        ("memory.nvml_device_used", 31.8e9),
        ("memory.host_peak_rss", 6.3e9),
    ]
    metrics = _common_metrics(wl, total, seconds) + [
        metric_from_samples(
            name,
            samples(value),
            unit="B",
            better="lower",
            labels={"capacity_bytes": str(H100_BYTES)} if "nvml" in name else None,
        )
        for name, value in memory
    ]
    metrics += [
        metric_from_samples(
            "gpu.utilization",
            samples(util),
            unit="%",
            better="higher",
            labels={SAMPLES_LABEL: POOLED_POLLS},
        ),
        metric_from_samples("gpu.round.utilization", samples(util), unit="%", better="higher"),
        metric_from_samples("equivalence.speedup", samples(14.2), unit="x", better="higher"),
        metric_from_samples("gpu.sampler_overhead", samples(0.004), unit="ratio", better="lower"),
        metric_from_samples("gpu.sm_active", samples(71.0), unit="%", better="higher"),
        metric_from_samples("gpu.tensor_active", samples(48.0), unit="%", better="higher"),
        metric_from_samples("gpu.energy_per_1k_reads", samples(310.0), unit="J/1000 reads"),
        metric_from_samples("gpu.energy_per_token", samples(0.0021), unit="J/token"),
        *_roofline(
            "bfloat16",
            7.1e14,
            {"dnabert": (0.31, 2_100_000, 2_350_000), "esm": (0.55, 9.3e6, 9.9e6)},
        ),
        metric_from_samples("cold.model_load", samples(38.0), unit="s", better="lower"),
        metric_from_samples("cold.first_batch", samples(1.9, n=3), unit="s", better="lower"),
    ]
    metrics += [
        metric_from_samples(f"scaling.efficiency.{n}", samples(eff), unit="ratio", better="higher")
        for n, eff in efficiency.items()
        if n > 1
    ]
    return synthetic_document(
        metrics,
        run_id=run_id,
        created_at=created_at,
        run=_run(gpu=True),
        environment=_environment(gpu=True, commit=commit),
        workload=wl,
        stages=_stage_records(wl, seconds),
        scaling=_scaling(total * GPU_COUNT * efficiency[GPU_COUNT], efficiency, "total")
        + _scaling(seconds["esm"] * GPU_COUNT * 0.95, {1: 1.0, 2: 0.99, 4: 0.95}, "esm"),
        equivalence=_equivalence(14.2),
        gpu=_telemetry(util, throttled_device=3),
    )


def invalid_run() -> ResultsDocument:
    doc = gpu_run(util=61.0, run_id="gpu-20250303-1100", created_at="2025-03-03T11:00:00+00:00")
    validity = Validity(
        valid=False,
        reasons=(
            "GPU 3 clocks throttled (SwThermalSlowdown) in 50% of samples",
            "another compute process on GPU 1 (pid 4242)",
        ),
    )
    return doc.model_copy(update={"validity": validity})


REGRESSION_SLOWDOWN = {"esm": 1.22, "dnabert": 1.05}


def regression_run() -> ResultsDocument:
    return gpu_run(
        slowdown=REGRESSION_SLOWDOWN,
        util=78.5,
        run_id="gpu-20250304-1200",
        created_at="2025-03-04T12:00:00+00:00",
        commit="9f8e7d6c5b4a",
    )


JUDGED = (  # name, status, p, p_adjusted, threshold, reason
    (TOTAL_TIME_METRIC, "fail", 0.0079, 0.0316, 0.10, ""),
    ("stage.esm.time", "warn", 0.0079, 0.0316, 0.10, ""),
    ("gpu.round.utilization", "warn", 0.0079, 0.0316, 0.057, "median dropped 9.5 points"),
    ("memory.cuda_peak_allocated", "pass", 1.0, 1.0, 0.20, ""),
    ("throughput.dnabert.tokens_per_s", "pass", 0.0079, 0.0316, 0.10, "within 10%"),
    (
        "stage.read.time",
        "inconclusive",
        1.0,
        1.0,
        0.10,
        "noise (IQR/median 36%) above the 10% threshold",
    ),
    ("cold.first_batch", "inconclusive", None, None, 0.10, "3 samples a side; at least 5 needed"),
)


def _judgement(
    baseline: ResultsDocument, candidate: ResultsDocument, row: tuple
) -> MetricJudgement:
    name, status, p, p_adj, threshold, reason = row
    base, cand = baseline.metric(name), candidate.metric(name)
    worse = -1.0 if base.better == "higher" else 1.0
    change = worse * (cand.median - base.median) / base.median
    return MetricJudgement(
        name=name,
        unit=base.unit,
        status=status,
        baseline_median=base.median,
        candidate_median=cand.median,
        change=round(change, 6),
        p_value=p,
        p_adjusted=p_adj,
        threshold=threshold,
        reason=reason,
    )


def regression_verdict() -> Verdict:
    baseline, candidate = gpu_run(), regression_run()
    judgements = [_judgement(baseline, candidate, row) for row in JUDGED]
    judgements += [
        MetricJudgement(
            name="memory.nvml_device_used",
            unit="B",
            status="unavailable",
            reason="candidate: NVML device memory not recorded",
        ),
        MetricJudgement(name="custom.new_metric", unit="s", status="new", reason="not in baseline"),
    ]
    return Verdict(
        outcome="regression",
        exit_code=1,
        baseline="main@1a2b3c4 (run gpu-20250302-1000)",
        judgements=tuple(judgements),
        reasons=(
            "the total time is slower by more than 10% (BH-adjusted p < 0.05)",
            f"{POOLED_NOTE}: gpu.utilization",
        ),
    )


def history() -> tuple[ResultsDocument, ...]:
    """Four runs of the GPU benchmark for the dashboard, given out of date order on purpose."""
    drift = (1.0, 0.98, 1.03, 1.14)
    runs = [
        gpu_run(
            slowdown={"esm": factor},
            util=88.0 - 4 * k,
            run_id=f"gpu-h{k}",
            created_at=f"2025-03-{10 + k:02d}T08:00:00+00:00",
        )
        for k, factor in enumerate(drift)
    ]
    return (runs[2], runs[0], runs[3], runs[1])


FIXTURES: dict[str, Callable[[], ResultsDocument]] = {
    "cpu_run": cpu_run,
    "gpu_run": gpu_run,
    "invalid_run": invalid_run,
    "regression_run": regression_run,
}
VERDICT_FIXTURE = "regression_verdict"


def with_metrics(doc: ResultsDocument, *metrics: Metric) -> ResultsDocument:
    """``doc`` with ``metrics`` added, replacing any of the same name."""
    names = {m.name for m in metrics}
    kept = tuple(m for m in doc.metrics if m.name not in names)
    return doc.model_copy(update={"metrics": kept + tuple(metrics)})


def history_verdict(status: str, *, name: str = TOTAL_TIME_METRIC) -> Verdict:
    """A verdict whose one judgement of ``name`` was made against 7 earlier runs of a history."""
    judgement = MetricJudgement(
        name=name, unit="s", status=status, change=0.3, reason="why", history_runs=7
    )
    return Verdict(outcome="pass", exit_code=0, baseline="main", judgements=(judgement,))


def fixture_texts() -> dict[str, str]:
    """File name -> JSON text of every committed fixture."""
    texts = {f"{name}.json": document_to_json(build()) for name, build in FIXTURES.items()}
    verdict = json.dumps(regression_verdict().model_dump(mode="json"), indent=2) + "\n"
    texts[f"{VERDICT_FIXTURE}.json"] = verdict
    return texts


def load_fixture(name: str) -> ResultsDocument:
    """A committed results document, read and validated like any user file."""
    return read_document(FIXTURES_DIR / f"{name}.json")


def load_verdict() -> Verdict:
    text = (FIXTURES_DIR / f"{VERDICT_FIXTURE}.json").read_text(encoding="utf-8")
    return Verdict.model_validate_json(text)


def assert_snapshot(name: str, text: str) -> None:
    """Compare with ``snapshots/<name>``; ``UPDATE_SNAPSHOTS=1`` rewrites the file instead."""
    path = SNAPSHOTS_DIR / name
    if os.environ.get(UPDATE_ENV) == "1":
        SNAPSHOTS_DIR.mkdir(exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return
    assert path.exists(), f"missing snapshot {path}; run with {UPDATE_ENV}=1 to create it"
    expected = path.read_text(encoding="utf-8")
    assert text == expected, f"{name} differs from its snapshot; {UPDATE_ENV}=1 rewrites it"


def main() -> int:
    FIXTURES_DIR.mkdir(exist_ok=True)
    for name, text in fixture_texts().items():
        (FIXTURES_DIR / name).write_text(text, encoding="utf-8")
        print(f"wrote {FIXTURES_DIR / name}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
