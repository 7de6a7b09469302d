"""Stage 7: per kept frame, ``[DNABERT-S | ESM-2]`` features side by side."""

from __future__ import annotations

import torch

from virnucpro.errors import RunFailure


def merge_features(dnabert: torch.Tensor, esm: torch.Tensor) -> torch.Tensor:
    """Concatenate row-aligned embeddings: ``[N, D1] + [N, D2] -> [N, D1 + D2]`` (float32)."""
    if dnabert.shape[0] != esm.shape[0]:
        raise RunFailure(
            f"embedding count mismatch: {dnabert.shape[0]} DNABERT-S vs {esm.shape[0]} ESM-2"
        )
    return torch.cat((dnabert.float(), esm.float()), dim=-1)
