"""The ``predict`` pipeline: the stage functions wired in order, timed, written atomically."""

from __future__ import annotations

import hashlib
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import torch

from virnucpro import __version__
from virnucpro.aggregate import ChunkCall, FramePrediction, aggregate_chunks
from virnucpro.chunking import Chunk, chunk_records
from virnucpro.classify import predicted_labels
from virnucpro.device import resolve_device
from virnucpro.engines import Engine, get_engine
from virnucpro.errors import InputError
from virnucpro.fasta import FastaRecord, input_stem, read_fasta
from virnucpro.merge import merge_features
from virnucpro.metrics import RUN_METRICS_FILE, RunMetrics, StageRecorder
from virnucpro.models.presets import ModelSet, load_model_set
from virnucpro.outputs import (
    HIGHEST_HEADER,
    PREDICTIONS_HEADER,
    OutputPaths,
    StagedOutputs,
    check_outdir,
    prepare_outdir,
    write_chunk_calls,
    write_chunked_fasta,
    write_embeddings,
    write_frames_fasta,
    write_predictions,
)
from virnucpro.translate import KeptFrame, keep_frames

PUBLISHED_LENGTHS = (300, 500)
NO_FRAMES_WARNING = "no frame was kept (every frame has a stop codon): outputs hold headers only"


class NoKeptFramesWarning(UserWarning):
    """The published tool crashes here; we warn and write header-only outputs."""


@dataclass(frozen=True)
class PredictConfig:
    """Everything ``virnucpro predict`` takes."""

    input: Path
    outdir: Path
    expected_length: int = 500
    engine: str = "vanilla"
    models: str = "tiny"
    dnabert: Path | None = None
    esm: Path | None = None
    classifier: Path | None = None
    allow_pickle_classifier: bool = False
    device: str = "auto"
    keep_intermediate: bool = False
    force: bool = False


@dataclass(frozen=True)
class PredictResult:
    paths: OutputPaths
    metrics: RunMetrics
    frames: tuple[KeptFrame, ...]
    predictions: tuple[FramePrediction, ...]
    calls: tuple[ChunkCall, ...]
    dnabert: torch.Tensor
    esm: torch.Tensor


@dataclass(frozen=True)
class _Embedded:
    dnabert: torch.Tensor
    esm: torch.Tensor
    probabilities: torch.Tensor


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _check_length(expected_length: int) -> None:
    if not isinstance(expected_length, int) or expected_length <= 0:
        raise InputError(f"--expected-length must be a positive integer (got {expected_length!r})")


def _embed_and_classify(
    engine: Engine, models: ModelSet, frames: list[KeptFrame], rec: StageRecorder
) -> _Embedded:
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
        probabilities = engine.classify(models, features) if frames else torch.empty((0, 2))
        c["items_out"] = probabilities.shape[0]
    return _Embedded(dna.vectors, prot.vectors, probabilities)


def _predictions(frames: list[KeptFrame], probabilities: torch.Tensor) -> list[FramePrediction]:
    labels = predicted_labels(probabilities)
    scores = probabilities.tolist()
    return [
        FramePrediction(f.id, label, s[0], s[1])
        for f, label, s in zip(frames, labels, scores, strict=True)
    ]


def _write_outputs(
    paths: OutputPaths,
    chunks: list[Chunk],
    frames: list[KeptFrame],
    predictions: list[FramePrediction],
    calls: list[ChunkCall],
    embedded: _Embedded,
    *,
    keep_intermediate: bool,
) -> None:
    from virnucpro.atomic import atomic_writer

    with atomic_writer(paths.predictions) as handle:
        handle.write(PREDICTIONS_HEADER)
        write_predictions(handle, predictions)
    with atomic_writer(paths.highest) as handle:
        handle.write(HIGHEST_HEADER)
        write_chunk_calls(handle, calls)
    if not keep_intermediate:
        return
    with atomic_writer(paths.chunked) as handle:
        write_chunked_fasta(handle, chunks)
    with atomic_writer(paths.nucleotide) as handle:
        write_frames_fasta(handle, frames, protein=False)
    with atomic_writer(paths.protein) as handle:
        write_frames_fasta(handle, frames, protein=True)
    write_embeddings(paths.embeddings, [f.id for f in frames], embedded.dnabert, embedded.esm)


