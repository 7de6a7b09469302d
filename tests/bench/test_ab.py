from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from virnucpro.bench import ab
from virnucpro.errors import InputError


def _git(root: Path, *args: str) -> str:
    done = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    root.mkdir()
    _git(root, "init", "--quiet", "-b", "main")
    for n in range(2):
        (root / "file.txt").write_text(f"{n}\n")
        _git(root, "add", "file.txt")
        _git(root, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "--quiet", "-m", f"c{n}")
    return root


def test_refs_resolve_to_commits(repo: Path) -> None:
    head = _git(repo, "rev-parse", "HEAD")
    first = _git(repo, "rev-parse", "HEAD~1")
    assert ab.resolve_ref(repo, "HEAD~1") == first
    assert ab.resolve_ref(repo, "main") == head
    _git(repo, "branch", "old", first)
    assert ab.resolve_ref(repo, "merge-base:old") == first
    with pytest.raises(InputError, match="not a commit"):
        ab.resolve_ref(repo, "no-such-branch")
    with pytest.raises(InputError, match="give a commit"):
        ab.resolve_ref(repo, " ")


def test_the_base_checkout_is_made_once_and_reused(repo: Path, tmp_path: Path) -> None:
    first = _git(repo, "rev-parse", "HEAD~1")
    path = ab.base_checkout(repo, first, tmp_path / "cache")
    assert (path / "file.txt").read_text() == "0\n"
    (path / "marker").write_text("")  # untracked: the worktree is no longer clean
    again = ab.base_checkout(repo, first, tmp_path / "cache")
    assert again == path and not (path / "marker").exists()
    assert ab.base_checkout(repo, first, tmp_path / "cache") == path
