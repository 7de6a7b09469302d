"""What the test suite may leave in the checkout: nothing but caches, venvs and named artifacts.

``tests/conftest.py`` takes a :func:`snapshot` when the session starts and compares it with one
taken when it ends (:func:`leftovers`); anything a test added, changed or removed in the working
tree (git-ignored files included: ``git status`` alone hides them) or in the repository's list
of worktrees fails the run, named. Tests write into temporary folders; tests that drive git on
a repository use a clone (``tests/repos.py``).

Allowed (:data:`ALLOWED`): Python and tool caches, virtual environments and build metadata, and
the artifacts the docs name: the dashboard browser test's screenshots in
``tests/reports/browser/`` (docs/history.md).
"""

from __future__ import annotations

import fnmatch
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from tests.repos import git

ALLOWED = (
    "__pycache__",
    "*.pyc",
    ".pytest_cache",
    ".ruff_cache",
    ".hypothesis",
    ".venv",
    ".nox",
    ".nox-venv",
    "*.egg-info",
    "tests/reports/browser",  # the browser test's screenshots (docs/history.md)
)
PYTEST_TEMP_PREFIX = "pytest-of-"
UNTRACKED = ("??", "!!")  # git status codes of untracked and ignored paths


@dataclass(frozen=True)
class Snapshot:
    """The checkout's files outside git's clean state, and the repository's worktrees."""

    files: dict[str, tuple[str, int, int]]  # path (relative, posix) -> (git status, size, mtime)
    worktrees: frozenset[str]


def allowed(relative: str) -> bool:
    """Whether a path (relative to the checkout, posix) is a cache, a venv or a named artifact."""
    parts = relative.rstrip("/").split("/")
    for pattern in ALLOWED:
        if "/" in pattern:
            if relative.rstrip("/") == pattern or relative.startswith(f"{pattern}/"):
                return True
        elif any(fnmatch.fnmatch(part, pattern) for part in parts):
            return True
    return False


def _files_under(root: Path, relative: str, code: str) -> dict[str, tuple[str, int, int]]:
    """Every file at or under ``relative`` (links not followed), allowed paths left out."""
    found: dict[str, tuple[str, int, int]] = {}
    start = root / relative
    if start.is_symlink() or not start.is_dir():
        if start.exists() or start.is_symlink():
            info = start.lstat()
            found[relative.rstrip("/")] = (code, info.st_size, info.st_mtime_ns)
        return found
    for folder, dirs, files in os.walk(start):
        base = Path(folder).relative_to(root).as_posix()
        dirs[:] = [d for d in dirs if not allowed(f"{base}/{d}")]
        for name in files:
            path = f"{base}/{name}"
            if not allowed(path):
                info = (Path(folder) / name).lstat()
                found[path] = (code, info.st_size, info.st_mtime_ns)
    return found


def _worktrees(root: Path) -> frozenset[str]:
    listed = git(root, "worktree", "list", "--porcelain").splitlines()
    return frozenset(line[len("worktree ") :] for line in listed if line.startswith("worktree "))


def snapshot(root: Path) -> Snapshot:
    """Every path ``git status --porcelain --ignored`` lists (folders walked), with its size and
    modification time, and the repository's worktrees."""
    status = git(root, "status", "--porcelain=v1", "-z", "--ignored", strip=False).split("\0")
    files: dict[str, tuple[str, int, int]] = {}
    entries = iter(status)
    for entry in entries:
        if not entry:
            continue
        code, path = entry[:2], entry[3:]
        if code[0] in "RC":
            next(entries, None)  # a rename's second field is the old name
        if not allowed(path):
            files.update(_files_under(root, path, code))
    return Snapshot(files=files, worktrees=_worktrees(root))


def _other_session(path: Path, basetemp: Path | None) -> bool:
    """A path under another pytest session's temporary folder (a run in a sibling worktree)."""
    temp = Path(tempfile.gettempdir()).resolve()
    if not path.is_relative_to(temp):
        return False
    parts = path.relative_to(temp).parts
    if len(parts) < 2 or not parts[0].startswith(PYTEST_TEMP_PREFIX):
        return False
    return basetemp is not None and not path.is_relative_to(basetemp.resolve())


def _ours(worktree: str, root: Path, basetemp: Path | None) -> bool:
    """A worktree this suite could have made: in a temporary folder or inside the checkout.

    Worktrees other people add to a shared repository meanwhile (elsewhere, or in another
    pytest session's temporary folder) are not this run's.
    """
    path = Path(worktree).resolve()
    temp = Path(tempfile.gettempdir()).resolve()
    inside = path.is_relative_to(temp) or path.is_relative_to(root.resolve())
    return inside and not _other_session(path, basetemp)


def leftovers(
    before: Snapshot, after: Snapshot, root: Path, basetemp: Path | None = None
) -> list[str]:
    """What the session added, changed or removed, one line each (empty: the checkout is as it
    was)."""
    new = set(after.files) - set(before.files)
    lines = [f"added    {p}" for p in sorted(new) if after.files[p][0] in UNTRACKED]
    lines += [
        f"changed  {p}"
        for p in sorted(set(after.files))
        if (p in new and after.files[p][0] not in UNTRACKED)
        or (p in before.files and after.files[p] != before.files[p])
    ]
    lines += [  # gone from disk (a file committed or restored meanwhile is not "removed")
        f"removed  {p}"
        for p in sorted(set(before.files) - set(after.files))
        if not (root / p).exists() and not (root / p).is_symlink()
    ]
    lines += [
        f"worktree {w} (registered in the repository's .git)"
        for w in sorted(after.worktrees - before.worktrees)
        if _ours(w, root, basetemp)
    ]
    return lines
