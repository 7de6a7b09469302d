"""The ESM-2 vocabulary (fair-esm's "ESM-1b" alphabet), batch tokens and token-budget batching.

Token ids, ``<cls>``/``<eos>`` framing, truncation and padding follow fair-esm's
``Alphabet.from_architecture("ESM-1b")`` and ``BatchConverter(truncation_seq_length=...)``;
batches follow ``FastaBatchedDataset.get_batch_indices``. Encoding is one letter, one token.
Where fair-esm raises ``KeyError`` on a letter outside its vocabulary (``J``, lower case) this
alphabet maps it to ``<unk>``, as the Hugging Face ESM tokenizer does; the pipeline's proteins
come from the standard codon table and never hold such letters.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

SPECIAL_PREFIX: tuple[str, ...] = ("<cls>", "<pad>", "<eos>", "<unk>")
RESIDUE_TOKENS: tuple[str, ...] = tuple("LAGVSERTIDPKQNFYMHWCXBUZO.-")
SPECIAL_SUFFIX: tuple[str, ...] = ("<null_1>", "<mask>")
ESM_TOKENS: tuple[str, ...] = SPECIAL_PREFIX + RESIDUE_TOKENS + SPECIAL_SUFFIX  # 33 tokens

DEFAULT_TRUNCATION = 1024  # residues kept per sequence (fair-esm extract.py default)
DEFAULT_TOKS_PER_BATCH = 2048  # token budget per batch (fair-esm extract.py default)
DEFAULT_EXTRA_TOKS_PER_SEQ = 1  # what fair-esm extract.py passes to get_batch_indices
_ASCII = 256


@dataclass(frozen=True)
class EsmAlphabet:
    """Token ids for ESM-2: ``<cls>``=0, ``<pad>``=1, ``<eos>``=2, ``<unk>``=3, ``<mask>``=32."""

    tokens: tuple[str, ...] = ESM_TOKENS
    _lookup: np.ndarray = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        table = np.full(_ASCII, self.unk_idx, dtype=np.int64)
        for idx, tok in enumerate(self.tokens):
            if len(tok) == 1:
                table[ord(tok)] = idx
        object.__setattr__(self, "_lookup", table)

    def __len__(self) -> int:
        return len(self.tokens)

    def index(self, token: str) -> int:
        """The id of ``token``; ``<unk>`` for a token outside the vocabulary."""
        return self.tokens.index(token) if token in self.tokens else self.unk_idx

    @property
    def cls_idx(self) -> int:
        return self.tokens.index("<cls>")

    @property
    def padding_idx(self) -> int:
        return self.tokens.index("<pad>")

    @property
    def eos_idx(self) -> int:
        return self.tokens.index("<eos>")

    @property
    def unk_idx(self) -> int:
        return self.tokens.index("<unk>")

    @property
    def mask_idx(self) -> int:
        return self.tokens.index("<mask>")

    def _encode_array(self, seq: str) -> np.ndarray:
        # Non-ASCII letters become '?', which maps to <unk>: one token per character either way.
        codes = np.frombuffer(seq.encode("ascii", errors="replace"), dtype=np.uint8)
        return self._lookup[codes]

    def encode(self, seq: str) -> list[int]:
        """Token ids of the residues of ``seq`` (no ``<cls>``/``<eos>``)."""
        return self._encode_array(seq).tolist()

    def batch_tokens(
        self, seqs: Sequence[str], *, truncation: int | None = DEFAULT_TRUNCATION
    ) -> torch.Tensor:
        """``<cls>`` + residues[:truncation] + ``<eos>`` per row, right-padded with ``<pad>``.

        Same tensor as fair-esm's ``BatchConverter(alphabet, truncation)``; ``None`` keeps all.
        """
        if truncation is not None and truncation < 1:
            raise ValueError(f"truncation must be >= 1 or None, got {truncation}")
        encoded = [self._encode_array(s)[:truncation] for s in seqs]
        lengths = np.array([len(e) for e in encoded], dtype=np.int64)  # [B]
        batch = len(encoded)
        width = int(lengths.max(initial=0)) + 2  # <cls> + residues + <eos>
        tokens = np.full((batch, width), self.padding_idx, dtype=np.int64)  # [B, T]
        rows = np.repeat(np.arange(batch), lengths)  # [N] row of each residue
        starts = np.repeat(np.cumsum(lengths) - lengths, lengths)  # [N] first flat index of row
        cols = np.arange(int(lengths.sum())) - starts + 1  # [N] column, after <cls>
        if batch:
            tokens[rows, cols] = np.concatenate(encoded)
        tokens[:, 0] = self.cls_idx
        tokens[np.arange(batch), lengths + 1] = self.eos_idx
        return torch.from_numpy(tokens)

    def toks_per_batch_indices(
        self,
        lengths: Sequence[int],
        toks_per_batch: int = DEFAULT_TOKS_PER_BATCH,
        extra_toks_per_seq: int = DEFAULT_EXTRA_TOKS_PER_SEQ,
    ) -> list[list[int]]:
        """Group sequence indices into batches exactly as fair-esm's ``get_batch_indices``.

        Sequences are sorted by (length, index); a batch is closed before the sequence that
        would make ``max(length + extra) * count`` exceed ``toks_per_batch``. A sequence over
        the budget on its own still gets a batch of one.
        """
        batches: list[list[int]] = []
        current: list[int] = []
        max_len = 0
        for size, idx in sorted((n, i) for i, n in enumerate(lengths)):
            size += extra_toks_per_seq
            if current and max(size, max_len) * (len(current) + 1) > toks_per_batch:
                batches.append(current)
                current, max_len = [], 0
            max_len = max(max_len, size)
            current.append(idx)
        if current:
            batches.append(current)
        return batches
