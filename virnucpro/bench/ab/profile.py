"""The record of an A/B run's profiled rounds: one per side, after the timed rounds.

Torch-free: the workers measure (:mod:`virnucpro.bench.ab.profiling`), the session records
(:meth:`virnucpro.bench.ab.session.ABSession.profile`), the report compares
(``tools/bench/culprit/profile.py``). A profiled round is never one of the timed rounds the
verdict is judged on; its cost is recorded as measured seconds.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

from virnucpro.bench.records import Envelope, Record, read_json_file

PROFILE_KIND = "virnucpro-ab-profile"
PROFILE_SCHEMA_VERSION = 1
PROFILE_FILE = "profile.json"
PROFILE_ENVELOPE = Envelope(
    PROFILE_KIND, "schema_version", (PROFILE_SCHEMA_VERSION,), "A/B profile"
)
OperatorKind = Literal["operator", "kernel"]


class OperatorTime(Record):
    """One operator (or CUDA kernel) in one stage of a profiled round."""

    kind: OperatorKind
    stage: str  # a model's stage (dnabert, esm, classify) or "outside the models"
    name: str
    calls: int
    self_cpu_us: float  # self time on the CPU, microseconds (0 for a kernel)
    device_us: float  # self time on the device, microseconds (0 on the CPU)


class SideProfile(Record):
    """One side's profiled round and what it cost."""

    commit: str | None
    device: str
    round_seconds: float  # the predict round under the profiler
    processing_seconds: float  # turning the trace into the operator table, in the worker
    wall_seconds: float  # the whole profiled round as the orchestrator timed it
    timed_median_seconds: float | None  # the side's timed rounds, for the cost
    stages: tuple[str, ...]  # the model stages the hooks marked
    operators: tuple[OperatorTime, ...]

    @property
    def cost_seconds(self) -> float:
        """The profiled round's seconds beyond a timed round (or all of it, with no rounds)."""
        return self.wall_seconds - (self.timed_median_seconds or 0.0)

    @property
    def on_device(self) -> bool:
        return self.device.startswith("cuda")


class ProfileRecord(Record):
    """Both sides' profiled rounds of one A/B comparison."""

    kind: Literal["virnucpro-ab-profile"] = PROFILE_KIND
    schema_version: Literal[1] = PROFILE_SCHEMA_VERSION
    label: str  # what was compared, e.g. "main (1a2b3c4d5e6f)"
    base: SideProfile
    head: SideProfile

    @property
    def cost_seconds(self) -> float:
        return self.base.cost_seconds + self.head.cost_seconds


def write_profile(record: ProfileRecord, path: Path) -> Path:
    from virnucpro.atomic import atomic_write_text

    atomic_write_text(path, json.dumps(record.model_dump(mode="json"), indent=2) + "\n")
    return path


def read_profile(path: Path) -> ProfileRecord:
    return PROFILE_ENVELOPE.parse(ProfileRecord, read_json_file(path), source=str(path))
