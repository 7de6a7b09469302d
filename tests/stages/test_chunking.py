from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from virnucpro.errors import InputError
from virnucpro.stages.chunking import chunk_bounds, chunk_record
from virnucpro.stages.fasta import FastaRecord

SPEC_EXAMPLES_500 = {
    100: [(0, 100)],
    501: [(0, 500), (250, 501)],
    750: [(0, 500), (374, 750)],
    1000: [(0, 500), (500, 1000)],
    1001: [(0, 500), (333, 833), (666, 1001)],
    1200: [(0, 500), (399, 899), (798, 1200)],
    2345: [(0, 500), (468, 968), (936, 1436), (1404, 1904), (1872, 2345)],
}
SPEC_EXAMPLES_300 = {
    500: [(0, 300), (249, 500)],
    1000: [(0, 300), (249, 549), (498, 798), (747, 1000)],
}


@pytest.mark.parametrize(("length", "expected"), SPEC_EXAMPLES_500.items())
def test_spec_worked_examples_500(length, expected):
    assert chunk_bounds(length, 500) == expected


@pytest.mark.parametrize(("length", "expected"), SPEC_EXAMPLES_300.items())
def test_spec_worked_examples_300(length, expected):
    assert chunk_bounds(length, 300) == expected


def test_chunk_ids_and_case_kept():
    record = FastaRecord("seq1", "acgt" * 150)
    chunks = chunk_record(record, 500)
    assert [c.id for c in chunks] == ["seq1_chunk_1", "seq1_chunk_2"]
    assert chunks[0].sequence == record.sequence[:500]
    assert chunks[1].sequence.islower()


def test_empty_sequence_is_an_input_error():
    with pytest.raises(InputError):
        chunk_bounds(0, 500)


@given(length=st.integers(1, 20_000), size=st.sampled_from([300, 500, 7, 1000]))
def test_chunks_cover_the_sequence_in_order(length, size):
    bounds = chunk_bounds(length, size)
    n = -(-length // size)
    assert len(bounds) == n
    assert bounds[0][0] == 0
    assert bounds[-1][1] == length
    for (s0, e0), (s1, _) in itertools.pairwise(bounds):
        assert s0 < s1 <= e0  # consecutive chunks overlap or touch: no gap
        assert e0 - s0 == size  # every chunk but the last is full length
    start, end = bounds[-1]
    assert 0 < end - start <= size


def _published_bounds(length: int, size: int) -> list[tuple[int, int]]:
    """The published schedule as a list of steps (the form the spec gives it in)."""
    n = -(-length // size)
    repeat = n * size - length
    lo = repeat // n
    need = repeat - lo * (n - 1)
    steps = [lo + 1] * need + [lo] * (n - 1 - need) + [0]
    bounds, shift = [], 0
    for k in range(n):
        start = k * size - shift
        bounds.append((start, min(start + size, length)))
        shift += steps[k]
    return bounds


@given(length=st.integers(1, 50_000), size=st.sampled_from([300, 500, 7, 1000]))
def test_lazy_bounds_equal_the_published_schedule(length, size):
    assert chunk_bounds(length, size) == _published_bounds(length, size)
