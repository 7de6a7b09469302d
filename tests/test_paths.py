"""Path checks: each kind of wrong path is one InputError that says what is there."""

from __future__ import annotations

import os

import pytest

from virnucpro.errors import InputError
from virnucpro.paths import (
    check_readable_file,
    check_readable_folder,
    check_writable_folder,
    is_same_or_inside,
)


def test_readable_file_accepts_a_file_and_a_link_to_it(tmp_path):
    target = tmp_path / "a.fa"
    target.write_text(">a\nACGT\n")
    (tmp_path / "link.fa").symlink_to(target)
    assert check_readable_file(target).st_size == 8
    assert check_readable_file(tmp_path / "link.fa").st_size == 8


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda t: t / "missing", "no such file or folder"),
        (lambda t: t, "is a folder, expected a file"),
        (lambda t: (os.mkfifo(t / "p"), t / "p")[1], "is a FIFO"),
        (lambda t: ((t / "x").symlink_to(t / "x"), t / "x")[1], "symbolic link loop"),
        (lambda t: ((t / "d").symlink_to(t / "gone"), t / "d")[1], "broken symbolic link"),
        (lambda t: ((t / "f").write_text(""), t / "f" / "below")[1], "Not a directory"),
    ],
)
def test_readable_file_refusals(tmp_path, make, message):
    path = make(tmp_path)
    with pytest.raises(InputError, match=message) as info:
        check_readable_file(path, label="input ")
    assert str(info.value).startswith(f"input {path}: ")
    assert "\n" not in str(info.value)


def test_unreadable_file_is_permission_denied(tmp_path, monkeypatch):
    """os.access patched: root reads everything (tests/cli/test_predict.py runs a real one)."""
    path = tmp_path / "a.fa"
    path.write_text(">a\nACGT\n")
    monkeypatch.setattr(os, "access", lambda p, mode: False)
    with pytest.raises(InputError, match="permission denied"):
        check_readable_file(path)
    with pytest.raises(InputError, match="permission denied"):
        check_readable_folder(tmp_path)
    with pytest.raises(InputError, match="permission denied"):
        check_writable_folder(tmp_path / "new")


def test_readable_folder(tmp_path):
    check_readable_folder(tmp_path)
    (tmp_path / "f").write_text("x")
    with pytest.raises(InputError, match="is not a folder, expected a DNABERT-S folder"):
        check_readable_folder(tmp_path / "f", what="a DNABERT-S folder")


def test_writable_folder_may_be_created_below_a_folder_only(tmp_path):
    check_writable_folder(tmp_path)
    check_writable_folder(tmp_path / "new" / "deeper")
    (tmp_path / "f").write_text("x")
    with pytest.raises(InputError, match="exists and is not a folder"):
        check_writable_folder(tmp_path / "f")
    with pytest.raises(InputError, match=r"f is not a folder"):
        check_writable_folder(tmp_path / "f" / "sub")


def test_same_or_inside_resolves_links(tmp_path):
    (tmp_path / "out").mkdir()
    (tmp_path / "alias").symlink_to(tmp_path / "out")
    assert is_same_or_inside(tmp_path / "out", tmp_path / "alias")
    assert is_same_or_inside(tmp_path / "alias" / "x.fa", tmp_path / "out")
    assert not is_same_or_inside(tmp_path / "outx.fa", tmp_path / "out")
    assert not is_same_or_inside(tmp_path, tmp_path / "out")
