"""Atomic writes, and writes that never replace a file another process published."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from virnucpro import atomic
from virnucpro.atomic import atomic_write_text, write_new_text


def _leftovers(folder: Path) -> list[str]:
    return [p.name for p in folder.iterdir() if p.name.endswith(".tmp")]


def test_a_new_name_is_written_and_a_taken_one_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "report.md"
    assert write_new_text(path, "first\n")
    assert not write_new_text(path, "second\n")
    assert path.read_text(encoding="utf-8") == "first\n"
    assert _leftovers(path.parent) == []
    atomic_write_text(path, "replaced\n")  # the plain atomic write does replace
    assert path.read_text(encoding="utf-8") == "replaced\n"


def test_without_hard_links_the_name_is_claimed_exclusively(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_links(source: object, target: object) -> None:
        raise OSError(errno.EPERM, "hard links not supported")

    monkeypatch.setattr(atomic.os, "link", no_links)
    path = tmp_path / "report.json"
    assert write_new_text(path, "{}\n")
    assert not write_new_text(path, "[]\n")
    assert path.read_text(encoding="utf-8") == "{}\n"
    assert _leftovers(tmp_path) == []
    assert path.stat().st_mode & 0o777 == 0o666 & ~_umask()


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
