"""Facts derived from a results document: stage breakdown, scaling, GPU telemetry per device.

Pure functions over the samples of a :class:`ResultsDocument`, shared by the requirements, the
recommendations and the renderers so that every place computes a number the same way. A value
that cannot be derived is None; the caller renders it as unavailable with a reason.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass

import virnucpro.bench.paired_stats as paired_stats
import virnucpro.bench.stats as stats
from virnucpro.bench.metric_names import GPU_ROUND_UTILIZATION, TOTAL_TIME_METRIC
from virnucpro.bench.schema import GpuSample, ResultsDocument
from virnucpro.stages import STAGES

STAGE_ORDER = tuple(stage for stage in STAGES if stage != "load_models")
GPU_UTIL_METRIC = "gpu.utilization"
NOT_RECORDED = "not recorded in this run"
NOT_RUN = "not run"


@dataclass(frozen=True)
class SampleSummary:
    """Median and IQR of raw samples (same quartile method as :class:`Metric`)."""

    median: float
    iqr: float | None
    n: int

    @classmethod
    def of(cls, samples: Sequence[float]) -> SampleSummary | None:
        if not samples:
            return None
        return cls(median=stats.median(samples), iqr=stats.iqr(samples), n=len(samples))


@dataclass(frozen=True)
class StageSummary:
    stage: str
    seconds: SampleSummary
    share: float | None  # of the total (see StageBreakdown.basis)
    items_per_s: float | None
    tokens_per_s: float | None
    gpu_util_median: float | None


@dataclass(frozen=True)
class StageBreakdown:
    stages: tuple[StageSummary, ...]
    basis: str  # what "share" is a share of

    @property
    def bottleneck(self) -> StageSummary | None:
        return max(self.stages, key=lambda s: s.seconds.median, default=None)


@dataclass(frozen=True)
class ScalingRow:
    kind: str
    stage: str
    workers: int
    seconds: SampleSummary
    base_workers: int
    speedup: float | None
    efficiency: float | None


@dataclass(frozen=True)
class DeviceSummary:
    """One GPU's telemetry; a None field was not reported by NVML on this device."""

    device: int
    name: str
    samples: int
    util_mean: float | None
    util_median: float | None
    power_mean_w: float | None
    energy_j: float | None
    sm_clock_median_mhz: float | None
    throttled_fraction: float
    throttle_reasons: tuple[str, ...]
    memory_used_max: int | None
    other_processes_max: int | None


def _stage_key(stage: str) -> tuple[int, str]:
    return (STAGE_ORDER.index(stage) if stage in STAGE_ORDER else len(STAGE_ORDER), stage)


def _median_or_none(values: Sequence[float]) -> float | None:
    return stats.median(values) if values else None


def _stage_gpu_util(samples: Sequence[GpuSample], stage: str) -> float | None:
    return _median_or_none(
        [s.utilization_gpu for s in samples if s.stage == stage and s.utilization_gpu is not None]
    )


def measured_median(results: ResultsDocument, name: str) -> float | None:
    metric = results.metric(name)
    return metric.median if metric is not None and metric.available else None


def stage_breakdown(results: ResultsDocument) -> StageBreakdown:
    """Per-stage times (stage timings, else ``stage.<name>.time`` metrics) and the bottleneck."""
    timings = {t.stage: (t.seconds, t.items_in, t.tokens) for t in results.stages if t.seconds}
    for metric in results.metrics_with_prefix("stage."):
        stage = metric.name.split(".")[1]
        if metric.name == f"stage.{stage}.time" and metric.available and stage not in timings:
            timings[stage] = (metric.samples, 0, 0)
    summaries = {stage: SampleSummary.of(seconds) for stage, (seconds, _, _) in timings.items()}
    total = measured_median(results, TOTAL_TIME_METRIC)
    basis = "median end-to-end total time"
    if total is None:
        total = sum(s.median for s in summaries.values() if s is not None)
        basis = "sum of stage medians (total time not measured)"
    telemetry = results.gpu.samples if results.gpu.available else ()
    stages = []
    for stage in sorted(summaries, key=_stage_key):
        summary = summaries[stage]
        _, items, tokens = timings[stage]
        rate = 1.0 / summary.median if summary.median > 0 else None
        stages.append(
            StageSummary(
                stage=stage,
                seconds=summary,
                share=summary.median / total if total > 0 else None,
                items_per_s=items * rate if items and rate else None,
                tokens_per_s=tokens * rate if tokens and rate else None,
                gpu_util_median=_stage_gpu_util(telemetry, stage),
            )
        )
    return StageBreakdown(stages=tuple(stages), basis=basis)


