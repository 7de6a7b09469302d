"""The benchmark results document: one versioned, validated JSON file per benchmark run.

This module is the single definition shared by the suites (``tests/benchmarks``), the measuring
library (``virnucpro.bench``) and the judging tools (``tools/bench``). Every record is an
immutable pydantic model; raw per-round samples are kept and statistics are derived from them.

Validation happens when a document is written (:func:`write_document`) and when it is read
(:func:`read_document`, by the envelope rule of :mod:`virnucpro.bench.records`); a wrong
``schema_version`` or a malformed file raises :class:`SchemaError` (exit code 2).
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator

from virnucpro.bench import stats
from virnucpro.bench.outputs import RoundOutputs
from virnucpro.bench.records import (
    Envelope,
    Record,
    read_json_file,
)

SCHEMA_VERSION = 1
DOCUMENT_KIND = "virnucpro-benchmark-results"
RESULTS_ENVELOPE = Envelope(DOCUMENT_KIND, "schema_version", (SCHEMA_VERSION,), "results document")

Direction = Literal["lower", "higher", "none"]
MetricStatus = Literal["measured", "unavailable"]


class Metric(Record):
    """One measured quantity with its raw samples.

    ``name`` is dotted: ``<suite>.<subject>.<quantity>``, e.g. ``end_to_end.total_time``,
    ``throughput.esm.tokens_per_s``, ``memory.cuda_peak_allocated``. ``better`` says which
    direction is an improvement; the regression checker uses it. An unavailable metric keeps
    no samples and says why (``reason``); it is never recorded as zero.
    """

    name: str = Field(min_length=1)
    unit: str
    better: Direction = "none"
    status: MetricStatus = "measured"
    samples: tuple[float, ...] = ()
    reason: str | None = None
    stage: str | None = None
    labels: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _check(self) -> Metric:
        if self.status == "measured" and not self.samples:
            raise ValueError(f"metric {self.name!r} is 'measured' but has no samples")
        if self.status == "unavailable" and not self.reason:
            raise ValueError(f"metric {self.name!r} is 'unavailable' but gives no reason")
        if self.status == "unavailable" and self.samples:
            raise ValueError(f"metric {self.name!r} is 'unavailable' but has samples")
        if any(not math.isfinite(s) for s in self.samples):
            raise ValueError(f"metric {self.name!r} has a non-finite sample")
        return self

    @property
    def available(self) -> bool:
        return self.status == "measured"

    @property
    def median(self) -> float | None:
        return stats.median(self.samples) if self.samples else None

    @property
    def iqr(self) -> float | None:
        return stats.iqr(self.samples)

    @property
    def minimum(self) -> float | None:
        return min(self.samples) if self.samples else None

    @property
    def maximum(self) -> float | None:
        return max(self.samples) if self.samples else None


class EnvironmentFingerprint(Record):
    """Hardware and software the run happened on. ``hardware_key`` keys baselines."""

    git_commit: str | None
    git_dirty: bool | None
    python: str
    torch: str
    cuda: str | None
    driver: str | None
    gpu_names: tuple[str, ...] = ()
    gpu_count: int = 0
    cpu_model: str
    cpu_count: int
    torch_threads: int
    platform: str

    def hardware_key(self) -> str:
        """Stable short hash of what decides speed: CPU/GPU model and count, driver, CUDA, torch.

        Two runs with the same key are comparable; a result with another key finds no baseline.
        """
        parts = [
            self.cpu_model,
            str(self.cpu_count),
            str(self.torch_threads),
            ",".join(self.gpu_names),
            str(self.gpu_count),
            self.driver or "-",
            self.cuda or "-",
            self.torch.split("+")[0],
            self.platform.split("-")[0],
        ]
        return hashlib.sha256("|".join(parts).encode()).hexdigest()[:16]


class WorkloadFingerprint(Record):
    """What was processed: enough to tell whether two runs measured the same work."""

    name: str  # "tiny" | "small" | ... | "user:<file name>"
    content_sha256: str
    reads: int = Field(ge=0)
    bases: int = Field(ge=0)
    chunks: int = Field(ge=0)
    expected_length: int = Field(gt=0)
    length_histogram: dict[str, int] = Field(default_factory=dict)
    kept_frames: int = Field(ge=0)
    dnabert_tokens: int = Field(ge=0)
    esm_tokens: int = Field(ge=0)
    seed: int | None = None

    def key(self) -> str:
        return f"{self.name}:{self.content_sha256[:12]}:{self.expected_length}"


class RunInfo(Record):
    """How the run was configured."""

    run_id: str
    created_at: str  # ISO 8601, UTC
    tier: str  # "quick" | "full" | "vanilla" | "custom"
    suites: tuple[str, ...]
    engine: str
    model_preset: str
    models_meaningful: bool
    model_note: str = ""
    device: str
    precision: str
    rounds: int = Field(ge=0)
    warmup_rounds: int = Field(ge=0)
    command: str = ""


class Validity(Record):
    """Whether the machine was fit to measure (MLPerf-style VALID/INVALID), and why not."""

    valid: bool = True
    reasons: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _check(self) -> Validity:
        if not self.valid and not self.reasons:
            raise ValueError("an invalid run must say why")
        return self


class StageTiming(Record):
    """Per-stage wall time over measured rounds, from the pipeline's run metrics."""

    stage: str
    seconds: tuple[float, ...]
    items_in: int = 0
    items_out: int = 0
    tokens: int = 0


class ScalingPoint(Record):
    """End-to-end (or per-stage) time at one rank/GPU count."""

    workers: int = Field(gt=0)
    kind: Literal["gpu", "rank"]
    stage: str = "total"
    seconds: tuple[float, ...]


