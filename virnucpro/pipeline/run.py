"""The ``predict`` pipeline: stage functions wired in order, streamed shard by shard.

Reading, chunking and translation run in a background thread (they overlap the embedding of
the previous shard); each shard's results are written to the resumable work folder; rank 0
merges them in input order and publishes the result files, ``run_metrics.json`` last.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import torch

from virnucpro import __version__
from virnucpro.engines import Engine
from virnucpro.engines.registry import engine_for
from virnucpro.errors import InputError, RunFailure
from virnucpro.models.presets import ModelSet, check_preset, load_model_set
from virnucpro.pipeline.device import resolve_device
from virnucpro.pipeline.distributed import DistContext
from virnucpro.pipeline.metrics import (
    RUN_METRICS_FILE,
    RankTimes,
    RunMetrics,
    StageMetrics,
    combine_rank_stages,
    read_rank_stages,
)
from virnucpro.pipeline.outputs import OutputPaths, StagedOutputs, check_outdir, prepare_outdir
from virnucpro.pipeline.preflight import check_paths, scan_input
from virnucpro.pipeline.shard_io import IntermediateWriters, merge_shards, process_shard
from virnucpro.pipeline.shards import (
    SHARD_FRAMES,
    Shard,
    ShardCallback,
    StreamCounts,
    assign_shards,
    iter_shards,
    prefetch,
    shard_reporter,
)
from virnucpro.pipeline.workdir import WorkDir
from virnucpro.stages.fasta import input_stem, iter_fasta

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
    engine: str = "fast"
    models: str = "tiny"
    dnabert: Path | None = None
    esm: Path | None = None
    classifier: Path | None = None
    allow_pickle_classifier: bool = False
    device: str = "auto"
    precision: str = "auto"
    keep_intermediate: bool = False
    force: bool = False
    resume: bool = False
    shard_frames: int = SHARD_FRAMES
    check_equivalence: bool = False
    threads: int | None = None  # torch CPU threads (None: torch's default, or cores per rank)
    max_tokens: int | None = None  # fast engine: padded tokens per batch (None: the device's)


@dataclass(frozen=True)
class PredictResult:
    paths: OutputPaths
    metrics: RunMetrics | None  # None on ranks other than 0
    rank: int = 0


def _positive(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _check_numbers(config: PredictConfig) -> None:
    if not _positive(config.expected_length):
        raise InputError(
            f"--expected-length must be a positive integer (got {config.expected_length!r})"
        )
    if config.max_tokens is not None and not _positive(config.max_tokens):
        raise InputError(f"--max-tokens must be a positive integer (got {config.max_tokens!r})")


def _engine(config: PredictConfig) -> Engine:
    return engine_for(config.engine, precision=config.precision, max_tokens=config.max_tokens)


def _manifest(
    config: PredictConfig, engine: Engine, models: ModelSet, sha: str
) -> dict[str, object]:
    return {
        "input_sha256": sha,
        "expected_length": config.expected_length,
        "engine": engine.name,
        "precision": engine.precision,
        "models": [f"{i.role}:{i.name}:{i.source}:{i.checksum}" for i in models.identities],
        "shard_frames": config.shard_frames,
        "keep_intermediate": config.keep_intermediate,
        # batches decide which sequences share a padded kernel call: the same, for the same bits
        "max_tokens": engine.token_budget(models.device),
        # CPU matmul results can differ in the last bits with the thread count: a resumed run
        # must compute its remaining shards with the threads the finished ones used
        "torch_threads": torch.get_num_threads(),
    }


def _load_models(
    config: PredictConfig, engine: Engine, device: torch.device, times: RankTimes
) -> ModelSet:
    """The models in the engine's dtype: one copy of the weights on the device. The vanilla
    pass of ``--check-equivalence`` needs the float32 weights, so they are kept then."""
    start = time.perf_counter()
    models = load_model_set(
        preset=config.models,
        dnabert=config.dnabert,
        esm=config.esm,
        classifier=config.classifier,
        allow_pickle_classifier=config.allow_pickle_classifier,
        device=device,
        dtype=torch.float32 if config.check_equivalence else engine.weights_dtype(device),
    )
    times.add(StageMetrics("load_models", time.perf_counter() - start, 0, 3))
    return models


def _plan(config: PredictConfig, dist: DistContext) -> set[int] | None:
    """Shards this rank embeds (None: all). Every rank derives the same plan from the input."""
    if not dist.active:
        return None
    costs = [
        s.cost
        for s in iter_shards(
            iter_fasta(config.input), config.expected_length, shard_frames=config.shard_frames
        )
    ]
    return set(assign_shards(costs, dist.world_size)[dist.rank])


def _stream(
    config: PredictConfig, counts: StreamCounts, writers: IntermediateWriters | None
) -> Iterator[Shard]:
    shards = iter_shards(
        iter_fasta(config.input),
        config.expected_length,
        shard_frames=config.shard_frames,
        counts=counts,
        sinks=writers.sinks() if writers else None,
    )
    return prefetch(shards)


def _run_shards(
    config: PredictConfig,
    engine: Engine,
    models: ModelSet,
    work: WorkDir,
    mine: set[int] | None,
    writers: IntermediateWriters | None,
    times: RankTimes,
    on_shard: Callable[[Shard, StreamCounts], None],
) -> tuple[StreamCounts, int]:
    counts = StreamCounts()
    n_shards = 0
    for shard in _stream(config, counts, writers):
        n_shards += 1
        if (mine is not None and shard.index not in mine) or work.is_done(shard.index):
            continue
        for stage in process_shard(
            shard, engine, models, work, keep_embeddings=config.keep_intermediate
        ):
            times.add(stage)
        work.mark_done(shard.index)
        on_shard(shard, counts)
    if writers:
        writers.close()
    for name, seconds, n_in, n_out in (
        ("read", counts.read_seconds, 0, counts.reads),
        ("chunk", counts.chunk_seconds, counts.reads, counts.chunks),
        ("translate", counts.translate_seconds, counts.chunks, counts.frames),
    ):
        times.add(StageMetrics(name, seconds, n_in, n_out))
    return counts, n_shards


def predict(
    config: PredictConfig,
    *,
    models: ModelSet | None = None,
    on_shard: ShardCallback | None = None,
) -> PredictResult:
    """Run the pipeline on one FASTA file and publish the outputs in ``config.outdir``.

    ``models`` may be passed in (already loaded) so repeated runs do not pay the load again.
    ``on_shard`` hears of each shard this rank embeds (progress lines in logs).
    Under ``torchrun`` (or ``--gpus``/``--nproc``) every rank calls this; rank 0 publishes.
    """
    _check_numbers(config)
    check_paths(  # every path, before the device, the models or the input's content
        input=config.input,
        outdir=config.outdir,
        dnabert=config.dnabert,
        esm=config.esm,
        classifier=config.classifier,
    )
    dist = DistContext.from_env()
    requested = models.device if models is not None else resolve_device(config.device)
    device = dist.device_for(requested)
    dist.init(device)
    threads_before = torch.get_num_threads()
    if config.threads:
        torch.set_num_threads(config.threads)
    try:
        return _predict(config, models, dist, device, on_shard)
    finally:
        torch.set_num_threads(threads_before)
        dist.close()


@dataclass
class _Run:
    """What one rank's run carries from stage to stage."""

    config: PredictConfig
    engine: Engine
    models: ModelSet
    dist: DistContext
    work: WorkDir
    sha: str
    started: float
    times: RankTimes
    input_bases: int = 0
    on_shard: ShardCallback | None = None
    warnings: list[str] = field(default_factory=list)
    extra: dict[str, object] = field(default_factory=dict)


