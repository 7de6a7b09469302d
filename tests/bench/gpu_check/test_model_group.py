"""The model steps in one process: each under its own limit, a fresh process only after a failure.

A fake process follows a script of steps on a fake clock: each step writes its record after so
many seconds, hangs, or the process dies in it. The clock moves only when the watcher sleeps.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.bench.gpu_check.conftest import check_config
from virnucpro.bench.gpu_check import model_group
from virnucpro.bench.gpu_check.model_group import STEP_FOLDER, run_model_steps
from virnucpro.bench.gpu_check.spec import (
    STATUS_FAILED,
    STATUS_NOT_RUN,
    STATUS_OK,
    STATUS_TIMED_OUT,
    StepSpec,
)

HANG = -1.0
DIE = -2.0
SPECS = [StepSpec(name, name, 50, 50) for name in ("throughput", "end_to_end", "equivalence")]


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@dataclass
class FakeProcess:
    """Runs ``plan`` (step -> seconds, HANG or DIE; "failed:" prefix records a failure)."""

    names: list[str]
    plan: dict[str, float | str]
    folder: Path
    clock: Clock
    began: float
    returncode: int | None = None
    killed: bool = False
    pid: int = 0
    done: list[str] = field(default_factory=list)

    def poll(self) -> int | None:
        if self.killed or self.returncode is not None:
            return self.returncode
        elapsed = self.clock.now - self.began
        for name in self.names:
            if name in self.done:
                continue
            cost = self.plan[name]
            failed = isinstance(cost, str)
            seconds = float(cost.split(":")[1]) if isinstance(cost, str) else cost
            if seconds == DIE:
                self.returncode = 139
                return self.returncode
            if seconds == HANG or elapsed < seconds:
                return None
            elapsed -= seconds
            self.began += seconds
            record = (
                {"status": "failed", "error": "ValueError: boom"}
                if failed
                else {"status": "ok", "figures": {"step": name}, "cpu_seconds": seconds / 2}
            )
            (self.folder / f"{name}.json").write_text(json.dumps(record))
            self.done.append(name)
        self.returncode = 0
        return 0

    def wait(self, timeout: float | None = None) -> int:
        assert self.poll() is not None
        return self.returncode or 0


def _run(tmp_path: Path, plan: dict[str, float | str], budget: float = 450.0, **kwargs: object):
    config = check_config(tmp_path, budget_s=budget)
    clock = Clock()
    launches: list[list[str]] = []
    stopped: list[FakeProcess] = []

    def launch(command: list[str], output: Path) -> FakeProcess:
        names = command[command.index("-m") + 2 : command.index("--folder")]
        launches.append(names)
        output.write_text("Traceback ...\nRuntimeError: CUDA error: an illegal memory access\n")
        folder = config.scratch / STEP_FOLDER
        return FakeProcess(names, plan, folder, clock, clock.now)

    def stop(proc: FakeProcess) -> None:
        proc.killed, proc.returncode = True, -15
        stopped.append(proc)

    def sleep(seconds: float) -> None:
        clock.now += seconds

    kwargs.setdefault("monkeypatch", None)
    mp: pytest.MonkeyPatch = kwargs.pop("monkeypatch")  # type: ignore[assignment]
    mp.setattr(model_group, "stop", stop)
    outcomes = run_model_steps(
        config,
        SPECS,
        deadline=clock.now + budget,
        output=tmp_path / "models.out",
        clock=clock,
        sleep=sleep,
        launch=launch,  # type: ignore[arg-type]
    )
    return outcomes, launches, stopped


def test_every_step_in_one_process_each_timed_from_the_one_before(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    plan = {"throughput": 30.0, "end_to_end": 20.0, "equivalence": 5.0}
    outcomes, launches, stopped = _run(tmp_path, plan, monkeypatch=monkeypatch)
    assert launches == [["throughput", "end_to_end", "equivalence"]]  # the models built once
    assert [o.status for o in outcomes] == [STATUS_OK] * 3
    assert [o.seconds for o in outcomes] == pytest.approx([30.0, 20.0, 5.0], abs=0.5)
    assert outcomes[1].figures == {"step": "end_to_end"} and outcomes[1].cpu_seconds == 10.0
    assert stopped == []


def test_a_step_over_its_limit_is_stopped_and_the_rest_get_a_fresh_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    plan: dict[str, float | str] = {"throughput": 30.0, "end_to_end": HANG, "equivalence": 5.0}
    outcomes, launches, stopped = _run(tmp_path, plan, monkeypatch=monkeypatch)
    assert [o.status for o in outcomes] == [STATUS_OK, STATUS_TIMED_OUT, STATUS_OK]
    assert outcomes[1].detail == "stopped at its 50 s" and len(stopped) == 1
    assert launches == [["throughput", "end_to_end", "equivalence"], ["equivalence"]]


def test_a_process_that_dies_fails_its_step_with_its_last_words(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    plan: dict[str, float | str] = {"throughput": DIE, "end_to_end": 20.0, "equivalence": 5.0}
    outcomes, launches, _ = _run(tmp_path, plan, monkeypatch=monkeypatch)
    assert [o.status for o in outcomes] == [STATUS_FAILED, STATUS_OK, STATUS_OK]
    assert outcomes[0].detail.startswith("exit 139 without figures:")
    assert "illegal memory access" in outcomes[0].detail
    assert launches[1] == ["end_to_end", "equivalence"]


def test_a_step_that_fails_inside_the_process_leaves_the_rest_to_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    plan: dict[str, float | str] = {"throughput": "failed:3", "end_to_end": 20.0, "equivalence": 5}
    outcomes, launches, stopped = _run(tmp_path, plan, monkeypatch=monkeypatch)
    assert [o.status for o in outcomes] == [STATUS_FAILED, STATUS_OK, STATUS_OK]
    assert outcomes[0].detail == "ValueError: boom"
    assert len(launches) == 1 and stopped == []


def test_steps_left_without_time_are_not_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    plan: dict[str, float | str] = {"throughput": 30.0, "end_to_end": HANG, "equivalence": 5.0}
    outcomes, launches, _ = _run(tmp_path, plan, budget=70.0, monkeypatch=monkeypatch)
    assert [o.status for o in outcomes] == [STATUS_OK, STATUS_TIMED_OUT, STATUS_NOT_RUN]
    assert outcomes[1].limit_s == pytest.approx(40.0, abs=0.5)  # what was left of the budget
    assert "time budget spent" in outcomes[2].detail and len(launches) == 1


def test_a_step_that_would_start_without_time_is_not_run_and_the_process_stopped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    plan: dict[str, float | str] = {"throughput": 30.0, "end_to_end": 30.0, "equivalence": 5.0}
    outcomes, launches, stopped = _run(tmp_path, plan, budget=70.0, monkeypatch=monkeypatch)
    assert [o.status for o in outcomes] == [STATUS_OK, STATUS_OK, STATUS_NOT_RUN]
    assert len(launches) == 1 and len(stopped) == 1  # 10 s left: under the minimum
