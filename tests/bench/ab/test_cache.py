"""What concurrent A/B runs share: run folders of their own, and locked cache entries."""

from __future__ import annotations

import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from filelock import FileLock

from tests.repos import git, new_repo
from virnucpro.bench.ab import cache as ab_cache
from virnucpro.bench.ab import checkout
from virnucpro.bench.ab import env as ab_env
from virnucpro.bench.ab.cache import cache_lock, lock_path, new_run_dir
from virnucpro.errors import InputError

SHA = "0123456789abcdef0123"


def _at_once(count: int, call: Callable[[], object]) -> list[object]:
    """``call`` in ``count`` threads released together; their results (an exception re-raised)."""
    start = threading.Barrier(count)
    results: list[object] = [None] * count

    def run(index: int) -> None:
        start.wait()
        try:
            results[index] = call()
        except BaseException as exc:  # handed to the test
            results[index] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for result in results:
        if isinstance(result, BaseException):
            raise result
    return results


def test_run_folders_made_in_the_same_second_are_distinct_and_new(tmp_path: Path) -> None:
    folders = _at_once(8, lambda: new_run_dir(tmp_path / "runs"))
    assert len(set(folders)) == 8
    for folder in folders:
        assert folder.is_dir() and not any(folder.iterdir())
        assert folder.name.startswith(ab_cache.RUN_PREFIX)


def test_a_run_folder_is_never_one_that_exists(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = iter(["20261130T120000Z-aaaaaaaa", "20261130T120000Z-aaaaaaaa", "20261130T120000Z-b"])
    monkeypatch.setattr(ab_cache, "new_run_id", lambda: next(ids))
    first = new_run_dir(tmp_path)
    (first / "results-head.json").write_text("another run's")
    second = new_run_dir(tmp_path)
    assert (first.name, second.name) == ("ab-20261130T120000Z-aaaaaaaa", "ab-20261130T120000Z-b")
    assert (first / "results-head.json").read_text() == "another run's"


def test_a_lock_held_elsewhere_is_waited_for_then_one_line(tmp_path: Path) -> None:
    target = tmp_path / "cache" / SHA
    with FileLock(lock_path(target)), pytest.raises(InputError) as caught:  # noqa: SIM117
        with cache_lock(target, timeout=0.2):
            pass
    message = str(caught.value)
    assert "another run" in message and str(lock_path(target)) in message and "\n" not in message
    with cache_lock(target, timeout=0.2):  # free again once released
        pass


def test_the_lock_is_exclusive_between_processes(tmp_path: Path) -> None:
    """A second process waits while this one holds the lock (flock, not a thread lock)."""
    target = tmp_path / SHA
    code = (
        "import sys, time; from filelock import FileLock; "
        "t = time.monotonic(); FileLock(sys.argv[1]).acquire(); print(time.monotonic() - t)"
    )
    with cache_lock(target, timeout=1):
        waiter = subprocess.Popen(
            [ab_env.sys.executable, "-c", code, str(lock_path(target))],
            stdout=subprocess.PIPE,
            text=True,
        )
        time.sleep(0.8)
        assert waiter.poll() is None  # still waiting
    out, _ = waiter.communicate(timeout=30)
    assert float(out) >= 0.5


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return new_repo(tmp_path / "repo")


def test_runs_making_the_same_base_checkout_at_once_share_one(repo: Path, tmp_path: Path) -> None:
    sha = git(repo, "rev-parse", "HEAD")
    paths = _at_once(4, lambda: checkout.base_checkout(repo, sha, tmp_path / "cache"))
    assert len(set(paths)) == 1 and (paths[0] / "file.txt").read_text() == "0\n"
    listed = git(repo, "worktree", "list", "--porcelain").splitlines()
    assert sum(line.startswith("worktree ") for line in listed) == 2  # the repo and one checkout


def test_checkouts_under_a_folder_are_unregistered_and_removed(repo: Path, tmp_path: Path) -> None:
    sha = git(repo, "rev-parse", "HEAD")
    inside = checkout.base_checkout(repo, sha, tmp_path / "scratch" / "cache")
    kept = checkout.base_checkout(repo, sha, tmp_path / "kept")
    assert checkout.remove_base_checkouts(repo, tmp_path / "scratch") == (inside,)
    assert not inside.exists() and kept.is_dir()
    listed = git(repo, "worktree", "list", "--porcelain")
    assert str(inside) not in listed and str(kept) in listed


def test_runs_needing_the_same_base_environment_build_it_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    builds: list[Path] = []

    def slow_build(venv: Path, requirements: list[str]) -> None:
        builds.append(venv)
        time.sleep(0.3)  # long enough for the other run to arrive while it builds
        python = ab_env._venv_python(venv)
        python.parent.mkdir(parents=True)
        python.write_text("")
        (venv / ab_env.STAMP).write_text("\n".join(requirements) + "\n")

    unmet = (ab_env.Unmet("some-package==1", "some-package", None),)
    monkeypatch.setattr(ab_env, "unmet_requirements", lambda checkout: unmet)
    monkeypatch.setattr(ab_env, "_build", slow_build)
    found = _at_once(3, lambda: ab_env.base_interpreter(tmp_path, SHA, tmp_path / "cache"))
    assert len(builds) == 1
    assert len({python for python, _ in found}) == 1
