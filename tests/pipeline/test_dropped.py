"""What a run drops: reads and chunks without a kept frame, counted by reason, exactly.

The property tests stream random reads (A/C/G/T with N and other ambiguity codes mixed in, some
shorter than a codon) through the pipeline's own stream and check the counts against what the
kept frames and an independent reading of the translation rules say.
"""

from __future__ import annotations

import random
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from virnucpro.pipeline.dropped import (
    CHUNK_LEVEL,
    READ_LEVEL,
    REASON_LABELS,
    DropCounts,
    DropTally,
    describe,
    read_reason,
)
from virnucpro.pipeline.shards import StreamCounts, StreamSinks, iter_shards
from virnucpro.stages.chunking import chunk_record
from virnucpro.stages.fasta import FastaRecord
from virnucpro.stages.translate import (
    MOSTLY_N,
    NO_FRAME_REASONS,
    STOP_CODON,
    TOO_SHORT,
    chunk_frames,
)

READ_CODON = re.compile(r"(?=[ACGT]{3})")  # a codon of only A/C/G/T starts here

letters = st.sampled_from("ACGTacgtNNNNnRY")
# stops and their reverse complements, so that some chunks lose every frame to a stop
stop_rich = st.lists(
    st.sampled_from(["TAA", "TAG", "TGA", "TTA", "CTA", "TCA", "A", "C", "N", "TCTAAATTAACTTAAG"]),
    min_size=1,
    max_size=30,
).map("".join)
reads = st.lists(
    st.one_of(st.text(letters, min_size=1, max_size=90), stop_rich), min_size=1, max_size=12
)
lengths = st.integers(min_value=1, max_value=40)


def _records(sequences: list[str]) -> list[FastaRecord]:
    return [FastaRecord(f"r{i}", seq) for i, seq in enumerate(sequences)]


def _stream(records: list[FastaRecord], size: int) -> tuple[StreamCounts, list, list]:
    """The stream's counts, its kept frames and every (id, level, reason) it reported."""
    counts = StreamCounts()
    listed: list[tuple[str, str, str]] = []
    sinks = StreamSinks(on_no_frame=lambda *row: listed.append(row))
    frames = [f for s in iter_shards(records, size, shard_frames=5, counts=counts, sinks=sinks)
              for f in s.frames]  # fmt: skip
    return counts, frames, listed


def _expected_reason(chunk: str) -> str:
    """The reason by the rules, read off the sequence: a codon in no frame, an A/C/G/T codon in
    no frame, or else a stop in every frame that translates."""
    if len(chunk) < 3:
        return TOO_SHORT
    return STOP_CODON if READ_CODON.search(chunk.upper()) else MOSTLY_N


@settings(max_examples=150, deadline=None)
@given(reads, lengths)
def test_reads_and_chunks_split_into_kept_and_not_kept(sequences: list[str], size: int) -> None:
    records = _records(sequences)
    counts, frames, listed = _stream(records, size)
    dropped = counts.dropped.counts()
    chunks_with = {f.chunk_id for f in frames}
    reads_with = {f.chunk_id.rsplit("_chunk_", 1)[0] for f in frames}
    assert counts.chunks == len(chunks_with) + dropped.chunks_without_kept_frame
    assert counts.reads == len(reads_with) + dropped.reads_without_kept_frame
    assert sum(dropped.chunks_by_reason.values()) == dropped.chunks_without_kept_frame
    assert sum(dropped.reads_by_reason.values()) == dropped.reads_without_kept_frame
    listed_chunks = {i for i, level, _ in listed if level == CHUNK_LEVEL}
    listed_reads = {i for i, level, _ in listed if level == READ_LEVEL}
    assert len(listed) == len(listed_chunks) + len(listed_reads)  # each id listed once
    assert listed_chunks == {c.id for r in records for c in chunk_record(r, size)} - chunks_with
    assert listed_reads == {r.id for r in records} - reads_with


