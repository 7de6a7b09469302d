"""The records of an A/B run: raw pairs of rounds, and the paired samples per metric.

Torch-free and free of processes: the judge (``tools/bench/judge/paired.py``) reads these, the
measuring half (:mod:`virnucpro.bench.ab.session`) writes them.

Schema 2 adds each round's own figures (:data:`ROUND_FIGURES`): the worker's peak host RSS, the
CUDA allocator's peaks and the mean NVML GPU utilization of the round, each ``None`` with the
reason in ``RoundSample.unmeasured`` when it could not be measured. Schema 1 files still read:
their rounds have none of these figures ("not recorded").

Schema 3 records how the rounds were measured (:class:`RoundProtocol`: CPU pinning, garbage
collection, the order of the sides, predicts per round), the CPU each side was pinned to in a
pair, and how many predicts a round averaged. Files of schemas 1 and 2 read with no protocol
(their rounds: one predict each, in a random order, unpinned, collector on).

Besides the wall time, each round's process CPU time is paired (:data:`CPU_TIME`), a companion
figure: the gate fails on wall time (what a user waits for; on a GPU the CPU time misses the
device's work), and shows CPU time beside it, which does not count the time a worker waited
for a core on a shared machine.

Schema 4 adds the harness's clock and the outputs:

- ``RoundSample.harness_seconds``: the measuring process's own reading around the round (from
  sending the command to the worker's answer, divided by the round's predicts), outside the
  worker process, so code in a worker cannot change it by patching its timers. When every round
  has it, it is the total time the judge uses; the worker's own ``seconds`` stays beside it
  (``end_to_end.worker_time``, a companion that is not judged).
- ``ABRecord.precision`` and ``ABRecord.outputs``: each side's published outputs on its first
  and last measured round (:class:`~virnucpro.bench.outputs.RoundOutputs`), which the output
  check compares (:mod:`virnucpro.bench.output_check`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator

from virnucpro.bench.metric_names import (
    BYTES,
    CPU_TIME_METRIC,
    CUDA_PEAK_ALLOCATED,
    CUDA_PEAK_RESERVED,
    GPU_ROUND_UTILIZATION,
    HOST_PEAK_RSS,
    OTHERS_CPU_METRIC,
    TOTAL_TIME_METRIC,
)
from virnucpro.bench.output_check import OutputCheck, check_outputs, not_compared
from virnucpro.bench.outputs import RoundOutputs
from virnucpro.bench.records import Envelope, Record, read_json_file
from virnucpro.bench.schema import Direction

AB_KIND = "virnucpro-ab-pairs"
AB_SCHEMA_VERSION = 5
OUTPUTS_SCHEMA_VERSION = 4  # the first schema with the harness clock and the outputs
WORKERS_SCHEMA_VERSION = 5  # the first schema that may replace the workers during a run
FIRST_SCHEMA_VERSION = 1
AB_ENVELOPE = Envelope(
    AB_KIND,
    "schema_version",
    tuple(range(FIRST_SCHEMA_VERSION, AB_SCHEMA_VERSION + 1)),
    "A/B pairs file",
)
STAGE_PREFIX = "stage."
TOTAL_TIME = TOTAL_TIME_METRIC
READS_PER_S = "end_to_end.reads_per_s"
CPU_TIME = CPU_TIME_METRIC
WORKER_TIME = "end_to_end.worker_time"  # the worker's own timer: a companion, not judged
OTHERS_CPU = OTHERS_CPU_METRIC
TOKEN_STAGES = {"dnabert": "dnabert_tokens", "esm": "esm_tokens"}
Side = Literal["base", "head"]
Pinning = Literal["off", "split", "shared"]
Order = Literal["abba", "random"]
NOT_RECORDED = "not recorded (a pairs file of schema 1 has no per-round memory or GPU figures)"
PERCENT = "%"


@dataclass(frozen=True)
class RoundFigure:
    """A figure each worker measures in every round, paired as the metric ``name``."""

    name: str
    field: str
    unit: str
    better: Direction


ROUND_FIGURES = (
    RoundFigure(HOST_PEAK_RSS, "host_peak_rss", BYTES, "lower"),
    RoundFigure(CUDA_PEAK_ALLOCATED, "cuda_peak_allocated", BYTES, "lower"),
    RoundFigure(CUDA_PEAK_RESERVED, "cuda_peak_reserved", BYTES, "lower"),
    RoundFigure(GPU_ROUND_UTILIZATION, "gpu_utilization", PERCENT, "higher"),
)
FIGURE_FIELDS = frozenset(f.field for f in ROUND_FIGURES)


class RoundSample(Record):
    """One predict on one side: wall seconds, the worker's CPU seconds, the run's counts, and
    the round's memory peaks and GPU utilization (``None`` with the reason in ``unmeasured``)."""

    seconds: float
    cpu_seconds: float
    reads: int
    bases: int
    kept_frames: int
    dnabert_tokens: int
    esm_tokens: int
    stages: dict[str, float]
    host_peak_rss: int | None = None  # bytes, the worker process's peak during the round
    cuda_peak_allocated: int | None = None  # bytes, torch's allocator peaks on the device
    cuda_peak_reserved: int | None = None
    gpu_utilization: float | None = None  # %, mean of the NVML readings inside the round
    gpu_utilization_readings: int | None = None  # how many readings the mean is of
    unmeasured: dict[str, str] = Field(default_factory=dict)  # figure field -> why it is None
    predicts: int = Field(default=1, ge=1)  # predicts in the round; the times are their mean
    harness_seconds: float | None = None  # the measuring process's clock, per predict

    @model_validator(mode="after")
    def _reasons_only_for_missing_figures(self) -> RoundSample:
        for name in self.unmeasured:
            if name not in FIGURE_FIELDS:
                raise ValueError(f"unmeasured names {name!r}, not a per-round figure")
            if getattr(self, name) is not None:
                raise ValueError(f"{name} has a value and a reason it was not measured")
        return self

    def why_unmeasured(self, field: str) -> str:
        """Why the figure ``field`` is ``None`` in this round."""
        return self.unmeasured.get(field, NOT_RECORDED)


