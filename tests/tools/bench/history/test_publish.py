"""Publishing to a git data branch: creation, retries under concurrent pushes, snapshots."""

from __future__ import annotations

import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.tools.bench.make_fixtures import gpu_run
from tools.bench.history.publish import (
    DEFAULT_BRANCH,
    branch_snapshot,
    local_data_ref,
    publish_to_branch,
    resolve_remote,
)
from tools.bench.history.runs import RunEntry, entry_from_results, read_history
from virnucpro.errors import InputError, RunFailure

PUSHERS = 4


def _entries(count: int) -> list[RunEntry]:
    return [
        entry_from_results(gpu_run(run_id=f"r{k}", created_at=f"2025-03-1{k}T08:00:00+00:00"))
        for k in range(count)
    ]


@pytest.fixture
def remote(tmp_path: Path) -> Path:
    path = tmp_path / "data.git"
    subprocess.run(["git", "init", "-q", "--bare", str(path)], check=True)
    return path


def _log(remote: Path) -> list[str]:
    done = subprocess.run(
        ["git", "-C", str(remote), "log", "--format=%s", DEFAULT_BRANCH],
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.splitlines()


def _snapshot_runs(remote: Path, tmp_path: Path, key: str) -> list[str]:
    dest = tmp_path / "snapshot"
    assert branch_snapshot(str(remote), f"refs/heads/{DEFAULT_BRANCH}", dest)
    return [e.run_id for e in read_history(dest, key)]


def test_first_publish_creates_the_branch(remote: Path, tmp_path: Path) -> None:
    (entry,) = _entries(1)
    result = publish_to_branch(entry, remote=str(remote), sleep=lambda _: None)
    assert (result.added, result.runs, result.attempts) == (True, 1, 1)
    assert _log(remote) == ["history: add run r0 (1a2b3c4)"]
    assert _snapshot_runs(remote, tmp_path, entry.key) == ["r0"]


def test_concurrent_publishes_all_land(remote: Path, tmp_path: Path) -> None:
    entries = _entries(PUSHERS)
    with ThreadPoolExecutor(PUSHERS) as pool:
        results = list(pool.map(lambda e: publish_to_branch(e, remote=str(remote)), entries))
    assert all(r.added for r in results)
    assert sorted(r.runs for r in results) == list(range(1, PUSHERS + 1))
    assert len(_log(remote)) == PUSHERS
    runs = _snapshot_runs(remote, tmp_path, entries[0].key)
    assert sorted(runs) == sorted(e.run_id for e in entries)


def test_republishing_a_run_changes_nothing(remote: Path) -> None:
    (entry,) = _entries(1)
    publish_to_branch(entry, remote=str(remote))
    again = publish_to_branch(entry, remote=str(remote))
    assert (again.added, again.runs) == (False, 1)
    assert len(_log(remote)) == 1


def test_a_push_that_keeps_losing_gives_up_with_one_line(
    remote: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tools.bench.history import publish

    monkeypatch.setattr(publish, "_push", lambda *args: False)
    (entry,) = _entries(1)
    with pytest.raises(RunFailure, match="could not push to benchmark-data in 3 attempts"):
        publish_to_branch(entry, remote=str(remote), attempts=3, sleep=lambda _: None)


def test_an_unreachable_remote_is_a_one_line_failure(tmp_path: Path) -> None:
    (entry,) = _entries(1)
    with pytest.raises(RunFailure, match="git ls-remote"):
        publish_to_branch(entry, remote=str(tmp_path / "nowhere.git"))


def test_remote_names_resolve_in_the_checkout(remote: Path, tmp_path: Path) -> None:
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(remote), str(clone)], check=True)
    assert resolve_remote("origin", clone) == str(remote)
    assert resolve_remote(str(remote), clone) == str(remote)
    with pytest.raises(InputError, match="no git remote named 'upstream'"):
        resolve_remote("upstream", clone)


def test_the_local_data_branch_is_found_after_a_fetch(remote: Path, tmp_path: Path) -> None:
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(remote), str(clone)], check=True)
    assert local_data_ref(DEFAULT_BRANCH, clone) is None
    publish_to_branch(_entries(1)[0], remote=str(remote))
    subprocess.run(["git", "-C", str(clone), "fetch", "-q", "origin"], check=True)
    assert local_data_ref(DEFAULT_BRANCH, clone) == (
        str(clone.resolve()),
        f"refs/remotes/origin/{DEFAULT_BRANCH}",
    )
