"""The engine interface: how the two embedding stages and the classifier are computed.

Stages 1-4 and 7-9 are shared; an engine decides only how kept frames are embedded (batching,
precision, attention kernel) and how features are classified. Engines register by name.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from virnucpro.errors import InputError

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


EngineFactory = Callable[..., Engine]
_ENGINES: dict[str, EngineFactory] = {}


def register_engine(name: str, factory: EngineFactory) -> None:
    _ENGINES[name] = factory


def engine_names() -> tuple[str, ...]:
    _load_builtin()
    return tuple(sorted(_ENGINES))


def _load_builtin() -> None:
    import virnucpro.engines.vanilla

    with contextlib.suppress(ModuleNotFoundError):
        import virnucpro.engines.fast  # noqa: F401


def get_engine(name: str, **options: object) -> Engine:
    _load_builtin()
    if name not in _ENGINES:
        raise InputError(f"unknown engine {name!r} (choose from {', '.join(sorted(_ENGINES))})")
    return _ENGINES[name](**options)
