"""Stages 3-4: six-frame translation and the kept frames.

A frame is kept when its protein is non-empty and has no stop. Its nucleotide sequence is the
published one-base-longer slice ``s[f-1 : f + 3p]`` of the upper-cased chunk (forward) or of
its reverse complement (reverse). Codons holding an ambiguity letter translate to nothing.

A chunk that keeps no frame has one of three reasons, by these same rules (:func:`chunk_frames`):
``too_short`` (under 3 bases: no frame holds a whole codon), ``mostly_n`` (no frame holds a
codon of only A/C/G/T: N and the other ambiguity codes translate to nothing, so every protein
is empty) or ``stop_codon`` (every frame that translates to something has a stop).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from itertools import product

import numpy as np

from virnucpro.stages.chunking import Chunk

BASES = "TCAG"
AMINO_ACIDS = "FFLLSSSSYY**CC*WLLLLPPPPHHQQRRRRIIIMTTTTNNKKSSRRVVVVAAAADDEEGGGG"
CODON_TABLE: dict[str, str] = {
    "".join(codon): aa for codon, aa in zip(product(BASES, repeat=3), AMINO_ACIDS, strict=True)
}
COMPLEMENT = str.maketrans("ACGTacgt", "TGCAtgca")
STOP = "*"
FRAME_TAGS = ("F1", "F2", "F3", "R1", "R2", "R3")
CODON = 3
STOP_CODON = "stop_codon"
MOSTLY_N = "mostly_n"
TOO_SHORT = "too_short"
NO_FRAME_REASONS = (STOP_CODON, MOSTLY_N, TOO_SHORT)  # why a chunk kept no frame

# Vectorized translation: bases coded 0-3 in TCAG order (the AMINO_ACIDS order), 4 = any other
# letter; a codon's index is 25a + 5b + c and looks up its amino acid, or 0 (dropped) when it
# holds a non-ACGT letter.
_OTHER = 4
_BASE_CODE = np.full(256, _OTHER, dtype=np.uint8)
for _i, _b in enumerate(BASES):
    _BASE_CODE[ord(_b)] = _i
_COMPLEMENT_CODE = np.array([2, 3, 0, 1, _OTHER], dtype=np.uint8)  # T<->A, C<->G
_CODON_AA = np.zeros(125, dtype=np.uint8)
for (_a, _b2, _c), _aa in zip(product(range(4), repeat=3), AMINO_ACIDS, strict=True):
    _CODON_AA[25 * _a + 5 * _b2 + _c] = ord(_aa)


@dataclass(frozen=True)
class KeptFrame:
    """A kept frame: id ``{chunk_id}{F1..R3}``, its nucleotide slice and its protein."""

    id: str
    nucleotide: str
    protein: str
    chunk_id: str


def reverse_complement(sequence: str) -> str:
    """Swap only ACGT/acgt (other letters stay as they are), then reverse."""
    return sequence.translate(COMPLEMENT)[::-1]


def translate_frame(sequence: str, offset: int) -> str:
    """Translate codons at ``offset, offset+3, ...`` while a whole codon remains."""
    return "".join(
        CODON_TABLE.get(sequence[i : i + 3], "") for i in range(offset, len(sequence) - 2, 3)
    )


def _strand_proteins(codes: np.ndarray) -> tuple[str, str, str]:
    if codes.size < 3:
        return ("", "", "")
    index = codes[:-2].astype(np.int16) * 25 + codes[1:-1] * 5 + codes[2:]
    residues = _CODON_AA[index]  # one residue (or 0) per start position
    out = []
    for offset in range(3):
        frame = residues[offset::3]
        out.append(frame[frame != 0].tobytes().decode("ascii"))
    return (out[0], out[1], out[2])


def six_frames(sequence: str) -> tuple[str, ...]:
    """Proteins of F1, F2, F3 (offsets 0-2) then R1, R2, R3 on the reverse complement.

    Same result as :func:`translate_frame` on each frame (property-tested), vectorized.
    """
    codes = _BASE_CODE[np.frombuffer(sequence.encode("ascii", "replace"), dtype=np.uint8)]
    reverse = _COMPLEMENT_CODE[codes[::-1]]
    return _strand_proteins(codes) + _strand_proteins(reverse)


def frame_slice(sequence: str, frame: int, protein_length: int) -> str:
    """The published nucleotide slice for frame number ``frame`` (1..3): ``3p + 1`` bases."""
    return sequence[frame - 1 : frame + 3 * protein_length]


def _keep(chunk: Chunk, upper: str, proteins: tuple[str, ...]) -> list[KeptFrame]:
    strands = (upper, reverse_complement(upper))
    kept = []
    for index, protein in enumerate(proteins):
        if not protein or STOP in protein:
            continue
        strand = strands[index // 3]
        kept.append(
            KeptFrame(
                id=f"{chunk.id}{FRAME_TAGS[index]}",
                nucleotide=frame_slice(strand, index % 3 + 1, len(protein)),
                protein=protein,
                chunk_id=chunk.id,
            )
        )
    return kept


def no_frame_reason(length: int, proteins: tuple[str, ...]) -> str:
    """Why a chunk of ``length`` bases whose six ``proteins`` keep no frame kept none."""
    if length < CODON:
        return TOO_SHORT
    return STOP_CODON if any(proteins) else MOSTLY_N


def chunk_frames(chunk: Chunk) -> tuple[list[KeptFrame], str | None]:
    """The kept frames of a chunk and, when it keeps none, why (one of :data:`NO_FRAME_REASONS`)."""
    upper = chunk.sequence.upper()
    proteins = six_frames(upper)
    kept = _keep(chunk, upper, proteins)
    return kept, None if kept else no_frame_reason(len(upper), proteins)


def kept_frames_of_chunk(chunk: Chunk) -> list[KeptFrame]:
    upper = chunk.sequence.upper()
    return _keep(chunk, upper, six_frames(upper))


def iter_kept_frames(chunks: Iterable[Chunk]) -> Iterator[KeptFrame]:
    for chunk in chunks:
        yield from kept_frames_of_chunk(chunk)


def keep_frames(chunks: Iterable[Chunk]) -> list[KeptFrame]:
    """Kept frames in chunk order, then F1, F2, F3, R1, R2, R3."""
    return list(iter_kept_frames(chunks))
