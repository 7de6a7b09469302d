"""The GPU check's plan: every step time-limited, under one budget, failures kept apart.

Steps run in order of importance (:data:`~virnucpro.bench.gpu_check.spec.STEP_SPECS`). The model
steps run together in one process that builds the models once
(:mod:`virnucpro.bench.gpu_check.model_group`), each still under its own limit; the command steps
(the ``gpu``-marked tests, the quick tier, the A/B self-check) each run one command
(:mod:`virnucpro.bench.gpu_check.commands`). Each step gets ``min(its limit, what is left of the
budget)``; a step that would start with less than
:data:`~virnucpro.bench.gpu_check.spec.MIN_STEP_S` left is *not run* (said so, with the reason).
A step that fails or overruns is recorded as such with its error; the next step still runs.

Everything the check keeps goes under the output folder, at most two levels deep and in a few
files: ``summary.json``, ``summary.md``, ``log.txt`` (every step's output, tail-capped),
``quick/`` (the quick tier's report, markdown and JSON) and ``baselines/<hardware key>/`` (the
quick tier stored as a baseline, ready to commit). Scratch work happens in a temporary folder.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from virnucpro.bench.gpu_check.child import LOG_TAIL_BYTES
from virnucpro.bench.gpu_check.commands import ab_step, gpu_tests_step, quick_tier_step
from virnucpro.bench.gpu_check.model_group import run_model_steps
from virnucpro.bench.gpu_check.spec import (
    MIN_STEP_S,
    MODEL_STEP_NAMES,
    STATUS_FAILED,
    STATUS_NOT_RUN,
    STEP_SPECS,
    CheckConfig,
    StepOutcome,
    StepSpec,
    outcome,
)

LOG_FILE = "log.txt"
MODEL_OUTPUT = "model_steps.out"

Runner = Callable[[CheckConfig, StepSpec, float, Path], StepOutcome]
RUNNERS: dict[str, Runner] = {
    "gpu_tests": gpu_tests_step,
    "quick_tier": quick_tier_step,
    "ab_self_check": ab_step,
}


def _append_log(log: Path, header: str, output: Path | None) -> None:
    text = output.read_bytes()[-LOG_TAIL_BYTES:] if output and output.exists() else b""
    with log.open("ab") as sink:
        sink.write(f"\n===== {header} =====\n".encode())
        sink.write(text)


def _command_step(
    config: CheckConfig, spec: StepSpec, deadline: float, clock: Callable[[], float]
) -> tuple[StepOutcome, Path]:
    left = deadline - clock()
    output = config.scratch / f"{spec.name}.out"
    if left < MIN_STEP_S:
        why = f"time budget spent ({config.budget_s:.0f} s, {max(left, 0):.0f} s left)"
        return outcome(spec, STATUS_NOT_RUN, detail=why), output
    limit = min(config.limit(spec), left)
    try:
        return RUNNERS[spec.name](config, spec, limit, output), output
    except Exception as exc:  # the orchestration of one step failed: say so, go on
        why = f"{type(exc).__name__}: {exc}"
        return outcome(spec, STATUS_FAILED, limit_s=limit, detail=why), output


def run_check(
    config: CheckConfig,
    *,
    on_step: Callable[[StepOutcome], None] | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> list[StepOutcome]:
    """Every step of ``config.steps`` in plan order, each guarded and time-limited."""
    deadline = clock() + config.budget_s
    log = config.outdir / LOG_FILE
    chosen = [s for s in STEP_SPECS if s.name in config.steps]
    outcomes: list[StepOutcome] = []

    def report(result: StepOutcome, output: Path | None) -> None:
        _append_log(log, f"{result.name}: {result.status} ({result.elapsed})", output)
        outcomes.append(result)
        if on_step is not None:
            on_step(result)

    models = [s for s in chosen if s.name in MODEL_STEP_NAMES]
    if models:
        output = config.scratch / MODEL_OUTPUT
        run_model_steps(
            config,
            models,
            deadline=deadline,
            output=output,
            clock=clock,
            on_step=lambda result: report(result, None),
        )
        names = ", ".join(s.name for s in models)
        _append_log(log, f"model steps ({names}): the output of their process", output)
    for spec in (s for s in chosen if s.name not in MODEL_STEP_NAMES):
        report(*_command_step(config, spec, deadline, clock))
    return outcomes
