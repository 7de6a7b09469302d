"""``scripts/gpu_check.py --dry-run``: the GPU check's own code, end to end, on the CPU.

The dry run builds tiny models on the CPU and runs every step of the GPU plan (the model steps
in one process, the ``gpu``-marked tests, the quick tier, the A/B self-check) with the GPU run's
workload, rounds and pairs, so the script cannot rot between visits to a GPU machine, and
estimates each step's time there. This runs it in the test environment; CI also runs it in a
copy of the GPU image (``nox -s gpu_check -- --dry-run``, see tests/test_noxfile.py).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.repos import clone_checkout, git

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "gpu_check.py"


def _run(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    """The check's command line from the checkout, output captured, never raising on exit."""
    return subprocess.run(
        [sys.executable, *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


MAX_FILES = 8  # what comes back from the device machine
MAX_DEPTH = 3  # OUTDIR/a/b/file: two folder levels below OUTDIR
STEPS = (
    "throughput",
    "end_to_end",
    "equivalence",
    "sampler_overhead",
    "gpu_tests",
    "quick_tier",
    "ab_self_check",
)


@pytest.fixture(scope="module")
def dry_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess, Path]:
    """The dry run from a clone of this checkout: it leaves the clone's repository as it was
    (its A/B step commits a copy of the tree into a repository of its own)."""
    clone = clone_checkout(tmp_path_factory.mktemp("checkout") / "clone")
    out = tmp_path_factory.mktemp("gpu_check")
    done = subprocess.run(
        [sys.executable, str(clone / SCRIPT.relative_to(ROOT)), str(out), "--dry-run"],
        cwd=clone,
        capture_output=True,
        text=True,
        timeout=1500,
        check=False,
    )
    worktrees = git(clone, "worktree", "list", "--porcelain").splitlines()
    assert [w for w in worktrees if w.startswith("worktree ")] == [f"worktree {clone}"]
    return done, out


@pytest.mark.slow
def test_dry_run_passes_every_step(dry_run: tuple[subprocess.CompletedProcess, Path]) -> None:
    done, out = dry_run
    summary = json.loads((out / "summary.json").read_text())
    statuses = {s["name"]: s["status"] for s in summary["steps"]}
    assert tuple(statuses) == STEPS
    assert done.returncode == 0, (statuses, done.stdout[-3000:], done.stderr[-3000:])
    ab = statuses.pop("ab_self_check")
    assert set(statuses.values()) == {"ok"}
    assert ab in ("ok", "not available")
    assert summary["dry_run"] is True and summary["kind"] == "virnucpro-gpu-check"


@pytest.mark.slow
def test_dry_run_measures_the_model_steps(
    dry_run: tuple[subprocess.CompletedProcess, Path],
) -> None:
    _, out = dry_run
    steps = {s["name"]: s for s in json.loads((out / "summary.json").read_text())["steps"]}
    stages = steps["throughput"]["figures"]["stages"]
    assert set(stages) == {"dnabert", "esm"}
    for stage in stages.values():
        assert stage["tokens_per_s"] > 0 and stage["fraction_of_ceiling"] > 0
        assert stage["padded_tokens"] >= stage["real_tokens"] > 0
    assert steps["throughput"]["figures"]["ceiling"]["dtype"] == "float32"  # fp32 on the CPU
    end_to_end = steps["end_to_end"]["figures"]
    assert len(end_to_end["seconds"]["vanilla"]) == len(end_to_end["speedup"]) >= 1
    assert steps["equivalence"]["figures"]["passed"] is True
    overhead = steps["sampler_overhead"]["figures"]
    assert len(overhead["with_sampler"]) == len(overhead["without_sampler"]) >= 1
    if not overhead["sampler_active"]:  # no NVML here: measured rounds, but no figure
        assert overhead["median"] is None and overhead["reason"]
    assert steps["gpu_tests"]["figures"]["exit_code"] == 0
    assert steps["gpu_tests"]["figures"]["counts"]["skipped"] >= 7  # no GPU here
    assert steps["quick_tier"]["figures"]["valid"] is True
    assert all(steps[name]["cpu_seconds"] > 0 for name in STEPS if name != "ab_self_check")


@pytest.mark.slow
def test_dry_run_estimates_every_step_on_the_gpu_and_they_fit(
    dry_run: tuple[subprocess.CompletedProcess, Path],
) -> None:
    done, out = dry_run
    estimate = json.loads((out / "summary.json").read_text())["estimate"]
    assert [s["name"] for s in estimate["steps"]][:6] == list(STEPS[:6])
    assert estimate["fits"] is True and estimate["seconds"] <= estimate["budget_s"] == 450
    assert all(s["estimate_s"] <= s["limit_s"] for s in estimate["steps"])
    assert estimate["pass"]["frames"] > 0 and estimate["pass"]["vanilla_s"] > 0
    assert "estimated time on the GPU machine:" in done.stdout
    assert "## Estimated time on the GPU machine" in (out / "summary.md").read_text()


@pytest.mark.slow
def test_dry_run_output_fits_what_comes_back(
    dry_run: tuple[subprocess.CompletedProcess, Path],
) -> None:
    done, out = dry_run
    files = [p for p in out.rglob("*") if p.is_file()]
    names = {p.relative_to(out).parts[0] for p in files}
    assert {"summary.json", "summary.md", "log.txt", "quick", "baselines"} == names
    assert len(files) <= MAX_FILES
    assert all(len(p.relative_to(out).parts) <= MAX_DEPTH for p in files)
    assert len(list(out.glob("baselines/*/*.json"))) == 1
    last = done.stdout.strip().splitlines()
    table_start = max(
        i for i, line in enumerate(last) if line.split()[:3] == ["step", "status", "figure"]
    )
    assert {line.split()[0] for line in last[table_start + 2 :] if not line.startswith(" ")} >= set(
        STEPS
    )
    assert re.search(r"^\|\s*throughput\s*\|\s*ok\s*\|", (out / "summary.md").read_text(), re.M)


def test_missing_packages_are_one_line_before_any_step_and_exit_2(tmp_path: Path) -> None:
    done = _run("-c", _WITHOUT, str(SCRIPT), str(tmp_path / "out"))
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "gpu_check: error: missing Python packages: pydantic, fair-esm (carried as wheels: "
        "fill .whl/ with `python3 scripts/gpu_image.py wheels` and install them as "
        "docs/gpu-check.md says); nvidia-ml-py (the GPU image has them: install them here)"
    ]
    assert done.stdout == "" and not (tmp_path / "out").exists()


_WITHOUT = """
import importlib.util, runpy, sys
real = importlib.util.find_spec
gone = {"pydantic", "esm", "pynvml"}
importlib.util.find_spec = lambda name, *a: None if name in gone else real(name, *a)
sys.argv = sys.argv[1:]
runpy.run_path(sys.argv[0], run_name="__main__")
"""


def test_the_docs_give_the_one_command_to_run_on_the_gpu_machine() -> None:
    from virnucpro.bench.gpu_check.image import CARRIED_WHEELS, gpu_command

    docs = (ROOT / "docs" / "gpu-check.md").read_text(encoding="utf-8")
    assert gpu_command() in docs
    assert "python3 scripts/gpu_image.py wheels" in docs
    assert all(requirement in docs for requirement in CARRIED_WHEELS)


def test_unknown_step_is_a_usage_error(tmp_path: Path) -> None:
    done = _run(str(SCRIPT), str(tmp_path), "--steps", "throughput,nonsense")
    assert done.returncode == 2
    assert "unknown step(s) nonsense" in done.stderr
