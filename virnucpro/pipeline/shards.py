"""Streaming the input as shards of kept frames, and sharing shards among ranks.

A shard is up to :data:`SHARD_FRAMES` consecutive kept frames in input order (the published
tool splits its kept frames into files of 10,000 and batches within each file, so the vanilla
engine reproduces its ESM-2 batches exactly). Host memory holds one or two shards at a time.
"""

from __future__ import annotations

import itertools
import queue
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field

from virnucpro.pipeline.dropped import CHUNK_LEVEL, READ_LEVEL, DropTally
from virnucpro.stages.chunking import Chunk, iter_record_chunks
from virnucpro.stages.fasta import FastaRecord
from virnucpro.stages.translate import KeptFrame, chunk_frames

SHARD_FRAMES = 10_000  # sequences_per_file of the published tool
PREFETCH_SHARDS = 2
CHUNK_BATCH = 1_000  # chunks cut and translated at a time: a long record streams in batches
PRODUCER_JOIN_S = 5.0
ESM_SPECIAL_TOKENS = 2


@dataclass(frozen=True)
class Shard:
    index: int
    frames: tuple[KeptFrame, ...]

    @property
    def cost(self) -> int:
        """Work estimate for balancing ranks: bases embedded by DNABERT-S plus ESM-2 tokens."""
        return sum(len(f.nucleotide) + len(f.protein) + ESM_SPECIAL_TOKENS for f in self.frames)


@dataclass
class StreamCounts:
    """What the stream has seen so far (filled as it is consumed)."""

    reads: int = 0
    bases: int = 0
    chunks: int = 0
    frames: int = 0
    read_seconds: float = 0.0
    chunk_seconds: float = 0.0
    translate_seconds: float = 0.0
    dropped: DropTally = field(default_factory=DropTally)  # reads and chunks without a frame


@dataclass(frozen=True)
class ShardProgress:
    """One shard embedded: what a progress line in a log says about it."""

    index: int  # 0-based, in input order
    frames: int  # kept frames in this shard
    frames_done: int  # kept frames this rank has embedded so far, this shard included
    bases_read: int  # may run ahead of the embedding: shards are read ahead
    bases_total: int  # of the whole input (from the input check)
    seconds: float  # since the run started
    rank: int = 0
    world_size: int = 1

    @property
    def fraction_read(self) -> float:
        return self.bases_read / self.bases_total if self.bases_total else 1.0


ShardCallback = Callable[[ShardProgress], None]


def shard_reporter(
    on_shard: ShardCallback | None, started: float, bases_total: int, rank: int, world_size: int
) -> Callable[[Shard, StreamCounts], None]:
    """A callback for each embedded shard that tells ``on_shard`` where the run stands."""
    done = 0

    def report(shard: Shard, counts: StreamCounts) -> None:
        nonlocal done
        done += len(shard.frames)
        if on_shard is not None:
            on_shard(
                ShardProgress(
                    index=shard.index,
                    frames=len(shard.frames),
                    frames_done=done,
                    bases_read=counts.bases,
                    bases_total=bases_total,
                    seconds=time.perf_counter() - started,
                    rank=rank,
                    world_size=world_size,
                )
            )

    return report


@dataclass
class StreamSinks:
    """Optional callbacks for the intermediates written while streaming."""

    on_chunks: Callable[[Sequence[Chunk]], None] | None = None
    on_frames: Callable[[Sequence[KeptFrame]], None] | None = None
    on_no_frame: Callable[[str, str, str], None] | None = None  # (id, "read"/"chunk", reason)


def iter_shards(
    records: Iterable[FastaRecord],
    expected_length: int,
    *,
    shard_frames: int = SHARD_FRAMES,
    counts: StreamCounts | None = None,
    sinks: StreamSinks | None = None,
) -> Iterator[Shard]:
    """Chunk, translate and group kept frames into shards, in input order."""
    counts = counts if counts is not None else StreamCounts()
    sinks = sinks or StreamSinks()
    buffer: list[KeptFrame] = []
    index = 0
    source = iter(records)
    while True:
        t0 = time.perf_counter()
        record = next(source, None)
        t1 = time.perf_counter()
        counts.read_seconds += t1 - t0
        if record is None:
            break
        counts.reads += 1
        counts.bases += len(record.sequence)
        record_id = record.id
        pending = iter_record_chunks(record, expected_length)
        del record  # freed once its chunks are cut, before the next record is read
        while chunks := list(itertools.islice(pending, CHUNK_BATCH)):
            buffer.extend(_frames_of(chunks, counts, sinks, t1))
            while len(buffer) >= shard_frames:
                yield Shard(index, tuple(buffer[:shard_frames]))
                buffer = buffer[shard_frames:]
                index += 1
            t1 = time.perf_counter()
        reason = counts.dropped.end_read()
        if reason is not None and sinks.on_no_frame:
            sinks.on_no_frame(record_id, READ_LEVEL, reason)
    if buffer:
        yield Shard(index, tuple(buffer))


def _frames_of(
    chunks: Sequence[Chunk], counts: StreamCounts, sinks: StreamSinks, since: float
) -> list[KeptFrame]:
    """Translate a batch of chunks, counting and timing both stages (cutting began at ``since``)."""
    counts.chunks += len(chunks)
    if sinks.on_chunks:
        sinks.on_chunks(chunks)
    t2 = time.perf_counter()
    counts.chunk_seconds += t2 - since
    kept: list[KeptFrame] = []
    for chunk in chunks:
        frames, reason = chunk_frames(chunk)
        counts.frames += len(frames)
        counts.dropped.chunk(reason)
        if sinks.on_frames and frames:
            sinks.on_frames(frames)
        if reason is not None and sinks.on_no_frame:
            sinks.on_no_frame(chunk.id, CHUNK_LEVEL, reason)
        kept.extend(frames)
    counts.translate_seconds += time.perf_counter() - t2
    return kept


def assign_shards(costs: Sequence[int], world_size: int) -> list[list[int]]:
    """Give each rank shards of about equal total cost (longest first, to the least loaded).

    Deterministic: ties go to the lower rank; each rank's list is in shard order.
    """
    loads = [0] * world_size
    owned: list[list[int]] = [[] for _ in range(world_size)]
    for index in sorted(range(len(costs)), key=lambda i: (-costs[i], i)):
        rank = min(range(world_size), key=lambda r: (loads[r], r))
        loads[rank] += costs[index]
        owned[rank].append(index)
    return [sorted(indices) for indices in owned]


_DONE = object()


def prefetch(items: Iterator[Shard], depth: int = PREFETCH_SHARDS) -> Iterator[Shard]:
    """Produce items in a background thread so reading/translation overlaps with compute.

    An exception in the producer is re-raised in the consumer; closing the consumer early
    stops the producer.
    """
    q: queue.Queue[object] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def produce() -> None:
        try:
            for item in items:
                while not stop.is_set():
                    try:
                        q.put(item, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            q.put(_DONE)
        except BaseException as exc:  # handed to the consumer
            q.put(exc)

    thread = threading.Thread(target=produce, name="virnucpro-reader", daemon=True)
    thread.start()
    try:
        while True:
            item = q.get()
            if item is _DONE:
                return
            if isinstance(item, BaseException):
                raise item
            yield item  # type: ignore[misc]
    finally:
        stop.set()
        thread.join(timeout=PRODUCER_JOIN_S)  # no reader thread outlives its consumer