@settings(max_examples=150, deadline=None)
@given(reads, lengths)
def test_each_reason_follows_the_translation_rules(sequences: list[str], size: int) -> None:
    records = _records(sequences)
    counts, _, listed = _stream(records, size)
    reasons = {(i, level): reason for i, level, reason in listed}
    for record in records:
        chunks = chunk_record(record, size)
        dropped = [c for c in chunks if (c.id, CHUNK_LEVEL) in reasons]
        for chunk in dropped:
            assert reasons[chunk.id, CHUNK_LEVEL] == _expected_reason(chunk.sequence)
        if len(dropped) == len(chunks):  # the whole read kept nothing
            chunk_reasons = {reasons[c.id, CHUNK_LEVEL] for c in chunks}
            assert reasons[record.id, READ_LEVEL] == read_reason(chunk_reasons)
        else:
            assert (record.id, READ_LEVEL) not in reasons
    by_reason = DropTally()
    for (_, level), reason in reasons.items():
        (by_reason.chunks if level == CHUNK_LEVEL else by_reason.reads)[reason] += 1
    assert counts.dropped.counts() == by_reason.counts()


@pytest.mark.parametrize(
    ("sequence", "reason"),
    [
        ("AC", TOO_SHORT),
        ("n", TOO_SHORT),
        ("NNNNNNNNN", MOSTLY_N),
        ("ANNANNANNA", MOSTLY_N),  # every codon of every frame holds an N
        ("RYSWKMNNN", MOSTLY_N),  # other ambiguity codes translate to nothing too
        ("TCTAAATTAACTTAAGNNNN", STOP_CODON),  # every frame that translates has a stop
    ],
)
def test_chunk_reasons(sequence: str, reason: str) -> None:
    record = FastaRecord("x", sequence)
    (chunk,) = chunk_record(record, 500)
    kept, why = chunk_frames(chunk)
    assert kept == [] and why == reason


def test_a_chunk_that_keeps_a_frame_has_no_reason() -> None:
    (chunk,) = chunk_record(FastaRecord("x", "ATGAAACCC"), 500)
    kept, why = chunk_frames(chunk)
    assert kept and why is None


def test_a_read_is_stop_codon_when_any_chunk_translated() -> None:
    assert read_reason({MOSTLY_N, STOP_CODON}) == STOP_CODON
    assert read_reason({MOSTLY_N}) == MOSTLY_N
    assert read_reason({TOO_SHORT}) == TOO_SHORT


def test_counts_survive_json_and_refuse_unknown_reasons() -> None:
    tally = DropTally()
    for reason in (STOP_CODON, None, MOSTLY_N):
        tally.chunk(reason)
    assert tally.end_read() is None  # one chunk kept a frame
    tally.chunk(MOSTLY_N)
    assert tally.end_read() == MOSTLY_N
    counts = tally.counts()
    assert (counts.reads_without_kept_frame, counts.chunks_without_kept_frame) == (1, 3)
    assert list(counts.chunks_by_reason) == list(NO_FRAME_REASONS)
    from dataclasses import asdict

    assert DropCounts.from_dict(asdict(counts)) == counts
    bad = {**asdict(counts), "reads_by_reason": {"gap": 1}}
    with pytest.raises(ValueError, match="gap"):
        DropCounts.from_dict(bad)


def test_the_console_lines_name_only_the_reasons_that_occurred() -> None:
    counts = DropCounts(
        reads_without_kept_frame=2,
        chunks_without_kept_frame=5,
        reads_by_reason={STOP_CODON: 1, MOSTLY_N: 1, TOO_SHORT: 0},
        chunks_by_reason={STOP_CODON: 4, MOSTLY_N: 1, TOO_SHORT: 0},
    )
    first, second = describe(counts, reads=10, chunks=20)
    assert first == "without a kept frame (no row in the outputs): 2 of 10 reads, 5 of 20 chunks"
    assert f"{REASON_LABELS[STOP_CODON]}: 1 reads, 4 chunks" in second
    assert f"{REASON_LABELS[MOSTLY_N]}: 1 reads, 1 chunks" in second
    assert REASON_LABELS[TOO_SHORT] not in second
    assert describe(DropCounts(), reads=3, chunks=3) == [
        "without a kept frame (no row in the outputs): 0 of 3 reads, 0 of 3 chunks"
    ]


def test_random_dna_of_500_bases_almost_always_keeps_nothing_for_a_stop() -> None:
    """The common case in real data: every frame of a random 500-base chunk has a stop."""
    rng = random.Random(11)
    records = _records(["".join(rng.choice("ACGT") for _ in range(500)) for _ in range(20)])
    counts, frames, _ = _stream(records, 500)
    dropped = counts.dropped.counts()
    assert dropped.reads_without_kept_frame == 20 - len({f.chunk_id for f in frames})
    assert dropped.reads_by_reason[STOP_CODON] == dropped.reads_without_kept_frame > 0
