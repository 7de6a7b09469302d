"""Stage 2: cut each record into chunks of the expected length, as the published tool does.

The overlap schedule is the published one, including its quirk: when the overlaps fall short,
the last chunk is shorter than the expected length (see ``virnucpro-spec.md``, stage 2).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from virnucpro.errors import InputError
from virnucpro.fasta import FastaRecord


@dataclass(frozen=True)
class Chunk:
    """A chunk of an input record: ``{record_id}_chunk_{k}``, sequence with its original case."""

    id: str
    sequence: str
    record_id: str
    start: int
    end: int


def chunk_bounds(length: int, size: int) -> list[tuple[int, int]]:
    """Half-open ``[start, end)`` bounds of the chunks of a sequence of ``length`` bases."""
    if size <= 0:
        raise InputError(f"expected length must be a positive integer, got {size}")
    if length <= 0:
        raise InputError("cannot chunk an empty sequence")
    n = math.ceil(length / size)
    repeat = n * size - length
    lo = repeat // n
    need = repeat - lo * (n - 1)
    steps = [lo + 1] * need + [lo] * (n - 1 - need) + [0]
    bounds = []
    shift = 0
    for k in range(n):
        start = k * size - shift
        bounds.append((start, min(start + size, length)))
        shift += steps[k]
    return bounds


def chunk_record(record: FastaRecord, size: int) -> list[Chunk]:
    return [
        Chunk(
            id=f"{record.id}_chunk_{k + 1}",
            sequence=record.sequence[start:end],
            record_id=record.id,
            start=start,
            end=end,
        )
        for k, (start, end) in enumerate(chunk_bounds(len(record.sequence), size))
    ]


def iter_chunks(records: Iterable[FastaRecord], size: int) -> Iterator[Chunk]:
    for record in records:
        yield from chunk_record(record, size)


def chunk_records(records: Iterable[FastaRecord], size: int) -> list[Chunk]:
    """All chunks of all records, in input order."""
    return list(iter_chunks(records, size))
