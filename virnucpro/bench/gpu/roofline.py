"""Roofline of the model stages: achieved matmul FLOP/s against a ceiling measured in the run.

Achieved FLOP/s counts only the matmul FLOPs of the forward pass over **real** tokens (padding
is waste, so it counts against the engine), per sequence of ``T`` tokens and per layer:

- ESM-2 (width D, FFN F = 4D): ``2*T*(4*D*D + 2*D*F)`` for q, k, v, out, fc1, fc2, plus
  ``4*T*T*D`` for attention (``Q Kᵀ`` and ``P V``, 2*T*T*D each); T = residues + 2.
- DNABERT-S (width D, intermediate F): ``2*T*(4*D*D + 3*D*F)`` for Wqkv, output dense,
  gated_layers (D -> 2F) and wo (F -> D), plus ``4*T*T*D`` for attention; T = BPE tokens.

Embeddings, LayerNorm, softmax, GELU and pooling are not counted. The ceiling is the FLOP/s of
a large square matmul in the stage's dtype (bf16 on a GPU, fp32 on the CPU unless the engine
runs another dtype), on the same device and threads, timed in the same run. Real and padded
tokens are kept apart: their difference is the padding the engine's batching computed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from virnucpro.bench.measure import measure
from virnucpro.bench.schema import Metric, metric_from_samples

ESM_SPECIAL_TOKENS = 2  # <cls> and <eos> around every protein
CEILING_SIZES = {"cuda": 8192, "cpu": 2048}  # square matmul side: large enough to saturate
DEFAULT_CEILING_ROUNDS = 5
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


def ceiling_dtype(device: torch.device, precision: str) -> torch.dtype:
    """The ceiling's dtype: the stage's compute dtype (fp32 for ``fp32``, else the half type)."""
    from virnucpro.engines.precision import dtype_of, resolve_precision

    return dtype_of(resolve_precision(precision, device))


def square_matmul(dtype: torch.dtype, device: torch.device) -> tuple[int, Callable[[], object]]:
    """The ceiling's workload: a ``size x size`` matmul, ``size`` by device kind."""
    size = CEILING_SIZES.get(device.type, CEILING_SIZES["cpu"])
    a = torch.randn(size, size, device=device).to(dtype)
    b = torch.randn(size, size, device=device).to(dtype)
    return size, lambda: a @ b


def measure_ceiling(
    dtype: torch.dtype, device: torch.device, rounds: int = DEFAULT_CEILING_ROUNDS
) -> tuple[float, ...]:
    """FLOP/s samples of the ceiling matmul (one warm-up, ``rounds`` timed, synchronized)."""
    size, matmul = square_matmul(dtype, device)
    seconds = measure(matmul, rounds=rounds, warmup=1, device=device).samples
    return tuple(2 * size**3 / s for s in seconds if s > 0)


def roofline_metrics(
    work: StageWork, seconds: Sequence[float], ceiling: Sequence[float]
) -> tuple[Metric, ...]:
    """``roofline.<stage>.*``: FLOP/s and fraction of the ceiling per round, and the tokens.

    The fraction of each round is taken against the median ceiling of the same run.
    """
    ceiling_median = float(np.median(ceiling))
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
            [a / ceiling_median for a in achieved],
            unit="ratio",
            better="higher",
            stage=stage,
            labels={**labels, "ceiling": f"{work.dtype} square matmul, median of this run"},
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


def ceiling_metric(dtype: torch.dtype, device: torch.device, ceiling: Sequence[float]) -> Metric:
    """``roofline.ceiling.<dtype>.flops_per_s``: the ceiling's samples, as measured."""
    size = CEILING_SIZES.get(device.type, CEILING_SIZES["cpu"])
    return metric_from_samples(
        f"{PREFIX}.ceiling.{_dtype_name(dtype)}.flops_per_s",
        ceiling,
        unit="FLOP/s",
        labels={"device": str(device), "matmul": f"{size}x{size}"},
    )
