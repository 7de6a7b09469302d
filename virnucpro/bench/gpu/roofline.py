"""Roofline of the model stages: achieved matmul FLOP/s against a ceiling measured in the run.

Achieved FLOP/s counts only the matmul FLOPs of the forward pass over **real** tokens (padding
is waste, so it counts against the engine), per sequence of ``T`` tokens and per layer:

- ESM-2 (width D, FFN F = 4D): ``2*T*(4*D*D + 2*D*F)`` for q, k, v, out, fc1, fc2, plus
  ``4*T*T*D`` for attention (``Q Kᵀ`` and ``P V``, 2*T*T*D each); T = residues + 2.
- DNABERT-S (width D, intermediate F): ``2*T*(4*D*D + 3*D*F)`` for Wqkv, output dense,
  gated_layers (D -> 2F) and wo (F -> D), plus ``4*T*T*D`` for attention; T = BPE tokens.

Embeddings, LayerNorm, softmax, GELU and pooling are not counted. Real and padded tokens are
kept apart: their difference is the padding the engine's batching computed. The ceiling, a
large square matmul in the stage's dtype timed on the same device in the same run, is
:mod:`virnucpro.bench.gpu.ceiling`; each round's fraction is taken against its best block.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from virnucpro.bench.gpu.ceiling import Ceiling
from virnucpro.bench.schema import Metric, metric_from_samples

ESM_SPECIAL_TOKENS = 2  # <cls> and <eos> around every protein
MODEL_STAGES = ("dnabert", "esm")
PREFIX = "roofline"


def esm_flops(residues: np.ndarray, config: object) -> int:
    """Matmul FLOPs of an ESM-2 forward over proteins of ``residues`` residues each."""
    d, f = config.embed_dim, config.ffn_dim  # type: ignore[attr-defined]
    t = np.asarray(residues, dtype=np.int64) + ESM_SPECIAL_TOKENS
    per_layer = 2 * t * (4 * d * d + 2 * d * f) + 4 * t * t * d
    return int(per_layer.sum()) * config.num_layers  # type: ignore[attr-defined]


def dnabert_flops(tokens: np.ndarray, config: object) -> int:
    """Matmul FLOPs of a DNABERT-S forward over sequences of ``tokens`` BPE tokens each."""
    d, f = config.hidden_size, config.intermediate_size  # type: ignore[attr-defined]
    t = np.asarray(tokens, dtype=np.int64)
    per_layer = 2 * t * (4 * d * d + 3 * d * f) + 4 * t * t * d
    return int(per_layer.sum()) * config.num_hidden_layers  # type: ignore[attr-defined]


@dataclass(frozen=True)
class StageWork:
    """What one model stage computes over a set of frames: FLOPs on real tokens, and tokens."""

    stage: str  # "dnabert" | "esm"
    model: str
    dtype: str
    sequences: int
    real_tokens: int
    padded_tokens: int
    flops: int

    @property
    def padding_share(self) -> float:
        """Share of the computed tokens that were padding (0 when nothing was computed)."""
        return 1 - self.real_tokens / self.padded_tokens if self.padded_tokens else 0.0


def _dtype_name(dtype: torch.dtype) -> str:
    return str(dtype).removeprefix("torch.")


def stage_work(
    models: object, engine: object, stage: str, sequences: Sequence[str], dtype: torch.dtype
) -> StageWork:
    """The work of ``stage`` (``dnabert``: nucleotides, ``esm``: proteins) for ``engine``."""
    if stage not in MODEL_STAGES:
        raise ValueError(f"stage must be one of {MODEL_STAGES}, got {stage!r}")
    padded = engine.padded_tokens(models, stage, sequences)  # type: ignore[attr-defined]
    if stage == "dnabert":
        bundle = models.dnabert  # type: ignore[attr-defined]
        lengths = np.fromiter(map(len, bundle.tokenizer.encode_batch(list(sequences))), np.int64)
        flops, real = dnabert_flops(lengths, bundle.model.config), int(lengths.sum())
    else:
        bundle = models.esm  # type: ignore[attr-defined]
        residues = np.fromiter(map(len, sequences), np.int64, count=len(sequences))
        flops = esm_flops(residues, bundle.model.config)
        real = int(residues.sum()) + ESM_SPECIAL_TOKENS * len(sequences)
    return StageWork(
        stage=stage,
        model=bundle.identity.name,
        dtype=_dtype_name(dtype),
        sequences=len(sequences),
        real_tokens=real,
        padded_tokens=padded,
        flops=flops,
    )


def roofline_metrics(
    work: StageWork, seconds: Sequence[float], ceiling: Ceiling
) -> tuple[Metric, ...]:
    """``roofline.<stage>.*``: FLOP/s and fraction of the ceiling per round, and the tokens.

    The fraction of each round is taken against the ceiling's best block in the same run.
    """
    achieved = [work.flops / s for s in seconds if s > 0]
    labels = {"model": work.model, "dtype": work.dtype}
    name = f"{PREFIX}.{work.stage}"
    stage = work.stage
    return (
        metric_from_samples(
            f"{name}.flops_per_s",
            achieved,
            unit="FLOP/s",
            better="higher",
            stage=stage,
            labels=labels,
        ),
        metric_from_samples(
            f"{name}.fraction_of_ceiling",
            [a / ceiling.best for a in achieved],
            unit="ratio",
            better="higher",
            stage=stage,
            labels={**labels, "ceiling": f"{work.dtype} square matmul, best block of this run"},
        ),
        metric_from_samples(f"{name}.real_tokens", [work.real_tokens], unit="tokens", stage=stage),
        metric_from_samples(
            f"{name}.padded_tokens",
            [work.padded_tokens],
            unit="tokens",
            better="lower",
            stage=stage,
        ),
    )


def ceiling_metric(ceiling: Ceiling) -> Metric:
    """``roofline.ceiling.<dtype>.flops_per_s``: one sample per timed block, as measured; the
    labels say how they were taken and the clocks and power meanwhile."""
    return metric_from_samples(
        f"{PREFIX}.ceiling.{ceiling.dtype}.flops_per_s",
        ceiling.flops_per_s,
        unit="FLOP/s",
        labels={
            "device": ceiling.device,
            "matmul": f"{ceiling.size}x{ceiling.size}",
            "timed": f"{ceiling.plan.blocks} blocks of {ceiling.plan.matmuls}",
            "warmup": f"{ceiling.warmup_matmuls} matmuls in {ceiling.warmup_seconds:.2f} s",
            "conditions": ceiling.conditions(),
        },
    )
