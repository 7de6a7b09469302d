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

    def weights_dtype(self, device: torch.device) -> torch.dtype:
        """The dtype the embedding models compute in on ``device``: models loaded in it are
        used as they are (one copy of the weights on the device)."""
        ...

    def token_budget(self, device: torch.device) -> int | None:
        """Padded tokens per batch on ``device`` (``--max-tokens``); None: fixed batches."""
        ...

    def embed_dna(self, models: ModelSet, sequences: Sequence[str]) -> Embedding: ...

    def embed_protein(self, models: ModelSet, sequences: Sequence[str]) -> Embedding: ...

    def classify(self, models: ModelSet, features: torch.Tensor) -> torch.Tensor: ...
