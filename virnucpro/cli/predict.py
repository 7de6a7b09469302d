"""``virnucpro predict INPUT -o OUTDIR``: wires the pipeline's options to the library."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from virnucpro.pipeline.metrics import RunMetrics
    from virnucpro.pipeline.outputs import OutputPaths
    from virnucpro.pipeline.shards import ShardProgress

DEFAULT_LENGTH = 500
PRESET_HELP = (
    "model preset: tiny (default; random weights, not biologically meaningful), "
    "dnabert-s+esm2-35m, dnabert-s+esm2-650m, dnabert-s+esm2-3b (published sizes, random weights)"
)


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text!r}")
    return value


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("predict", help="classify the sequences of a FASTA file")
    p.add_argument("input", type=Path, help="nucleotide FASTA, plain or gzip")
    p.add_argument("-o", "--outdir", type=Path, required=True, help="output folder")
    p.add_argument(
        "--expected-length",
        type=positive_int,
        default=DEFAULT_LENGTH,
        help="chunk length the classifier was trained for: 300 or 500 (default 500)",
    )
    p.add_argument(
        "--engine",
        default="fast",
        help="inference engine: fast (default; batched, mixed precision on GPU, tested equal to "
        "vanilla) or vanilla (the published tool, step for step)",
    )
    p.add_argument("--models", default="tiny", help=PRESET_HELP)
    p.add_argument(
        "--dnabert",
        type=Path,
        help="local DNABERT-S snapshot folder (zhihan1996/DNABERT-S layout); no code from it runs",
    )
    p.add_argument(
        "--esm", type=Path, help="local ESM-2 checkpoint: fair-esm .pt file or Hugging Face folder"
    )
    p.add_argument(
        "--classifier", type=Path, help="classifier state dict (.pth/.pt) or .safetensors"
    )
    p.add_argument(
        "--allow-pickle-classifier",
        action="store_true",
        help="allow a pickled whole-module classifier such as the published 300_model.pth/"
        "500_model.pth; loading it RUNS CODE FROM THE FILE: only for files you trust",
    )
    p.add_argument("--device", default="auto", help="auto (default), cpu, cuda or cuda:N")
    p.add_argument(
        "--keep-intermediate",
        action="store_true",
        help="also write the chunked FASTA, kept-frame FASTAs and per-frame embeddings",
    )
    p.add_argument(
        "--force", action="store_true", help="write into an existing non-empty output folder"
    )
    p.add_argument(
        "--precision",
        default="auto",
        choices=("auto", "fp32", "bf16", "fp16"),
        help="fast engine: auto (bf16 on a GPU with native bf16, compute capability 8.0+; fp16 on "
        "older GPUs; fp32 on CPU), fp32, bf16 or fp16; vanilla is fp32",
    )
    p.add_argument(
        "--max-tokens",
        type=positive_int,
        default=None,
        help="fast engine: padded tokens per batch (default 32768 on a GPU, 1024 on CPU); lower "
        "it when a batch runs out of GPU memory",
    )
    p.add_argument(
        "--resume",
        action="store_true",
        help="continue a run that was stopped (SIGINT/SIGTERM/crash) in the same output folder",
    )
    p.add_argument(
        "--gpus",
        help="run one rank per listed GPU on this node, e.g. 0,1 (torch.distributed)",
    )
    p.add_argument(
        "--nproc",
        type=positive_int,
        help="run N local ranks (torch.distributed); multi-node: use torchrun, see README",
    )
    p.add_argument(
        "--shard-frames",
        type=positive_int,
        default=None,
        help="kept frames per shard (unit of streaming, resume and rank work; default 10000, "
        "the published tool's file size)",
    )
    p.add_argument(
        "--threads",
        type=positive_int,
        help="torch CPU threads (default: torch's choice; with --nproc, cores per rank)",
    )
    p.add_argument(
        "--check-equivalence",
        action="store_true",
        help="also run the vanilla engine on the same input and record fast-vs-vanilla agreement "
        "(labels, scores, embeddings, speedup) in run_metrics.json",
    )
    p.add_argument("-q", "--quiet", action="store_true", help="print nothing on success")
    p.set_defaults(handler=run)


def _strip_launch_options(argv: list[str]) -> list[str]:
    """The rank command line: the same arguments without --gpus/--nproc."""
    out: list[str] = []
    skip = False
    for item in argv:
        if skip:
            skip = False
            continue
        if item in ("--gpus", "--nproc"):
            skip = True
            continue
        if item.startswith(("--gpus=", "--nproc=")):
            continue
        out.append(item)
    return out


def _launch(args: argparse.Namespace) -> int:
    from virnucpro.pipeline.distributed import launch_local, parse_gpus
    from virnucpro.pipeline.preflight import check_paths, scan_input

    # checked once here, so a bad input is one line before any rank starts (each rank checks too)
    check_paths(
        input=args.input,
        outdir=args.outdir,
        dnabert=args.dnabert,
        esm=args.esm,
        classifier=args.classifier,
    )
    scan_input(args.input)

    gpus = parse_gpus(args.gpus) if args.gpus else None
    nproc = len(gpus) if gpus else args.nproc
    if gpus:
        import torch

        if not torch.cuda.is_available():
            from virnucpro.errors import InputError

            raise InputError("--gpus: CUDA is not available on this machine")
    return launch_local(_strip_launch_options(args.argv), nproc=nproc, gpus=gpus)


def run(args: argparse.Namespace) -> int:
    import os
    import warnings

    from virnucpro.pipeline import NoKeptFramesWarning, PredictConfig, predict
    from virnucpro.pipeline.distributed import LAUNCHED_ENV

    if (args.gpus or args.nproc) and not os.environ.get(LAUNCHED_ENV):
        return _launch(args)

    config = PredictConfig(
        input=args.input,
        outdir=args.outdir,
        expected_length=args.expected_length,
        engine=args.engine,
        models=args.models,
        dnabert=args.dnabert,
        esm=args.esm,
        classifier=args.classifier,
        allow_pickle_classifier=args.allow_pickle_classifier,
        device=args.device,
        keep_intermediate=args.keep_intermediate,
        force=args.force,
        resume=args.resume,
        precision=args.precision,
        check_equivalence=args.check_equivalence,
        threads=args.threads,
        max_tokens=args.max_tokens,
        **({"shard_frames": args.shard_frames} if args.shard_frames else {}),
    )
    on_shard = None if args.quiet else _print_shard
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", NoKeptFramesWarning)
        result = predict(config, on_shard=on_shard)
    for w in caught:
        if issubclass(w.category, NoKeptFramesWarning):
            print(f"virnucpro: warning: {w.message}", file=sys.stderr)
    if not args.quiet and result.metrics is not None:
        _summary(result)
    return 0


def _print_shard(shard: ShardProgress) -> None:
    """One line per embedded shard, flushed: a long run's log says where it is."""
    from virnucpro.cli.progress import elapsed

    rank = f"rank {shard.rank}/{shard.world_size}: " if shard.world_size > 1 else ""
    print(
        f"[{elapsed(shard.seconds)}] {rank}shard {shard.index + 1} done: {shard.frames} frames "
        f"({shard.frames_done} so far; {shard.fraction_read:.0%} of the input read)",
        flush=True,
    )


