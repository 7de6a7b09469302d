"""Report blocks on how well the hardware was used: the roofline and GPU hardware activity.

The roofline table sets each model stage's achieved matmul FLOP/s against the ceiling measured
on the same device in the same run (``roofline.*`` metrics, see
:mod:`virnucpro.bench.gpu.roofline`), with the real and padded tokens apart so padding waste shows.
The activity table lists the GPU figures beyond NVML's "utilization": GPM hardware activity,
per-round utilization and energy, energy per read and per token, clocks around the rounds and
the sampler's measured overhead. Missing figures print ``unavailable (reason)``.
"""

from __future__ import annotations

from collections.abc import Sequence

from tools.bench.report.formatting import format_percent, format_quantity, table, unavailable
from virnucpro.bench.schema import Metric, ResultsDocument

ROOFLINE_PREFIX = "roofline."
MODEL_STAGES = ("dnabert", "esm")
NOT_MEASURED = "no roofline recorded in this run"
ACTIVITY_METRICS = (
    "gpu.sm_active",
    "gpu.sm_occupancy",
    "gpu.tensor_active",
    "gpu.dram_bw_util",
    "gpu.round.utilization",
    "gpu.round.sm_active",
    "gpu.round.tensor_active",
    "gpu.round.energy",
    "gpu.energy_per_1k_reads",
    "gpu.energy_per_token",
    "gpu.sm_clock_before_rounds",
    "gpu.sm_clock_after_rounds",
    "gpu.sampler_overhead",
)


def _median(results: ResultsDocument, name: str) -> Metric | None:
    metric = results.metric(name)
    return metric if metric is not None and metric.available else None


def _cell(metric: Metric | None, unit: str | None = None) -> str:
    if metric is None:
        return unavailable("not recorded")
    return format_quantity(metric.median, unit or metric.unit)


def roofline_table(results: ResultsDocument) -> str | None:
    """One row per model stage with a roofline; ``None`` when the run recorded none."""
    ceilings = [m for m in results.metrics_with_prefix(f"{ROOFLINE_PREFIX}ceiling.") if m.available]
    rows = []
    for stage in MODEL_STAGES:
        achieved = _median(results, f"{ROOFLINE_PREFIX}{stage}.flops_per_s")
        if achieved is None:
            continue
        fraction = _median(results, f"{ROOFLINE_PREFIX}{stage}.fraction_of_ceiling")
        real = _median(results, f"{ROOFLINE_PREFIX}{stage}.real_tokens")
        padded = _median(results, f"{ROOFLINE_PREFIX}{stage}.padded_tokens")
        dtype = achieved.labels.get("dtype", "?")
        ceiling = next((m for m in ceilings if m.name.split(".")[2] == dtype), None)
        waste = (
            format_percent(1 - real.median / padded.median)
            if real is not None and padded is not None and padded.median
            else unavailable("not recorded")
        )
        rows.append(
            (
                f"`{stage}`",
                achieved.labels.get("model", "?"),
                dtype,
                _flops(achieved),
                _flops(ceiling, best=True),
                format_percent(fraction.median) if fraction else unavailable("not recorded"),
                _count(real),
                _count(padded),
                waste,
            )
        )
    if not rows:
        return None
    headers = ("stage", "model", "dtype", "achieved", "ceiling (same run)", "fraction")
    return table((*headers, "real tokens", "padded tokens", "padding"), rows)


def _flops(metric: Metric | None, *, best: bool = False) -> str:
    """The median figure, or the best sample (``best``: the ceiling is its fastest block)."""
    if metric is None or metric.median is None:
        return unavailable("not recorded")
    value = max(metric.samples) if best else metric.median
    return f"{value / 1e12:.1f} TFLOP/s" if value >= 1e12 else f"{value / 1e9:.1f} GFLOP/s"


def _count(metric: Metric | None) -> str:
    return f"{metric.median:,.0f}" if metric is not None and metric.median is not None else "n/a"


def activity_metrics(results: ResultsDocument) -> Sequence[Metric]:
    """The recorded GPU activity metrics, in a fixed order."""
    found = (results.metric(name) for name in ACTIVITY_METRICS)
    return [m for m in found if m is not None]


def roofline_note() -> str:
    return (
        "Achieved FLOP/s counts the matmuls of the real tokens (model config x tokens "
        "processed); the ceiling is the best timed block of a large square matmul in the "
        "stage's dtype, after a warm-up, on the same device in the same run. Padding is the "
        "share of computed tokens that were padding."
    )
