"""The range a bisection searches, from small git histories in temporary folders: the
first-parent path, and every bad range refused with one line before anything is measured."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from virnucpro.bench.bisect.commits import check_clean, resolve_range, split_range
from virnucpro.errors import InputError

IDENTITY = ("-c", "user.name=test", "-c", "user.email=test@localhost")


def _git(root: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-C", str(root), *IDENTITY, *args], capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


def _commit(root: Path, name: str) -> str:
    (root / f"{name}.txt").write_text(name + "\n", encoding="utf-8")
    _git(root, "add", "-A")
    _git(root, "commit", "--quiet", "-m", f"add {name}")
    return _git(root, "rev-parse", "HEAD")


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    root.mkdir()
    _git(root, "init", "--quiet", "--initial-branch", "main")
    for name in ("good", "one", "two", "three"):
        _commit(root, name)
    _git(root, "tag", "good", "HEAD~3")
    return root


def test_the_path_lists_the_commits_after_good_oldest_first(repo: Path) -> None:
    found = resolve_range(repo, "good..main")
    assert found.good.subject == "add good"
    assert [c.subject for c in found.path] == ["add one", "add two", "add three"]
    assert found.bad.sha == _git(repo, "rev-parse", "main") and len(found.bad.sha) == 40
    assert found.all[0] == found.good


def test_a_merge_is_one_step_of_the_first_parent_path(repo: Path) -> None:
    _git(repo, "checkout", "--quiet", "-b", "side")
    _commit(repo, "side-a")
    _commit(repo, "side-b")
    _git(repo, "checkout", "--quiet", "main")
    _git(repo, "merge", "--quiet", "--no-ff", "-m", "merge side", "side")
    found = resolve_range(repo, "good..main")
    assert [c.subject for c in found.path][-1] == "merge side"
    assert "add side-a" not in [c.subject for c in found.path]


@pytest.mark.parametrize("text", ["main", "good...main", "..main", "good..", "good..  "])
def test_a_range_that_is_not_good_dot_dot_bad_is_refused(text: str) -> None:
    with pytest.raises(InputError, match=r"give a range GOOD\.\.BAD"):
        split_range(text)


def test_an_unknown_ref_is_one_line(repo: Path) -> None:
    with pytest.raises(InputError, match="GOOD 'nope' is not a commit in") as caught:
        resolve_range(repo, "nope..main")
    assert "\n" not in str(caught.value)
    with pytest.raises(InputError, match="BAD 'nope' is not a commit"):
        resolve_range(repo, "good..nope")


def test_good_equal_to_bad_is_refused(repo: Path) -> None:
    with pytest.raises(InputError, match="the same commit"):
        resolve_range(repo, "main..HEAD")


def test_good_that_is_not_an_ancestor_of_bad_is_refused(repo: Path) -> None:
    with pytest.raises(InputError, match="is not an ancestor of BAD") as caught:
        resolve_range(repo, "main..good")
    assert "\n" not in str(caught.value)
    _git(repo, "checkout", "--quiet", "-b", "other", "good")
    _commit(repo, "elsewhere")
    with pytest.raises(InputError, match="is not an ancestor of BAD"):
        resolve_range(repo, "other..main")


def test_good_on_a_merged_branch_is_refused(repo: Path) -> None:
    _git(repo, "checkout", "--quiet", "-b", "side")
    side = _commit(repo, "side-a")
    _git(repo, "checkout", "--quiet", "main")
    _commit(repo, "four")
    _git(repo, "merge", "--quiet", "--no-ff", "-m", "merge side", "side")
    with pytest.raises(InputError, match="not on BAD's first-parent history"):
        resolve_range(repo, f"{side}..main")


def test_uncommitted_changes_are_refused_untracked_files_are_not(repo: Path) -> None:
    (repo / "untracked.txt").write_text("x", encoding="utf-8")
    check_clean(repo)
    (repo / "one.txt").write_text("changed\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"uncommitted changes .*one\.txt"):
        check_clean(repo)
