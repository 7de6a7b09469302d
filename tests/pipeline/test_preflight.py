"""The content check and the checkpoint-kind checks that run before any model loads."""

from __future__ import annotations

import gzip

import pytest
import torch

from virnucpro.errors import InputError
from virnucpro.hashing import file_sha256
from virnucpro.pipeline.preflight import (
    InputSummary,
    check_checkpoint_paths,
    check_input_path,
    scan_input,
)


def test_scan_counts_records_and_bases(tmp_path):
    path = tmp_path / "in.fa.gz"
    path.write_bytes(gzip.compress(b">a\nACGTN\n>b\nNNNN\n"))
    assert scan_input(path) == InputSummary(reads=2, bases=9, sha256=file_sha256(path))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (">a\nNNNN\n", "its only record is all N"),
        (">a\nnnNN\n>b\nN\n", "all 2 records are all N"),
        (">a\nACGT\n>b\nAC!T\n", "position 3"),
    ],
)
def test_scan_refuses(tmp_path, text, message):
    path = tmp_path / "in.fa"
    path.write_text(text)
    with pytest.raises(InputError, match=message):
        scan_input(path)


def test_input_and_output_folder(tmp_path):
    (tmp_path / "in.fa").write_text(">a\nACGT\n")
    check_input_path(tmp_path / "in.fa", tmp_path / "out")
    with pytest.raises(InputError, match="is the output folder"):
        check_input_path(tmp_path, tmp_path)
    with pytest.raises(InputError, match="is inside"):
        check_input_path(tmp_path / "in.fa", tmp_path)


def test_checkpoint_kinds(tmp_path):
    torch.save({"w": torch.ones(1)}, tmp_path / "legacy.pt", _use_new_zipfile_serialization=False)
    torch.save({"w": torch.ones(1)}, tmp_path / "zip.pth")
    check_checkpoint_paths(dnabert=tmp_path, esm=tmp_path / "legacy.pt", classifier=None)
    check_checkpoint_paths(dnabert=None, esm=tmp_path, classifier=tmp_path / "zip.pth")
    (tmp_path / "zip.pth").rename(tmp_path / "c.safetensors")
    with pytest.raises(InputError, match=r"--classifier .*: not a safetensors file"):
        check_checkpoint_paths(dnabert=None, esm=None, classifier=tmp_path / "c.safetensors")
