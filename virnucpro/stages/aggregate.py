"""Stage 9: per-chunk calls from per-frame scores, as the published tool aggregates them.

``Modified_ID`` is the frame id without its two-character frame tag; a chunk is viral when
``max(score2) >= max(score1)`` over its kept frames (ties go to virus); rows are sorted by
``Modified_ID`` as pandas' groupby sorts string keys.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

FRAME_TAG_LENGTH = 2


@dataclass(frozen=True)
class FramePrediction:
    """One kept frame's call: label and the two softmax scores (float32 values)."""

    id: str
    label: str
    score_others: float
    score_virus: float


@dataclass(frozen=True)
class ChunkCall:
    modified_id: str
    is_virus: bool


def chunk_maxima(predictions: Sequence[FramePrediction]) -> list[tuple[str, float, float]]:
    """``(Modified_ID, max score1, max score2)`` per chunk, sorted by ``Modified_ID``."""
    best: dict[str, tuple[float, float]] = {}
    for p in predictions:
        key = p.id[:-FRAME_TAG_LENGTH]
        others, virus = best.get(key, (float("-inf"), float("-inf")))
        best[key] = (max(others, p.score_others), max(virus, p.score_virus))
    return [(key, *best[key]) for key in sorted(best)]


def is_virus(max_others: float, max_virus: float) -> bool:
    """The published call: ties go to virus."""
    return max_virus >= max_others


def aggregate_chunks(predictions: Sequence[FramePrediction]) -> list[ChunkCall]:
    return [ChunkCall(key, is_virus(o, v)) for key, o, v in chunk_maxima(predictions)]
