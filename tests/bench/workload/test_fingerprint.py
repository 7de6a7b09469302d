from __future__ import annotations

import hashlib

import pytest

from virnucpro.bench.workload.fingerprint import (
    LENGTH_BINS,
    esm_token_count,
    file_sha256,
    length_histogram,
    tokenizer_counter,
    workload_fingerprint,
)
from virnucpro.bench.workload.reads import make_reads, write_fasta
from virnucpro.errors import InputError
from virnucpro.models.dnabert_tokenizer import build_tiny_tokenizer
from virnucpro.stages.chunking import chunk_records
from virnucpro.stages.fasta import read_fasta
from virnucpro.stages.translate import keep_frames

# One ORF, forward frame 1 open: ATG GCT ... (60 codons = 180 bp) then 30 bases more.
ORF = "ATG" + "GCT" * 59


def _write(tmp_path, reads):
    return write_fasta(reads, tmp_path / "reads.fa")


def test_histogram_bins_cover_edges():
    lengths = [1, 299, 300, 499, 500, 501, 1000, 1001, 2500, 2501, 99999]
    assert length_histogram(lengths) == {
        "<300": 2,
        "300-499": 2,
        "500": 1,
        "501-1000": 2,
        "1001-2500": 2,
        ">2500": 2,
    }
    assert list(length_histogram([])) == [label for label, _, _ in LENGTH_BINS]


def test_fingerprint_counts_match_pipeline_stages(tmp_path):
    path = _write(tmp_path, [("a", ORF), ("b", ORF + ORF[:120])])  # 180 bp and 300 bp
    fp = workload_fingerprint("custom", path, expected_length=300, seed=3)
    assert (fp.name, fp.seed, fp.expected_length) == ("custom", 3, 300)
    assert (fp.reads, fp.bases, fp.chunks) == (2, 480, 2)
    assert fp.content_sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert fp.length_histogram["<300"] == 1 and fp.length_histogram["300-499"] == 1
    frames = keep_frames(chunk_records(read_fasta(path), 300))
    assert fp.kept_frames == len(frames) >= 2  # F1 of each read is open
    assert fp.esm_tokens == sum(len(f.protein) + 2 for f in frames)
    assert fp.dnabert_tokens == 0  # no tokenizer given


def test_esm_tokens_add_two_per_protein():
    assert esm_token_count(["MA", "MAAA"]) == 4 + 6


def test_dna_tokens_from_given_counter(tmp_path):
    path = _write(tmp_path, make_reads("tiny", seed=2))
    seen: list[int] = []

    def count(seqs):
        seen.append(len(seqs))
        return 7 * len(seqs)

    fp = workload_fingerprint("tiny", path, expected_length=500, count_dna_tokens=count)
    assert seen == [fp.kept_frames]
    assert fp.dnabert_tokens == 7 * fp.kept_frames


def test_tokenizer_counter_includes_special_tokens():
    count = tokenizer_counter(build_tiny_tokenizer())
    assert count(["ACGTACGT"]) >= 3
    assert count(["ACGT", "ACGT"]) == 2 * count(["ACGT"])


def test_fingerprint_changes_with_content(tmp_path):
    a = workload_fingerprint("x", write_fasta([("a", ORF)], tmp_path / "a.fa"), expected_length=500)
    b = workload_fingerprint(
        "x", write_fasta([("a", ORF[:-3])], tmp_path / "b.fa"), expected_length=500
    )
    assert a.key() != b.key()
    assert file_sha256(tmp_path / "a.fa") == a.content_sha256


def test_gzip_input_read_and_hashed_as_stored(tmp_path):
    reads = make_reads(5, seed=9)
    plain = workload_fingerprint("p", write_fasta(reads, tmp_path / "r.fa"), expected_length=500)
    packed = workload_fingerprint(
        "p", write_fasta(reads, tmp_path / "r.fa.gz"), expected_length=500
    )
    assert (plain.reads, plain.chunks, plain.kept_frames) == (
        packed.reads,
        packed.chunks,
        packed.kept_frames,
    )
    assert plain.content_sha256 != packed.content_sha256


def test_bad_input_is_input_error(tmp_path):
    with pytest.raises(InputError):
        workload_fingerprint("x", tmp_path / "missing.fa", expected_length=500)
