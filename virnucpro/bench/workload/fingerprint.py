"""The workload fingerprint: what a benchmark run processed, computed by the pipeline's own stages.

Two runs measured the same work when their fingerprints agree. Chunks and kept frames come from
:func:`virnucpro.stages.chunking.chunk_records` and
:func:`virnucpro.stages.translate.keep_frames`, so they are exactly what the pipeline will
embed; ESM-2 tokens are ``len(protein) + 2`` per kept frame (``<cls>`` and ``<eos>``).
DNABERT-S tokens depend on the tokenizer of the model preset, so they are counted by a callable
passed in; without one they are recorded as 0 (the schema field is a count), and a rate over
them must then be reported as unavailable.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Protocol

from virnucpro.bench.schema import WorkloadFingerprint
from virnucpro.hashing import file_sha256
from virnucpro.stages.chunking import chunk_records
from virnucpro.stages.fasta import read_fasta
from virnucpro.stages.translate import keep_frames

CountTokens = Callable[[Sequence[str]], int]

ESM_SPECIAL_TOKENS = 2  # <cls> and <eos>
# Read-length histogram bins: (label, lowest, highest or None for no upper bound), inclusive.
LENGTH_BINS: tuple[tuple[str, int, int | None], ...] = (
    ("<300", 0, 299),
    ("300-499", 300, 499),
    ("500", 500, 500),
    ("501-1000", 501, 1000),
    ("1001-2500", 1001, 2500),
    (">2500", 2501, None),
)


class BatchTokenizer(Protocol):
    def encode_batch(self, sequences: Sequence[str]) -> list[list[int]]: ...


def _bin_label(length: int) -> str:
    return next(
        label
        for label, low, high in LENGTH_BINS
        if low <= length and (high is None or length <= high)
    )


def length_histogram(lengths: Iterable[int]) -> dict[str, int]:
    """Reads per :data:`LENGTH_BINS` bin, every bin listed (a count of 0 is a real count)."""
    counts = dict.fromkeys((label for label, _, _ in LENGTH_BINS), 0)
    for length in lengths:
        counts[_bin_label(length)] += 1
    return counts


def tokenizer_counter(tokenizer: BatchTokenizer) -> CountTokens:
    """Token counter over a tokenizer with ``encode_batch`` (special tokens included)."""

    def count(sequences: Sequence[str]) -> int:
        return sum(len(ids) for ids in tokenizer.encode_batch(list(sequences)))

    return count


def esm_token_count(proteins: Iterable[str]) -> int:
    return sum(len(p) + ESM_SPECIAL_TOKENS for p in proteins)


def workload_fingerprint(
    name: str,
    fasta_path: Path | str,
    *,
    expected_length: int,
    seed: int | None = None,
    count_dna_tokens: CountTokens | None = None,
) -> WorkloadFingerprint:
    """Fingerprint a FASTA file as the pipeline would process it at ``expected_length``."""
    records = read_fasta(fasta_path)
    chunks = chunk_records(records, expected_length)
    frames = keep_frames(chunks)
    dna_tokens = count_dna_tokens([f.nucleotide for f in frames]) if count_dna_tokens else 0
    return WorkloadFingerprint(
        name=name,
        content_sha256=file_sha256(fasta_path),
        reads=len(records),
        bases=sum(len(r.sequence) for r in records),
        chunks=len(chunks),
        expected_length=expected_length,
        length_histogram=length_histogram(len(r.sequence) for r in records),
        kept_frames=len(frames),
        dnabert_tokens=dna_tokens,
        esm_tokens=esm_token_count(f.protein for f in frames),
        seed=seed,
    )