def scaling_rows(results: ResultsDocument) -> tuple[ScalingRow, ...]:
    """Speedup and efficiency against the smallest worker count, per (kind, stage).

    The efficiency is the median of the per-round efficiencies
    (:func:`virnucpro.bench.paired_stats.scaling_efficiencies`), the figure the scaling suite
    records as ``scaling[.<stage>].efficiency.<n>``, so the console, the report, the JSON and the
    requirement give one value; the speedup is that efficiency times the ideal speedup. Points
    whose rounds cannot be paired with the base's (another number of rounds) have neither.
    """
    groups: dict[tuple[str, str], list] = {}
    for point in results.scaling:
        groups.setdefault((point.kind, point.stage), []).append(point)
    rows = []
    for (kind, stage), points in sorted(
        groups.items(), key=lambda g: (g[0][0], _stage_key(g[0][1]))
    ):
        points.sort(key=lambda p: p.workers)
        base = points[0]
        for point in points:
            summary = SampleSummary.of(point.seconds)
            if summary is None:
                continue
            ideal = point.workers / base.workers
            efficiency = _median_efficiency(base.seconds, point.seconds, ideal)
            rows.append(
                ScalingRow(
                    kind=kind,
                    stage=stage,
                    workers=point.workers,
                    seconds=summary,
                    base_workers=base.workers,
                    speedup=efficiency * ideal if efficiency is not None else None,
                    efficiency=efficiency,
                )
            )
    return tuple(rows)


def _median_efficiency(
    base: Sequence[float], scaled: Sequence[float], ideal: float
) -> float | None:
    if len(base) != len(scaled):
        return None
    per_round = paired_stats.scaling_efficiencies(base, scaled, ideal)
    return stats.median(per_round) if per_round else None


def widest_scaling_rows(results: ResultsDocument) -> tuple[ScalingRow, ...]:
    """The row with the largest worker count of each (kind, stage) that scaled beyond its base."""
    widest: dict[tuple[str, str], ScalingRow] = {}
    for row in scaling_rows(results):
        key = (row.kind, row.stage)
        if row.workers > row.base_workers and (
            key not in widest or row.workers > widest[key].workers
        ):
            widest[key] = row
    return tuple(widest.values())


def _device_summary(device: int, name: str, samples: Sequence[GpuSample]) -> DeviceSummary:
    def values(field: str) -> list:
        return [getattr(s, field) for s in samples if getattr(s, field) is not None]

    util, energy = values("utilization_gpu"), values("energy_j")
    throttled = [s for s in samples if s.throttle_reasons]
    return DeviceSummary(
        device=device,
        name=name,
        samples=len(samples),
        util_mean=statistics.fmean(util) if util else None,
        util_median=_median_or_none(util),
        power_mean_w=statistics.fmean(values("power_w")) if values("power_w") else None,
        energy_j=max(energy) - min(energy) if len(energy) >= 2 else None,
        sm_clock_median_mhz=_median_or_none(values("sm_clock_mhz")),
        throttled_fraction=len(throttled) / len(samples) if samples else 0.0,
        throttle_reasons=tuple(sorted({r for s in throttled for r in s.throttle_reasons})),
        memory_used_max=max(values("memory_used_bytes"), default=None),
        other_processes_max=max(values("other_processes"), default=None),
    )


def device_summaries(results: ResultsDocument) -> tuple[DeviceSummary, ...]:
    """Telemetry per GPU; empty when telemetry is unavailable."""
    if not results.gpu.available:
        return ()
    by_device: dict[int, list[GpuSample]] = {}
    for sample in results.gpu.samples:
        by_device.setdefault(sample.device, []).append(sample)
    names = results.gpu.devices
    return tuple(
        _device_summary(d, names[d] if d < len(names) else f"GPU {d}", by_device[d])
        for d in sorted(by_device)
    )


def gpu_utilization(results: ResultsDocument) -> tuple[float | None, str]:
    """Median GPU utilization (%) and where it came from, or None and why it is unavailable.

    From ``gpu.utilization`` (every reading), else ``gpu.round.utilization`` (an A/B run keeps
    only one mean per round), else the telemetry's readings; the source is named.
    """
    metric = results.metric(GPU_UTIL_METRIC)
    if metric is not None:
        if metric.available:
            return metric.median, f"`{GPU_UTIL_METRIC}` median over {len(metric.samples)} samples"
        return None, metric.reason or NOT_RECORDED
    rounds = results.metric(GPU_ROUND_UTILIZATION)
    if rounds is not None:
        if rounds.available:
            count = len(rounds.samples)
            return rounds.median, f"`{GPU_ROUND_UTILIZATION}` median of {count} round means"
        return None, rounds.reason or NOT_RECORDED
    if not results.gpu.available:
        return None, results.gpu.reason or "GPU telemetry unavailable"
    util = [s.utilization_gpu for s in results.gpu.samples if s.utilization_gpu is not None]
    if not util:
        return None, "telemetry has no utilization samples"
    return stats.median(util), f"median over {len(util)} telemetry samples"


def not_run(results: ResultsDocument, suite: str) -> str | None:
    """``not run (...)`` when ``suite`` was not part of this run, else None."""
    if suite in results.run.suites:
        return None
    why = next((r for k, r in results.skipped.items() if k.lower() == suite), None)
    return f"{NOT_RUN} ({why or 'the suite was not selected'})"


def skip_reason(results: ResultsDocument, suite: str) -> str | None:
    """The reason a suite (or one of its tests) was skipped, if the document records one."""
    return next((f"skipped: {r}" for k, r in results.skipped.items() if suite in k.lower()), None)
