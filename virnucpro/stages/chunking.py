"""Stage 2: cut each record into chunks of the expected length, as the published tool does.

The overlap schedule is the published one, including its quirk: when the overlaps fall short,
the last chunk is shorter than the expected length (see ``virnucpro-spec.md``, stage 2).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from virnucpro.errors import InputError
from virnucpro.stages.fasta import FastaRecord


@dataclass(frozen=True)
class Chunk:
    """A chunk of an input record: ``{record_id}_chunk_{k}``, sequence with its original case."""

    id: str
    sequence: str
    record_id: str
    start: int
    end: int


def iter_chunk_bounds(length: int, size: int) -> Iterator[tuple[int, int]]:
    """Half-open ``[start, end)`` bounds of the chunks of a sequence of ``length`` bases, lazily
    (a 1 GB record has two million chunks)."""
    if size <= 0:
        raise InputError(f"expected length must be a positive integer, got {size}")
    if length <= 0:
        raise InputError("cannot chunk an empty sequence")
    n = math.ceil(length / size)
    repeat = n * size - length
    lo = repeat // n
    need = repeat - lo * (n - 1)  # the first ``need`` overlaps are one base longer
    shift = 0
    for k in range(n):
        start = k * size - shift
        yield start, min(start + size, length)
        shift += lo + 1 if k < need else lo


def chunk_bounds(length: int, size: int) -> list[tuple[int, int]]:
    """Half-open ``[start, end)`` bounds of the chunks of a sequence of ``length`` bases."""
    return list(iter_chunk_bounds(length, size))


def iter_record_chunks(record: FastaRecord, size: int) -> Iterator[Chunk]:
    """The chunks of one record, made one at a time."""
    for k, (start, end) in enumerate(iter_chunk_bounds(len(record.sequence), size)):
        yield Chunk(
            id=f"{record.id}_chunk_{k + 1}",
            sequence=record.sequence[start:end],
            record_id=record.id,
            start=start,
            end=end,
        )


def chunk_record(record: FastaRecord, size: int) -> list[Chunk]:
    return list(iter_record_chunks(record, size))


def iter_chunks(records: Iterable[FastaRecord], size: int) -> Iterator[Chunk]:
    for record in records:
        yield from iter_record_chunks(record, size)


def chunk_records(records: Iterable[FastaRecord], size: int) -> list[Chunk]:
    """All chunks of all records, in input order."""
    return list(iter_chunks(records, size))
