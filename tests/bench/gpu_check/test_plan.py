"""The GPU check's plan: time limits, the overall budget, and failures kept apart per step."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.bench.gpu_check.conftest import check_config
from virnucpro.bench.gpu_check import plan as plan_mod
from virnucpro.bench.gpu_check.plan import run_check
from virnucpro.bench.gpu_check.spec import (
    DEFAULT_BUDGET_S,
    MODEL_STEP_NAMES,
    STATUS_FAILED,
    STATUS_NOT_RUN,
    STATUS_OK,
    STAY_S,
    STEP_SPECS,
    CheckConfig,
    StepOutcome,
    StepSpec,
)

WHEELS_AND_START_S = 30.0  # the stay's part before the check's own clock starts


def test_the_step_limits_add_up_to_the_budget_and_it_fits_the_stay() -> None:
    """The issue's finding: limits added up to 880 s against a 450 s budget."""
    assert sum(s.limit_s for s in STEP_SPECS) <= DEFAULT_BUDGET_S
    assert DEFAULT_BUDGET_S + WHEELS_AND_START_S <= STAY_S == 8 * 60


def test_the_model_steps_come_first_in_the_plan() -> None:
    assert tuple(s.name for s in STEP_SPECS[: len(MODEL_STEP_NAMES)]) == MODEL_STEP_NAMES


def _fake_runner(status: str, seconds: float, clock: list[float]):
    def runner(config: CheckConfig, spec: StepSpec, limit: float, log: Path) -> StepOutcome:
        clock[0] += seconds
        log.write_text(f"{spec.name} output\n")
        if status == "raise":
            raise RuntimeError("orchestration broke")
        return StepOutcome(spec.name, spec.title, status, seconds, limit, {"x": 1}, "")

    return runner


def test_every_step_runs_after_a_failure_and_the_budget_stops_the_rest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = [0.0]
    specs = (
        StepSpec("a", "first", 100, 100),
        StepSpec("b", "second", 100, 100),
        StepSpec("c", "third", 100, 100),
        StepSpec("d", "fourth", 100, 100),
    )
    monkeypatch.setattr(plan_mod, "STEP_SPECS", specs)
    monkeypatch.setattr(
        plan_mod,
        "RUNNERS",
        {
            "a": _fake_runner("raise", 10, clock),
            "b": _fake_runner(STATUS_FAILED, 10, clock),
            "c": _fake_runner(STATUS_OK, 75, clock),
            "d": _fake_runner(STATUS_OK, 1, clock),
        },
    )
    config = check_config(tmp_path, budget_s=100, steps=("a", "b", "c", "d"))
    seen: list[str] = []
    outcomes = run_check(config, on_step=lambda o: seen.append(o.name), clock=lambda: clock[0])
    assert [(o.name, o.status) for o in outcomes] == [
        ("a", STATUS_FAILED),
        ("b", STATUS_FAILED),
        ("c", STATUS_OK),
        ("d", STATUS_NOT_RUN),
    ]
    assert "RuntimeError: orchestration broke" in outcomes[0].detail
    assert outcomes[2].limit_s == 80  # what was left of the budget, under its own limit
    assert "time budget spent" in outcomes[3].detail
    assert seen == ["a", "b", "c", "d"]
    log = (config.outdir / "log.txt").read_text()
    assert "===== b: failed" in log and "c output" in log
    assert "===== d: not run (not timed) =====" in log  # never started: not "0 s"


def test_the_model_steps_run_as_one_group_before_the_commands(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    groups: list[list[str]] = []

    def group(config: CheckConfig, specs: list[StepSpec], **kwargs: object) -> list[StepOutcome]:
        groups.append([s.name for s in specs])
        results = [StepOutcome(s.name, s.title, STATUS_OK, 1.0, 10.0) for s in specs]
        for result in results:
            kwargs["on_step"](result)  # type: ignore[operator]
        kwargs["output"].write_text("built the models once\n")  # type: ignore[union-attr]
        return results

    monkeypatch.setattr(plan_mod, "run_model_steps", group)
    monkeypatch.setitem(plan_mod.RUNNERS, "gpu_tests", _fake_runner(STATUS_OK, 1, [0.0]))
    config = check_config(tmp_path, steps=("equivalence", "gpu_tests", "throughput"))
    outcomes = run_check(config)
    assert groups == [["throughput", "equivalence"]]
    assert [o.name for o in outcomes] == ["throughput", "equivalence", "gpu_tests"]
    log = (config.outdir / "log.txt").read_text()
    assert "model steps (throughput, equivalence): the output of their process" in log
    assert "built the models once" in log
