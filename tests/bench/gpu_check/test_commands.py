"""The GPU check's command steps: the GPU test files, the quick tier's and A/B's arguments, the
A/B self-check from a tree without ``.git``."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from tests.bench.gpu_check.conftest import check_config
from virnucpro.bench.gpu_check import commands
from virnucpro.bench.gpu_check.child import Finished
from virnucpro.bench.gpu_check.commands import (
    GPU_TEST_FILES,
    ab_args,
    ab_step,
    benchmark_args,
    gpu_tests_step,
    pytest_counts,
    snapshot_repository,
)
from virnucpro.bench.gpu_check.spec import (
    STATUS_FAILED,
    STATUS_NOT_AVAILABLE,
    STATUS_OK,
    STEP_SPECS,
    CheckConfig,
)

ROOT = Path(__file__).resolve().parents[3]
GPU_MARK = re.compile(r"^\s*(@pytest\.mark\.gpu\b|pytestmark\s*=.*\bgpu\b)", re.M)
SPECS = {s.name: s for s in STEP_SPECS}


def test_pytest_counts_read_the_final_summary_line() -> None:
    output = "....\nFAILED tests/x.py::y\n2 failed, 5 passed, 3 skipped, 1 error in 4.20s\n"
    assert pytest_counts(output) == {"failed": 2, "passed": 5, "skipped": 3, "error": 1}
    assert pytest_counts("no summary") == {}


def test_the_gpu_test_files_are_exactly_those_with_gpu_marked_tests() -> None:
    """Listed, not collected: collecting all of tests/ fails on the first missing optional
    import; and a new gpu-marked module must be added here or this fails."""
    marked = {
        path.relative_to(ROOT).as_posix()
        for path in (ROOT / "tests").rglob("test_*.py")
        if GPU_MARK.search(path.read_text(encoding="utf-8"))
    }
    assert set(GPU_TEST_FILES) == marked
    assert len(GPU_TEST_FILES) == len(set(GPU_TEST_FILES))


def _finished(code: int | None, output: str) -> Finished:
    return Finished(code, 3.0, output, cpu_seconds=2.0)


def test_the_gpu_tests_run_the_listed_files_only(
    config: CheckConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[list[str]] = []

    def run(command: list[str], **kwargs: object) -> Finished:
        seen.append(command)
        return _finished(0, "SKIPPED [1] tests/x.py:3: needs a CUDA GPU\n9 skipped in 2.0s\n")

    monkeypatch.setattr(commands, "run_process", run)
    result = gpu_tests_step(config, SPECS["gpu_tests"], 60, config.scratch / "o")
    assert result.status == STATUS_OK and result.cpu_seconds == 2.0
    assert seen[0][-len(GPU_TEST_FILES) :] == list(GPU_TEST_FILES)
    assert "tests" not in seen[0]


def test_a_skipped_gpu_test_on_the_gpu_fails_the_step(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    output = "SKIPPED [1] tests/x.py:3: needs a CUDA GPU\n4 passed, 1 skipped in 9.0s\n"
    monkeypatch.setattr(commands, "run_process", lambda command, **kwargs: _finished(0, output))
    config = check_config(tmp_path, dry_run=False)
    result = gpu_tests_step(config, SPECS["gpu_tests"], 60, config.scratch / "o")
    assert result.status == STATUS_FAILED
    assert result.detail.startswith("1 gpu test(s) skipped on the GPU: SKIPPED [1] tests/x.py:3")


def test_the_dry_run_quick_tier_is_the_gpu_one_on_the_cpu_without_scaling(tmp_path: Path) -> None:
    dry = benchmark_args(check_config(tmp_path), tmp_path)
    assert dry[:3] == ["--quick", "--gpus", "none"]
    assert dry[dry.index("--suite") + 1] == "end_to_end,throughput,memory,equivalence"
    gpu = benchmark_args(check_config(tmp_path, dry_run=False), tmp_path)
    assert gpu[:3] == ["--quick", "--gpus", "0"] and "--suite" not in gpu
    assert "--rounds" not in dry + gpu  # the quick tier's own rounds on both


def test_the_ab_self_check_has_the_same_bounds_in_a_dry_run(tmp_path: Path) -> None:
    dry = ab_args(check_config(tmp_path), tmp_path)
    gpu = ab_args(check_config(tmp_path, dry_run=False), tmp_path)
    assert dry[dry.index("--gpus") + 1] == "none" and gpu[gpu.index("--gpus") + 1] == "0"
    bounds = ["--rounds", "20", "--max-rounds", "30", "--time-budget", "60", "--against", "HEAD"]
    assert dry[-8:] == gpu[-8:] == bounds
    # two worker pairs within the 30 pairs: the gate decides from two
    gate = Path(dry[dry.index("--thresholds") + 1])
    assert gate.read_text(encoding="utf-8") == "ab_fresh_workers_every = 15\n"


def test_a_tree_without_git_becomes_a_repository_with_one_commit(tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    (tree / "pkg").mkdir(parents=True)
    (tree / "pkg" / "mod.py").write_text("X = 1\n")
    (tree / ".whl").mkdir()
    (tree / ".whl" / "big.whl").write_text("not copied")
    repo = snapshot_repository(tree, tmp_path / "repo")
    listed = subprocess.run(
        ["git", "ls-files"], cwd=repo, capture_output=True, text=True, check=True
    ).stdout.split()
    assert listed == ["pkg/mod.py"]
    head = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True, check=True
    )
    assert re.fullmatch(r"[0-9a-f]{40}\n", head.stdout)
    assert not (tree / ".git").exists()


def test_the_ab_self_check_runs_in_the_snapshot_repository(
    config: CheckConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    (config.root / "mod.py").write_text("X = 1\n")
    roots: list[Path | None] = []

    def run(command: list[str], **kwargs: object) -> Finished:
        roots.append(kwargs.get("root"))  # type: ignore[arg-type]
        return _finished(0, "PASS")

    monkeypatch.setattr(commands, "ab_available", lambda config: True)
    monkeypatch.setattr(commands, "run_process", run)
    result = ab_step(config, SPECS["ab_self_check"], 45, config.scratch / "o")
    assert result.status == STATUS_OK
    assert roots == [config.scratch / "ab_repo"] and (roots[0] / ".git").is_dir()  # type: ignore[operator]


def test_without_git_the_ab_self_check_is_not_available_and_says_why(
    config: CheckConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(commands, "ab_available", lambda config: True)
    monkeypatch.setattr(commands.shutil, "which", lambda program: None)
    result = ab_step(config, SPECS["ab_self_check"], 45, config.scratch / "o")
    assert result.status == STATUS_NOT_AVAILABLE
    assert (
        result.detail
        == "not run: no git on this machine (the A/B mode builds its other side from a commit)"
    )


def test_a_dry_run_ab_that_never_measured_fails_even_with_exit_2(
    config: CheckConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The old dry run called `--against HEAD: not a commit` (exit 2) a pass."""
    error = "virnucpro: error: --against HEAD: not a commit in /tmp/tree"
    monkeypatch.setattr(commands, "ab_available", lambda config: True)
    monkeypatch.setattr(commands, "run_process", lambda command, **kwargs: _finished(2, error))
    result = ab_step(config, SPECS["ab_self_check"], 45, config.scratch / "o")
    assert result.status == STATUS_FAILED and "not a commit" in result.detail
