"""The GPU check's plan: each step in its own process, with its own time limit, under one budget.

Steps run in order of importance. Each gets ``min(its limit, what is left of the budget)``; a
step that would start with less than :data:`MIN_STEP_S` left is *not run* (said so, with the
reason). A step that fails or overruns is recorded as such with its error; the next step still
runs. Model steps (:mod:`virnucpro.bench.gpu_check.steps`) write their figures to a JSON file
each; the command steps (the ``gpu``-marked tests, the quick tier, the A/B self-check) are read
from their exit code and output files.

Everything the check keeps goes under the output folder, at most two levels deep and in a few
files: ``summary.json``, ``summary.md``, ``log.txt`` (every step's output, tail-capped),
``quick/`` (the quick tier's report, markdown and JSON) and ``baselines/<hardware key>/`` (the
quick tier stored as a baseline, ready to commit). Scratch work happens in a temporary folder.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

STATUS_OK = "ok"
STATUS_FAILED = "failed"
STATUS_TIMED_OUT = "timed out"
STATUS_NOT_RUN = "not run"
STATUS_NOT_AVAILABLE = "not available"  # the feature a step checks is not in this checkout
DEFAULT_BUDGET_S = 450.0  # leaves the 8-minute stay room for start-up and wheel installs
MIN_STEP_S = 15.0
KILL_GRACE_S = 10.0
LOG_TAIL_BYTES = 2 * 2**20  # per step, in log.txt
LOG_FILE = "log.txt"
QUICK_DIR = "quick"
BASELINES_DIR = "baselines"
AB_FLAG = "--against"
DRY_RUN_AB_PAIRS = 6
EXIT_CANNOT_JUDGE_AB = 2
NOT_AVAILABLE_AB = "not run: A/B mode not available (virnucpro benchmark has no --against)"
PASSING_STATUSES = frozenset({STATUS_OK, STATUS_NOT_AVAILABLE})


@dataclass(frozen=True)
class StepSpec:
    """One step: its name, what it shows, and its time limits (GPU, dry run)."""

    name: str
    title: str
    limit_s: float
    dry_limit_s: float


STEP_SPECS: tuple[StepSpec, ...] = (
    StepSpec("throughput", "DNABERT-S and ESM-2 3B sizes, bf16: tokens/s, roofline", 120, 120),
    StepSpec("end_to_end", "fast (bf16) vs vanilla (fp32) end to end, 3B, small", 180, 150),
    StepSpec("equivalence", "bf16 fast vs fp32 vanilla: labels, cosine, scores", 100, 120),
    StepSpec("sampler_overhead", "GPU sampler overhead, interleaved with/without", 80, 120),
    StepSpec("gpu_tests", "gpu-marked tests", 100, 300),
    StepSpec("quick_tier", "quick tier on the GPU", 150, 300),
    StepSpec("ab_self_check", "A/B self-check (--against HEAD)", 150, 300),
)
MODEL_STEP_NAMES = ("throughput", "end_to_end", "equivalence", "sampler_overhead")


@dataclass(frozen=True)
class StepOutcome:
    """What one step gave: status, time, figures, and the error or reason when not ok."""

    name: str
    title: str
    status: str
    seconds: float | None
    limit_s: float | None
    figures: dict[str, Any] = field(default_factory=dict)
    detail: str = ""

    @property
    def elapsed(self) -> str:
        """The step's wall time for people; a step that never started was not timed, not 0 s."""
        return "not timed" if self.seconds is None else f"{self.seconds:.1f} s"

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "title": self.title,
            "status": self.status,
            "seconds": self.seconds,
            "limit_s": self.limit_s,
            "figures": self.figures,
            "detail": self.detail,
        }


@dataclass(frozen=True)
class CheckConfig:
    """Where and how the check runs."""

    outdir: Path
    scratch: Path
    root: Path  # the checkout (on PYTHONPATH of every step)
    dry_run: bool
    budget_s: float = DEFAULT_BUDGET_S
    python: str = sys.executable
    steps: tuple[str, ...] = tuple(s.name for s in STEP_SPECS)


@dataclass(frozen=True)
class Finished:
    """A finished child process: exit code (None when stopped at its limit), seconds, output."""

    returncode: int | None
    seconds: float
    output: str


