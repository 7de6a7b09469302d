"""The base side's source: the commit a reference names, and its git worktree, made once.

The base commit is checked out under ``<output>/.cache/ab/<sha>``, kept and reused for later
runs while it stays clean, and made under a lock (:mod:`virnucpro.bench.ab.cache`) so that
runs started together share it. Every git failure is one :class:`~virnucpro.errors.InputError`
line.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from virnucpro.bench.ab.cache import cache_lock
from virnucpro.errors import InputError

CACHE_DIR = Path(".cache") / "ab"
MERGE_BASE_PREFIX = "merge-base:"
GIT_TIMEOUT_S = 120.0
CHECKOUT_LOCK_TIMEOUT_S = 4 * GIT_TIMEOUT_S  # the longest another run may take to make it


def git(root: Path, *args: str) -> str:
    """``git -C root args``'s output; a failure is one :class:`InputError` line."""
    try:
        done = subprocess.run(
            ["git", "-C", str(root), *args],
            capture_output=True,
            text=True,
            timeout=GIT_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise InputError(f"git {' '.join(args)}: {exc}") from None
    if done.returncode != 0:
        detail = (done.stderr.strip().splitlines() or ["failed"])[-1]
        raise InputError(f"git {' '.join(args)}: {detail}")
    return done.stdout.strip()


def resolve_ref(root: Path, ref: str) -> str:
    """The commit ``ref`` names: a sha, a branch, a tag, or ``merge-base:BRANCH``."""
    if not ref.strip():
        raise InputError("--against: give a commit, a branch or merge-base:BRANCH")
    if ref.startswith(MERGE_BASE_PREFIX):
        branch = ref[len(MERGE_BASE_PREFIX) :]
        return git(root, "merge-base", "HEAD", _commit_of(root, branch))
    return _commit_of(root, ref)


def _commit_of(root: Path, ref: str) -> str:
    try:
        return git(root, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}")
    except InputError:
        raise InputError(f"--against {ref}: not a commit in {root}") from None


def base_checkout(root: Path, sha: str, cache: Path) -> Path:
    """A worktree of ``sha`` under ``cache`` (created once, reused while it stays clean).

    Checked and made under the lock of ``<cache>/<sha>``: a run started at the same moment
    waits, then reuses it.
    """
    path = (cache / sha).resolve()
    with cache_lock(path, timeout=CHECKOUT_LOCK_TIMEOUT_S):
        if (path / ".git").exists():
            if git(path, "rev-parse", "HEAD") == sha and not git(path, "status", "--porcelain"):
                return path
            git(root, "worktree", "remove", "--force", str(path))
        path.parent.mkdir(parents=True, exist_ok=True)
        git(root, "worktree", "prune")
        git(root, "worktree", "add", "--detach", "--force", str(path), sha)
    return path


def remove_base_checkouts(root: Path, folder: Path) -> tuple[Path, ...]:
    """Unregister and delete the worktrees of ``root`` that lie under ``folder``.

    For a caller whose output folder is temporary (the GPU check): once the folder is gone its
    worktrees would stay registered in the repository, listed by ``git worktree list``.
    """
    inside = folder.resolve()
    removed = []
    for line in git(root, "worktree", "list", "--porcelain").splitlines():
        if not line.startswith("worktree "):
            continue
        path = Path(line[len("worktree ") :])
        if path.resolve().is_relative_to(inside):
            git(root, "worktree", "remove", "--force", str(path))
            removed.append(path)
    return tuple(removed)
