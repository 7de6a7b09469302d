"""Measure peak host memory of ``virnucpro predict`` as the input grows (a measurement, not a test).

Streaming keeps one or two shards in memory, so peak RSS should stay flat while the read count
grows tenfold. ``--single-record-mb`` instead writes one record of that many MiB on a single
line: the record itself must be held (it is chunked with the published overlap schedule, which
needs its length), but only once, so peak RSS should exceed the file size by about the models'
and the interpreter's share, not by a multiple of the file. Each size runs in a fresh process;
its peak RSS is read from ``getrusage`` of that child alone. Usage::

    python scripts/perf_streaming_memory.py --reads 2000 20000 --engine fast --json out.json
    python scripts/perf_streaming_memory.py --single-record-mb 1024
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from virnucpro.bench.workload.reads import make_reads, write_fasta

KIB = 1024
DEFAULT_SIZES = (2_000, 20_000)
WRITE_BLOCK = 1 << 24


CHILD = (
    "import resource, sys\n"
    "from virnucpro.cli import main\n"
    "code = main(sys.argv[1:])\n"
    "print('PEAK_RSS_KIB', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)\n"
    "sys.exit(code)\n"
)


def _run_child(fasta: Path, outdir: Path, engine: str, shard_frames: int) -> dict[str, float]:
    """Run predict in a fresh interpreter that reports its own peak RSS (Linux: KiB)."""
    argv = [
        "predict",
        str(fasta),
        "-o",
        str(outdir),
        "-q",
        "--device",
        "cpu",
        "--engine",
        engine,
        "--shard-frames",
        str(shard_frames),
    ]
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, *argv], check=True, capture_output=True, text=True
    )
    wall = time.perf_counter() - start
    peak_kib = int(
        next(
            line.split()[1] for line in proc.stderr.splitlines() if line.startswith("PEAK_RSS_KIB")
        )
    )
    metrics = json.loads((outdir / "run_metrics.json").read_text())
    return {
        "peak_rss_mib": peak_kib * KIB / 2**20,
        "wall_s": wall,
        "kept_frames": metrics["kept_frames"],
    }


def write_single_record(path: Path, mib: int, *, seed: int = 11) -> Path:
    """One record of ``mib`` MiB of random bases on a single line, written in blocks."""
    import numpy as np

    rng = np.random.default_rng(seed)
    letters = np.frombuffer(b"ACGT", dtype=np.uint8)
    with path.open("wb") as handle:
        handle.write(b">long one record on one line\n")
        left = mib * 2**20
        while left:
            n = min(WRITE_BLOCK, left)
            handle.write(letters[rng.integers(0, 4, n)].tobytes())
            left -= n
        handle.write(b"\n")
    return path


def _single_records(sizes: list[int], engine: str, shard_frames: int) -> list[dict[str, float]]:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for mib in sorted(sizes):
            fasta = write_single_record(Path(tmp) / f"single_{mib}.fa", mib)
            file_mib = fasta.stat().st_size / 2**20
            run = _run_child(fasta, Path(tmp) / f"out_{mib}", engine, shard_frames)
            rows.append({"record_mib": mib, "file_mib": file_mib, **run})
            print(
                f"one {mib} MiB line  file {file_mib:8.1f} MiB  peak RSS "
                f"{run['peak_rss_mib']:8.1f} MiB ({run['peak_rss_mib'] / file_mib:.2f} x file)"
                f"  {run['kept_frames']:>6} frames  wall {run['wall_s']:7.1f} s",
                flush=True,
            )
            fasta.unlink()
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reads", type=int, nargs="+", default=list(DEFAULT_SIZES))
    parser.add_argument("--single-record-mb", type=int, nargs="+", metavar="MIB")
    parser.add_argument("--engine", default="fast")
    parser.add_argument("--shard-frames", type=int, default=10_000)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    if args.single_record_mb:
        rows = _single_records(args.single_record_mb, args.engine, args.shard_frames)
        if args.json:
            args.json.write_text(json.dumps(rows, indent=2) + "\n")
        return 0
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in sorted(args.reads):
            fasta = write_fasta(make_reads(n, seed=11), Path(tmp) / f"reads_{n}.fa")
            row = {
                "reads": n,
                **_run_child(fasta, Path(tmp) / f"out_{n}", args.engine, args.shard_frames),
            }
            rows.append(row)
            print(
                f"{n:>8} reads  {row['kept_frames']:>8} frames  "
                f"peak RSS {row['peak_rss_mib']:8.1f} MiB"
                f"  wall {row['wall_s']:7.1f} s",
                flush=True,
            )
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
