"""Proof that two engines agree: run both on the same kept frames and compare what they give.

A :class:`PredictionSet` holds one engine's embeddings, probabilities and chunk calls;
:func:`compare_engines` turns two of them into an :class:`EquivalenceReport` judged against
named criteria (:mod:`virnucpro.tolerances`; fp32: identical labels and embeddings equal to
1e-4 relative; bf16/fp16: per-frame cosine >= 0.999 and labels agreeing on >= 99.5% of frames).

Relative embedding difference, per frame: ``max|a - b| / max|a|`` with ``a`` the reference
row (the largest error measured against the row's largest value, so small components do not
blow it up); the report gives its maximum over frames.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from virnucpro.errors import RunFailure
from virnucpro.pipeline.metrics import synchronize
from virnucpro.stages.aggregate import ChunkCall, aggregate_chunks
from virnucpro.stages.chunking import chunk_records
from virnucpro.stages.classify import frame_predictions
from virnucpro.stages.fasta import read_fasta
from virnucpro.stages.merge import merge_features
from virnucpro.stages.translate import KeptFrame, keep_frames
from virnucpro.tolerances import (  # noqa: F401 (re-exported: the criteria live there)
    FP32,
    FP32_CRITERIA,
    REDUCED_CRITERIA,
    Criteria,
    criteria_for,
)

if TYPE_CHECKING:
    from virnucpro.engines import Engine
    from virnucpro.models.presets import ModelSet

EQUIVALENCE_SCHEMA_VERSION = 1
ROW_NORM_FLOOR = 1e-12  # a reference row of zeros counts its absolute difference


@dataclass(frozen=True)
class PredictionSet:
    """One engine's results on kept frames (rows in frame order), and the time they took."""

    frame_ids: tuple[str, ...]
    dnabert: torch.Tensor  # [N, D1] float32
    esm: torch.Tensor  # [N, D2] float32
    probabilities: torch.Tensor  # [N, 2] float32
    chunk_calls: tuple[ChunkCall, ...]
    engine: str = ""
    precision: str = FP32
    seconds: float | None = None  # embedding + classification, device synchronized
    stage_seconds: Mapping[str, float] = field(default_factory=dict)  # dnabert, esm, classify


@dataclass(frozen=True)
class ModelAgreement:
    """How close one embedding model's vectors are (None when there are no frames)."""

    model: str
    min_cosine: float | None
    max_relative_difference: float | None


@dataclass(frozen=True)
class EquivalenceReport:
    """Agreement of a candidate engine with a reference engine, and whether it passes."""

    reference: str
    candidate: str
    candidate_precision: str
    frames: int
    chunks: int
    label_agreement: float | None
    chunk_call_agreement: float | None
    max_abs_score_difference: float | None
    models: tuple[ModelAgreement, ...]
    criteria: Criteria
    failures: tuple[str, ...]
    reference_seconds: float | None = None
    candidate_seconds: float | None = None
    schema_version: int = field(default=EQUIVALENCE_SCHEMA_VERSION)

    @property
    def passed(self) -> bool:
        return not self.failures

    @property
    def speedup(self) -> float | None:
        """Reference time over candidate time (embedding + classification), when both ran."""
        if not self.reference_seconds or not self.candidate_seconds:
            return None
        return self.reference_seconds / self.candidate_seconds

    def model(self, name: str) -> ModelAgreement:
        return next(m for m in self.models if m.model == name)

    def as_dict(self) -> dict[str, object]:
        """JSON-ready, with the derived ``passed`` and ``speedup``."""
        return {**asdict(self), "passed": self.passed, "speedup": self.speedup}


def _fraction(matches: torch.Tensor) -> float | None:
    return float(matches.float().mean()) if matches.numel() else None


def max_relative_difference(reference: torch.Tensor, candidate: torch.Tensor) -> float | None:
    """Max over rows of ``max|a - b| / max|a|`` (see module docstring); None for no rows."""
    if reference.shape[0] == 0:
        return None
    error = (reference - candidate).abs().amax(dim=1)  # [N]
    scale = reference.abs().amax(dim=1).clamp_min(ROW_NORM_FLOOR)  # [N]
    return float((error / scale).max())


def min_cosine(reference: torch.Tensor, candidate: torch.Tensor) -> float | None:
    """Smallest per-row cosine similarity; None for no rows."""
    if reference.shape[0] == 0:
        return None
    return float(torch.nn.functional.cosine_similarity(reference, candidate, dim=1).min())


def _model_agreement(name: str, reference: torch.Tensor, candidate: torch.Tensor) -> ModelAgreement:
    if reference.shape != candidate.shape:
        raise RunFailure(
            f"{name} embeddings differ in shape: {reference.shape} vs {candidate.shape}"
        )
    ref, cand = reference.double(), candidate.double()
    return ModelAgreement(name, min_cosine(ref, cand), max_relative_difference(ref, cand))


def _chunk_call_agreement(
    reference: Sequence[ChunkCall], candidate: Sequence[ChunkCall]
) -> float | None:
    ref = {c.modified_id: c.is_virus for c in reference}
    cand = {c.modified_id: c.is_virus for c in candidate}
    if ref.keys() != cand.keys():
        raise RunFailure("the two engines called different chunks")
    return _fraction(torch.tensor([ref[k] == cand[k] for k in ref], dtype=torch.bool))


