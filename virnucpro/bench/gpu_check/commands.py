"""The GPU check's command steps: the ``gpu``-marked tests, the quick tier, the A/B self-check.

Each is one command in its own process, judged by its exit code and the files it writes. A dry
run gives each the same arguments as on the GPU machine, but the CPU (``--gpus none``), so its
time is a fair basis for the estimate of the step there:

- ``gpu_tests``: pytest over :data:`GPU_TEST_FILES` only (collecting all of ``tests/`` would
  fail on the first optional import the machine lacks). On a GPU a skipped ``gpu`` test fails
  the step: there, a skip means the test could not check what it is for.
- ``quick_tier``: the quick tier, stored as this machine's baseline. On one GPU the quick tier's
  scaling suite skips (it needs two GPUs); the dry run leaves it out likewise instead of timing
  CPU ranks the GPU machine never runs. A dry run switches the host gate off: it checks this
  code on a shared CPU machine, not that machine's load.
- ``ab_self_check``: ``virnucpro benchmark --against HEAD``, the tree against itself. The A/B
  mode builds its other side from a git commit, and the GPU machine's copy of the tree has no
  ``.git``: the step commits a copy of the tree into a temporary repository and runs there
  (without ``git`` on the machine it is *not available*, with that reason). The dry run accepts
  exit 2 (the pairs on a busy CPU left the total time undecided) only when the A/B run wrote its
  report; a run that never measured is a failure.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

from virnucpro.bench.gpu_check.child import Finished, run_process, step_env, tail
from virnucpro.bench.gpu_check.image import copy_tree
from virnucpro.bench.gpu_check.spec import (
    STATUS_FAILED,
    STATUS_NOT_AVAILABLE,
    STATUS_OK,
    STATUS_TIMED_OUT,
    CheckConfig,
    StepOutcome,
    StepSpec,
    outcome,
)

# Every test module with a ``gpu``-marked test (tests/test_gpu_check_script.py keeps this list
# equal to the modules that carry the marker).
GPU_TEST_FILES = (
    "tests/bench/gpu/test_ceiling.py",
    "tests/bench/run/test_memory.py",
    "tests/cli/test_predict.py",
    "tests/engines/test_batching.py",
    "tests/engines/test_equivalence.py",
    "tests/engines/test_fast.py",
    "tests/engines/test_precision.py",
    "tests/models/test_dnabert.py",
    "tests/models/test_esm2.py",
)
QUICK_DIR = "quick"
BASELINES_DIR = "baselines"
DRY_RUN_THRESHOLDS = "dry-run-thresholds.toml"
QUICK_SUITES_ON_ONE_GPU = "end_to_end,throughput,memory,equivalence"  # scaling needs two GPUs
AB_FLAG = "--against"
AB_PAIRS = 20  # first pairs, then more up to AB_MAX_PAIRS while undecided, within AB_TIME_S
AB_MAX_PAIRS = 30
# The gate decides from two worker pairs; with its 40 pairs a worker pair, 30 pairs would never
# reach the second, so the self-check replaces its workers every 15 pairs (its own settings file
# in the scratch folder: everything else the gate's defaults), which also runs a replacement of
# the workers on the GPU.
AB_FRESH_WORKERS_EVERY = 15
AB_GATE_FILE = "ab-self-check-gate.toml"
AB_TIME_S = 60
EXIT_CANNOT_JUDGE_AB = 2
NOT_AVAILABLE_AB = "not run: A/B mode not available (virnucpro benchmark has no --against)"
NO_GIT = "not run: no git on this machine (the A/B mode builds its other side from a commit)"
AB_REPO = "ab_repo"
SNAPSHOT_IDENTITY = ("-c", "user.name=gpu-check", "-c", "user.email=gpu-check@localhost")

PYTEST_COUNTS = re.compile(r"(\d+) (passed|failed|skipped|errors?|deselected|xfailed|xpassed)")


def _module(config: CheckConfig, *args: str) -> list[str]:
    return [config.python, "-m", *args]


def _finished(
    spec: StepSpec, done: Finished, limit_s: float, status: str, detail: str, figures: Any = None
) -> StepOutcome:
    return outcome(
        spec,
        status,
        seconds=done.seconds,
        limit_s=limit_s,
        detail=detail,
        figures=figures,
        cpu_seconds=done.cpu_seconds,
    )


def _timed_out(spec: StepSpec, done: Finished, limit_s: float, figures: Any) -> StepOutcome:
    return _finished(spec, done, limit_s, STATUS_TIMED_OUT, f"stopped at {limit_s:.0f} s", figures)


# ----------------------------------------------------------------------------- gpu tests


def pytest_counts(output: str) -> dict[str, int]:
    """The counts of pytest's final summary line (``3 passed, 2 skipped in 1.2s``)."""
    lines = [line for line in output.splitlines() if re.search(r" in [\d.]+s", line)]
    counts: dict[str, int] = {}
    for number, kind in PYTEST_COUNTS.findall(lines[-1] if lines else ""):
        counts[kind.rstrip("s") if kind.startswith("error") else kind] = int(number)
    return counts


