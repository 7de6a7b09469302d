"""Git repositories for tests: small ones made from scratch (:func:`new_repo`), and a throw-away
clone of this checkout, working tree included (:func:`clone_checkout`).

A/B runs check the base commit out as a worktree of the repository they run in, and a
worktree is registered in that repository's ``.git``. Tests that run them do so in a clone
made here, under their temporary folder, so the checkout under test is left as it was (the
session check in ``tests/conftest.py`` fails a run that leaves anything behind). The clone's
one commit on top of this checkout's HEAD holds the working tree as it is now, uncommitted
changes and untracked (not ignored) files included, so it tests the code being tested.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
GIT_IDENTITY = ("-c", "user.name=virnucpro tests", "-c", "user.email=tests@virnucpro.invalid")


def git(root: Path, *args: str, strip: bool = True) -> str:
    """Run git in ``root``; its output (stripped unless told), or an AssertionError with git's
    message."""
    done = subprocess.run(
        ["git", "-C", str(root), *GIT_IDENTITY, *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, f"git {' '.join(args)}: {done.stderr.strip()}"
    return done.stdout.strip() if strip else done.stdout


def new_repo(root: Path, commits: int = 1) -> Path:
    """A repository at ``root`` whose ``file.txt`` reads ``0``, ``1``... in its ``commits``
    commits on ``main``."""
    root.mkdir(parents=True)
    git(root, "init", "--quiet", "-b", "main")
    for n in range(commits):
        (root / "file.txt").write_text(f"{n}\n")
        git(root, "add", "file.txt")
        git(root, "commit", "--quiet", "-m", f"c{n}")
    return root


def _working_files(root: Path) -> list[str]:
    """Tracked and untracked, not ignored, files of ``root`` that exist now."""
    listed = git(root, "ls-files", "-z", "--cached", "--others", "--exclude-standard")
    return [name for name in listed.split("\0") if name and (root / name).is_file()]


def clone_checkout(dest: Path, source: Path = REPO) -> Path:
    """Clone ``source`` into ``dest`` and commit its working tree there; return ``dest``."""
    subprocess.run(
        ["git", "clone", "--quiet", "--no-checkout", str(source), str(dest)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    git(dest, "checkout", "--quiet", "--detach", git(source, "rev-parse", "HEAD"))
    for name in _working_files(source):
        target = dest / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source / name, target)
    git(dest, "add", "--all")
    git(dest, "commit", "--quiet", "--allow-empty", "--no-verify", "-m", "the working tree")
    return dest
