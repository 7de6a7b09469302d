"""What concurrent A/B runs share in one output folder, and the lock that keeps it whole.

Runs started together in one clone with one ``--output-dir`` (two CI jobs, two terminals) share
the cache under ``<output>/.cache/ab``: the base commit's worktree and, when the base needs it,
its environment. Each is made or repaired under a lock of its own (``<path>.lock`` beside it,
:func:`cache_lock`), so one run builds it while the other waits and then reuses it. Everything
else a run writes is its own: its run folder (:func:`new_run_dir`, created here and never one
another run made) with the workers' logs and outputs inside.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

from filelock import FileLock, Timeout

from virnucpro.bench.run.collector import new_run_id
from virnucpro.errors import InputError

LOCK_SUFFIX = ".lock"
RUN_PREFIX = "ab-"
RUN_DIR_ATTEMPTS = 16


def lock_path(target: Path) -> Path:
    """The lock file of a cached ``target``: ``<target>.lock`` beside it."""
    return target.with_name(f"{target.name}{LOCK_SUFFIX}")


@contextlib.contextmanager
def cache_lock(target: Path, *, timeout: float) -> Iterator[None]:
    """Hold ``target``'s lock while checking, making or repairing it.

    Waits up to ``timeout`` seconds for another run that holds it; past that, one line (exit 2)
    naming the lock, instead of two runs writing the same folder.
    """
    lock = lock_path(target)
    lock.parent.mkdir(parents=True, exist_ok=True)
    try:
        held = FileLock(lock, timeout=timeout)
        held.acquire()
    except Timeout:
        raise InputError(
            f"{target}: another run has been preparing it for over {timeout:.0f} s "
            f"(it holds {lock}); try again when that run has finished"
        ) from None
    try:
        yield
    finally:
        held.release()


def new_run_dir(runs: Path) -> Path:
    """A new, empty folder for one run under ``runs``: ``ab-<UTC time>-<random>``.

    Created here with an exclusive ``mkdir``, so two runs started in the same second never
    share one.
    """
    runs.mkdir(parents=True, exist_ok=True)
    for _ in range(RUN_DIR_ATTEMPTS):
        path = runs / f"{RUN_PREFIX}{new_run_id()}"
        try:
            path.mkdir()
        except FileExistsError:
            continue
        return path
    raise InputError(f"{runs}: could not create a new run folder in {RUN_DIR_ATTEMPTS} attempts")
