"""The benchmark input: generated reads for a named size, or any user FASTA, prepared once.

Generated workloads are written under ``<output_dir>/.cache/workloads`` and reused by later runs;
the file name carries the size, seed, chunk length and a digest of the generator's source, so a
change to the generator makes a new file instead of silently reusing old reads. A user FASTA
(``--input``) is used where it lies and named ``user:<file name>`` in the results.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from virnucpro.bench.options import BenchOptions
from virnucpro.bench.workload import reads as data
from virnucpro.errors import InputError

CACHE_DIR = Path(".cache") / "workloads"
USER_PREFIX = "user:"
GENERATOR_DIGEST_CHARS = 10


@dataclass(frozen=True)
class Workload:
    """A FASTA file ready to benchmark, its name in the results, and its seed (generated only)."""

    path: Path
    name: str
    seed: int | None
    generated: bool


def generator_digest() -> str:
    """A short digest of the read generator's source: part of the cache key."""
    source = Path(data.__file__).read_bytes()
    return hashlib.sha256(source).hexdigest()[:GENERATOR_DIGEST_CHARS]


def cached_path(options: BenchOptions) -> Path:
    """Where the generated reads for these options live under the output folder."""
    stem = (
        f"{options.data_size}-seed{options.seed}-len{options.expected_length}"
        f"-gen{generator_digest()}"
    )
    return Path(options.output_dir) / CACHE_DIR / f"{stem}.fa"


def _user_workload(path: Path) -> Workload:
    if not path.is_file():
        raise InputError(f"--input {path}: no such file")
    return Workload(
        path=path.resolve(), name=f"{USER_PREFIX}{path.name}", seed=None, generated=False
    )


def _generated_workload(options: BenchOptions) -> Workload:
    path = cached_path(options)
    if not path.is_file():
        reads = data.make_reads(
            options.data_size,  # type: ignore[arg-type]
            seed=options.seed,
            expected_length=options.expected_length,
        )
        data.write_fasta(reads, path)
    return Workload(path=path.resolve(), name=options.data_size, seed=options.seed, generated=True)


def prepare_workload(options: BenchOptions) -> Workload:
    """The benchmark FASTA for ``options``: the user's file, or generated reads (cached)."""
    if options.input is not None:
        return _user_workload(Path(options.input))
    return _generated_workload(options)
