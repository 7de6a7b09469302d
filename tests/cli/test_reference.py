"""Which commit the quick tier measures against, and why: small git histories, no measuring."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.repos import git
from tools.bench.history.baseline import BaselineRecord, KeyParts, stored_baseline, update_baseline
from tools.bench.synthetic import synthetic_document
from virnucpro.bench.records import SchemaError
from virnucpro.bench.schema import metric_from_samples
from virnucpro.cli.reference import Stored, choose_reference

KEY = "0123456789abcdef/tiny-8c0ffa9ce40c-500-fast-tiny-cpu-fp32"


def _repo(root: Path, *, branch: str = "main", commits: int = 2) -> list[str]:
    root.mkdir(parents=True)
    git(root, "init", "-q", "-b", branch)
    shas = []
    for k in range(commits):
        (root / "f.txt").write_text(f"{k}\n", encoding="utf-8")
        git(root, "add", "f.txt")
        git(root, "commit", "-q", "-m", f"c{k}")
        shas.append(git(root, "rev-parse", "HEAD"))
    return shas


def _stored(commit: str | None, tmp_path: Path) -> Stored:
    metric = metric_from_samples("end_to_end.total_time", [0.1] * 5, unit="s", better="lower")
    doc = synthetic_document(
        [metric], run_id="base-run", environment={"git_commit": commit, "git_dirty": False}
    )
    path = tmp_path / "baseline.json"
    return Stored(KEY, BaselineRecord(path, "2026-11-24T21:49:43+00:00", "base-run", doc))


def test_the_stored_baseline_s_commit_when_the_history_holds_it(tmp_path: Path) -> None:
    first, _ = _repo(tmp_path / "repo")
    reference = choose_reference(tmp_path / "repo", _stored(first, tmp_path))
    assert reference.sha == first
    assert reference.why.startswith(
        f"{first[:12]} is the commit the stored baseline of this hardware and workload was "
        "recorded at"
    )
    assert reference.label == f"{first[:12]} (the stored baseline's commit)"


def test_else_the_merge_base_with_the_default_branch_saying_why(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    first, second = _repo(root)
    git(root, "checkout", "-q", "-b", "feature", first)
    (root / "g.txt").write_text("x\n", encoding="utf-8")
    git(root, "add", "g.txt")
    git(root, "commit", "-q", "-m", "feature work")
    reference = choose_reference(root, _stored("f" * 40, tmp_path))
    assert reference.sha == first  # where feature left main
    assert "is the merge base of this checkout with main; the stored baseline's commit " in (
        reference.why
    )
    assert "not in this checkout's history" in reference.why
    none = choose_reference(root, Stored(KEY, None))
    assert none.sha == first and f"no stored baseline for this hardware and workload ({KEY})" in (
        none.why
    )
    git(root, "checkout", "-q", "main")
    itself = choose_reference(root, Stored(KEY, None))
    assert itself.sha == second and "(HEAD itself: the uncommitted changes" in itself.why


def test_a_clone_takes_the_merge_base_with_origin_head(tmp_path: Path) -> None:
    first, _ = _repo(tmp_path / "origin", branch="trunk")
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(tmp_path / "origin"), str(clone)], check=True)
    git(clone, "reset", "-q", "--hard", first)
    reference = choose_reference(clone, Stored(KEY, None))
    assert reference.sha == first and "merge base of this checkout with origin/HEAD" in (
        reference.why
    )


def test_no_reference_without_git_history_or_a_default_branch(tmp_path: Path) -> None:
    plain = tmp_path / "export"
    plain.mkdir()
    reference = choose_reference(plain, Stored(KEY, None))
    assert reference.sha is None
    assert (
        reference.why == f"no reference commit: {plain} has no git history (not a git repository)"
    )
    _repo(tmp_path / "odd", branch="develop")
    odd = choose_reference(tmp_path / "odd", Stored(KEY, None))
    assert odd.sha is None and odd.why.startswith("no reference commit: no stored baseline")
    assert "origin/HEAD, origin/main, origin/master, main, master" in odd.why


def test_a_damaged_stored_baseline_is_named_and_the_merge_base_taken(tmp_path: Path) -> None:
    _, second = _repo(tmp_path / "repo")
    stored = Stored(KEY, None, problem="the stored baseline is unusable: x.json: not valid JSON")
    reference = choose_reference(tmp_path / "repo", stored)
    assert reference.sha == second and reference.why.endswith("x.json: not valid JSON")


def test_the_stored_baseline_is_found_by_the_key_a_run_will_have(tmp_path: Path) -> None:
    metric = metric_from_samples("end_to_end.total_time", [0.1] * 5, unit="s", better="lower")
    doc = synthetic_document([metric], run_id="stored")
    update_baseline(doc, tmp_path)
    key = KeyParts.of(doc).key()
    found = stored_baseline(key, tmp_path)
    assert found is not None and found.source_run_id == "stored"
    assert stored_baseline(key.replace("-cpu-", "-cuda-"), tmp_path) is None
    (path,) = tmp_path.rglob("*.json")
    path.write_text("{not json", encoding="utf-8")
    with pytest.raises(SchemaError, match="not valid JSON"):
        stored_baseline(key, tmp_path)
