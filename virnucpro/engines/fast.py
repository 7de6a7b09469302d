"""The fast engine: the vanilla engine's embeddings, computed in length-sorted padded batches.

What changes (and why the result does not): sequences are sorted by length and grouped under a
token budget; padded batches run with torch's fused attention (``sdpa``); padding is masked out
of attention and out of pooling, so each embedding pools exactly the positions vanilla pools
(DNABERT-S: every real token, ``[CLS]``/``[SEP]`` included; ESM-2: residues
``1..min(L, 1024)``). Models may run in bf16/fp16 on a GPU; pooling is in fp32; the classifier
always runs in fp32. :mod:`virnucpro.pipeline.equivalence` measures how close the two engines are.
"""

from __future__ import annotations

import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import nn

from virnucpro.engines.base import Embedding
from virnucpro.engines.batching import (
    Ragged,
    check_token_budget,
    default_token_budget,
    padded_size,
    plan_batches,
    run_batches,
)
from virnucpro.engines.precision import (
    Precision,
    cast_module,
    check_precision,
    dtype_of,
    resolve_precision,
)
from virnucpro.engines.vanilla import ESM_POOL_LIMIT, ESM_SPECIAL_TOKENS
from virnucpro.errors import RunFailure
from virnucpro.models.dnabert import mean_pool
from virnucpro.stages.classify import NUM_CLASSES

if TYPE_CHECKING:
    from virnucpro.models.presets import ModelSet

ATTN_IMPL = "sdpa"


def residue_mean_pool(
    reps: torch.Tensor, tokens: torch.Tensor, padding_idx: int, limit: int = ESM_POOL_LIMIT
) -> torch.Tensor:
    """Float32 mean of ``reps [B, T, D]`` over residue positions ``1..min(L, limit)`` per row.

    ``L`` (residues) is read from ``tokens [B, T]``: non-padding tokens minus ``<cls>``/``<eos>``.
    """
    residues = tokens.ne(padding_idx).sum(dim=1) - ESM_SPECIAL_TOKENS  # [B]
    last = residues.clamp(max=limit)  # [B] last pooled position
    positions = torch.arange(tokens.shape[1], device=tokens.device)  # [T]
    weights = ((positions >= 1) & (positions <= last[:, None])).to(torch.float32)  # [B, T]
    # An elementwise sum, not a matmul: TF32 matmul settings must not round the embeddings.
    total = (reps.to(torch.float32) * weights[:, :, None]).sum(dim=1)  # [B, D]
    return total / last.clamp(min=1)[:, None].to(torch.float32)


@dataclass(frozen=True)
class PreparedModels:
    """A ModelSet's two embedding models in the engine's dtype (cast once, then reused)."""

    owner: weakref.ref[ModelSet]
    precision: str
    dnabert: nn.Module
    esm: nn.Module


def _empty(width: int) -> Embedding:
    return Embedding(vectors=torch.empty((0, width), dtype=torch.float32), tokens=0, batches=0)


def _lengths(sequences: Sequence[str]) -> np.ndarray:
    return np.fromiter(map(len, sequences), dtype=np.int64, count=len(sequences))


