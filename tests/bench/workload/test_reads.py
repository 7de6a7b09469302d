from __future__ import annotations

import gzip
from collections import Counter

import pytest

from virnucpro.bench.workload import reads as data
from virnucpro.bench.workload.reads import (
    SIZES,
    fasta_text,
    label_of,
    make_reads,
    read_count,
    reverse_complement,
    write_fasta,
)
from virnucpro.errors import InputError
from virnucpro.stages.chunking import chunk_records
from virnucpro.stages.fasta import FastaRecord, read_fasta
from virnucpro.stages.translate import keep_frames, kept_frames_of_chunk

SMALL_SEED_READS = 200


@pytest.fixture(scope="module")
def small() -> list[tuple[str, str]]:
    return make_reads(SMALL_SEED_READS, seed=7)


def test_named_sizes():
    assert [read_count(name) for name in ("tiny", "small", "medium", "large")] == [
        20,
        200,
        2000,
        20000,
    ]
    assert len(make_reads("tiny")) == SIZES["tiny"]
    assert len(make_reads(3)) == 3


@pytest.mark.parametrize("size", ["huge", 0, -1, True])
def test_bad_size_is_input_error(size):
    with pytest.raises(InputError):
        make_reads(size)


def test_bad_expected_length_is_input_error():
    with pytest.raises(InputError):
        make_reads("tiny", expected_length=0)


def test_deterministic_and_seed_dependent():
    assert make_reads("tiny", seed=3) == make_reads("tiny", seed=3)
    assert make_reads("tiny", seed=3) != make_reads("tiny", seed=4)
    assert make_reads("tiny", expected_length=300) != make_reads("tiny", expected_length=500)


def test_ids_unique_and_encode_balanced_labels(small):
    ids = [read_id for read_id, _ in small]
    assert len(set(ids)) == len(ids)
    counts = Counter(label_of(read_id) for read_id in ids)
    assert counts == {"vir": SMALL_SEED_READS // 2, "host": SMALL_SEED_READS // 2}
    assert "vir_000001" in ids and "host_000001" in ids


def test_label_of_rejects_other_ids():
    with pytest.raises(InputError):
        label_of("read_1")


def test_tiny_holds_every_length_kind_and_an_ambiguous_read():
    reads = make_reads("tiny", seed=0, expected_length=500)
    lengths = [len(s) for _, s in reads]
    assert any(data.SHORT_MIN_LENGTH <= n < 500 for n in lengths)
    assert any(n in (300, 500) for n in lengths)
    assert any(n > 500 for n in lengths)
    assert all(n <= data.MULTI_CHUNK_FACTOR * 500 for n in lengths)
    assert any(set(s) - set("ACGT") for _, s in reads)


def test_lengths_follow_expected_length():
    lengths = [len(s) for _, s in make_reads(SMALL_SEED_READS, expected_length=300)]
    assert max(lengths) <= data.MULTI_CHUNK_FACTOR * 300
    assert 299 in lengths or 301 in lengths


def test_letters_are_valid_nucleotides(small):
    letters = set("".join(s for _, s in small))
    assert letters <= set("ACGT" + data.AMBIGUITY_LETTERS)


def test_codon_usage_differs_by_class(small):
    def gc(label: str) -> float:
        seq = "".join(s for i, s in small if label_of(i) == label)
        return (seq.count("G") + seq.count("C")) / len(seq)

    assert gc("vir") > 0.55 > 0.45 > gc("host")


def test_frames_survive_at_realistic_rates(small):
    records = [FastaRecord(id=i, sequence=s) for i, s in small]
    full = [c for c in chunk_records(records, 500) if len(c.sequence) == 500]
    kept = Counter(len(kept_frames_of_chunk(c)) for c in full)
    # Most full chunks keep one or two frames; random DNA would keep almost none.
    assert (kept[1] + kept[2]) / len(full) > 0.7
    assert kept[0] / len(full) < 0.3
    assert sum(n for k, n in kept.items() if k > 3) == 0


def test_every_class_keeps_frames(small):
    for label in ("vir", "host"):
        records = [FastaRecord(id=i, sequence=s) for i, s in small if label_of(i) == label]
        assert len(keep_frames(chunk_records(records, 500))) > len(records)


def test_reverse_complement():
    assert reverse_complement("AACG") == "CGTT"


def test_fasta_text_wraps_or_not():
    reads = [("a", "A" * 130), ("b", "C" * 5)]
    assert fasta_text(reads).splitlines() == [">a", "A" * 60, "A" * 60, "A" * 10, ">b", "C" * 5]
    assert fasta_text(reads, line_width=None).splitlines() == [">a", "A" * 130, ">b", "C" * 5]
    with pytest.raises(InputError):
        fasta_text(reads, line_width=0)


@pytest.mark.parametrize("name", ["reads.fa", "reads.fa.gz"])
def test_write_fasta_round_trips_through_pipeline_reader(tmp_path, name):
    reads = make_reads("tiny", seed=1)
    path = write_fasta(reads, tmp_path / name)
    assert [(r.id, r.sequence) for r in read_fasta(path)] == reads
    assert list(tmp_path.iterdir()) == [path]


def test_gzip_output_is_reproducible(tmp_path):
    reads = make_reads(5)
    first = write_fasta(reads, tmp_path / "a.fa.gz").read_bytes()
    second = write_fasta(reads, tmp_path / "b.fa.gz").read_bytes()
    assert first == second
    assert gzip.decompress(first).decode() == fasta_text(reads)
