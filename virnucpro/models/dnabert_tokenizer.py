"""The DNABERT-S BPE tokenizer, read from a Hugging Face ``tokenizer.json`` as data.

The published DNABERT-2 / DNABERT-S ``tokenizer.json`` is a ``tokenizers`` BPE model: special
tokens ``[UNK]=0 [CLS]=1 [SEP]=2 [PAD]=3 [MASK]=4``, then ``A C G T`` and 4091 merged k-mers; no
normalizer (lower case letters and ``N`` become ``[UNK]``), a ``Whitespace`` pre-tokenizer, a
``TemplateProcessing`` post-processor giving ``[CLS] $A [SEP]``, no decoder. The file also sets
truncation and fixed padding to 2000 tokens; the transformers wrapper the published tool uses
switches both off at call time, so :class:`DnaTokenizer` switches them off on load: no
truncation, no padding, one id list per sequence.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from pathlib import Path

from tokenizers import AddedToken, Tokenizer, models, pre_tokenizers, processors

from virnucpro.atomic import atomic_write_text
from virnucpro.errors import ModelLoadError

UNK_TOKEN = "[UNK]"
CLS_TOKEN = "[CLS]"
SEP_TOKEN = "[SEP]"
PAD_TOKEN = "[PAD]"
MASK_TOKEN = "[MASK]"
SPECIAL_TOKENS: tuple[str, ...] = (UNK_TOKEN, CLS_TOKEN, SEP_TOKEN, PAD_TOKEN, MASK_TOKEN)
"""In id order: the published layout puts them at ids 0..4."""

PUBLISHED_MAX_LENGTH = 2000
"""Truncation length and fixed padding length written in the published ``tokenizer.json``."""

BASES = "ACGT"
TINY_MAX_KMER = 3
TINY_VOCAB_SIZE = len(SPECIAL_TOKENS) + sum(len(BASES) ** k for k in range(1, TINY_MAX_KMER + 1))
"""5 special tokens + 4 bases + 16 2-mers + 64 3-mers = 89."""

_PROBE_SEQUENCE = "ACGT"


class DnaTokenizer:
    """DNABERT-S tokenizer: ``[CLS]`` + BPE tokens + ``[SEP]``, never truncated or padded.

    ``source_json`` keeps the ``tokenizer.json`` text exactly as read, so writing it back gives
    the published layout (including its truncation/padding settings, which are ignored here).
    """

    def __init__(self, source_json: str, *, origin: str = "<memory>") -> None:
        self.source_json = source_json
        self.origin = origin
        self._backend = _parse_backend(source_json, origin)
        self._backend.no_truncation()
        self._backend.no_padding()
        self._ids = {token: self._special_id(token) for token in SPECIAL_TOKENS}
        self._check_post_processor()

    @classmethod
    def from_file(cls, path: Path) -> DnaTokenizer:
        """Read a ``tokenizer.json``; any problem is a one-line :class:`ModelLoadError`."""
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ModelLoadError(f"cannot read tokenizer file {path}: {exc}") from exc
        return cls(text, origin=str(path))

    def encode(self, sequence: str) -> list[int]:
        """Token ids of one sequence, with ``[CLS]`` first and ``[SEP]`` last, no truncation."""
        return list(self._backend.encode(sequence).ids)

    def encode_batch(self, sequences: Sequence[str]) -> list[list[int]]:
        """Token ids of many sequences, encoded in parallel by the ``tokenizers`` library."""
        encodings = self._backend.encode_batch(list(sequences))
        return [list(encoding.ids) for encoding in encodings]

    def decode(self, ids: Sequence[int]) -> str:
        """The bases behind ``ids``, special tokens (``[UNK]`` included) dropped, no spaces."""
        return self._backend.decode(list(ids), skip_special_tokens=True).replace(" ", "")

    def to_json(self) -> str:
        """The ``tokenizer.json`` text this tokenizer was built from."""
        return self.source_json

    @property
    def vocab_size(self) -> int:
        return self._backend.get_vocab_size(with_added_tokens=True)

    @property
    def unk_id(self) -> int:
        return self._ids[UNK_TOKEN]

    @property
    def cls_id(self) -> int:
        return self._ids[CLS_TOKEN]

    @property
    def sep_id(self) -> int:
        return self._ids[SEP_TOKEN]

    @property
    def pad_id(self) -> int:
        return self._ids[PAD_TOKEN]

    @property
    def mask_id(self) -> int:
        return self._ids[MASK_TOKEN]

    def _special_id(self, token: str) -> int:
        token_id = self._backend.token_to_id(token)
        if token_id is None:
            raise ModelLoadError(f"tokenizer {self.origin} has no {token} token")
        return token_id

    def _check_post_processor(self) -> None:
        ids = self.encode(_PROBE_SEQUENCE)
        if len(ids) < 3 or ids[0] != self.cls_id or ids[-1] != self.sep_id:
            raise ModelLoadError(
                f"tokenizer {self.origin} does not wrap sequences in {CLS_TOKEN} ... {SEP_TOKEN}"
            )


def _parse_backend(source_json: str, origin: str) -> Tokenizer:
    try:
        return Tokenizer.from_str(source_json)
    except Exception as exc:  # the Rust library raises a plain Exception on bad JSON
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ModelLoadError(f"tokenizer {origin} is not a tokenizer.json: {reason}") from exc


def write_tokenizer_json(tokenizer: DnaTokenizer, path: Path) -> None:
    """Write ``tokenizer``'s ``tokenizer.json`` to ``path`` atomically."""
    atomic_write_text(Path(path), tokenizer.to_json())


