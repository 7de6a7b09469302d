"""The session check: what a test run leaves in the checkout is found and named."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

from tests.checkout_state import allowed, leftovers, snapshot
from tests.repos import git, new_repo


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = new_repo(tmp_path / "repo")
    (root / ".gitignore").write_text("/tests/reports/\n__pycache__/\n.venv/\n")
    (root / "tests" / "reports").mkdir(parents=True)
    (root / "tests" / "reports" / "old.json").write_text("{}")  # there before the session
    git(root, "add", ".gitignore")
    git(root, "commit", "--quiet", "-m", "ignores")
    return root


def _write(path: Path, text: str = "x") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_a_clean_session_leaves_nothing(repo: Path) -> None:
    before = snapshot(repo)
    _write(repo / "pkg" / "__pycache__" / "m.cpython-311.pyc")
    _write(repo / ".venv" / "lib" / "site.py")
    _write(repo / "tests" / "reports" / "browser" / "overview.png")
    assert leftovers(before, snapshot(repo), repo) == []


def test_ignored_untracked_and_tracked_changes_and_worktrees_are_named(
    repo: Path, tmp_path: Path
) -> None:
    before = snapshot(repo)
    _write(repo / "tests" / "reports" / "runs" / "r1" / "config.json")  # ignored: status hides it
    _write(repo / "new" / "deep" / "file.txt")  # untracked
    _write(repo / "file.txt", "b\n")
    (repo / "tests" / "reports" / "old.json").unlink()
    git(repo, "worktree", "add", "--quiet", "--detach", str(tmp_path / "wt"), "HEAD")
    lines = leftovers(before, snapshot(repo), repo)
    assert lines == [
        "added    new/deep/file.txt",
        "added    tests/reports/runs/r1/config.json",
        "changed  file.txt",
        "removed  tests/reports/old.json",
        f"worktree {tmp_path / 'wt'} (registered in the repository's .git)",
    ]


def test_a_file_committed_while_the_tests_ran_is_not_removed(repo: Path) -> None:
    _write(repo / "file.txt", "edited before the session\n")
    before = snapshot(repo)
    assert "file.txt" in before.files
    git(repo, "commit", "--quiet", "--all", "-m", "committed meanwhile")
    assert leftovers(before, snapshot(repo), repo) == []


def test_worktrees_of_other_sessions_on_a_shared_repository_are_not_this_runs(
    repo: Path, tmp_path: Path
) -> None:
    before = snapshot(repo)
    temp = Path(tempfile.gettempdir()).resolve()
    other = temp / "pytest-of-someone" / "pytest-1" / "x"
    after = type(before)(before.files, before.worktrees | {str(other), "/srv/elsewhere"})
    assert leftovers(before, after, repo, basetemp=tmp_path) == []
    mine = tmp_path / "ab" / ".cache"
    after = type(before)(before.files, before.worktrees | {str(mine)})
    assert leftovers(before, after, repo, basetemp=tmp_path) == [
        f"worktree {mine} (registered in the repository's .git)"
    ]


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("virnucpro/__pycache__/x.pyc", True),
        (".hypothesis/examples/a", True),
        ("virnucpro.egg-info/", True),
        (".nox/tests/bin/python", True),
        ("tests/reports/browser/metric.png", True),
        ("tests/reports/browser", True),
        ("tests/reports/runs/r/config.json", False),
        ("tests/reports/browserx/a.png", False),
        ("out/prediction_results.txt", False),
    ],
)
def test_what_is_allowed(path: str, expected: bool) -> None:
    assert allowed(path) is expected
