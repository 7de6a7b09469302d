"""Stages 3-4: six-frame translation and the kept frames.

A frame is kept when its protein is non-empty and has no stop. Its nucleotide sequence is the
published one-base-longer slice ``s[f-1 : f + 3p]`` of the upper-cased chunk (forward) or of
its reverse complement (reverse). Codons holding an ambiguity letter translate to nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from itertools import product

from virnucpro.chunking import Chunk

BASES = "TCAG"
AMINO_ACIDS = "FFLLSSSSYY**CC*WLLLLPPPPHHQQRRRRIIIMTTTTNNKKSSRRVVVVAAAADDEEGGGG"
CODON_TABLE: dict[str, str] = {
    "".join(codon): aa for codon, aa in zip(product(BASES, repeat=3), AMINO_ACIDS, strict=True)
}
COMPLEMENT = str.maketrans("ACGTacgt", "TGCAtgca")
STOP = "*"
FRAME_TAGS = ("F1", "F2", "F3", "R1", "R2", "R3")


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


def six_frames(sequence: str) -> tuple[str, ...]:
    """Proteins of F1, F2, F3 (offsets 0-2) then R1, R2, R3 on the reverse complement."""
    reverse = reverse_complement(sequence)
    return tuple(translate_frame(sequence, k) for k in range(3)) + tuple(
        translate_frame(reverse, k) for k in range(3)
    )


def frame_slice(sequence: str, frame: int, protein_length: int) -> str:
    """The published nucleotide slice for frame number ``frame`` (1..3): ``3p + 1`` bases."""
    return sequence[frame - 1 : frame + 3 * protein_length]


def kept_frames_of_chunk(chunk: Chunk) -> list[KeptFrame]:
    upper = chunk.sequence.upper()
    strands = (upper, reverse_complement(upper))
    kept = []
    for index, protein in enumerate(six_frames(upper)):
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


def iter_kept_frames(chunks: Iterable[Chunk]) -> Iterator[KeptFrame]:
    for chunk in chunks:
        yield from kept_frames_of_chunk(chunk)


def keep_frames(chunks: Iterable[Chunk]) -> list[KeptFrame]:
    """Kept frames in chunk order, then F1, F2, F3, R1, R2, R3."""
    return list(iter_kept_frames(chunks))
