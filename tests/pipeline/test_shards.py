"""Shards stream: a long record yields shards while its chunks are still being cut."""

from __future__ import annotations

import random

from tests.conftest import orf_sequence
from virnucpro.pipeline.shards import CHUNK_BATCH, StreamCounts, iter_shards
from virnucpro.stages.chunking import chunk_records
from virnucpro.stages.fasta import FastaRecord
from virnucpro.stages.translate import keep_frames


def test_a_long_record_streams_in_batches_of_chunks():
    record = FastaRecord("long", orf_sequence(random.Random(3), 500 * CHUNK_BATCH * 3))
    counts = StreamCounts()
    shards = iter_shards([record], 500, shard_frames=100, counts=counts)
    first = next(shards)
    assert len(first.frames) == 100
    assert counts.chunks == CHUNK_BATCH  # one batch cut, not the record's 3000 chunks
    rest = list(shards)
    assert counts.chunks == 3 * CHUNK_BATCH
    streamed = [f for shard in (first, *rest) for f in shard.frames]
    assert streamed == keep_frames(chunk_records([record], 500))
    assert [s.index for s in (first, *rest)] == list(range(1 + len(rest)))


def test_shards_cross_record_boundaries_in_input_order():
    rng = random.Random(5)
    records = [FastaRecord(f"r{i}", orf_sequence(rng, 700 + 50 * i)) for i in range(7)]
    counts = StreamCounts()
    shards = list(iter_shards(records, 300, shard_frames=4, counts=counts))
    streamed = [f for shard in shards for f in shard.frames]
    assert streamed == keep_frames(chunk_records(records, 300))
    assert all(len(s.frames) == 4 for s in shards[:-1]) and 0 < len(shards[-1].frames) <= 4
    assert counts.reads == 7 and counts.frames == len(streamed)
    assert counts.bases == sum(len(r.sequence) for r in records)