def _adopt_recorded_threads(config: PredictConfig, work: WorkDir) -> str | None:
    """On resume, compute with the thread count of the interrupted run (exact same results)."""
    recorded = work.manifest().get("torch_threads") if config.resume else None
    if not isinstance(recorded, int) or config.threads or recorded == torch.get_num_threads():
        return None
    torch.set_num_threads(recorded)
    return f"resumed with {recorded} torch threads, as the interrupted run used"


def _start(
    config: PredictConfig, models: ModelSet | None, dist: DistContext, device: torch.device
) -> _Run:
    engine = _engine(config)
    if models is None:
        check_preset(config.models)
    work = WorkDir.inside(config.outdir)
    if dist.is_main and not (config.resume and work.exists()):
        check_outdir(config.outdir, force=config.force)
    started = time.perf_counter()
    summary = scan_input(config.input)  # the whole input is valid before any model loads
    adopted = _adopt_recorded_threads(config, work)
    times = RankTimes()
    if models is None:
        models = _load_models(config, engine, device, times)
    engine.prepare(models)
    run = _Run(config, engine, models, dist, work, summary.sha256, started, times, summary.bases)
    if adopted:
        run.warnings.append(adopted)
    if config.expected_length not in PUBLISHED_LENGTHS:
        run.warnings.append(
            f"expected length {config.expected_length}: "
            "the published models are trained for 300 or 500"
        )
    if dist.is_main:
        prepare_outdir(config.outdir, force=True)
        work.start(_manifest(config, engine, models, run.sha), resume=config.resume)
    dist.barrier()
    return run