def _skips(output: str) -> list[str]:
    return [line.strip() for line in output.splitlines() if line.startswith("SKIPPED")]


def gpu_tests_step(config: CheckConfig, spec: StepSpec, limit_s: float, log: Path) -> StepOutcome:
    command = _module(config, "pytest", "-m", "gpu", "-q", "-p", "no:cacheprovider")
    command += ["-o", "addopts=", "-rs", "--import-mode=importlib", *GPU_TEST_FILES]
    done = run_process(command, limit_s=limit_s, config=config, output=log)
    counts = pytest_counts(done.output)
    figures = {"counts": counts, "exit_code": done.returncode, "files": len(GPU_TEST_FILES)}
    if done.returncode is None:
        return _timed_out(spec, done, limit_s, figures)
    if done.returncode != 0:
        return _finished(spec, done, limit_s, STATUS_FAILED, tail(done.output), figures)
    skips = _skips(done.output)
    if skips and not config.dry_run:
        why = f"{len(skips)} gpu test(s) skipped on the GPU: {'; '.join(skips)[:400]}"
        return _finished(spec, done, limit_s, STATUS_FAILED, why, figures)
    return _finished(spec, done, limit_s, STATUS_OK, "", figures)


# ----------------------------------------------------------------------------- quick tier


def benchmark_args(config: CheckConfig, out: Path) -> list[str]:
    """``virnucpro benchmark`` arguments of the quick tier (a dry run: the CPU, the suites one
    GPU runs)."""
    args = ["--quick", "--gpus", "none" if config.dry_run else "0", "--output-dir", str(out)]
    return [*args, "--suite", QUICK_SUITES_ON_ONE_GPU] if config.dry_run else args


def results_figures(folder: Path) -> dict[str, Any]:
    """A few figures of the results document a quick tier wrote into ``folder``."""
    found = sorted(folder.glob("benchmark_*.json"))
    if not found:
        return {"report": None}
    data = json.loads(found[-1].read_text())
    results = data.get("results", data)
    metrics = {m["name"]: m for m in results.get("metrics", [])}

    def median(name: str) -> float | str | None:
        metric = metrics.get(name)
        if metric is None:
            return None
        if metric.get("status") != "measured":
            return f"unavailable: {metric.get('reason')}"
        samples = sorted(metric["samples"])
        return samples[len(samples) // 2]

    names = (
        "end_to_end.total_time",
        "gpu.utilization",
        "gpu.sm_active",
        "gpu.tensor_active",
        "gpu.sampler_overhead",
    )
    return {
        "report": found[-1].name,
        "valid": results.get("validity", {}).get("valid"),
        "invalid_reasons": results.get("validity", {}).get("reasons", []),
        "medians": {name: median(name) for name in names},
    }


def _keep_quick_outputs(config: CheckConfig, out: Path) -> None:
    kept = config.outdir / QUICK_DIR
    kept.mkdir(parents=True, exist_ok=True)
    for path in sorted(out.glob("benchmark_*.md"))[-1:] + sorted(out.glob("benchmark_*.json"))[-1:]:
        shutil.copy2(path, kept / path.name)
    for path in sorted((out / BASELINES_DIR).glob("*/*.json")):
        target = config.outdir / BASELINES_DIR / path.parent.name
        target.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, target / path.name)


