"""The engine interface: how the two embedding stages and the classifier are computed.

Stages 1-4 and 7-9 are shared; an engine decides only how kept frames are embedded (batching,
precision, attention kernel) and how features are classified. :mod:`virnucpro.engines.registry`
names them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    import torch

    from virnucpro.models.presets import ModelSet


@dataclass(frozen=True)
class Embedding:
    """Row-aligned vectors (float32, CPU) for the input sequences, plus what it cost."""

    vectors: torch.Tensor
    tokens: int
    batches: int


class Engine(Protocol):
    name: str

    @property
    def precision(self) -> str: ...

    def prepare(self, models: ModelSet) -> object:
        """Get the models ready (cast, move) once; afterwards ``precision`` is the one used."""
        ...

    def embed_dna(self, models: ModelSet, sequences: Sequence[str]) -> Embedding: ...

    def embed_protein(self, models: ModelSet, sequences: Sequence[str]) -> Embedding: ...

    def classify(self, models: ModelSet, features: torch.Tensor) -> torch.Tensor: ...
