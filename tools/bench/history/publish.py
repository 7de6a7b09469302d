"""Publish a run to the history on a git data branch, safely when several jobs push at once.

:func:`publish_to_branch` fetches the tip of the branch (only the tip: the branch's past is
never downloaded) into a private temporary repository, adds the run with
:func:`tools.bench.history.runs.add_run`, commits and pushes. A push refused because another job
moved the branch first is retried from a fresh fetch, up to ``PUSH_ATTEMPTS`` times, so every
run lands and none overwrites another. A branch that does not exist yet is created.

:func:`branch_snapshot` checks the branch's tip out into a folder for reading (the dashboard).
Git errors are one line (:class:`~virnucpro.errors.RunFailure`), never a traceback.
"""

from __future__ import annotations

import random
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tools.bench.history.runs import AddResult, RunEntry, add_run
from virnucpro.errors import InputError, RunFailure

DEFAULT_BRANCH = "benchmark-data"
DEFAULT_REMOTE = "origin"
PUSH_ATTEMPTS = 8
RETRY_BASE_S = 0.5
COMMITTER = ("virnucpro-bench", "virnucpro-bench@users.noreply.github.com")
# what git prints when a push lost the race to another push
REJECTED_MARKERS = ("[rejected]", "non-fast-forward", "fetch first", "failed to update ref")

Sleep = Callable[[float], None]


@dataclass(frozen=True)
class PublishResult:
    """What a publish did: the file on the branch, whether the run was new, pushes tried."""

    branch: str
    path: str
    added: bool
    runs: int
    attempts: int


def _git(repo: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    command = ["git", "-C", str(repo), *args]
    try:
        done = subprocess.run(command, capture_output=True, text=True, check=False)
    except FileNotFoundError:
        raise RunFailure("git is not installed (publishing to a branch needs it)") from None
    if check and done.returncode != 0:
        detail = (done.stderr or done.stdout).strip().splitlines()
        last = detail[-1] if detail else f"exit {done.returncode}"
        raise RunFailure(f"git {' '.join(args[:2])} failed: {last}")
    return done


def resolve_remote(remote: str, cwd: Path | None = None) -> str:
    """A remote name of the repository at ``cwd`` as its URL; a URL or path passes through."""
    here = Path.cwd() if cwd is None else cwd
    if "/" in remote or ":" in remote or Path(remote).exists():
        return remote
    done = _git(here, "remote", "get-url", remote, check=False)
    if done.returncode != 0:
        raise InputError(f"no git remote named {remote!r} here; give a URL or a path")
    return done.stdout.strip()


def _fetch_tip(repo: Path, remote: str, ref: str) -> bool:
    """Check the tip of ``ref`` out in ``repo``; False (and an empty orphan) when it has none."""
    listed = _git(repo, "ls-remote", remote, ref)
    if not any(line.split("\t")[-1] == ref for line in listed.stdout.splitlines()):
        _git(repo, "checkout", "-q", "--orphan", f"tmp-{random.getrandbits(32):08x}")
        _git(repo, "rm", "-rfq", "--ignore-unmatch", ".")
        return False
    _git(repo, "fetch", "-q", "--depth=1", remote, ref)
    _git(repo, "checkout", "-q", "--force", "--detach", "FETCH_HEAD")
    _git(repo, "clean", "-qfdx")
    return True


def _commit(repo: Path, path: Path, message: str) -> None:
    name, email = COMMITTER
    _git(repo, "add", "--", str(path.relative_to(repo)))
    identity = ("-c", f"user.name={name}", "-c", f"user.email={email}")
    _git(repo, *identity, "commit", "-q", "-m", message)


def _push(repo: Path, remote: str, branch: str) -> bool:
    """True when the push landed, False when another push got there first."""
    done = _git(repo, "push", "-q", remote, f"HEAD:refs/heads/{branch}", check=False)
    if done.returncode == 0:
        return True
    output = done.stderr + done.stdout
    if any(marker in output for marker in REJECTED_MARKERS):
        return False
    lines = output.strip().splitlines()
    raise RunFailure(f"git push failed: {lines[-1] if lines else f'exit {done.returncode}'}")


Add = Callable[[Path], tuple[Path, bool]]  # writes into the checked-out tip: (file, whether new)


def land_on_branch(
    add: Add,
    *,
    message: str,
    remote: str,
    branch: str = DEFAULT_BRANCH,
    attempts: int = PUSH_ATTEMPTS,
    sleep: Sleep = time.sleep,
) -> tuple[str, bool, int]:
    """Fetch the tip, ``add``, commit and push, retried from a fresh fetch while others win the
    race; the file (relative to the branch), whether it was new, and the attempts it took."""
    with tempfile.TemporaryDirectory(prefix="virnucpro-publish-") as tmp:
        repo = Path(tmp)
        _git(repo, "init", "-q")
        for attempt in range(1, attempts + 1):
            _fetch_tip(repo, remote, f"refs/heads/{branch}")
            path, added = add(repo)
            relative = path.relative_to(repo).as_posix()
            if not added:
                return relative, False, attempt
            _commit(repo, path, message)
            if _push(repo, remote, branch):
                return relative, True, attempt
            sleep(RETRY_BASE_S * attempt * (1.0 + random.random()))
    raise RunFailure(f"could not push to {branch} in {attempts} attempts (others kept pushing)")


def publish_to_branch(
    entry: RunEntry,
    *,
    remote: str,
    branch: str = DEFAULT_BRANCH,
    attempts: int = PUSH_ATTEMPTS,
    sleep: Sleep = time.sleep,
) -> PublishResult:
    """Add ``entry`` to the history on ``branch`` of ``remote`` (a URL or a path)."""
    counted: list[AddResult] = []

    def add(repo: Path) -> tuple[Path, bool]:
        counted.append(add_run(repo, entry))
        return counted[-1].path, counted[-1].added

    message = f"history: add run {entry.run_id} ({entry.short_commit})"
    path, added, attempt = land_on_branch(
        add, message=message, remote=remote, branch=branch, attempts=attempts, sleep=sleep
    )
    return PublishResult(branch, path, added, counted[-1].runs, attempt)


def branch_snapshot(remote: str, ref: str, dest: Path) -> bool:
    """Check the tip of ``ref`` (``refs/heads/<branch>``, ...) out into the empty ``dest``.

    False when ``remote`` has no such ref.
    """
    dest.mkdir(parents=True, exist_ok=True)
    _git(dest, "init", "-q")
    return _fetch_tip(dest, remote, ref)


def local_data_ref(branch: str, cwd: Path | None = None) -> tuple[str, str] | None:
    """(repository, ref) of ``branch`` or ``origin/<branch>`` in the checkout at ``cwd``."""
    here = Path.cwd() if cwd is None else cwd
    top = _git(here, "rev-parse", "--show-toplevel", check=False)
    if top.returncode != 0:
        return None
    for ref in (f"refs/heads/{branch}", f"refs/remotes/{DEFAULT_REMOTE}/{branch}"):
        if _git(here, "rev-parse", "--verify", "-q", ref, check=False).returncode == 0:
            return top.stdout.strip(), ref
    return None