def _dropped_summary(metrics: RunMetrics, paths: OutputPaths) -> None:
    """What has no row in the outputs (reads and chunks without a kept frame), and why."""
    from virnucpro.pipeline.dropped import describe

    if metrics.dropped is None:
        return
    for line in describe(metrics.dropped, reads=metrics.reads, chunks=metrics.chunks):
        print(line)
    if metrics.dropped.chunks_without_kept_frame and paths.no_kept_frame.is_file():
        print(f"  their ids: {paths.no_kept_frame}")


def _summary(result: object) -> None:
    m = result.metrics  # type: ignore[attr-defined]
    paths = result.paths  # type: ignore[attr-defined]
    print(
        f"virnucpro predict: {m.reads} reads, {m.chunks} chunks, {m.kept_frames} kept frames "
        f"in {m.total_seconds:.2f} s (engine {m.engine}, {m.device}, {m.precision})"
    )
    _dropped_summary(m, paths)
    if not m.models_meaningful:
        print(f"note: {m.model_note}")
    for report in m.extra.get("load_reports", []):
        if report["unexpected"]:
            shown = ", ".join(report["unexpected"][:3])
            print(
                f"note: {report['source']}: {len(report['unexpected'])} unexpected keys ({shown})"
            )
    equivalence = m.extra.get("equivalence")
    if equivalence:
        verdict = "passed" if equivalence["passed"] else "FAILED"
        print(f"equivalence with vanilla: {verdict} (see run_metrics.json)")
    print(f"wrote {paths.predictions} and {paths.highest}")
