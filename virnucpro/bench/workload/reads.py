"""Deterministic benchmark reads whose coding frames survive, so every stage is exercised.

Random DNA keeps about 4e-4 of 500 bp frames (a stop appears in almost every frame), which
would leave the embedding stages idle. Each read here is built from one or two open reading
frames drawn from the 61 sense codons, on either strand, sometimes interrupted by a stop, so a
500 bp chunk typically keeps one or two of its six frames.

Two classes, about half each, differ in codon usage: "viral-like" reads prefer G/C codons
(especially at the third position), "host-like" reads prefer A/T codons. The class is encoded
in the read id, ``vir_000001`` or ``host_000001`` (see :func:`label_of`), so accuracy can be
checked later from the ids alone.

Lengths sit around and across the chunk size ``c`` (``expected_length``): short reads
(``SHORT_MIN_LENGTH`` .. ``c-1``), exact lengths (300, 500 and ``c``), boundary lengths
(``c±1``, ``2c``, ``2c+1``) and multi-chunk reads (``c+1`` .. ``MULTI_CHUNK_FACTOR*c``). A few
reads carry N or other IUPAC ambiguity letters. The same ``(size, seed, expected_length)``
always gives the same reads: only ``random.Random(seed)`` is used.
"""

from __future__ import annotations

import gzip
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import product
from pathlib import Path
from random import Random
from typing import Literal

from virnucpro.atomic import atomic_write_bytes, atomic_write_text
from virnucpro.errors import InputError

SizeName = Literal["tiny", "small", "medium", "large"]
Read = tuple[str, str]

TINY_READS = 20
SMALL_READS = 200
MEDIUM_READS = 2_000
LARGE_READS = 20_000
SIZES: dict[str, int] = {
    "tiny": TINY_READS,
    "small": SMALL_READS,
    "medium": MEDIUM_READS,
    "large": LARGE_READS,
}

VIRAL_PREFIX = "vir"
HOST_PREFIX = "host"
ID_DIGITS = 6
VIRAL_FRACTION = 0.5

SHORT_MIN_LENGTH = 150
EXACT_LENGTHS = (300, 500)
MULTI_CHUNK_FACTOR = 5  # multi-chunk reads reach 5 chunk lengths (2500 bp for c = 500)
# Share of reads of each length kind (allocated exactly, so even "tiny" holds every kind).
LENGTH_KIND_SHARES: dict[str, float] = {
    "short": 0.30,
    "exact": 0.15,
    "boundary": 0.15,
    "multi": 0.40,
}

TWO_ORF_RATE = 0.35  # reads long enough for two ORFs get a second one this often
TWO_ORF_MIN_LENGTH = 400
ORF_SPLIT_RANGE = (0.3, 0.7)  # where the second ORF starts, as a fraction of the read
REVERSE_STRAND_RATE = 0.5
INTERRUPT_RATE = 0.15  # an ORF gets one in-frame stop codon this often
AMBIGUOUS_FRACTION = 0.05
AMBIGUOUS_SITES = (1, 4)  # inclusive range of ambiguity letters in an ambiguous read
AMBIGUITY_LETTERS = "NNNNNRYKMSW"  # mostly N, as in real reads

DEFAULT_LINE_WIDTH = 60

_STOP_CODONS = ("TAA", "TAG", "TGA")
SENSE_CODONS: tuple[str, ...] = tuple(
    c for c in ("".join(p) for p in product("ACGT", repeat=3)) if c not in _STOP_CODONS
)
_COMPLEMENT = str.maketrans("ACGT", "TGCA")


@dataclass(frozen=True)
class CodonBias:
    """Codon usage of a class: weight per G/C base, the third position weighted more."""

    gc_weight: float
    third_position_gc_weight: float

    def weight(self, codon: str) -> float:
        w = 1.0
        for position, base in enumerate(codon):
            if base in "GC":
                w *= self.gc_weight if position < 2 else self.third_position_gc_weight
        return w


VIRAL_BIAS = CodonBias(gc_weight=1.6, third_position_gc_weight=3.0)  # GC-rich
HOST_BIAS = CodonBias(gc_weight=0.7, third_position_gc_weight=0.4)  # AT-rich


def _codon_weights(bias: CodonBias) -> list[float]:
    return [bias.weight(c) for c in SENSE_CODONS]


_WEIGHTS: dict[str, list[float]] = {
    VIRAL_PREFIX: _codon_weights(VIRAL_BIAS),
    HOST_PREFIX: _codon_weights(HOST_BIAS),
}


def read_count(size: SizeName | int) -> int:
    """Number of reads for a named size or an explicit positive count."""
    if isinstance(size, bool):
        raise InputError(f"benchmark data size must be a name or a count, got {size!r}")
    if isinstance(size, int):
        if size <= 0:
            raise InputError(f"benchmark data size must be a positive count, got {size}")
        return size
    if size not in SIZES:
        names = ", ".join(SIZES)
        raise InputError(f"unknown benchmark data size {size!r} (expected {names} or a count)")
    return SIZES[size]


def label_of(read_id: str) -> str:
    """The class encoded in a benchmark read id: ``"vir"`` or ``"host"``."""
    prefix = read_id.split("_", 1)[0]
    if prefix not in (VIRAL_PREFIX, HOST_PREFIX):
        raise InputError(f"{read_id!r} is not a benchmark read id (vir_N or host_N)")
    return prefix


