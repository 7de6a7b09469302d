"""The records of an A/B run: raw pairs of rounds, and the paired samples per metric.

Torch-free and free of processes: the judge (``tools/bench/paired.py``) reads these, the
measuring half (:mod:`virnucpro.bench.ab`) writes them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict

from virnucpro.bench.metric_names import TOTAL_TIME_METRIC
from virnucpro.bench.schema import Direction, read_json_file
from virnucpro.errors import InputError

AB_KIND = "virnucpro-ab-pairs"
AB_SCHEMA_VERSION = 1
STAGE_PREFIX = "stage."
TOTAL_TIME = TOTAL_TIME_METRIC
READS_PER_S = "end_to_end.reads_per_s"
OTHERS_CPU = "host.others_cpu_share"
TOKEN_STAGES = {"dnabert": "dnabert_tokens", "esm": "esm_tokens"}
Side = Literal["base", "head"]


class _Record(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class RoundSample(_Record):
    """One predict on one side: wall seconds, the worker's CPU seconds, the run's counts."""

    seconds: float
    cpu_seconds: float
    reads: int
    bases: int
    kept_frames: int
    dnabert_tokens: int
    esm_tokens: int
    stages: dict[str, float]


class PairedRound(_Record):
    """One pair of rounds and how busy the machine was while it ran."""

    index: int
    first: Side
    base: RoundSample
    head: RoundSample
    wall_seconds: float
    others_share: float  # other processes' share of the CPUs over the pair


class SideInfo(_Record):
    commit: str | None
    dirty: bool | None
    root: str
    package: str
    load_seconds: float


class ABRecord(_Record):
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

    def paired_metrics(self) -> tuple[PairedMetric, ...]:
        return paired_metrics(self.rounds)

    def others_shares(self) -> tuple[float, ...]:
        return tuple(r.others_share for r in self.rounds)


@dataclass(frozen=True)
class PairedMetric:
    """One metric measured on both sides of every pair (same length, same order)."""

    name: str
    unit: str
    better: Direction
    base: tuple[float, ...]
    head: tuple[float, ...]


# ----------------------------------------------------------------------------- metrics


def _per_side(rounds: tuple[PairedRound, ...], pick) -> tuple[tuple[float, ...], ...]:
    return tuple(float(pick(r.base)) for r in rounds), tuple(float(pick(r.head)) for r in rounds)


def paired_metrics(rounds: tuple[PairedRound, ...]) -> tuple[PairedMetric, ...]:
    """Total time, reads/s, each stage's time and each model's tokens/s, paired per round."""
    if not rounds:
        return ()

    def metric(name: str, unit: str, better: Direction, pick) -> PairedMetric:
        base, head = _per_side(rounds, pick)
        return PairedMetric(name, unit, better, base, head)

    metrics = [
        metric(TOTAL_TIME, "s", "lower", lambda s: s.seconds),
        metric(READS_PER_S, "reads/s", "higher", lambda s: s.reads / s.seconds),
    ]
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
    return tuple(m for m in metrics if all(v > 0 for v in (*m.base, *m.head)))


def write_record(record: ABRecord, path: Path) -> Path:
    """The raw pairs, atomically, as JSON."""
    from virnucpro.atomic import atomic_write_text

    atomic_write_text(path, json.dumps(record.model_dump(mode="json"), indent=2) + "\n")
    return path


def read_record(path: Path) -> ABRecord:
    data = read_json_file(path)
    try:
        return ABRecord.model_validate(data)
    except ValueError as exc:
        raise InputError(f"{path}: not an A/B pairs file ({str(exc).splitlines()[0]})") from None
