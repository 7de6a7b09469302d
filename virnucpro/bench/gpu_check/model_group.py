"""The GPU check's model steps, run in one process that builds the models once.

Building the ESM-2 3B size takes its seconds (and a CUDA start its own): one process runs every
model step in order (:mod:`virnucpro.bench.gpu_check.steps`), writing ``<step>.json`` as each
ends. Each step still has its own limit: this side watches the folder, a step's clock starts
when the one before it ended (the first's when the process started, so the first pays the start
and the model build), and a step over its limit stops the process. It is then *timed out*, and
the steps after it get a fresh process (which builds the models again: only after a failure). A
process that dies in a step fails that step, with its exit code and last lines; the rest again
get a fresh process. Steps that would start with less than the minimum left are not run.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from virnucpro.bench.gpu_check.child import read_tail, start, stop, tail
from virnucpro.bench.gpu_check.spec import (
    MIN_STEP_S,
    STATUS_FAILED,
    STATUS_NOT_RUN,
    STATUS_OK,
    STATUS_TIMED_OUT,
    CheckConfig,
    StepOutcome,
    StepSpec,
    outcome,
)

POLL_S = 0.2
KILL_WAIT_S = 30.0  # a process whose steps all ended gets this long to exit by itself
STEP_FOLDER = "steps"
STEPS_MODULE = "virnucpro.bench.gpu_check.steps"

Clock = Callable[[], float]
Launch = Callable[[list[str], Path], subprocess.Popen[bytes]]


def command(config: CheckConfig, names: Sequence[str], folder: Path) -> list[str]:
    args = [config.python, "-m", STEPS_MODULE, *names, "--folder", str(folder)]
    args += ["--scratch", str(config.scratch / "models")]
    return args + (["--dry-run"] if config.dry_run else [])


def _record(folder: Path, name: str) -> dict[str, Any] | None:
    path = folder / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() else None


def _from_record(
    spec: StepSpec, record: dict[str, Any], seconds: float, limit: float
) -> StepOutcome:
    cpu = record.get("cpu_seconds")
    if record["status"] != STATUS_OK:
        detail = record.get("error", "failed")
        return outcome(
            spec, STATUS_FAILED, seconds=seconds, limit_s=limit, detail=detail, cpu_seconds=cpu
        )
    return outcome(
        spec,
        STATUS_OK,
        seconds=seconds,
        limit_s=limit,
        figures=record.get("figures", {}),
        cpu_seconds=cpu,
    )


def run_model_steps(
    config: CheckConfig,
    specs: Sequence[StepSpec],
    *,
    deadline: float,
    output: Path,
    clock: Clock = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    launch: Launch | None = None,
    on_step: Callable[[StepOutcome], None] | None = None,
) -> list[StepOutcome]:
    """Every step of ``specs`` (model steps, in order) as the module doc says."""
    folder = config.scratch / STEP_FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    watcher = Watcher(config, folder, output, deadline, clock, sleep, on_step)
    begin = launch or partial(_launch, config)
    pending: list[StepSpec] = list(specs)
    done: list[StepOutcome] = []
    while pending:
        left = deadline - clock()
        if left < MIN_STEP_S:
            why = f"time budget spent ({config.budget_s:.0f} s, {max(left, 0):.0f} s left)"
            for spec in pending:
                done.append(outcome(spec, STATUS_NOT_RUN, detail=why))
                if on_step is not None:
                    on_step(done[-1])
            break
        names = [s.name for s in pending]
        for name in names:
            (folder / f"{name}.json").unlink(missing_ok=True)
        finished = watcher.watch(pending, begin(command(config, names, folder), output))
        done += finished
        pending = pending[len(finished) :]
    return done


def _launch(config: CheckConfig, cmd: list[str], output: Path) -> subprocess.Popen[bytes]:
    with output.open("ab") as sink:  # the child keeps its own copy of the file
        return start(cmd, root=config.root, sink=sink)


@dataclass
class Watcher:
    """Watches one process at a time through its steps (see the module doc)."""

    config: CheckConfig
    folder: Path
    output: Path
    deadline: float
    clock: Clock
    sleep: Callable[[float], None]
    on_step: Callable[[StepOutcome], None] | None

    def watch(self, pending: list[StepSpec], proc: subprocess.Popen[bytes]) -> list[StepOutcome]:
        """The outcomes ``proc`` settled, in order (at least one)."""
        finished: list[StepOutcome] = []
        step_start = self.clock()
        while len(finished) < len(pending):
            spec = pending[len(finished)]
            result = self._check(spec, proc, step_start)
            if result is None:
                self.sleep(POLL_S)
                continue
            finished.append(result)
            if self.on_step is not None:
                self.on_step(result)
            if result.status == STATUS_TIMED_OUT:
                stop(proc)  # over its limit: the steps after it get a fresh process
                break
            if _record(self.folder, spec.name) is None:
                break  # the process died in this step: the steps after it get a fresh one
            step_start = self.clock()
            if len(finished) < len(pending) and self.deadline - step_start < MIN_STEP_S:
                stop(proc)  # too little time left for the next step: it is not run
                break
        if proc.poll() is None:
            try:
                proc.wait(timeout=KILL_WAIT_S)
            except subprocess.TimeoutExpired:
                stop(proc)
        return finished

    def _check(
        self, spec: StepSpec, proc: subprocess.Popen[bytes], step_start: float
    ) -> StepOutcome | None:
        """The step's outcome once settled; ``None`` while it runs within its limit."""
        limit = min(self.config.limit(spec), self.deadline - step_start)
        now = self.clock()
        record = _record(self.folder, spec.name)
        if record is None and proc.poll() is not None:
            record = _record(self.folder, spec.name)  # written just before it exited
            if record is None:
                why = f"exit {proc.returncode} without figures: {tail(read_tail(self.output))}"
                return outcome(
                    spec, STATUS_FAILED, seconds=now - step_start, limit_s=limit, detail=why
                )
        if record is not None:
            return _from_record(spec, record, now - step_start, limit)
        if now - step_start > limit:
            why = f"stopped at its {limit:.0f} s"
            return outcome(
                spec, STATUS_TIMED_OUT, seconds=now - step_start, limit_s=limit, detail=why
            )
        return None
