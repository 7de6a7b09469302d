from __future__ import annotations

import gzip
import tempfile
import tracemalloc
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from virnucpro.errors import InputError
from virnucpro.stages import fasta
from virnucpro.stages.fasta import input_stem, read_fasta


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


# ---- reading in blocks -------------------------------------------------------------------------

RECORDS = st.lists(
    st.tuples(
        st.text("ACGTNacgtn", min_size=1, max_size=60),
        st.text("abc ", max_size=30),
        st.integers(1, 25),  # line width of the sequence
    ),
    min_size=1,
    max_size=6,
)


@settings(max_examples=60, deadline=None)
@given(records=RECORDS, block=st.integers(2, 17), crlf=st.booleans())
def test_lines_longer_than_a_block_read_the_same(records, block, crlf):
    newline = "\r\n" if crlf else "\n"
    text = ""
    for i, (sequence, note, width) in enumerate(records):
        lines = [sequence[j : j + width] for j in range(0, len(sequence), width)]
        text += f">r{i} {note}{newline}" + "".join(line + newline for line in lines)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "in.fa"
        path.write_bytes(text.encode())
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(fasta, "READ_BLOCK_BYTES", block)
            got = read_fasta(path)
    assert [(r.id, r.sequence, r.description) for r in got] == [
        (f"r{i}", sequence, f"r{i} {note}".strip()) for i, (sequence, note, _) in enumerate(records)
    ]


def test_bad_letter_position_counts_across_blocks(tmp_path, monkeypatch):
    monkeypatch.setattr(fasta, "READ_BLOCK_BYTES", 4)
    path = _write(tmp_path, ">a\n" + "ACGT" * 5 + "AC\u00e9T\n")
    with pytest.raises(InputError, match="record 'a' has '\u00e9' at position 23"):
        read_fasta(path)


def test_messages_name_gzip_content_and_bare_carriage_returns(tmp_path):
    path = tmp_path / "in.fa.gz"
    path.write_bytes(gzip.compress(b"just text\n"))
    with pytest.raises(InputError, match=r"in.fa.gz \(gzip content\): line 1: not FASTA"):
        read_fasta(path)
    path.write_bytes(gzip.compress(gzip.compress(b">a\nACGT\n")))
    with pytest.raises(InputError, match=r"\(gzip content\): binary data"):
        read_fasta(path)
    with pytest.raises(InputError, match="bare carriage return"):
        read_fasta(_write(tmp_path, b">a\rACGT\r>b\rAC\r"))


def test_a_long_single_line_record_is_held_once(tmp_path):
    """Peak traced memory while reading a 16 MB one-line record stays near 16 MB (the record
    itself): the line is never held as a whole line plus a stripped copy plus the sequence."""
    size = 16 * 2**20
    path = tmp_path / "long.fa"
    path.write_bytes(b">long\n" + b"ACGT" * (size // 4) + b"\n")
    tracemalloc.start()
    try:
        (record,) = read_fasta(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert len(record.sequence) == size
    assert peak < 1.25 * size  # the old line-based reader peaked at three copies


@pytest.mark.parametrize("compress", [False, True])
def test_the_digest_of_one_read_is_the_stored_files_sha256(tmp_path, compress):
    import hashlib

    from virnucpro.hashing import file_sha256
    from virnucpro.stages.fasta import READ_BLOCK_BYTES

    text = b">a\n" + b"ACGT" * (READ_BLOCK_BYTES // 2) + b"\n>b\nACGTN\n"  # lines past a block
    path = tmp_path / ("in.fa.gz" if compress else "in.fa")
    path.write_bytes(gzip.compress(text) if compress else text)
    digest = hashlib.sha256()
    records = list(fasta.iter_fasta(path, digest=digest))
    assert [r.id for r in records] == ["a", "b"]
    assert digest.hexdigest() == file_sha256(path)