def quick_tier_step(config: CheckConfig, spec: StepSpec, limit_s: float, log: Path) -> StepOutcome:
    """The quick tier, stored as this machine's baseline (refused when the host was busy)."""
    out = config.scratch / QUICK_DIR
    command = _module(config, "virnucpro", "benchmark", *benchmark_args(config, out))
    command += ["--baseline-dir", str(out / BASELINES_DIR), "--update-baseline"]
    if config.dry_run:
        out.mkdir(parents=True, exist_ok=True)
        gate_off = out / DRY_RUN_THRESHOLDS
        gate_off.write_text("busy_host_share = 1.0  # dry run: the host's load is not measured\n")
        command += ["--thresholds", str(gate_off)]
    done = run_process(command, limit_s=limit_s, config=config, output=log)
    _keep_quick_outputs(config, out)
    figures = {"exit_code": done.returncode, **results_figures(out)}
    if done.returncode is None:
        return _timed_out(spec, done, limit_s, figures)
    if done.returncode != 0:
        return _finished(spec, done, limit_s, STATUS_FAILED, tail(done.output), figures)
    return _finished(spec, done, limit_s, STATUS_OK, "baseline stored", figures)


# ----------------------------------------------------------------------------- A/B


def ab_available(config: CheckConfig) -> bool:
    """Whether this checkout's ``virnucpro benchmark`` has the A/B mode (``--against``)."""
    done = subprocess.run(
        _module(config, "virnucpro", "benchmark", "--help"),
        cwd=config.root,
        env=step_env(config.root),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return AB_FLAG in done.stdout


def snapshot_repository(root: Path, dest: Path) -> Path:
    """A copy of the tree at ``root`` committed into a new git repository at ``dest``."""
    copy_tree(root, dest)
    commit = ["commit", "-q", "--no-verify", "--allow-empty", "-m", "gpu check: the tree as run"]
    for args in (["init", "-q"], ["add", "-A"], [*SNAPSHOT_IDENTITY, *commit]):
        done = subprocess.run(
            ["git", *args], cwd=dest, capture_output=True, text=True, timeout=120, check=False
        )
        if done.returncode != 0:
            said = (done.stderr or done.stdout).strip().splitlines() or [f"exit {done.returncode}"]
            verb = next(a for a in args if not a.startswith("-") and "=" not in a)
            raise RuntimeError(f"git {verb} in {dest}: {said[-1]}")
    return dest


def ab_gate_file(config: CheckConfig) -> Path:
    """The self-check's gate settings (:data:`AB_FRESH_WORKERS_EVERY`), written when needed."""
    path = config.scratch / AB_GATE_FILE
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"ab_fresh_workers_every = {AB_FRESH_WORKERS_EVERY}\n", encoding="utf-8")
    return path


def ab_args(config: CheckConfig, out: Path) -> list[str]:
    """``virnucpro benchmark --against HEAD``: the quick tier's A/B mode, bounded in pairs and
    time (the same on the CPU of a dry run), fresh workers every :data:`AB_FRESH_WORKERS_EVERY`
    pairs."""
    args = ["--quick", "--gpus", "none" if config.dry_run else "0", "--output-dir", str(out)]
    args += ["--thresholds", str(ab_gate_file(config))]
    args += ["--rounds", str(AB_PAIRS), "--max-rounds", str(AB_MAX_PAIRS)]
    return [*args, "--time-budget", str(AB_TIME_S), AB_FLAG, "HEAD"]


def ab_step(config: CheckConfig, spec: StepSpec, limit_s: float, log: Path) -> StepOutcome:
    if not ab_available(config):
        return outcome(spec, STATUS_NOT_AVAILABLE, detail=NOT_AVAILABLE_AB)
    if shutil.which("git") is None:
        return outcome(spec, STATUS_NOT_AVAILABLE, detail=NO_GIT)
    repo = snapshot_repository(config.root, config.scratch / AB_REPO)
    out = config.scratch / "ab"
    command = _module(config, "virnucpro", "benchmark", *ab_args(config, out))
    done = run_process(command, limit_s=limit_s, config=config, output=log, root=repo)
    figures = {"exit_code": done.returncode, **results_figures(out)}
    if done.returncode is None:
        return _timed_out(spec, done, limit_s, figures)
    measured = figures["report"] is not None
    if config.dry_run and done.returncode == EXIT_CANNOT_JUDGE_AB and measured:
        # the A/B mode ran end to end; pairs on a busy shared CPU may leave it undecided
        note = f"dry run: head against itself ran, exit 2 (not judged): {tail(done.output)}"
        return _finished(spec, done, limit_s, STATUS_OK, note, figures)
    if done.returncode != 0:
        why = f"head against itself exited {done.returncode}: {tail(done.output)}"
        return _finished(spec, done, limit_s, STATUS_FAILED, why, figures)
    return _finished(spec, done, limit_s, STATUS_OK, "head against itself: exit 0", figures)
