"""``scripts/ablation.py``'s figures: the pace it reports is the measuring loop's, not only the
timed rounds' (a lever that spends time between rounds must be charged for it)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.bench.ab_records import ab_record, paired_rounds
from tests.scripts import load_script

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "ablation.py"


@pytest.fixture(scope="module")
def ablation():
    return load_script(SCRIPT, "ablation")


def _trial(ablation, arm: str, loop_s: float | None) -> dict:
    record = ab_record(paired_rounds([1.0, 1.1, 0.9, 1.0] * 3, [1.0, 0.9, 1.1, 1.0] * 3, wall=0.3))
    return ablation.trial_row(arm, 0, record, "t.json", loop_s)


def test_pairs_a_minute_come_from_the_loops_seconds(ablation) -> None:
    name = ablation.arm_name(ablation.REFERENCE)
    row = _trial(ablation, name, loop_s=7.2)  # 12 pairs in 7.2 s, each timed at 0.3 s
    assert row["pairs"] == 12 and row["pace_s"] == pytest.approx(0.3)
    line = next(x for x in ablation.render([row], _meta()).splitlines() if f"| {name} |" in x)
    assert "| 12 | 100 | 0.30 |" in line


def test_a_trial_without_the_loops_seconds_says_n_a(ablation) -> None:
    name = ablation.arm_name(ablation.REFERENCE)
    line = next(
        x
        for x in ablation.render([_trial(ablation, name, None)], _meta()).splitlines()
        if f"| {name} |" in x
    )
    assert "| 12 | n/a | 0.30 |" in line


def _meta() -> dict:
    return {"commit": "c", "started": "s", "seconds": 45.0}