def _allocate(n: int, shares: Sequence[float]) -> list[int]:
    """Split ``n`` by ``shares`` (largest remainder), so each share gets at least its floor."""
    total = sum(shares)
    raw = [n * s / total for s in shares]
    counts = [int(r) for r in raw]
    order = sorted(range(len(raw)), key=lambda i: raw[i] - counts[i], reverse=True)
    for i in order[: n - sum(counts)]:
        counts[i] += 1
    return counts


def _shuffled_plan(rng: Random, n: int, shares: dict[str, float]) -> list[str]:
    counts = _allocate(n, list(shares.values()))
    plan = [kind for kind, count in zip(shares, counts, strict=True) for _ in range(count)]
    rng.shuffle(plan)
    return plan


def _read_length(rng: Random, kind: str, c: int) -> int:
    if kind == "short":
        return rng.randint(min(SHORT_MIN_LENGTH, c - 1), c - 1) if c > 1 else 1
    if kind == "exact":
        return rng.choice(sorted({*EXACT_LENGTHS, c}))
    if kind == "boundary":
        return rng.choice([n for n in (c - 1, c + 1, 2 * c, 2 * c + 1) if n > 0])
    return rng.randint(c + 1, MULTI_CHUNK_FACTOR * c)


def reverse_complement(sequence: str) -> str:
    return sequence.translate(_COMPLEMENT)[::-1]


def _orf(rng: Random, label: str, length: int) -> str:
    """``length`` bases of one open frame (sense codons), at a random phase and strand."""
    codons = rng.choices(SENSE_CODONS, weights=_WEIGHTS[label], k=length // 3 + 2)
    if rng.random() < INTERRUPT_RATE:
        codons[rng.randrange(len(codons))] = rng.choice(_STOP_CODONS)
    phase = rng.randrange(3)
    sequence = "".join(codons)[phase : phase + length]
    return reverse_complement(sequence) if rng.random() < REVERSE_STRAND_RATE else sequence


def _orf_lengths(rng: Random, length: int) -> list[int]:
    if length < TWO_ORF_MIN_LENGTH or rng.random() >= TWO_ORF_RATE:
        return [length]
    first = int(length * rng.uniform(*ORF_SPLIT_RANGE))
    return [first, length - first]


def _add_ambiguity(rng: Random, sequence: str) -> str:
    letters = list(sequence)
    for _ in range(rng.randint(*AMBIGUOUS_SITES)):
        letters[rng.randrange(len(letters))] = rng.choice(AMBIGUITY_LETTERS)
    return "".join(letters)


def _make_sequence(rng: Random, label: str, length: int, ambiguous: bool) -> str:
    sequence = "".join(_orf(rng, label, n) for n in _orf_lengths(rng, length))
    return _add_ambiguity(rng, sequence) if ambiguous else sequence


def make_reads(size: SizeName | int, *, seed: int = 0, expected_length: int = 500) -> list[Read]:
    """Deterministic ``(id, sequence)`` reads, about half viral-like and half host-like.

    ``size`` is a name from :data:`SIZES` or a read count; the lengths follow
    ``expected_length`` (the chunk size the run will use).
    """
    n = read_count(size)
    if expected_length <= 0:
        raise InputError(f"expected length must be a positive integer, got {expected_length}")
    rng = Random(seed)
    labels = _shuffled_plan(rng, n, {VIRAL_PREFIX: VIRAL_FRACTION, HOST_PREFIX: 1 - VIRAL_FRACTION})
    kinds = _shuffled_plan(rng, n, LENGTH_KIND_SHARES)
    ambiguous = _shuffled_plan(rng, n, {"yes": AMBIGUOUS_FRACTION, "no": 1 - AMBIGUOUS_FRACTION})
    numbers = {VIRAL_PREFIX: 0, HOST_PREFIX: 0}
    reads: list[Read] = []
    for label, kind, amb in zip(labels, kinds, ambiguous, strict=True):
        numbers[label] += 1
        length = _read_length(rng, kind, expected_length)
        sequence = _make_sequence(rng, label, length, amb == "yes")
        reads.append((f"{label}_{numbers[label]:0{ID_DIGITS}d}", sequence))
    return reads


def fasta_text(reads: Sequence[Read], *, line_width: int | None = DEFAULT_LINE_WIDTH) -> str:
    """FASTA text: sequence lines of ``line_width`` letters, or one line when ``None``."""
    if line_width is not None and line_width <= 0:
        raise InputError(f"FASTA line width must be positive, got {line_width}")
    lines: list[str] = []
    for read_id, sequence in reads:
        lines.append(f">{read_id}")
        width = line_width or max(len(sequence), 1)
        lines.extend(sequence[i : i + width] for i in range(0, len(sequence), width))
    return "\n".join(lines) + "\n" if lines else ""


def write_fasta(
    reads: Sequence[Read], path: Path | str, *, line_width: int | None = DEFAULT_LINE_WIDTH
) -> Path:
    """Write reads atomically; gzip (reproducible: no timestamp) when ``path`` ends in ``.gz``."""
    path = Path(path)
    text = fasta_text(reads, line_width=line_width)
    if path.name.endswith(".gz"):
        atomic_write_bytes(path, gzip.compress(text.encode("ascii"), mtime=0))
    else:
        atomic_write_text(path, text)
    return path