def replacements_before(pairs: int, every: int | None) -> int:
    """How many times a run that replaces its workers every ``every`` pairs had replaced them
    before measuring its pair number ``pairs`` (0 without replacements)."""
    return (pairs - 1) // every if every and pairs > 0 else 0


class PairedRound(Record):
    """One pair of rounds and how busy the machine was while it ran."""

    index: int
    first: Side
    base: RoundSample
    head: RoundSample
    wall_seconds: float
    others_share: float  # other processes' share of the CPUs over the pair
    cpus: dict[Side, int] | None = None  # the CPU each side was pinned to (None: not pinned)
    workers: int = 0  # which pair of worker processes measured it, from 0 (schema 5)


class RoundProtocol(Record):
    """How the rounds of a run were measured (the defaults: as before schema 3)."""

    pin_cpus: Pinning = "off"
    gc_off: bool = False
    order: Order = "random"
    repeat: int = Field(default=1, ge=1)
    fresh_workers_every: int | None = None  # pairs before both workers are replaced (schema 5)
    pinning_note: str | None = None  # why pinning asked for was not done (one CPU, ...)

    def describe(self) -> str:
        """'rounds: ABBA order, collector off during a round, not pinned, 1 predict a round'."""
        pinned = {
            "off": "not pinned",
            "split": "each worker pinned to its own CPU, swapped every two pairs",
            "shared": "both workers pinned to one CPU",
        }[self.pin_cpus]
        parts = (
            "ABBA order" if self.order == "abba" else "random order",
            "collector off during a round" if self.gc_off else "collector on",
            self.pinning_note or pinned,
            f"{self.repeat} predict(s) a round",
            f"fresh workers every {self.fresh_workers_every} pairs"
            if self.fresh_workers_every
            else "one pair of workers for the whole run",
        )
        return "rounds: " + ", ".join(parts)


class SideInfo(Record):
    commit: str | None
    dirty: bool | None
    root: str
    package: str
    load_seconds: float


class PairOutputs(Record):
    """Both sides' published outputs on their first and last measured rounds, or why not."""

    base: RoundOutputs | None = None
    head: RoundOutputs | None = None
    problem: str | None = None  # why a side's outputs were not kept
    read_seconds: float = 0.0  # reading them, outside the timed rounds


