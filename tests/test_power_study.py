"""``scripts/power_study.py``: its arms, schedule and options (the judging is
``tools/bench/judge/power.py``, tested in ``tests/tools/bench/judge/test_power.py``)."""

from __future__ import annotations

from pathlib import Path

import psutil
import pytest

from tests.scripts import load_script
from tools.bench.judge import power

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "power_study.py"


@pytest.fixture(scope="module")
def study():
    return load_script(SCRIPT, "power_study")


def test_the_schedule_interleaves_every_arm_and_is_seeded(study) -> None:
    arms = [
        power.Arm("A/A", 0.0, Path()),
        power.Arm("+5%", 0.05, Path()),
        power.Arm("+5% busy", 0.05, Path(), busy=True),
    ]
    plan = study._schedule(arms, 3, 4, seed=7)
    assert plan == study._schedule(arms, 3, 4, seed=7)
    counts = {name: sum(a.name == name for a, _ in plan) for name in ("A/A", "+5%", "+5% busy")}
    assert counts == {"A/A": 4, "+5%": 3, "+5% busy": 3}
    assert [a.name for a, _ in plan] != [a.name for a, _ in sorted(plan, key=lambda p: p[0].name)]


def test_extra_work_is_parsed_or_refused(study) -> None:
    assert study._pairs_of("0.05=0.07,0.15=0.45") == [("0.05", "0.07"), ("0.15", "0.45")]
    with pytest.raises(SystemExit, match="K=SHARE"):
        study._pairs_of("0.05")


def test_the_default_study_has_the_issues_arms(study) -> None:
    assert study.SLOWDOWNS == (0.03, 0.05, 0.08, 0.15)
    assert power.THRESHOLDS == (0.03, 0.10)
    assert study.BUSY_SLOWDOWN in study.SLOWDOWNS
    assert study.HOG.is_file() and study.HOG_ARGS == ("--duty", "1.0", "--procs", "1")


def _gone(process: psutil.Process) -> bool:
    try:
        return process.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def test_the_busy_arms_hog_is_another_process_the_host_check_sees(study) -> None:
    """A hog started as a child counts as the benchmark's own CPU time ("others 0%"); the
    study's hog is detached, so the gate's host check sees it as another job."""
    with study.DetachedHog() as hog:
        assert hog.process.is_running()
        assert hog.process.pid not in {p.pid for p in psutil.Process().children(recursive=True)}
        tree = [hog.process, *hog.process.children(recursive=True)]
    assert all(_gone(p) for p in tree)
