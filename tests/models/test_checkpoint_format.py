"""Checkpoint serialization read from the first bytes, for each format we may be given."""

from __future__ import annotations

import pytest
import torch
from safetensors.torch import save_file

from virnucpro.models.checkpoint_format import checkpoint_format

STATE = {"w": torch.ones(2, 3)}


@pytest.mark.parametrize("protocol", [2, 4])
def test_legacy_pickle_format(tmp_path, protocol):
    path = tmp_path / "legacy.pt"
    torch.save(STATE, path, _use_new_zipfile_serialization=False, pickle_protocol=protocol)
    assert checkpoint_format(path) == "torch-legacy"


def test_zip_and_safetensors(tmp_path):
    torch.save(STATE, tmp_path / "z.pt")
    save_file(STATE, str(tmp_path / "s.safetensors"))
    assert checkpoint_format(tmp_path / "z.pt") == "torch-zip"
    assert checkpoint_format(tmp_path / "s.safetensors") == "safetensors"


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"junk",
        b"\x80\x02just a pickle",
        b"\xff" * 8 + b"{}",
        (10).to_bytes(8, "little") + b"{",
    ],
)
def test_other_bytes_are_no_format(tmp_path, data):
    path = tmp_path / "x.pt"
    path.write_bytes(data)
    assert checkpoint_format(path) is None
