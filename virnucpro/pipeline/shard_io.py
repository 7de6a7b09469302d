"""Per-shard computation and files, and the merge of all shards into the published outputs.

A shard's results are three files in the work folder: prediction rows (``pred.tsv``), its
chunks' partial maxima sorted by ``Modified_ID`` (``calls.tsv``), and, with
``--keep-intermediate``, its embeddings (``emb.npz``). Merging concatenates the rows in shard
order and k-way merges the sorted partial calls, so memory stays bounded by one shard.
"""

from __future__ import annotations

import heapq
import itertools
import shutil
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

import numpy as np
import torch

from virnucpro.atomic import atomic_writer
from virnucpro.pipeline.metrics import StageMetrics, StageRecorder
from virnucpro.pipeline.outputs import (
    HIGHEST_HEADER,
    NO_KEPT_FRAME_HEADER,
    PREDICTIONS_HEADER,
    OutputPaths,
    format_score,
    write_chunked_fasta,
    write_frames_fasta,
    write_no_kept_frame,
    write_predictions,
)
from virnucpro.pipeline.shards import Shard, StreamSinks
from virnucpro.stages.aggregate import FramePrediction, chunk_maxima, is_virus
from virnucpro.stages.chunking import Chunk
from virnucpro.stages.classify import frame_predictions
from virnucpro.stages.merge import merge_features
from virnucpro.stages.translate import KeptFrame

if TYPE_CHECKING:
    from virnucpro.engines import Engine
    from virnucpro.models.presets import ModelSet
    from virnucpro.pipeline.workdir import WorkDir

COPY_BLOCK = 1 << 20
NO_KEPT_FRAME_WORK_FILE = "no_kept_frame.tsv"


def process_shard(
    shard: Shard, engine: Engine, models: ModelSet, work: WorkDir, *, keep_embeddings: bool
) -> tuple[StageMetrics, ...]:
    """Embed, classify and write one shard; return its stage clocks."""
    rec = StageRecorder(models.device)
    frames = shard.frames
    with rec.stage("dnabert", items_in=len(frames)) as c:
        dna = engine.embed_dna(models, [f.nucleotide for f in frames])
        c.update(items_out=dna.vectors.shape[0], tokens=dna.tokens, batches=dna.batches)
    with rec.stage("esm", items_in=len(frames)) as c:
        prot = engine.embed_protein(models, [f.protein for f in frames])
        c.update(items_out=prot.vectors.shape[0], tokens=prot.tokens, batches=prot.batches)
    with rec.stage("merge", items_in=len(frames)) as c:
        features = merge_features(dna.vectors, prot.vectors)
        c["items_out"] = features.shape[0]
    with rec.stage("classify", items_in=len(frames)) as c:
        probabilities = engine.classify(models, features)
        c["items_out"] = probabilities.shape[0]
    with rec.stage("aggregate", items_in=len(frames)) as c:
        predictions = frame_predictions(frames, probabilities)
        calls = chunk_maxima(predictions)
        c["items_out"] = len(calls)
    with rec.stage("write", items_in=len(frames)) as c:
        _write_shard(work, shard.index, predictions, calls)
        if keep_embeddings:
            _write_embeddings(
                work.shard_file(shard.index, "emb.npz"), frames, dna.vectors, prot.vectors
            )
        c["items_out"] = len(predictions)
    return rec.stages


def _write_shard(
    work: WorkDir,
    index: int,
    predictions: Sequence[FramePrediction],
    calls: Sequence[tuple[str, float, float]],
) -> None:
    with atomic_writer(work.shard_file(index, "pred.tsv")) as handle:
        write_predictions(handle, predictions)
    with atomic_writer(work.shard_file(index, "calls.tsv")) as handle:
        for key, others, virus in calls:
            handle.write(f"{key}\t{format_score(others)}\t{format_score(virus)}\n")


def _write_embeddings(
    path: Path, frames: Sequence[KeptFrame], dna: torch.Tensor, esm: torch.Tensor
) -> None:
    with atomic_writer(path, mode="wb", encoding=None) as handle:
        np.savez(
            handle,
            ids=np.asarray([f.id for f in frames], dtype=np.str_),
            dnabert=dna.float().numpy(),
            esm=esm.float().numpy(),
        )


# --- intermediates written while streaming ------------------------------------------------