class ABRecord(Record):
    """Every raw pair of an A/B run, and what was compared."""

    kind: Literal["virnucpro-ab-pairs"] = AB_KIND
    schema_version: int = AB_SCHEMA_VERSION
    ref: str
    base: SideInfo
    head: SideInfo
    workload: str
    seed: int
    warmup: int
    cpus: int
    rounds: tuple[PairedRound, ...] = ()
    protocol: RoundProtocol | None = None  # None: a file of schema 1 or 2
    precision: str | None = None  # both sides' precision (schema 3)
    outputs: PairOutputs | None = None  # schema 3
    restart_seconds: tuple[float, ...] = ()  # each replacement of both workers (schema 5)

    @field_validator("schema_version")
    @classmethod
    def _known_version(cls, version: int) -> int:
        if version not in AB_ENVELOPE.versions:
            raise ValueError(
                f"schema_version {version} is not one this code reads "
                f"({FIRST_SCHEMA_VERSION}-{AB_SCHEMA_VERSION})"
            )
        return version

    def paired_metrics(self) -> tuple[PairedMetric, ...]:
        """Every paired metric; each knows which worker pair measured each pair when the run
        replaced its workers by protocol (a run that kept one pair of workers: not recorded, and
        judged as one)."""
        replaced = self.protocol is not None and bool(self.protocol.fresh_workers_every)
        return paired_metrics(self.rounds, by_workers=replaced)

    @property
    def worker_pairs(self) -> int:
        """How many pairs of worker processes measured the rounds."""
        return len({r.workers for r in self.rounds}) or 1

    def check_outputs(self, *, accepted: bool = False) -> OutputCheck:
        """The output check of the two sides (:mod:`virnucpro.bench.output_check`); a record
        without both sides' outputs is ``not_compared``, with why."""
        precision = self.precision or "fp32"
        outputs = self.outputs
        if self.schema_version < OUTPUTS_SCHEMA_VERSION or outputs is None:
            why = f"the pairs file (schema {self.schema_version}) holds no outputs"
            return not_compared(precision, why)
        if outputs.problem is not None or outputs.base is None or outputs.head is None:
            return not_compared(precision, outputs.problem or "a side's outputs are missing")
        return check_outputs(
            outputs.base,
            outputs.head,
            precision=precision,
            accepted=accepted,
            read_seconds=outputs.read_seconds,
        )

    def clock_overheads(self) -> tuple[float, ...]:
        """Per round and side: the harness's clock minus the worker's own (seconds)."""
        return tuple(
            s.harness_seconds - s.seconds
            for _, _, s in _sides(self.rounds)
            if s.harness_seconds is not None
        )

    def others_shares(self) -> tuple[float, ...]:
        return tuple(r.others_share for r in self.rounds)

    def unpaired_figures(self) -> tuple[UnpairedFigure, ...]:
        return unpaired_figures(self.rounds)


@dataclass(frozen=True)
class PairedMetric:
    """One metric measured on both sides of every pair (same length, same order)."""

    name: str
    unit: str
    better: Direction
    base: tuple[float, ...]
    head: tuple[float, ...]
    workers: tuple[int, ...] = ()  # the worker pair of each pair (empty: not recorded, one)


@dataclass(frozen=True)
class UnpairedFigure:
    """A per-round figure that is not paired in this run, and why."""

    figure: RoundFigure
    reason: str


# ----------------------------------------------------------------------------- metrics


def _per_side(rounds: tuple[PairedRound, ...], pick) -> tuple[tuple[float, ...], ...]:
    return tuple(float(pick(r.base)) for r in rounds), tuple(float(pick(r.head)) for r in rounds)


def _sides(rounds: tuple[PairedRound, ...]) -> list[tuple[int, Side, RoundSample]]:
    return [(r.index, side, getattr(r, side)) for r in rounds for side in ("base", "head")]


