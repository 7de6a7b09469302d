"""GPU telemetry summarized as metrics, and the machine's fitness to measure (run validity).

Every figure comes from the readings taken inside what it describes, with their count as the
``readings`` label, and needs at least :data:`MIN_READINGS` of them: one reading is not a
figure. From the sampler's readings of the run's GPUs (:mod:`virnucpro.bench.gpu.sampler`):

- ``gpu.<q>``: every reading; ``gpu.dev<k>.<q>`` per device when the run used several;
- ``gpu.<stage>.<q>``: the readings tagged with a stage (utilization, power, GPM activity);
- ``gpu.round.<q>``: one sample per measured round, the mean of that round's readings;

the first three keep the individual readings, pooled, as their samples: readings 50-200 ms apart
are not independent samples, so these carry the ``labels[SAMPLES_LABEL] == POOLED_POLLS``
marker and the regression checker shows but never tests them (it tests ``gpu.round.<q>``);
- ``gpu.round.energy``: the energy counter's change over each round, all devices together,
  and from it ``gpu.energy_per_1k_reads`` and ``gpu.energy_per_token`` (J per model token:
  DNABERT-S plus ESM-2 tokens, real ones);
- ``gpu.sm_clock_before_rounds`` / ``gpu.sm_clock_after_rounds``: each device's SM clock at the
  first and last reading of the measured rounds, its throttle state in the labels;
- GPM hardware activity (``sm_active``, ``sm_occupancy``, ``tensor_active``, ``dram_bw_util``),
  or "unavailable (not supported ...)" where the GPU has none.

Telemetry that is unavailable gives unavailable metrics with its reason, e.g. "not used: the run
is on the CPU" for a CPU run on a GPU machine, never zeros.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from virnucpro.bench.metric_names import GPU_ROUND_PREFIX, POOLED_POLLS, SAMPLES_LABEL
from virnucpro.bench.schema import (
    Direction,
    GpuSample,
    GpuTelemetry,
    Metric,
    metric_from_samples,
    unavailable_metric,
)

MIN_READINGS = 2
NOT_REPORTED = "not reported by NVML for these devices (not supported or failed)"
TOO_FEW = "{n} reading(s) in {where}: one reading is not a figure"
ROUND_PREFIX = GPU_ROUND_PREFIX
KILO = 1000.0

# Reasons that mean the hardware was unfit to measure; idle, power cap and clock settings are not.
INVALIDATING_THROTTLE_REASONS = frozenset(
    {"hw_slowdown", "sw_thermal_slowdown", "hw_thermal_slowdown", "hw_power_brake_slowdown"}
)
MAX_THROTTLED_FRACTION = 0.0  # any throttled sample during measurement invalidates the run


@dataclass(frozen=True)
class Quantity:
    """A sampled field summarised as a metric: ``gpu.[<subject>.]<name>``."""

    name: str
    field: str
    unit: str
    better: Direction
    gpm: bool = False  # a GPM metric: missing means "not supported" rather than "not reported"


QUANTITIES = (
    Quantity("utilization", "utilization_gpu", "%", "higher"),
    Quantity("memory_utilization", "utilization_mem", "%", "none"),
    Quantity("memory_used", "memory_used_bytes", "bytes", "lower"),
    Quantity("power", "power_w", "W", "none"),
    Quantity("sm_clock", "sm_clock_mhz", "MHz", "none"),
    Quantity("temperature", "temperature_c", "C", "none"),
    Quantity("sm_active", "sm_active", "%", "higher", gpm=True),
    Quantity("sm_occupancy", "sm_occupancy", "%", "higher", gpm=True),
    Quantity("tensor_active", "tensor_active", "%", "higher", gpm=True),
    Quantity("dram_bw_util", "dram_bw_util", "%", "none", gpm=True),
)
STAGE_QUANTITIES = ("utilization", "power", "sm_active", "tensor_active")  # per stage, per round
ENERGY = Quantity("energy", "energy_j", "J", "lower")


@dataclass(frozen=True)
class RoundWork:
    """What each measured round processed: for energy per read and per token."""

    reads: int
    tokens: int


def _values(samples: Sequence[GpuSample], field: str) -> list[float]:
    return [float(v) for v in (getattr(s, field) for s in samples) if v is not None]


def _missing_reason(q: Quantity, t: GpuTelemetry, count: int, where: str) -> str:
    if q.gpm and t.gpm_reason:
        return f"unavailable ({t.gpm_reason})"
    if count:
        return TOO_FEW.format(n=count, where=where)
    return NOT_REPORTED


def _summary(
    name: str,
    q: Quantity,
    t: GpuTelemetry,
    samples: Sequence[GpuSample],
    where: str,
    stage: str | None = None,
) -> Metric:
    values = _values(samples, q.field)
    if len(values) < MIN_READINGS:
        reason = _missing_reason(q, t, len(values), where)
        return unavailable_metric(name, unit=q.unit, better=q.better, reason=reason, stage=stage)
    labels = {"readings": str(len(values)), SAMPLES_LABEL: POOLED_POLLS}
    return metric_from_samples(
        name, values, unit=q.unit, better=q.better, stage=stage, labels=labels
    )


def _rounds(t: GpuTelemetry) -> dict[int, list[GpuSample]]:
    rounds: dict[int, list[GpuSample]] = {}
    for s in t.samples:
        if s.round_index is not None:
            rounds.setdefault(s.round_index, []).append(s)
    return dict(sorted(rounds.items()))


def _round_mean(name: str, q: Quantity, t: GpuTelemetry) -> Metric:
    rounds = _rounds(t)
    counts = [len(_values(samples, q.field)) for samples in rounds.values()]
    if not rounds or min(counts) < MIN_READINGS:
        where = "a measured round" if rounds else "no measured round"
        reason = _missing_reason(q, t, min(counts, default=0), where)
        return unavailable_metric(name, unit=q.unit, better=q.better, reason=reason)
    means = [statistics.fmean(_values(samples, q.field)) for samples in rounds.values()]
    labels = {"readings": ",".join(map(str, counts))}
    return metric_from_samples(name, means, unit=q.unit, better=q.better, labels=labels)


def round_energy(t: GpuTelemetry) -> list[float] | None:
    """Energy (J) of each measured round, all devices together; ``None`` if unknown."""
    energies = []
    for samples in _rounds(t).values():
        total = 0.0
        for device in {s.device for s in samples}:
            values = _values([s for s in samples if s.device == device], "energy_j")
            if len(values) < MIN_READINGS:
                return None
            total += values[-1] - values[0]
        energies.append(total)
    return energies or None


def _energy_metrics(t: GpuTelemetry, work: RoundWork | None) -> list[Metric]:
    energies = round_energy(t)
    names = (f"{ROUND_PREFIX}.energy", "gpu.energy_per_1k_reads", "gpu.energy_per_token")
    units = ("J", "J/1000 reads", "J/token")
    if energies is None:
        reason = "no energy counter readings at the start and end of each measured round"
        return [
            unavailable_metric(n, unit=u, better="lower", reason=reason)
            for n, u in zip(names, units, strict=True)
        ]
    metrics = [metric_from_samples(names[0], energies, unit=units[0], better="lower")]
    for name, unit, count in (
        (names[1], units[1], work and work.reads / KILO),
        (names[2], units[2], work and work.tokens),
    ):
        if not count:
            reason = "the rounds' reads and tokens were not given"
            metrics.append(unavailable_metric(name, unit=unit, better="lower", reason=reason))
        else:
            metrics.append(
                metric_from_samples(name, [e / count for e in energies], unit=unit, better="lower")
            )
    return metrics


def _energy_total(t: GpuTelemetry) -> Metric:
    """Energy of all devices over the sampled period: one sample, the sum of last deltas."""
    last = {s.device: s.energy_j for s in t.samples if s.energy_j is not None}
    name = f"gpu.{ENERGY.name}"
    if not last:
        return unavailable_metric(name, unit=ENERGY.unit, better=ENERGY.better, reason=NOT_REPORTED)
    return metric_from_samples(name, [sum(last.values())], unit=ENERGY.unit, better=ENERGY.better)


def _clock_metrics(t: GpuTelemetry) -> list[Metric]:
    """SM clock and throttle state of each device at the first and last reading of the rounds."""
    in_rounds = [s for s in t.samples if s.round_index is not None]
    metrics = []
    for when, pick in (("before", 0), ("after", -1)):
        name = f"gpu.sm_clock_{when}_rounds"
        chosen = []
        for k in range(len(t.devices)):
            mine = [s for s in in_rounds if s.device == k]
            if mine:
                chosen.append(mine[pick])
        clocks = [s.sm_clock_mhz for s in chosen]
        if not chosen or any(c is None for c in clocks):
            reason = "no SM clock reading in the measured rounds"
            metrics.append(unavailable_metric(name, unit="MHz", reason=reason))
            continue
        throttle = "; ".join(
            f"dev{s.device}: {', '.join(s.throttle_reasons) or 'none'}" for s in chosen
        )
        metrics.append(
            metric_from_samples(name, clocks, unit="MHz", labels={"throttle": throttle})  # type: ignore[arg-type]
        )
    return metrics


def _unavailable(t: GpuTelemetry) -> tuple[Metric, ...]:
    reason = t.reason or "GPU telemetry unavailable"
    names = [(f"gpu.{q.name}", q.unit, q.better) for q in (*QUANTITIES, ENERGY)]
    names += [(f"{ROUND_PREFIX}.{q}", "%", "higher") for q in STAGE_QUANTITIES if q != "power"]
    names += [
        (f"{ROUND_PREFIX}.energy", "J", "lower"),
        ("gpu.energy_per_1k_reads", "J/1000 reads", "lower"),
        ("gpu.energy_per_token", "J/token", "lower"),
    ]
    return tuple(unavailable_metric(n, unit=u, better=b, reason=reason) for n, u, b in names)


def telemetry_metrics(t: GpuTelemetry, work: RoundWork | None = None) -> tuple[Metric, ...]:
    """Every summary of the module docstring; all unavailable, with the reason, without data."""
    if not t.available:
        return _unavailable(t)
    metrics = [_summary(f"gpu.{q.name}", q, t, t.samples, "the run") for q in QUANTITIES]
    if len(t.devices) > 1:
        for k in range(len(t.devices)):
            mine = [s for s in t.samples if s.device == k]
            metrics.extend(
                _summary(f"gpu.dev{k}.{q.name}", q, t, mine, f"GPU {k}") for q in QUANTITIES
            )
    chosen = [q for q in QUANTITIES if q.name in STAGE_QUANTITIES]
    for stage in dict.fromkeys(s.stage for s in t.samples if s.stage is not None):
        tagged = [s for s in t.samples if s.stage == stage]
        metrics.extend(
            _summary(f"gpu.{stage}.{q.name}", q, t, tagged, f"stage {stage}", stage) for q in chosen
        )
    metrics.extend(
        _round_mean(f"{ROUND_PREFIX}.{q.name}", q, t) for q in chosen if q.name != "power"
    )
    metrics.extend(_energy_metrics(t, work))
    metrics.extend(_clock_metrics(t))
    metrics.append(_energy_total(t))
    return tuple(metrics)


def _judged_samples(t: GpuTelemetry, k: int) -> tuple[list[GpuSample], str]:
    """Device ``k``'s readings in the measured rounds, or all of them when no round was tagged
    (a run without measured rounds: nothing else to judge), and which of the two."""
    mine = [s for s in t.samples if s.device == k]
    measured = [s for s in mine if s.round_index is not None]
    return (measured, "measured-round samples") if measured else (mine, "samples")


def _throttle_reason(t: GpuTelemetry, k: int, max_fraction: float) -> str | None:
    """Hardware or thermal slowdown during the measured rounds (warm-up is not judged: clocks
    that settle while the GPU warms up do not make the measured rounds slower)."""
    judged, what = _judged_samples(t, k)
    hit = [s for s in judged if INVALIDATING_THROTTLE_REASONS.intersection(s.throttle_reasons)]
    if not hit or len(hit) / len(judged) <= max_fraction:
        return None
    names = sorted({r for s in hit for r in s.throttle_reasons} & INVALIDATING_THROTTLE_REASONS)
    return (
        f"GPU {k} ({t.devices[k]}): clocks slowed by {', '.join(names)} "
        f"in {len(hit)} of {len(judged)} {what}"
    )


def _process_reason(t: GpuTelemetry, k: int) -> str | None:
    counts = [s.other_processes for s in t.samples if s.device == k and s.other_processes]
    if not counts:
        return None
    return f"GPU {k} ({t.devices[k]}): used by up to {max(counts)} other process(es)"


def assess_validity(
    t: GpuTelemetry, *, max_throttled_fraction: float = MAX_THROTTLED_FRACTION
) -> list[str]:
    """Reasons the machine was unfit to measure: hardware/thermal throttling in the measured
    rounds, or another process on one of the run's GPUs (the only ones sampled) at any reading.
    Unavailable telemetry gives no reasons; neither do polls whose other processes could not be
    told (``processes_unknown``: a PID namespace of our own), which the reports show instead."""
    if not t.available:
        return []
    reasons = []
    for k in range(len(t.devices)):
        reasons.append(_throttle_reason(t, k, max_throttled_fraction))
        reasons.append(_process_reason(t, k))
    return [r for r in reasons if r is not None]