class EquivalenceResult(Record):
    """Fast engine against vanilla on the same input."""

    reference_engine: str
    candidate_engine: str
    precision: str
    frames: int = Field(ge=0)
    label_agreement: float = Field(ge=0.0, le=1.0)
    chunk_call_agreement: float = Field(ge=0.0, le=1.0)
    max_score_diff: float = Field(ge=0.0)
    min_cosine_dnabert: float | None = None
    min_cosine_esm: float | None = None
    max_rel_diff_dnabert: float | None = None
    max_rel_diff_esm: float | None = None
    speedup: float | None = None
    passed: bool
    criteria: str


class GpuSample(Record):
    """One NVML reading of one device, tagged with the stage and measured round running.

    ``sm_active``, ``sm_occupancy``, ``tensor_active`` and ``dram_bw_util`` are GPM metrics
    (percent, Hopper and newer) over the interval since the device's previous reading.
    """

    t: float  # seconds since sampling started
    device: int
    stage: str | None = None
    round_index: int | None = None  # the measured round (0-based) the reading was taken in
    utilization_gpu: float | None = None
    utilization_mem: float | None = None
    memory_used_bytes: int | None = None
    power_w: float | None = None
    energy_j: float | None = None
    sm_clock_mhz: int | None = None
    temperature_c: int | None = None
    throttle_reasons: tuple[str, ...] = ()
    other_processes: int | None = None
    sm_active: float | None = None
    sm_occupancy: float | None = None
    tensor_active: float | None = None
    dram_bw_util: float | None = None


class GpuTelemetry(Record):
    """The sampler's output: samples, or ``available=False`` and the reason."""

    available: bool
    reason: str | None = None
    interval_s: float | None = None
    devices: tuple[str, ...] = ()
    samples: tuple[GpuSample, ...] = ()
    # cost of sampling as a fraction of throughput, only where measured with and without it
    overhead_fraction: float | None = None
    gpm_reason: str | None = None  # why GPM metrics are missing (None: read on every device)
    # why other compute processes could not be told on some polls (a PID namespace of our own)
    processes_unknown: str | None = None

    @model_validator(mode="after")
    def _check(self) -> GpuTelemetry:
        if not self.available and not self.reason:
            raise ValueError("unavailable GPU telemetry must say why")
        return self


class ResultsDocument(Record):
    """One benchmark run: everything the reports, the checker and the poster need."""

    kind: Literal["virnucpro-benchmark-results"] = DOCUMENT_KIND
    schema_version: int
    run: RunInfo
    environment: EnvironmentFingerprint
    workload: WorkloadFingerprint
    metrics: tuple[Metric, ...]
    stages: tuple[StageTiming, ...] = ()
    scaling: tuple[ScalingPoint, ...] = ()
    equivalence: EquivalenceResult | None = None
    gpu: GpuTelemetry
    validity: Validity = Validity()
    skipped: dict[str, str] = Field(default_factory=dict)  # suite/test -> reason
    notes: tuple[str, ...] = ()
    # the published outputs of the first and last measured end-to-end round (the output check
    # compares them with a baseline's); None: no end-to-end round ran, or an older document
    outputs: RoundOutputs | None = None

    @model_validator(mode="after")
    def _check(self) -> ResultsDocument:
        if self.schema_version != SCHEMA_VERSION:
            raise ValueError(
                f"schema_version {self.schema_version} is not supported (expected {SCHEMA_VERSION})"
            )
        names = [m.name for m in self.metrics]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"duplicate metric names: {', '.join(dupes)}")
        return self

    def metric(self, name: str) -> Metric | None:
        return next((m for m in self.metrics if m.name == name), None)

    def metrics_with_prefix(self, prefix: str) -> tuple[Metric, ...]:
        return tuple(m for m in self.metrics if m.name.startswith(prefix))

    def comparability_key(self) -> str:
        """Hardware + workload + engine/preset: what a baseline must share to be compared."""
        return "|".join(
            [
                self.environment.hardware_key(),
                self.workload.key(),
                self.run.engine,
                self.run.model_preset,
                self.run.device.split(":")[0],
                self.run.precision,
            ]
        )


def parse_document(data: object, *, source: str = "<memory>") -> ResultsDocument:
    """Validate a decoded JSON object as a results document."""
    return RESULTS_ENVELOPE.parse(ResultsDocument, data, source=source)


def read_document(path: Path) -> ResultsDocument:
    """Read and validate a results document; any problem is a one-line :class:`SchemaError`."""
    return parse_document(read_json_file(path), source=str(path))


def document_to_json(doc: ResultsDocument) -> str:
    return json.dumps(doc.model_dump(mode="json"), indent=2, sort_keys=False) + "\n"


def write_document(doc: ResultsDocument, path: Path) -> Path:
    """Validate (by round-tripping) and write atomically."""
    from virnucpro.atomic import atomic_write_text

    text = document_to_json(doc)
    parse_document(json.loads(text), source=str(path))
    atomic_write_text(Path(path), text)
    return Path(path)


def metric_from_samples(
    name: str,
    samples: Sequence[float],
    *,
    unit: str,
    better: Direction = "none",
    stage: str | None = None,
    labels: dict[str, str] | None = None,
) -> Metric:
    return Metric(
        name=name,
        unit=unit,
        better=better,
        samples=tuple(float(s) for s in samples),
        stage=stage,
        labels=labels or {},
    )


def unavailable_metric(
    name: str, *, unit: str, reason: str, better: Direction = "none", stage: str | None = None
) -> Metric:
    return Metric(
        name=name, unit=unit, better=better, status="unavailable", reason=reason, stage=stage
    )
