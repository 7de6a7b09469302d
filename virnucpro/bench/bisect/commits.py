"""The commits a bisection searches: the first-parent path from GOOD to BAD, checked first.

Everything here runs before any measuring, so a bad range is one line and exit 2: a range that
is not ``GOOD..BAD``, a ref that names no commit, GOOD equal to BAD, GOOD not an ancestor of
BAD, GOOD off BAD's first-parent history (on a merged branch), and a checkout with uncommitted
changes (a bisection measures commits and judges with this checkout's tools, so edits that are
in no commit would make its result impossible to reproduce).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from virnucpro.bench.ab.checkout import git
from virnucpro.bench.bisect.schema import Commit
from virnucpro.errors import InputError

RANGE_SEPARATOR = ".."
FIELD_SEPARATOR = "\x1f"  # between sha and subject in git log's output


@dataclass(frozen=True)
class CommitRange:
    """GOOD, and the first-parent path after it up to BAD (oldest first, BAD last)."""

    good: Commit
    path: tuple[Commit, ...]

    @property
    def bad(self) -> Commit:
        return self.path[-1]

    @property
    def all(self) -> tuple[Commit, ...]:
        """GOOD then the path: index 0 is GOOD, the last index BAD."""
        return (self.good, *self.path)


def split_range(text: str) -> tuple[str, str]:
    """``GOOD..BAD`` into its two refs."""
    good, sep, bad = text.partition(RANGE_SEPARATOR)
    if not sep or not good.strip() or not bad.strip() or bad.startswith("."):
        raise InputError(f"--bisect {text!r}: give a range GOOD..BAD, e.g. v1.2..main")
    return good.strip(), bad.strip()


def _commit(root: Path, ref: str, label: str) -> str:
    try:
        return git(root, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}")
    except InputError:
        raise InputError(f"--bisect: {label} {ref!r} is not a commit in {root}") from None


def _is_ancestor(root: Path, older: str, newer: str) -> bool:
    """Both are verified commits, so git's only "failure" here is the answer no."""
    try:
        git(root, "merge-base", "--is-ancestor", older, newer)
    except InputError:
        return False
    return True


def subject(root: Path, sha: str) -> str:
    return git(root, "log", "-1", "--format=%s", sha)


def _first_parent_path(root: Path, good: str, bad: str) -> tuple[Commit, ...]:
    text = git(
        root,
        "log",
        "--first-parent",
        "--reverse",
        f"--format=%H{FIELD_SEPARATOR}%s",
        f"{good}..{bad}",
    )
    path = []
    for line in text.splitlines():
        sha, _, title = line.partition(FIELD_SEPARATOR)
        path.append(Commit(sha=sha, subject=title))
    return tuple(path)


def check_clean(root: Path) -> None:
    """Refuse a checkout with uncommitted changes to tracked files."""
    changed = git(root, "status", "--porcelain", "--untracked-files=no").splitlines()
    if changed:
        first = changed[0].split(maxsplit=1)[-1]  # "XY path"
        raise InputError(
            f"--bisect: {root} has uncommitted changes ({len(changed)} file(s), first {first}); "
            "a bisection measures commits and judges with this checkout's tools: commit or "
            "stash them first"
        )


def resolve_range(root: Path, text: str) -> CommitRange:
    """The commits of ``GOOD..BAD`` in ``root``, checked (see the module docstring)."""
    good_ref, bad_ref = split_range(text)
    good = _commit(root, good_ref, "GOOD")
    bad = _commit(root, bad_ref, "BAD")
    if good == bad:
        raise InputError(f"--bisect {text}: GOOD and BAD are the same commit {good[:12]}")
    if not _is_ancestor(root, good, bad):
        raise InputError(
            f"--bisect {text}: GOOD {good[:12]} is not an ancestor of BAD {bad[:12]}; "
            "a bisection needs BAD to descend from GOOD"
        )
    path = _first_parent_path(root, good, bad)
    first_parent = git(root, "rev-parse", f"{path[0].sha}^1") if path else None
    if first_parent != good:
        raise InputError(
            f"--bisect {text}: GOOD {good[:12]} is not on BAD's first-parent history (it is on "
            "a merged branch); give a commit of the first-parent history, e.g. the merge's "
            "first parent"
        )
    return CommitRange(good=Commit(sha=good, subject=subject(root, good)), path=path)