def kmer_vocab_and_merges(
    kmer_sizes: Sequence[int],
) -> tuple[dict[str, int], list[tuple[str, str]]]:
    """Vocabulary and merges of a k-mer BPE tokenizer, fixed by construction (no training).

    Ids: the 5 special tokens, the 4 bases, then every k-mer of each size in ``kmer_sizes``
    (ascending), each group in lexicographic order. A k-mer is merged from its prefix of the
    largest smaller size and the rest, so smaller merges always outrank larger ones (BPE is
    greedy by rank).
    """
    sizes = sorted(set(kmer_sizes))
    vocab = {token: index for index, token in enumerate(SPECIAL_TOKENS)}
    vocab.update({base: len(vocab) + i for i, base in enumerate(BASES)})
    merges: list[tuple[str, str]] = []
    built = [1]
    for k in sizes:
        head = max(j for j in built if k - j in built)
        for letters in itertools.product(BASES, repeat=k):
            kmer = "".join(letters)
            vocab[kmer] = len(vocab)
            merges.append((kmer[:head], kmer[head:]))
        built.append(k)
    return vocab, merges


def tiny_vocab_and_merges() -> tuple[dict[str, int], list[tuple[str, str]]]:
    """The tiny tokenizer's 89 tokens: specials, bases, all 2-mers and 3-mers."""
    return kmer_vocab_and_merges(range(2, TINY_MAX_KMER + 1))


def build_kmer_tokenizer(kmer_sizes: Sequence[int], *, origin: str) -> DnaTokenizer:
    """A deterministic tokenizer with the published structure (specials, post-processor)."""
    vocab, merges = kmer_vocab_and_merges(kmer_sizes)
    backend = Tokenizer(models.BPE(vocab=vocab, merges=merges, unk_token=UNK_TOKEN, fuse_unk=False))
    backend.add_special_tokens([AddedToken(token, normalized=False) for token in SPECIAL_TOKENS])
    backend.pre_tokenizer = pre_tokenizers.Whitespace()
    backend.post_processor = processors.TemplateProcessing(
        single=f"{CLS_TOKEN} $A {SEP_TOKEN}",
        pair=f"{CLS_TOKEN} $A {SEP_TOKEN} $B:1 {SEP_TOKEN}:1",
        special_tokens=[(CLS_TOKEN, vocab[CLS_TOKEN]), (SEP_TOKEN, vocab[SEP_TOKEN])],
    )
    backend.enable_truncation(PUBLISHED_MAX_LENGTH)
    backend.enable_padding(
        length=PUBLISHED_MAX_LENGTH, pad_id=vocab[PAD_TOKEN], pad_token=PAD_TOKEN
    )
    return DnaTokenizer(backend.to_str(pretty=True), origin=origin)


def build_tiny_tokenizer() -> DnaTokenizer:
    """A deterministic 89-token tokenizer with the published structure, for tests and presets."""
    return build_kmer_tokenizer(range(2, TINY_MAX_KMER + 1), origin="tiny")


SYNTHETIC_KMER_SIZES = (2, 4)  # ~4 bases a token, close to DNABERT-S's BPE on real DNA


def build_synthetic_tokenizer() -> DnaTokenizer:
    """Stand-in for the published BPE in real-size random presets: 281 tokens, ~4 bp/token."""
    return build_kmer_tokenizer(SYNTHETIC_KMER_SIZES, origin="synthetic-4mer")
