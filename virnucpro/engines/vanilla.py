"""The vanilla engine: what the published tool computes, step for step, in float32.

DNABERT-S: one sequence per forward pass, mean of the last hidden state over all tokens
(``[CLS]``/``[SEP]`` included). ESM-2: fair-esm's length-sorted batches of at most 2048 tokens
(one extra token per sequence), last layer averaged over residues ``1..min(L, 1024)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import torch

from virnucpro.engines.base import Embedding
from virnucpro.engines.batching import naming_out_of_memory
from virnucpro.errors import RunFailure
from virnucpro.stages.classify import classify

if TYPE_CHECKING:
    from virnucpro.models.presets import ModelSet

ESM_TOKS_PER_BATCH = 2048
ESM_EXTRA_TOKS_PER_SEQ = 1
ESM_POOL_LIMIT = 1024  # truncation_seq_length of the published extract_esm
ESM_SPECIAL_TOKENS = 2  # <cls> and <eos> around every sequence


def _require_fp32(models: ModelSet) -> None:
    if models.dtype != torch.float32:
        raise RunFailure(
            f"the vanilla engine runs in float32, but these models were loaded in {models.dtype} "
            "(load them with dtype=torch.float32)"
        )


def _empty(width: int) -> Embedding:
    return Embedding(vectors=torch.empty((0, width), dtype=torch.float32), tokens=0, batches=0)


class VanillaEngine:
    name = "vanilla"

    @property
    def precision(self) -> str:
        return "fp32"

    def prepare(self, models: ModelSet) -> ModelSet:
        """Nothing to prepare: the published tool runs the models as loaded, in float32."""
        _require_fp32(models)
        return models

    def weights_dtype(self, device: torch.device) -> torch.dtype:
        return torch.float32

    def token_budget(self, device: torch.device) -> int | None:
        """None: the published tool's batches (one sequence; ESM-2 at most 2048 tokens)."""
        return None

    @staticmethod
    def _protein_batches(models: ModelSet, sequences: Sequence[str]) -> list[list[int]]:
        return models.esm.alphabet.toks_per_batch_indices(
            [len(s) for s in sequences],
            toks_per_batch=ESM_TOKS_PER_BATCH,
            extra_toks_per_seq=ESM_EXTRA_TOKS_PER_SEQ,
        )

    def padded_tokens(self, models: ModelSet, stage: str, sequences: Sequence[str]) -> int:
        """Tokens the ``dnabert`` or ``esm`` stage computes, padding included: none for
        DNABERT-S (one sequence per pass), each ESM-2 batch padded to its longest sequence."""
        if stage == "dnabert":
            return sum(len(ids) for ids in models.dnabert.tokenizer.encode_batch(list(sequences)))
        return sum(
            (max(len(sequences[i]) for i in batch) + ESM_SPECIAL_TOKENS) * len(batch)
            for batch in self._protein_batches(models, sequences)
        )

    def embed_dna(self, models: ModelSet, sequences: Sequence[str]) -> Embedding:
        bundle = models.dnabert
        if not sequences:
            return _empty(bundle.hidden_size)
        _require_fp32(models)
        vectors, tokens = [], 0
        with torch.no_grad():
            for sequence in sequences:
                ids = torch.tensor([bundle.tokenizer.encode(sequence)], device=models.device)
                with naming_out_of_memory(ids.numel(), 1, None, models.device):
                    hidden = bundle.model(ids)[0]  # [T, H]
                vectors.append(hidden.mean(dim=0).float().cpu())
                tokens += ids.shape[1]
        return Embedding(vectors=torch.stack(vectors), tokens=tokens, batches=len(sequences))

    def embed_protein(self, models: ModelSet, sequences: Sequence[str]) -> Embedding:
        bundle = models.esm
        if not sequences:
            return _empty(bundle.hidden_size)
        _require_fp32(models)
        batches = self._protein_batches(models, sequences)
        out: list[torch.Tensor | None] = [None] * len(sequences)
        tokens = 0
        with torch.no_grad():
            for batch in batches:
                toks = bundle.alphabet.batch_tokens([sequences[i] for i in batch], truncation=None)
                padded = len({len(sequences[i]) for i in batch}) > 1  # from lengths: no sync
                with naming_out_of_memory(toks.numel(), len(batch), None, models.device):
                    reps = bundle.model(toks.to(models.device), padded=padded)  # [B, T, D]
                tokens += sum(len(sequences[i]) + ESM_SPECIAL_TOKENS for i in batch)
                for row, index in enumerate(batch):
                    length = min(ESM_POOL_LIMIT, len(sequences[index]))
                    out[index] = reps[row, 1 : length + 1].mean(0).float().cpu()
        return Embedding(vectors=torch.stack(out), tokens=tokens, batches=len(batches))  # type: ignore[arg-type]

    def classify(self, models: ModelSet, features: torch.Tensor) -> torch.Tensor:
        return classify(models.classifier.model, features)