def _failures(
    criteria: Criteria, label_agreement: float | None, models: Sequence[ModelAgreement]
) -> tuple[str, ...]:
    found = []
    if label_agreement is not None and label_agreement < criteria.min_label_agreement:
        found.append(f"label agreement {label_agreement:.4%} < {criteria.min_label_agreement:.2%}")
    for m in models:
        limit, value = criteria.max_relative_difference, m.max_relative_difference
        if limit is not None and value is not None and value > limit:
            found.append(f"{m.model} max relative difference {value:.3g} > {limit:g}")
        floor, cosine = criteria.min_cosine, m.min_cosine
        if floor is not None and cosine is not None and cosine < floor:
            found.append(f"{m.model} min cosine {cosine:.6f} < {floor}")
    return tuple(found)


def compare_engines(reference: PredictionSet, candidate: PredictionSet) -> EquivalenceReport:
    """How closely ``candidate`` reproduces ``reference`` on the same frames, and a verdict."""
    if reference.frame_ids != candidate.frame_ids:
        raise RunFailure("the two prediction sets are not over the same frames in the same order")
    labels = reference.probabilities.argmax(dim=1) == candidate.probabilities.argmax(dim=1)
    models = (
        _model_agreement("dnabert", reference.dnabert, candidate.dnabert),
        _model_agreement("esm", reference.esm, candidate.esm),
    )
    score_diff = (reference.probabilities.double() - candidate.probabilities.double()).abs()
    criteria = criteria_for(candidate.precision)
    label_agreement = _fraction(labels)
    return EquivalenceReport(
        reference=reference.engine,
        candidate=candidate.engine,
        candidate_precision=candidate.precision,
        frames=len(reference.frame_ids),
        chunks=len(reference.chunk_calls),
        label_agreement=label_agreement,
        chunk_call_agreement=_chunk_call_agreement(reference.chunk_calls, candidate.chunk_calls),
        max_abs_score_difference=float(score_diff.max()) if score_diff.numel() else None,
        models=models,
        criteria=criteria,
        failures=_failures(criteria, label_agreement, models),
        reference_seconds=reference.seconds,
        candidate_seconds=candidate.seconds,
    )


class _StageClock:
    """Wall time of consecutive stages, the device synchronized at each boundary."""

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self.seconds: dict[str, float] = {}
        synchronize(device)
        self._last = time.perf_counter()

    def lap(self, stage: str) -> None:
        synchronize(self.device)
        now = time.perf_counter()
        self.seconds[stage] = now - self._last
        self._last = now


def predict_frames(engine: Engine, models: ModelSet, frames: Sequence[KeptFrame]) -> PredictionSet:
    """Run ``engine``'s stages (embed DNA, embed protein, classify) on ``frames``, timed."""
    clock = _StageClock(models.device)
    dna = engine.embed_dna(models, [f.nucleotide for f in frames])
    clock.lap("dnabert")
    protein = engine.embed_protein(models, [f.protein for f in frames])
    clock.lap("esm")
    probabilities = engine.classify(models, merge_features(dna.vectors, protein.vectors))
    clock.lap("classify")
    return PredictionSet(
        frame_ids=tuple(f.id for f in frames),
        dnabert=dna.vectors,
        esm=protein.vectors,
        probabilities=probabilities,
        chunk_calls=tuple(aggregate_chunks(frame_predictions(frames, probabilities))),
        engine=engine.name,
        precision=engine.precision,
        seconds=sum(clock.seconds.values()),
        stage_seconds=clock.seconds,
    )


def load_frames(input_fasta: Path | str, expected_length: int) -> list[KeptFrame]:
    """Stages 1-4 (read, chunk, translate, keep) of one FASTA file."""
    return keep_frames(chunk_records(read_fasta(input_fasta), expected_length))


def _same_device(a: torch.device, b: torch.device) -> bool:
    """``cuda`` and ``cuda:0`` name one device when the index is left out."""
    return a.type == b.type and (a.index is None or b.index is None or a.index == b.index)


def equivalence_check(
    input_fasta: Path | str,
    models: ModelSet,
    *,
    device: torch.device | str | None = None,
    reference: str = "vanilla",
    candidate: str = "fast",
    expected_length: int = 500,
    reference_options: Mapping[str, object] | None = None,
    candidate_options: Mapping[str, object] | None = None,
) -> EquivalenceReport:
    """Run both engines on the same kept frames of ``input_fasta``; compare and time them.

    ``device``, when given, must be the one ``models`` live on (it is checked, not moved to).
    Times cover embedding and classification; the candidate's includes its one-time model
    cast (the first call of a fast engine on a ModelSet), as a single run would pay it.
    """
    from virnucpro.engines import get_engine

    if device is not None and not _same_device(torch.device(device), models.device):
        raise RunFailure(f"models are on {models.device}, not on the requested {device}")
    frames = load_frames(input_fasta, expected_length)
    ref = predict_frames(get_engine(reference, **(reference_options or {})), models, frames)
    cand = predict_frames(get_engine(candidate, **(candidate_options or {})), models, frames)
    return compare_engines(ref, cand)
