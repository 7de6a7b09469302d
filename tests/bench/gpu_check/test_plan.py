"""The GPU check's plan: time limits, the overall budget, and failures kept apart per step."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from virnucpro.bench.gpu_check import plan as run_mod
from virnucpro.bench.gpu_check import steps as steps_mod
from virnucpro.bench.gpu_check.plan import (
    STATUS_FAILED,
    STATUS_NOT_RUN,
    STATUS_OK,
    CheckConfig,
    StepOutcome,
    StepSpec,
    pytest_counts,
    run_check,
    run_process,
)


def _config(tmp_path: Path, **kwargs: object) -> CheckConfig:
    out, scratch = tmp_path / "out", tmp_path / "scratch"
    out.mkdir()
    scratch.mkdir()
    return CheckConfig(outdir=out, scratch=scratch, root=tmp_path, dry_run=True, **kwargs)  # type: ignore[arg-type]


def test_a_process_over_its_limit_is_stopped(tmp_path: Path) -> None:
    config = _config(tmp_path)
    code = "import time; print('started', flush=True); time.sleep(60)"
    done = run_process(
        [sys.executable, "-c", code], limit_s=2, config=config, output=tmp_path / "o.txt"
    )
    assert done.returncode is None
    assert "started" in done.output


def test_a_process_exit_code_and_output_are_kept(tmp_path: Path) -> None:
    config = _config(tmp_path)
    code = "import sys; print('bad'); sys.exit(3)"
    done = run_process(
        [sys.executable, "-c", code], limit_s=60, config=config, output=tmp_path / "o.txt"
    )
    assert (done.returncode, done.output.strip()) == (3, "bad")


def test_pytest_counts_read_the_final_summary_line() -> None:
    output = "....\nFAILED tests/x.py::y\n2 failed, 5 passed, 3 skipped, 1 error in 4.20s\n"
    assert pytest_counts(output) == {"failed": 2, "passed": 5, "skipped": 3, "error": 1}
    assert pytest_counts("no summary") == {}


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
    monkeypatch.setattr(run_mod, "STEP_SPECS", specs)
    monkeypatch.setattr(
        run_mod,
        "RUNNERS",
        {
            "a": _fake_runner("raise", 10, clock),
            "b": _fake_runner(STATUS_FAILED, 10, clock),
            "c": _fake_runner(STATUS_OK, 75, clock),
            "d": _fake_runner(STATUS_OK, 1, clock),
        },
    )
    config = _config(tmp_path, budget_s=100, steps=("a", "b", "c", "d"))
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


def test_a_failing_model_step_is_recorded_and_the_next_still_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(ctx: object) -> dict:
        raise ValueError("CUDA out of memory (pretend)")

    monkeypatch.setattr(
        steps_mod, "STEPS", {"throughput": broken, "equivalence": lambda ctx: {"passed": True}}
    )
    ctx = steps_mod.ModelContext(sizes=steps_mod.DRY_RUN_SIZES, scratch=tmp_path)
    code = steps_mod.run_steps(["throughput", "equivalence"], tmp_path, ctx)
    assert code == 1
    failed = json.loads((tmp_path / "throughput.json").read_text())
    assert failed["status"] == "failed"
    assert failed["error"] == "ValueError: CUDA out of memory (pretend)"
    passed = json.loads((tmp_path / "equivalence.json").read_text())
    assert passed["status"] == "ok" and passed["figures"] == {"passed": True}


def test_a_killed_model_step_keeps_the_figures_it_wrote(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = _config(tmp_path)
    spec = StepSpec("throughput", "t", 5, 5)
    folder = config.scratch / "steps"
    folder.mkdir()

    def finished_then_hung(command, *, limit_s, config, output):  # type: ignore[no-untyped-def]
        steps_mod.write_step(folder, "throughput", {"status": "ok", "figures": {"tokens": 7}})
        return run_mod.Finished(None, limit_s, "")

    monkeypatch.setattr(run_mod, "run_process", finished_then_hung)
    outcome = run_mod.model_step(config, spec, 5, tmp_path / "o.txt")
    assert (outcome.status, outcome.figures) == (STATUS_OK, {"tokens": 7})


def test_a_model_step_killed_before_writing_is_timed_out(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = _config(tmp_path)
    monkeypatch.setattr(
        run_mod, "run_process", lambda *a, limit_s, **k: run_mod.Finished(None, limit_s, "")
    )
    outcome = run_mod.model_step(config, StepSpec("esm", "t", 5, 5), 5, tmp_path / "o.txt")
    assert outcome.status == run_mod.STATUS_TIMED_OUT and "5 s" in outcome.detail


def test_the_dry_run_quick_tier_runs_on_the_cpu_and_the_gpu_one_on_gpu_0(tmp_path: Path) -> None:
    dry = run_mod.benchmark_args(_config(tmp_path), tmp_path)
    assert dry[dry.index("--gpus") + 1] == "none"
    gpu_config = CheckConfig(outdir=tmp_path, scratch=tmp_path, root=tmp_path, dry_run=False)
    gpu = run_mod.benchmark_args(gpu_config, tmp_path)
    assert gpu[:3] == ["--quick", "--gpus", "0"] and "--rounds" not in gpu
