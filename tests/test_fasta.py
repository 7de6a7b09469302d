from __future__ import annotations

import gzip

import pytest

from virnucpro.errors import InputError
from virnucpro.fasta import input_stem, read_fasta


def _write(tmp_path, text: str | bytes, name: str = "in.fa"):
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    return path


def test_reads_ids_descriptions_and_multiline_sequences(tmp_path):
    path = _write(tmp_path, ">a desc here\nACGT\nacgt\n\n>b\nNNAC\n")
    records = read_fasta(path)
    assert [(r.id, r.sequence) for r in records] == [("a", "ACGTacgt"), ("b", "NNAC")]
    assert records[0].description == "a desc here"


def test_crlf_and_gzip(tmp_path):
    plain = _write(tmp_path, ">a\r\nACGT\r\nAC\r\n")
    assert read_fasta(plain)[0].sequence == "ACGTAC"
    gz = tmp_path / "in.fa.gz"
    gz.write_bytes(gzip.compress(b">a\nACGT\n"))
    assert read_fasta(gz)[0].sequence == "ACGT"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "empty"),
        ("hello world\n", "not FASTA"),
        (b"\x00\x01\x02binary", "binary"),
        (">a\n\n>b\nACGT\n", "record 'a' has no sequence"),
        (">\nACGT\n", "no id"),
        (">a\nACGTX\n", "'X' at position 5"),
        (">a\nACGT\n>a\nACGT\n", "duplicate record id 'a'"),
        (b"\xff\xfe>a\n", "not a text FASTA"),
    ],
)
def test_bad_input_is_one_line_input_error(tmp_path, content, message):
    path = _write(tmp_path, content)
    with pytest.raises(InputError) as info:
        read_fasta(path)
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_truncated_gzip(tmp_path):
    data = gzip.compress(b">a\n" + b"ACGT" * 5000)
    path = _write(tmp_path, data[: len(data) // 2], "in.fa.gz")
    with pytest.raises(InputError, match="gzip"):
        read_fasta(path)


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        read_fasta(tmp_path / "nope.fa")
    with pytest.raises(InputError, match="is a folder"):
        read_fasta(tmp_path)


@pytest.mark.parametrize(
    ("name", "stem"),
    [
        ("x.fa", "x"),
        ("x.fasta.gz", "x"),
        ("x.fna", "x"),
        ("a.b.fa.gz", "a.b"),
        ("reads.txt", "reads.txt"),
    ],
)
def test_input_stem(name, stem):
    assert input_stem(name) == stem