@dataclass
class IntermediateWriters:
    """The published intermediates, streamed into the work folder by rank 0."""

    chunked: TextIO
    nucleotide: TextIO
    protein: TextIO
    no_frame: TextIO
    work: WorkDir

    @classmethod
    def open(cls, work: WorkDir) -> IntermediateWriters:
        def create(name: str) -> TextIO:
            return (work.path / name).open("w", encoding="utf-8")

        writers = cls(
            chunked=create("chunked.fa"),
            nucleotide=create("nucleotide.fa"),
            protein=create("protein.faa"),
            no_frame=create(NO_KEPT_FRAME_WORK_FILE),
            work=work,
        )
        writers.no_frame.write(NO_KEPT_FRAME_HEADER)
        return writers

    def sinks(self) -> StreamSinks:
        def on_chunks(chunks: Sequence[Chunk]) -> None:
            write_chunked_fasta(self.chunked, chunks)

        def on_frames(frames: Sequence[KeptFrame]) -> None:
            write_frames_fasta(self.nucleotide, frames, protein=False)
            write_frames_fasta(self.protein, frames, protein=True)

        def on_no_frame(item_id: str, level: str, reason: str) -> None:
            write_no_kept_frame(self.no_frame, item_id, level, reason)

        return StreamSinks(on_chunks=on_chunks, on_frames=on_frames, on_no_frame=on_no_frame)

    def close(self) -> None:
        for handle in (self.chunked, self.nucleotide, self.protein, self.no_frame):
            handle.close()


# --- merge --------------------------------------------------------------------------------


def _read_calls(path: Path) -> Iterator[tuple[str, float, float]]:
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            key, others, virus = line.rstrip("\n").split("\t")
            yield key, float(others), float(virus)


def _merged_calls(work: WorkDir, n_shards: int) -> Iterator[tuple[str, bool]]:
    """K-way merge of the sorted partial calls; a chunk split across shards is combined."""
    streams = [_read_calls(work.shard_file(i, "calls.tsv")) for i in range(n_shards)]
    merged = heapq.merge(*streams, key=lambda row: row[0])
    for key, rows in itertools.groupby(merged, key=lambda row: row[0]):
        others, virus = float("-inf"), float("-inf")
        for _, o, v in rows:
            others, virus = max(others, o), max(virus, v)
        yield key, is_virus(others, virus)


def _copy_into(handle: TextIO, path: Path) -> None:
    with path.open(encoding="utf-8") as source:
        shutil.copyfileobj(source, handle, COPY_BLOCK)


def _merge_embeddings(work: WorkDir, n_shards: int, folder: Path) -> None:
    """``STEM_embeddings/``: ``ids.txt`` (one id a line), ``dnabert.npy`` and ``esm.npy``."""
    shapes = []
    for i in range(n_shards):
        with np.load(work.shard_file(i, "emb.npz")) as data:
            shapes.append((data["dnabert"].shape, data["esm"].shape))
    total = sum(s[0][0] for s in shapes)
    d1 = shapes[0][0][1] if shapes else 0
    d2 = shapes[0][1][1] if shapes else 0
    folder.mkdir(parents=True, exist_ok=True)
    dna = np.lib.format.open_memmap(
        folder / "dnabert.npy", mode="w+", dtype=np.float32, shape=(total, d1)
    )
    esm = np.lib.format.open_memmap(
        folder / "esm.npy", mode="w+", dtype=np.float32, shape=(total, d2)
    )
    row = 0
    with (folder / "ids.txt").open("w", encoding="utf-8") as ids:
        for i in range(n_shards):
            with np.load(work.shard_file(i, "emb.npz")) as data:
                n = data["dnabert"].shape[0]
                dna[row : row + n] = data["dnabert"]
                esm[row : row + n] = data["esm"]
                ids.writelines(f"{x}\n" for x in data["ids"])
                row += n
    dna.flush()
    esm.flush()
    del dna, esm


def merge_shards(
    work: WorkDir, n_shards: int, staged: OutputPaths, *, keep_intermediate: bool
) -> None:
    """Write the published files into the staging folder from the finished shards."""
    with atomic_writer(staged.predictions) as handle:
        handle.write(PREDICTIONS_HEADER)
        for i in range(n_shards):
            _copy_into(handle, work.shard_file(i, "pred.tsv"))
    with atomic_writer(staged.highest) as handle:
        handle.write(HIGHEST_HEADER)
        handle.writelines(f"{key}\t{is_virus}\n" for key, is_virus in _merged_calls(work, n_shards))
    if not keep_intermediate:
        return
    for name, target in (
        ("chunked.fa", staged.chunked),
        ("nucleotide.fa", staged.nucleotide),
        ("protein.faa", staged.protein),
        (NO_KEPT_FRAME_WORK_FILE, staged.no_kept_frame),
    ):
        shutil.move(work.path / name, target)
    _merge_embeddings(work, n_shards, staged.embeddings)
