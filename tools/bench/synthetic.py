"""Synthetic results documents: the noise study's simulated runs and every test's documents.

One builder, :func:`synthetic_document`: a minimal valid document (CPU, tiny workload, no GPU)
around the given metrics. Any field of the run, environment or workload record can be replaced
(``run={...}``, ``environment={...}``, ``workload=...``), and any other document field given as
a keyword (``stages=``, ``gpu=``, ``validity=``, ...). Everything is validated by the schema.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from virnucpro.bench.schema import (
    SCHEMA_VERSION,
    EnvironmentFingerprint,
    GpuTelemetry,
    Metric,
    ResultsDocument,
    RunInfo,
    Validity,
    WorkloadFingerprint,
)

SYNTHETIC_CPU = "synthetic-cpu"
SYNTHETIC_CREATED_AT = "2025-01-01T00:00:00+00:00"
_RUN: dict[str, object] = {
    "tier": "quick",
    "suites": ("end_to_end",),
    "engine": "fast",
    "model_preset": "tiny",
    "models_meaningful": False,
    "device": "cpu",
    "precision": "float32",
    "warmup_rounds": 1,
}
_ENVIRONMENT: dict[str, object] = {
    "git_commit": None,
    "git_dirty": None,
    "python": "3.11.7",
    "torch": "2.13.0+cpu",
    "cuda": None,
    "driver": None,
    "cpu_count": 2,
    "torch_threads": 1,
    "platform": "Linux-6.1-x86_64",
}
_WORKLOAD = WorkloadFingerprint(
    name="tiny",
    content_sha256="0" * 64,
    reads=10,
    bases=5000,
    chunks=10,
    expected_length=500,
    kept_frames=10,
    dnabert_tokens=100,
    esm_tokens=100,
)


def synthetic_document(
    metrics: Sequence[Metric],
    *,
    run_id: str = "synthetic",
    cpu_model: str = SYNTHETIC_CPU,
    invalid_reason: str | None = None,
    created_at: str = SYNTHETIC_CREATED_AT,
    run: Mapping[str, object] | None = None,
    environment: Mapping[str, object] | None = None,
    workload: WorkloadFingerprint = _WORKLOAD,
    **document: object,
) -> ResultsDocument:
    """A valid results document around ``metrics``; see the module docstring for overrides."""
    rounds = max((len(m.samples) for m in metrics), default=0)
    run_fields = {**_RUN, "run_id": run_id, "created_at": created_at, "rounds": rounds}
    env_fields = {**_ENVIRONMENT, "cpu_model": cpu_model}
    validity = Validity(valid=False, reasons=(invalid_reason,)) if invalid_reason else Validity()
    fields: dict[str, object] = {
        "gpu": GpuTelemetry(available=False, reason="synthetic run"),
        "validity": validity,
        **document,
    }
    return ResultsDocument(
        schema_version=SCHEMA_VERSION,
        run=RunInfo.model_validate({**run_fields, **(run or {})}),
        environment=EnvironmentFingerprint.model_validate({**env_fields, **(environment or {})}),
        workload=workload,
        metrics=tuple(metrics),
        **fields,  # type: ignore[arg-type]
    )


def draw_samples(
    rng: np.random.Generator, *, level: float, noise: float, count: int
) -> tuple[float, ...]:
    """``count`` log-normal samples around ``level`` with relative spread ``noise`` (sigma)."""
    return tuple(float(v) for v in level * np.exp(noise * rng.standard_normal(count)))
