"""The base side's source: references resolved to commits, and the worktree made once."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.repos import git, new_repo
from virnucpro.bench.ab import checkout
from virnucpro.errors import InputError


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return new_repo(tmp_path / "repo", commits=2)


def test_refs_resolve_to_commits(repo: Path) -> None:
    head = git(repo, "rev-parse", "HEAD")
    first = git(repo, "rev-parse", "HEAD~1")
    assert checkout.resolve_ref(repo, "HEAD~1") == first
    assert checkout.resolve_ref(repo, "main") == head
    git(repo, "branch", "old", first)
    assert checkout.resolve_ref(repo, "merge-base:old") == first
    with pytest.raises(InputError, match="not a commit"):
        checkout.resolve_ref(repo, "no-such-branch")
    with pytest.raises(InputError, match="give a commit"):
        checkout.resolve_ref(repo, " ")


def test_the_base_checkout_is_made_once_and_reused(repo: Path, tmp_path: Path) -> None:
    first = git(repo, "rev-parse", "HEAD~1")
    path = checkout.base_checkout(repo, first, tmp_path / "cache")
    assert (path / "file.txt").read_text() == "0\n"
    (path / "marker").write_text("")  # untracked: the worktree is no longer clean
    again = checkout.base_checkout(repo, first, tmp_path / "cache")
    assert again == path and not (path / "marker").exists()
    assert checkout.base_checkout(repo, first, tmp_path / "cache") == path
