"""``scripts/power_study.py``: the replay of the gate's more-rounds loop and the summary table.

The measuring half (clones, candidates, workers) is the A/B mode's own code, tested in
``tests/bench/test_ab.py``; here the study's judging of finished trials is checked on synthetic
pairs, so a change to the gate that the study would misreport fails here.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.bench.ab_records import ab_record, round_sample
from tools.bench.thresholds import DEFAULT_THRESHOLDS
from virnucpro.bench.ab import schema as ab_schema

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "power_study.py"


@pytest.fixture(scope="module")
def study():
    spec = importlib.util.spec_from_file_location("power_study", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["power_study"] = module
    spec.loader.exec_module(module)
    return module


def _split(seconds: float, dnabert: float) -> ab_schema.RoundSample:
    """A round whose time is DNABERT-S and ESM only."""
    return round_sample(seconds, dnabert, stages={"dnabert": dnabert, "esm": seconds - dnabert})


def _record(
    total: float, stage: float, *, n: int = 60, noise: float = 0.01, busy: float = 0.01
) -> ab_schema.ABRecord:
    """Pairs whose total is ``total`` slower and whose DNABERT-S stage is ``stage`` slower."""
    rng = np.random.default_rng(5)
    rounds = []
    for i in range(n):
        drift = 1.0 + 0.2 * rng.random()
        base = 0.2 * drift * (1.0 + noise * rng.standard_normal())
        head = 0.2 * drift * (1.0 + total) * (1.0 + noise * rng.standard_normal())
        rounds.append(
            ab_schema.PairedRound(
                index=i,
                first="base" if i % 2 else "head",
                base=_split(base, base * 0.3),
                head=_split(head, base * 0.3 * (1.0 + stage)),
                wall_seconds=base + head,
                others_share=busy,
            )
        )
    return ab_record(tuple(rounds), ref="study")


def test_a_clear_slowdown_fails_on_the_first_block(study) -> None:
    outcome, used, wants_more = study.replay(_record(0.15, 0.5), DEFAULT_THRESHOLDS, gated=True)
    assert (outcome, used, wants_more) == ("regression", DEFAULT_THRESHOLDS.ab_initial_pairs, False)


def test_five_percent_end_to_end_through_one_stage_is_not_failed(study) -> None:
    outcome, _, _ = study.replay(_record(0.05, 0.20), DEFAULT_THRESHOLDS, gated=True)
    assert outcome == "warn"  # the stage is named; the total time passed


def test_the_host_gate_and_the_ungated_replay(study) -> None:
    record = _record(0.15, 0.5, busy=0.9)
    assert study.replay(record, DEFAULT_THRESHOLDS, gated=True)[0] == "invalid"
    assert study.replay(record, DEFAULT_THRESHOLDS, gated=False)[0] == "regression"


def test_an_undecided_trial_asks_for_pairs_it_does_not_have(study) -> None:
    record = _record(0.10, 0.3, n=20, noise=0.15)
    outcome, used, wants_more = study.replay(record, DEFAULT_THRESHOLDS, gated=True)
    assert (outcome, used, wants_more) == ("inconclusive", 20, True)


def test_the_table_counts_warn_as_passing_and_gives_the_realized_range(study) -> None:
    arm = study.Arm("+5%", 0.05, Path())
    rows = [
        study._trial_summary(arm, i, _record(0.05, 0.20, noise=0.01 + i / 100), 30.0)
        for i in range(2)
    ]
    table = study.render(rows, {"commit": "c", "candidates": {}, "started": "now"})
    lines = table.splitlines()
    line = next(row for row in lines if row.startswith("| +5% ") and "| 10% |" in row)
    cells = [c.strip() for c in line.strip("|").split("|")]
    assert cells[5:8] == ["0/2", "2/2", "0/2"]  # FAIL, PASS or WARN, INCONCLUSIVE
    assert " to " in cells[2]