def _read_stages(
    config: PredictConfig, rec: StageRecorder
) -> tuple[list[FastaRecord], list[Chunk], list[KeptFrame]]:
    with rec.stage("read") as c:
        records = read_fasta(config.input)
        c["items_out"] = len(records)
    with rec.stage("chunk", items_in=len(records)) as c:
        chunks = chunk_records(records, config.expected_length)
        c["items_out"] = len(chunks)
    with rec.stage("translate", items_in=len(chunks)) as c:
        frames = keep_frames(chunks)
        c["items_out"] = len(frames)
    return records, chunks, frames


def _stage_tokens(rec: StageRecorder, name: str) -> int:
    return sum(s.tokens for s in rec.stages if s.name == name)


def predict(config: PredictConfig, *, models: ModelSet | None = None) -> PredictResult:
    """Run the whole pipeline on one FASTA file and publish the outputs in ``config.outdir``.

    ``models`` may be passed in (already loaded) so repeated runs do not pay the load again.
    """
    _check_length(config.expected_length)
    device = models.device if models is not None else resolve_device(config.device)
    engine = get_engine(config.engine)
    check_outdir(config.outdir, force=config.force)
    started = time.perf_counter()
    rec = StageRecorder(device)
    run_warnings: list[str] = []
    if config.expected_length not in PUBLISHED_LENGTHS:
        run_warnings.append(
            f"expected length {config.expected_length}: "
            "the published models are trained for 300 or 500"
        )
    records, chunks, frames = _read_stages(config, rec)
    if models is None:
        with rec.stage("load_models") as c:
            models = load_model_set(
                preset=config.models,
                dnabert=config.dnabert,
                esm=config.esm,
                classifier=config.classifier,
                allow_pickle_classifier=config.allow_pickle_classifier,
                device=device,
            )
            c["items_out"] = 3
    if not frames:
        warnings.warn(NO_FRAMES_WARNING, NoKeptFramesWarning, stacklevel=2)
        run_warnings.append(NO_FRAMES_WARNING)
    embedded = _embed_and_classify(engine, models, frames, rec)
    with rec.stage("aggregate", items_in=len(frames)) as c:
        predictions = _predictions(frames, embedded.probabilities)
        calls = aggregate_chunks(predictions)
        c["items_out"] = len(calls)
    prepare_outdir(config.outdir, force=config.force)
    final = OutputPaths(config.outdir, input_stem(config.input), config.expected_length)
    staging = StagedOutputs(final)
    try:
        with rec.stage("write", items_in=len(predictions)) as c:
            _write_outputs(
                staging.staged,
                chunks,
                frames,
                predictions,
                calls,
                embedded,
                keep_intermediate=config.keep_intermediate,
            )
            c["items_out"] = len(predictions)
        metrics = RunMetrics(
            virnucpro_version=__version__,
            engine=engine.name,
            device=str(device),
            precision=engine.precision,
            expected_length=config.expected_length,
            input_path=str(config.input),
            input_sha256=_sha256(Path(config.input)),
            reads=len(records),
            bases=sum(len(r.sequence) for r in records),
            chunks=len(chunks),
            kept_frames=len(frames),
            dnabert_tokens=_stage_tokens(rec, "dnabert"),
            esm_tokens=_stage_tokens(rec, "esm"),
            total_seconds=time.perf_counter() - started,
            stages=rec.stages,
            models=tuple(i.as_dict() for i in models.identities),
            models_meaningful=models.meaningful,
            model_note=models.note,
            warnings=tuple(run_warnings),
        )
        metrics.write(staging.staged.outdir)
        staging.publish(last=(RUN_METRICS_FILE,))
    except BaseException:
        staging.discard()
        raise
    return PredictResult(
        paths=final,
        metrics=metrics,
        frames=tuple(frames),
        predictions=tuple(predictions),
        calls=tuple(calls),
        dnabert=embedded.dnabert,
        esm=embedded.esm,
    )
