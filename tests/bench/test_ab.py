from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from virnucpro.bench import ab
from virnucpro.errors import InputError


def _git(root: Path, *args: str) -> str:
    done = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    root.mkdir()
    _git(root, "init", "--quiet", "-b", "main")
    for n in range(2):
        (root / "file.txt").write_text(f"{n}\n")
        _git(root, "add", "file.txt")
        _git(root, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "--quiet", "-m", f"c{n}")
    return root


def _sample(seconds: float, dnabert: float) -> ab.RoundSample:
    return ab.RoundSample(
        seconds=seconds,
        cpu_seconds=seconds,
        reads=10,
        bases=5000,
        kept_frames=60,
        dnabert_tokens=1000,
        esm_tokens=2000,
        stages={"dnabert": dnabert, "esm": 0.1, "merge": 0.0},
    )


def _rounds() -> tuple[ab.PairedRound, ...]:
    return tuple(
        ab.PairedRound(
            index=i,
            first="base" if i % 2 else "head",
            base=_sample(1.0 + i / 10, 0.5),
            head=_sample(1.2 + i / 10, 0.7),
            wall_seconds=2.5,
            others_share=0.1,
        )
        for i in range(3)
    )


def test_paired_metrics_keep_both_sides_in_pair_order() -> None:
    metrics = {m.name: m for m in ab.paired_metrics(_rounds())}
    total = metrics[ab.TOTAL_TIME]
    assert total.base == (1.0, 1.1, 1.2) and total.head == pytest.approx((1.2, 1.3, 1.4))
    assert (total.unit, total.better) == ("s", "lower")
    assert metrics[ab.READS_PER_S].head[0] == pytest.approx(10 / 1.2)
    assert metrics["stage.dnabert.time"].head == (0.7, 0.7, 0.7)
    assert metrics["throughput.dnabert.tokens_per_s"].base[0] == pytest.approx(2000.0)
    assert metrics["throughput.esm.tokens_per_s"].better == "higher"
    assert "stage.merge.time" not in metrics  # a zero time has no ratio


def test_record_round_trips(tmp_path: Path) -> None:
    side = ab.SideInfo(
        commit="abc", dirty=False, root="/r", package="/r/virnucpro", load_seconds=1.0
    )
    record = ab.ABRecord(
        ref="main",
        base=side,
        head=side,
        workload="w.fa",
        seed=1,
        warmup=2,
        cpus=2,
        rounds=_rounds(),
    )
    path = ab.write_record(record, tmp_path / "pairs.json")
    assert ab.read_record(path) == record
    assert record.others_shares() == (0.1, 0.1, 0.1)
    (tmp_path / "bad.json").write_text("{}")
    with pytest.raises(InputError, match="not an A/B pairs file"):
        ab.read_record(tmp_path / "bad.json")


def test_refs_resolve_to_commits(repo: Path) -> None:
    head = _git(repo, "rev-parse", "HEAD")
    first = _git(repo, "rev-parse", "HEAD~1")
    assert ab.resolve_ref(repo, "HEAD~1") == first
    assert ab.resolve_ref(repo, "main") == head
    _git(repo, "branch", "old", first)
    assert ab.resolve_ref(repo, "merge-base:old") == first
    with pytest.raises(InputError, match="not a commit"):
        ab.resolve_ref(repo, "no-such-branch")
    with pytest.raises(InputError, match="give a commit"):
        ab.resolve_ref(repo, " ")


def test_the_base_checkout_is_made_once_and_reused(repo: Path, tmp_path: Path) -> None:
    first = _git(repo, "rev-parse", "HEAD~1")
    path = ab.base_checkout(repo, first, tmp_path / "cache")
    assert (path / "file.txt").read_text() == "0\n"
    (path / "marker").write_text("")  # untracked: the worktree is no longer clean
    again = ab.base_checkout(repo, first, tmp_path / "cache")
    assert again == path and not (path / "marker").exists()
    assert ab.base_checkout(repo, first, tmp_path / "cache") == path


def test_unmet_requirements_are_named(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "x"\ndependencies = ["numpy>=1", "numpy>=9999", '
        '"no-such-package-here>=1", "pywin32>=1; sys_platform == \'win32\'"]\n'
    )
    unmet = ab.unmet_requirements(tmp_path)
    assert len(unmet) == 2
    assert "numpy>=9999 (installed" in unmet[0] and "not installed" in unmet[1]
    with pytest.raises(InputError, match="needs other packages"):
        ab.check_environment(tmp_path, "0123456789abcdef")
