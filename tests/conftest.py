"""Shared fixtures: small FASTA inputs whose frames survive (random DNA keeps almost none)."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from virnucpro.bench.options import BenchOptions
from virnucpro.translate import CODON_TABLE

SENSE_CODONS = sorted(c for c, aa in CODON_TABLE.items() if aa != "*")


def orf_sequence(rng: random.Random, length: int) -> str:
    """A stop-free forward frame of ``length`` bases (F1 is kept for every chunk)."""
    codons = [rng.choice(SENSE_CODONS) for _ in range(length // 3 + 1)]
    return "".join(codons)[:length]


def write_orf_fasta(path: Path, lengths: list[int], *, seed: int = 7) -> Path:
    rng = random.Random(seed)
    with path.open("w") as handle:
        for i, length in enumerate(lengths):
            handle.write(f">read{i} sample\n{orf_sequence(rng, length)}\n")
    return path


@pytest.fixture
def orf_fasta(tmp_path: Path) -> Path:
    return write_orf_fasta(tmp_path / "reads.fasta", [180, 300, 500, 501, 1200, 777])


@pytest.fixture
def bench_options(tmp_path: Path) -> BenchOptions:
    """Benchmark options for a stubbed run: one suite, the vanilla engine, CPU, folders in tmp."""
    return BenchOptions(
        suites=("end_to_end",),
        data_size="tiny",
        engine="vanilla",
        gpus=(),
        output_dir=tmp_path / "reports",
        baseline_dir=tmp_path / "baselines",
    )
