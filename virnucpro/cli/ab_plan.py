"""``virnucpro benchmark --against REF --plan [--mde 0.03]``: how long a detection takes here.

A short pilot (:data:`PILOT_PAIRS` pairs after the warm-up, the same workers and round protocol
as the gate) measures this machine's paired noise and pace; :func:`tools.bench.judge.detect.
detection_plan` turns them into the pairs and minutes the gate's design needs to detect the
slowdown ``--mde`` (default: the gate's fail threshold) with 80% power. Nothing is judged; the
pilot's raw pairs are kept (``ab_pilot.json``).
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from virnucpro.cli.ab import prepare_sides
from virnucpro.errors import InputError

if TYPE_CHECKING:
    from tools.bench.judge.detect import DetectionPlan
    from virnucpro.bench.options import BenchOptions

PILOT_PAIRS = 40
PILOT_FILE = "ab_pilot.json"


@dataclass(frozen=True)
class PlanOutcome:
    plan: DetectionPlan
    pilot_path: Path
    startup_s: float
    seconds: float


def plan_against(
    options: BenchOptions,
    *,
    ref: str,
    target: float | None,
    overrides: dict[str, float | int | None],
    say=lambda text: print(text, file=sys.stderr),
) -> PlanOutcome:
    """Measure a pilot of this checkout against ``ref`` and plan the detection of ``target``."""
    from tools.bench.judge.detect import detection_plan
    from virnucpro.bench.ab.schema import write_record

    started = time.perf_counter()
    setup = prepare_sides(options, ref=ref, overrides=overrides, say=say)
    goal = setup.thresholds.fail_slowdown if target is None else target
    say(f"pilot: {PILOT_PAIRS} pairs to measure this machine's paired noise")
    with setup.session() as session:
        ready = time.perf_counter()
        session.warm_up(setup.options.warmup)
        startup = time.perf_counter() - ready
        session.run_pairs(PILOT_PAIRS)
        record = session.record()
    path = write_record(record, setup.workdir / PILOT_FILE)
    plan = detection_plan(record, setup.thresholds, goal)
    return PlanOutcome(plan, path, startup, time.perf_counter() - started)


def render_plan(outcome: PlanOutcome, console) -> None:
    """The plan's lines and the pilot's file."""
    for line in outcome.plan.lines(outcome.startup_s):
        console.print(line, highlight=False, markup=False)
    console.print(f"  raw pilot pairs: {outcome.pilot_path}", highlight=False, markup=False)
    console.print(f"  (the pilot took {outcome.seconds:.0f} s)", highlight=False, markup=False)


def run_plan(
    ref: str, target: float | None, options: BenchOptions, overrides: dict[str, float | int | None]
) -> int:
    """The command: check ``--mde``, run the pilot, print the plan; exit 0."""
    from virnucpro.cli.summary import summary_console

    if target is not None and not 0.0 < target < 1.0:
        raise InputError(f"--mde must be a fraction between 0 and 1, e.g. 0.03; got {target:g}")
    outcome = plan_against(options, ref=ref, target=target, overrides=overrides)
    render_plan(outcome, summary_console())
    return 0
