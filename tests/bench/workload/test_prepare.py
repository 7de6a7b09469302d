"""Benchmark workloads: generated reads cached under the output folder, or the user's FASTA."""

from __future__ import annotations

from pathlib import Path

import pytest

from virnucpro.bench.options import BenchOptions
from virnucpro.bench.workload.prepare import cached_path, prepare_workload
from virnucpro.errors import InputError


def test_generated_reads_are_cached_and_reused(tmp_path: Path) -> None:
    options = BenchOptions(data_size="tiny", output_dir=tmp_path)
    first = prepare_workload(options)
    assert first.generated and first.name == "tiny" and first.seed == 0
    assert first.path == cached_path(options).resolve() and first.path.is_relative_to(tmp_path)
    stamp = first.path.stat().st_mtime_ns
    assert prepare_workload(options).path.stat().st_mtime_ns == stamp


def test_cache_key_follows_size_seed_and_length(tmp_path: Path) -> None:
    base = BenchOptions(data_size="tiny", output_dir=tmp_path)
    others = [
        BenchOptions(data_size="small", output_dir=tmp_path),
        BenchOptions(data_size="tiny", seed=1, output_dir=tmp_path),
        BenchOptions(data_size="tiny", expected_length=300, output_dir=tmp_path),
    ]
    assert len({cached_path(o) for o in [base, *others]}) == 4


def test_user_fasta_is_used_in_place(tmp_path: Path) -> None:
    fasta = tmp_path / "mine.fa"
    fasta.write_text(">a\nACGT\n")
    workload = prepare_workload(BenchOptions(input=fasta, output_dir=tmp_path / "out"))
    assert workload.path == fasta.resolve() and workload.name == "user:mine.fa"
    assert not workload.generated and workload.seed is None
    with pytest.raises(InputError, match="no such file"):
        prepare_workload(BenchOptions(input=tmp_path / "gone.fa"))