class FastEngine:
    """Batched, fused-attention, optionally reduced-precision engine (see module docstring).

    ``precision`` reports what was used: the requested value until the first call resolves
    ``auto`` for the models' device (:meth:`prepare` resolves it without computing anything).
    """

    name = "fast"

    def __init__(self, precision: Precision = "auto", token_budget: int | None = None) -> None:
        self._requested = check_precision(precision)
        self._token_budget = None if token_budget is None else check_token_budget(token_budget)
        self._prepared: dict[int, PreparedModels] = {}
        self._used: str | None = None

    @property
    def precision(self) -> str:
        return self._used or self._requested

    def token_budget(self, device: torch.device | str) -> int:
        """Padded tokens per batch on ``device``: the one given, or the device's default."""
        return self._token_budget or default_token_budget(device)

    def weights_dtype(self, device: torch.device) -> torch.dtype:
        """The dtype this engine computes the embedding models in on ``device``."""
        return dtype_of(resolve_precision(self._requested, device))

    def prepare(self, models: ModelSet) -> PreparedModels:
        """Cast ``models``' embedding models to this engine's dtype, once per ModelSet.

        Models loaded in that dtype (``load_model_set(dtype=...)``) are used as they are, so
        the device holds one copy of the weights; float32 models get a cast copy (the caller
        keeps the float32 ones, e.g. for the vanilla engine). Weights already rounded to
        another dtype are refused: computing from them would not be this precision.
        """
        cached = self._prepared.get(id(models))
        if cached is None or cached.owner() is not models:
            precision = resolve_precision(self._requested, models.device)
            dtype = dtype_of(precision)
            if models.dtype not in (torch.float32, dtype):
                raise RunFailure(
                    f"the fast engine in {precision} needs the models in float32 or {dtype}, "
                    f"but they were loaded in {models.dtype}"
                )
            cached = PreparedModels(
                owner=weakref.ref(models),
                precision=precision,
                dnabert=cast_module(models.dnabert.model, dtype),
                esm=cast_module(models.esm.model, dtype),
            )
            self._prepared = {id(models): cached}  # one ModelSet at a time: bounded memory
        self._used = cached.precision
        return cached

    def _protein_plan(
        self, models: ModelSet, sequences: Sequence[str]
    ) -> tuple[np.ndarray, list[np.ndarray]]:
        tokens = _lengths(sequences) + ESM_SPECIAL_TOKENS  # [N]
        return tokens, plan_batches(tokens, self.token_budget(models.device))

    def padded_tokens(self, models: ModelSet, stage: str, sequences: Sequence[str]) -> int:
        """Tokens the ``dnabert`` or ``esm`` stage computes, padding included (real tokens are
        what :class:`Embedding` counts)."""
        if stage == "dnabert":
            lengths = _lengths(models.dnabert.tokenizer.encode_batch(list(sequences)))
            plan = plan_batches(lengths, self.token_budget(models.device))
        else:
            lengths, plan = self._protein_plan(models, sequences)
        return sum(padded_size(lengths, batch) for batch in plan)

    def embed_dna(self, models: ModelSet, sequences: Sequence[str]) -> Embedding:
        """Mean of DNABERT-S's last hidden state over every real token, per sequence."""
        if not sequences:
            return _empty(models.dnabert.hidden_size)
        model = self.prepare(models).dnabert
        tokenizer = models.dnabert.tokenizer
        ragged = Ragged.from_lists(tokenizer.encode_batch(sequences))
        plan = plan_batches(ragged.lengths, self.token_budget(models.device))

        def compute(_: np.ndarray, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
            return mean_pool(model(ids, mask, attn_impl=ATTN_IMPL), mask)

        vectors = run_batches(
            plan,
            lambda batch: ragged.padded(batch, tokenizer.pad_id),
            compute,
            models.device,
            self.token_budget(models.device),
        )
        return Embedding(vectors=vectors, tokens=int(ragged.lengths.sum()), batches=len(plan))

    def embed_protein(self, models: ModelSet, sequences: Sequence[str]) -> Embedding:
        """Mean of ESM-2's last layer over residues ``1..min(L, 1024)``, per sequence."""
        if not sequences:
            return _empty(models.esm.hidden_size)
        model = self.prepare(models).esm
        alphabet = models.esm.alphabet
        tokens, plan = self._protein_plan(models, sequences)
        table = np.asarray(sequences, dtype=object)  # gathers a batch's strings without a loop

        def make(batch: np.ndarray) -> tuple[torch.Tensor]:
            return (alphabet.batch_tokens(table[batch].tolist(), truncation=None),)

        def compute(batch: np.ndarray, toks: torch.Tensor) -> torch.Tensor:
            padded = bool(tokens[batch].min() != tokens[batch].max())  # host lengths, no sync
            reps = model(toks, attn_impl=ATTN_IMPL, padded=padded)  # [B, T, D]
            return residue_mean_pool(reps, toks, alphabet.padding_idx)

        vectors = run_batches(plan, make, compute, models.device, self.token_budget(models.device))
        return Embedding(vectors=vectors, tokens=int(tokens.sum()), batches=len(plan))

    def classify(self, models: ModelSet, features: torch.Tensor) -> torch.Tensor:
        """Softmax probabilities ``[N, 2]`` in one fp32 call (eval-mode BatchNorm is per row)."""
        if features.shape[0] == 0:
            return torch.empty((0, NUM_CLASSES), dtype=torch.float32)
        model = models.classifier.model.eval()
        with torch.inference_mode():
            logits = model(features.to(models.device, torch.float32))
            return torch.softmax(logits, dim=1).to("cpu", torch.float32)