def _env(config: CheckConfig) -> dict[str, str]:
    env = dict(os.environ)
    paths = [str(config.root), *filter(None, env.get("PYTHONPATH", "").split(os.pathsep))]
    env["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(paths))
    env["PYTHONUNBUFFERED"] = "1"
    return env


def run_process(
    command: Sequence[str], *, limit_s: float, config: CheckConfig, output: Path
) -> Finished:
    """Run ``command`` in its own session; at ``limit_s`` stop it (TERM, then KILL)."""
    start = time.perf_counter()
    with output.open("wb") as sink:
        proc = subprocess.Popen(
            list(command),
            cwd=config.root,
            env=_env(config),
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            code: int | None = proc.wait(timeout=limit_s)
        except subprocess.TimeoutExpired:
            code = None
            _stop(proc)
    text = output.read_bytes()[-LOG_TAIL_BYTES:].decode("utf-8", "replace")
    return Finished(code, time.perf_counter() - start, text)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    for sig, wait in ((signal.SIGTERM, KILL_GRACE_S), (signal.SIGKILL, None)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


def _module(config: CheckConfig, *args: str) -> list[str]:
    return [config.python, "-m", *args]


def _tail(text: str, lines: int = 3) -> str:
    kept = [line for line in text.strip().splitlines() if line.strip()]
    return " | ".join(kept[-lines:])[-400:]


# ----------------------------------------------------------------------------- model steps


def model_step(config: CheckConfig, spec: StepSpec, limit_s: float, log: Path) -> StepOutcome:
    folder = config.scratch / "steps"
    folder.mkdir(parents=True, exist_ok=True)
    command = _module(config, "virnucpro.bench.gpu_check.steps", spec.name, "--folder")
    command += [str(folder), "--scratch", str(config.scratch / spec.name)]
    command += ["--dry-run"] if config.dry_run else []
    done = run_process(command, limit_s=limit_s, config=config, output=log)
    record_path = folder / f"{spec.name}.json"
    record = json.loads(record_path.read_text()) if record_path.exists() else None
    if record is None and done.returncode is None:
        return _outcome(spec, STATUS_TIMED_OUT, done, limit_s, f"stopped at its {limit_s:.0f} s")
    if record is None:
        why = f"exit {done.returncode} without figures: {_tail(done.output)}"
        return _outcome(spec, STATUS_FAILED, done, limit_s, why)
    if record["status"] != STATUS_OK:
        return _outcome(spec, STATUS_FAILED, done, limit_s, record.get("error", "failed"))
    return _outcome(spec, STATUS_OK, done, limit_s, "", record.get("figures", {}))


def _outcome(
    spec: StepSpec,
    status: str,
    done: Finished | None,
    limit_s: float | None,
    detail: str,
    figures: dict[str, Any] | None = None,
) -> StepOutcome:
    return StepOutcome(
        name=spec.name,
        title=spec.title,
        status=status,
        seconds=None if done is None else done.seconds,
        limit_s=limit_s,
        figures=figures or {},
        detail=detail,
    )


# ----------------------------------------------------------------------------- command steps

PYTEST_COUNTS = re.compile(r"(\d+) (passed|failed|skipped|errors?|deselected|xfailed|xpassed)")


def pytest_counts(output: str) -> dict[str, int]:
    """The counts of pytest's final summary line (``3 passed, 2 skipped in 1.2s``)."""
    lines = [line for line in output.splitlines() if re.search(r" in [\d.]+s", line)]
    counts: dict[str, int] = {}
    for number, kind in PYTEST_COUNTS.findall(lines[-1] if lines else ""):
        counts[kind.rstrip("s") if kind.startswith("error") else kind] = int(number)
    return counts


def gpu_tests_step(config: CheckConfig, spec: StepSpec, limit_s: float, log: Path) -> StepOutcome:
    command = _module(config, "pytest", "-m", "gpu", "-q", "-p", "no:cacheprovider")
    command += ["--continue-on-collection-errors", "-o", "addopts=", "-rs", "tests"]
    command += ["--import-mode=importlib"]
    done = run_process(command, limit_s=limit_s, config=config, output=log)
    counts = pytest_counts(done.output)
    if done.returncode is None:
        return _outcome(spec, STATUS_TIMED_OUT, done, limit_s, f"stopped at {limit_s:.0f} s")
    figures = {"counts": counts, "exit_code": done.returncode}
    if done.returncode != 0:
        return _outcome(spec, STATUS_FAILED, done, limit_s, _tail(done.output), figures)
    return _outcome(spec, STATUS_OK, done, limit_s, "", figures)


DRY_RUN_THRESHOLDS = "dry-run-thresholds.toml"


def benchmark_args(config: CheckConfig, out: Path) -> list[str]:
    """``virnucpro benchmark`` arguments of the quick tier here (reduced in a dry run)."""
    args = ["--quick", "--gpus", "none" if config.dry_run else "0", "--output-dir", str(out)]
    if config.dry_run:
        args += ["--suite", "end_to_end,throughput,memory", "--rounds", "1", "--warmup", "0"]
    return args


def _results_figures(folder: Path) -> dict[str, Any]:
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
    """The quick tier, stored as this machine's baseline (refused when the host was busy).

    A dry run checks this script's own code on a shared CPU machine, not that machine: it
    switches the host gate off with a thresholds file, so others' load cannot fail the step.
    """
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
    figures = {"exit_code": done.returncode, **_results_figures(out)}
    if done.returncode is None:
        return _outcome(spec, STATUS_TIMED_OUT, done, limit_s, f"stopped at {limit_s:.0f} s")
    if done.returncode != 0:
        return _outcome(spec, STATUS_FAILED, done, limit_s, _tail(done.output), figures)
    return _outcome(spec, STATUS_OK, done, limit_s, "baseline stored", figures)


def ab_available(config: CheckConfig) -> bool:
    """Whether this checkout's ``virnucpro benchmark`` has the A/B mode (``--against``)."""
    done = subprocess.run(
        _module(config, "virnucpro", "benchmark", "--help"),
        cwd=config.root,
        env=_env(config),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return AB_FLAG in done.stdout


def ab_args(config: CheckConfig, out: Path) -> list[str]:
    """``virnucpro benchmark --against HEAD`` arguments: the quick tier's A/B mode (in a dry
    run on the CPU, the fewest pairs that give an interval: 6)."""
    args = ["--quick", "--gpus", "none" if config.dry_run else "0", "--output-dir", str(out)]
    if config.dry_run:
        args += ["--rounds", str(DRY_RUN_AB_PAIRS), "--max-rounds", str(DRY_RUN_AB_PAIRS)]
    return [*args, AB_FLAG, "HEAD"]


def ab_step(config: CheckConfig, spec: StepSpec, limit_s: float, log: Path) -> StepOutcome:
    if not ab_available(config):
        return _outcome(spec, STATUS_NOT_AVAILABLE, None, None, NOT_AVAILABLE_AB)
    out = config.scratch / "ab"
    command = _module(config, "virnucpro", "benchmark", *ab_args(config, out))
    done = run_process(command, limit_s=limit_s, config=config, output=log)
    figures = {"exit_code": done.returncode, **_results_figures(out)}
    if done.returncode is None:
        return _outcome(spec, STATUS_TIMED_OUT, done, limit_s, f"stopped at {limit_s:.0f} s")
    if config.dry_run and done.returncode == EXIT_CANNOT_JUDGE_AB:
        # A dry run checks that the A/B mode runs end to end; six pairs on a shared CPU may
        # leave the total time undecided or find the host busy: that is exit 2, said here.
        note = f"dry run: head against itself ran, exit 2 (not judged): {_tail(done.output)}"
        return _outcome(spec, STATUS_OK, done, limit_s, note, figures)
    if done.returncode != 0:
        why = f"head against itself exited {done.returncode}: {_tail(done.output)}"
        return _outcome(spec, STATUS_FAILED, done, limit_s, why, figures)
    return _outcome(spec, STATUS_OK, done, limit_s, "head against itself: exit 0", figures)


Runner = Callable[[CheckConfig, StepSpec, float, Path], StepOutcome]
RUNNERS: dict[str, Runner] = {
    **dict.fromkeys(MODEL_STEP_NAMES, model_step),
    "gpu_tests": gpu_tests_step,
    "quick_tier": quick_tier_step,
    "ab_self_check": ab_step,
}


# ----------------------------------------------------------------------------- the plan


def _append_log(log: Path, spec: StepSpec, outcome: StepOutcome, output: Path) -> None:
    text = output.read_bytes()[-LOG_TAIL_BYTES:] if output.exists() else b""
    header = f"\n===== {spec.name}: {outcome.status} ({outcome.elapsed}) =====\n"
    with log.open("ab") as sink:
        sink.write(header.encode())
        sink.write(text)


def run_check(
    config: CheckConfig,
    *,
    on_step: Callable[[StepOutcome], None] | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> list[StepOutcome]:
    """Every step of ``config.steps`` in plan order, each guarded and time-limited."""
    deadline = clock() + config.budget_s
    log = config.outdir / LOG_FILE
    outcomes = []
    for spec in (s for s in STEP_SPECS if s.name in config.steps):
        left = deadline - clock()
        limit = min(spec.dry_limit_s if config.dry_run else spec.limit_s, left)
        output = config.scratch / f"{spec.name}.out"
        if left < MIN_STEP_S:
            why = f"time budget spent ({config.budget_s:.0f} s, {max(left, 0):.0f} s left)"
            outcome = _outcome(spec, STATUS_NOT_RUN, None, None, why)
        else:
            try:
                outcome = RUNNERS[spec.name](config, spec, limit, output)
            except Exception as exc:  # the orchestration of one step failed: say so, go on
                outcome = _outcome(spec, STATUS_FAILED, None, limit, f"{type(exc).__name__}: {exc}")
        _append_log(log, spec, outcome, output)
        outcomes.append(outcome)
        if on_step is not None:
            on_step(outcome)
    return outcomes