def _figure_gap(rounds: tuple[PairedRound, ...], figure: RoundFigure) -> str | None:
    """Why ``figure`` cannot be paired over ``rounds``, or None when every round has it."""
    sides = _sides(rounds)
    missing = [
        (i, side, s.why_unmeasured(figure.field))
        for i, side, s in sides
        if getattr(s, figure.field) is None
    ]
    if missing:
        reasons = {why for _, _, why in missing}
        if len(missing) == len(sides) and len(reasons) == 1:
            return reasons.pop()
        index, side, why = missing[0]
        return (
            f"not paired: missing in {len(missing)} of {len(sides)} rounds "
            f"(first: pair {index}, {side} side: {why})"
        )
    values = [(i, side, getattr(s, figure.field)) for i, side, s in sides]
    index, side, value = min(values, key=lambda v: v[2])
    if value <= 0:
        return f"not paired: {value:g} {figure.unit} in pair {index} ({side} side) has no ratio"
    return None


def unpaired_figures(rounds: tuple[PairedRound, ...]) -> tuple[UnpairedFigure, ...]:
    """The per-round figures :func:`paired_metrics` leaves out, each with its reason."""
    if not rounds:
        return ()
    gaps = ((f, _figure_gap(rounds, f)) for f in ROUND_FIGURES)
    return tuple(UnpairedFigure(f, why) for f, why in gaps if why is not None)


def harness_clocked(rounds: tuple[PairedRound, ...]) -> bool:
    """Whether every round on both sides has the harness's clock reading."""
    return bool(rounds) and all(s.harness_seconds is not None for _, _, s in _sides(rounds))


def paired_metrics(
    rounds: tuple[PairedRound, ...], *, by_workers: bool = False
) -> tuple[PairedMetric, ...]:
    """Total time (the harness's clock when every round has it), process CPU time, reads/s,
    each stage's time, each model's tokens/s and, where every round on both sides has them, the
    round's memory peaks and GPU utilization, paired per round; with the harness's clock, the
    worker's own time beside it as a companion (not judged). ``by_workers``: each metric
    carries the worker pair of each pair."""
    if not rounds:
        return ()
    workers = tuple(r.workers for r in rounds) if by_workers else ()

    def metric(name: str, unit: str, better: Direction, pick) -> PairedMetric:
        base, head = _per_side(rounds, pick)
        return PairedMetric(name, unit, better, base, head, workers)

    clocked = harness_clocked(rounds)

    def wall(s: RoundSample) -> float:
        return s.harness_seconds if clocked and s.harness_seconds is not None else s.seconds

    metrics = [
        metric(TOTAL_TIME, "s", "lower", wall),
        metric(CPU_TIME, "s", "lower", lambda s: s.cpu_seconds),
        metric(READS_PER_S, "reads/s", "higher", lambda s: s.reads / wall(s)),
    ]
    if clocked:
        metrics.append(metric(WORKER_TIME, "s", "none", lambda s: s.seconds))
    stages = [
        name
        for name in rounds[0].head.stages
        if all(name in r.head.stages and name in r.base.stages for r in rounds)
    ]
    for stage in stages:
        metrics.append(
            metric(f"{STAGE_PREFIX}{stage}.time", "s", "lower", lambda s, n=stage: s.stages[n])
        )
    for stage, field in TOKEN_STAGES.items():
        if stage not in stages:
            continue
        metrics.append(
            metric(
                f"throughput.{stage}.tokens_per_s",
                "tokens/s",
                "higher",
                lambda s, n=stage, f=field: getattr(s, f) / s.stages[n],
            )
        )
    for figure in ROUND_FIGURES:
        if _figure_gap(rounds, figure) is None:
            pick = figure.field
            metrics.append(
                metric(figure.name, figure.unit, figure.better, lambda s, f=pick: getattr(s, f))
            )
    return tuple(m for m in metrics if all(v > 0 for v in (*m.base, *m.head)))


def write_record(record: ABRecord, path: Path) -> Path:
    """The raw pairs, atomically, as JSON."""
    from virnucpro.atomic import atomic_write_text

    atomic_write_text(path, json.dumps(record.model_dump(mode="json"), indent=2) + "\n")
    return path


def read_record(path: Path) -> ABRecord:
    return AB_ENVELOPE.parse(ABRecord, read_json_file(path), source=str(path))