def _embed_my_shards(run: _Run) -> tuple[StreamCounts, int]:
    config, dist = run.config, run.dist
    mine = _plan(config, dist)
    keep = dist.is_main and config.keep_intermediate
    writers = IntermediateWriters.open(run.work) if keep else None
    ok = False
    try:
        counts, n_shards = _run_shards(
            config,
            run.engine,
            run.models,
            run.work,
            mine,
            writers,
            run.times,
            shard_reporter(run.on_shard, run.started, run.input_bases, dist.rank, dist.world_size),
        )
        run.times.write(run.work.rank_metrics(dist.rank))
        ok = True
    finally:
        everyone_ok = dist.all_ok(ok)  # every rank learns of a failure instead of waiting
    dist.close()  # all ranks are here: leave now, so none waits while rank 0 merges
    if not everyone_ok:
        raise RunFailure("another rank failed (see its error); nothing was published")
    return counts, n_shards


def _predict(
    config: PredictConfig,
    models: ModelSet | None,
    dist: DistContext,
    device: torch.device,
    on_shard: ShardCallback | None,
) -> PredictResult:
    run = _start(config, models, dist, device)
    run.on_shard = on_shard
    counts, n_shards = _embed_my_shards(run)
    paths = OutputPaths(config.outdir, input_stem(config.input), config.expected_length)
    if not dist.is_main:
        return PredictResult(paths, None, dist.rank)
    if counts.frames == 0:
        warnings.warn(NO_FRAMES_WARNING, NoKeptFramesWarning, stacklevel=3)
        run.warnings.append(NO_FRAMES_WARNING)
    if config.check_equivalence:
        run.extra["equivalence"] = _check_equivalence(config, run.models)
    return PredictResult(paths, _publish(run, paths, counts, n_shards), dist.rank)


def _check_equivalence(config: PredictConfig, models: ModelSet) -> dict[str, object]:
    """The run's engine against vanilla on the same input (a second, vanilla pass over it),
    with the run's options (vanilla takes none: it is the published tool)."""
    from virnucpro.pipeline.equivalence import equivalence_check

    options = {"precision": config.precision, "token_budget": config.max_tokens}
    report = equivalence_check(
        config.input,
        models,
        device=models.device,
        reference="vanilla",
        candidate=config.engine,
        expected_length=config.expected_length,
        candidate_options={} if config.engine == "vanilla" else options,
    )
    return report.as_dict()


def _run_metrics(
    run: _Run, counts: StreamCounts, n_shards: int, stages: tuple[StageMetrics, ...], per_rank: list
) -> RunMetrics:
    config, models = run.config, run.models
    return RunMetrics(
        virnucpro_version=__version__,
        engine=run.engine.name,
        device=str(models.device),
        precision=run.engine.precision,
        expected_length=config.expected_length,
        input_path=str(config.input),
        input_sha256=run.sha,
        reads=counts.reads,
        bases=counts.bases,
        chunks=counts.chunks,
        kept_frames=counts.frames,
        dnabert_tokens=sum(s.tokens for s in stages if s.name == "dnabert"),
        esm_tokens=sum(s.tokens for s in stages if s.name == "esm"),
        total_seconds=time.perf_counter() - run.started,
        stages=stages,
        models=tuple(i.as_dict() for i in models.identities),
        models_meaningful=models.meaningful,
        model_note=models.note,
        world_size=run.dist.world_size,
        warnings=tuple(run.warnings),
        dropped=counts.dropped.counts(),
        extra={
            "shards": n_shards,
            "shard_frames": config.shard_frames,
            "resumed": config.resume,
            "rank_stage_seconds": [{s.name: s.seconds for s in r} for r in per_rank],
            "load_reports": models.load_report_dicts(),
            **run.extra,
        },
    )


def _publish(run: _Run, paths: OutputPaths, counts: StreamCounts, n_shards: int) -> RunMetrics:
    """Merge the shards into the staging folder, then move everything into OUTDIR."""
    staging = StagedOutputs(paths)
    try:
        merge_start = time.perf_counter()
        merge_shards(
            run.work, n_shards, staging.staged, keep_intermediate=run.config.keep_intermediate
        )
        merged = StageMetrics(
            "merge_shards", time.perf_counter() - merge_start, n_shards, counts.frames
        )
        per_rank = [read_rank_stages(run.work.rank_metrics(r)) for r in range(run.dist.world_size)]
        metrics = _run_metrics(
            run, counts, n_shards, combine_rank_stages(per_rank, merged), per_rank
        )
        metrics.write(staging.staged.outdir)
        staging.publish(last=(RUN_METRICS_FILE,))
    except BaseException:
        staging.discard()
        raise
    run.work.remove()
    return metrics
