"""The power study's judging: the replay of the gate's more-pairs loop and the summary table.

The measuring half (clones, candidates, workers) is the A/B mode's own code, tested in
``tests/bench/ab``; here the judging of finished trials is checked on synthetic pairs, so a
change to the gate that the study would misreport fails here.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tests.bench.ab_records import ab_record, round_sample
from tools.bench.judge import power
from tools.bench.thresholds import DEFAULT_THRESHOLDS, with_overrides
from virnucpro.bench.ab import schema as ab_schema


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


AT_3 = with_overrides(DEFAULT_THRESHOLDS, fail_slowdown=0.03)


def test_a_clear_slowdown_fails_on_the_first_look() -> None:
    outcome, used, short = power.replay(_record(0.15, 0.5), DEFAULT_THRESHOLDS, gated=True)
    assert (outcome, used, short) == ("regression", DEFAULT_THRESHOLDS.ab_initial_pairs, 0)


def test_five_percent_end_to_end_through_one_stage_is_not_failed_at_ten() -> None:
    outcome, _, _ = power.replay(_record(0.05, 0.20), DEFAULT_THRESHOLDS, gated=True)
    assert outcome == "warn"  # the stage is named; the total time passed


def test_five_percent_is_failed_at_three() -> None:
    outcome, _, short = power.replay(_record(0.05, 0.20), AT_3, gated=True)
    assert (outcome, short) == ("regression", 0)


def test_the_host_gate_and_the_ungated_replay() -> None:
    record = _record(0.15, 0.5, busy=0.9)
    assert power.replay(record, DEFAULT_THRESHOLDS, gated=True)[0] == "invalid"
    assert power.replay(record, DEFAULT_THRESHOLDS, gated=False)[0] == "regression"


def test_an_undecided_trial_asks_for_the_pairs_it_does_not_have() -> None:
    record = _record(0.10, 0.3, n=20, noise=0.15)
    outcome, used, short = power.replay(record, DEFAULT_THRESHOLDS, gated=True)
    assert (outcome, used) == ("inconclusive", 20) and short == DEFAULT_THRESHOLDS.ab_block_pairs
    assert power.wanted(record, (0.10,), DEFAULT_THRESHOLDS) == short


def test_an_arm_is_judged_at_its_driving_thresholds_only() -> None:
    arm = power.Arm("+8%", 0.08, Path())
    row = power.trial_summary(arm, 0, _record(0.08, 0.3), 30.0)
    assert set(row["verdicts"]) == {"3%", "3% ungated"}
    assert power.Arm("A/A", 0.0, Path()).drives == (0.03, 0.10)
    assert power.Arm("+20%", 0.2, Path()).drives == power.THRESHOLDS  # an older study's arm


def test_the_table_counts_warn_as_passing_and_gives_the_realized_range() -> None:
    arm = power.Arm("+5%", 0.05, Path())
    rows = [
        power.trial_summary(arm, i, _record(0.05, 0.20, noise=0.01 + i / 100), 30.0)
        for i in range(2)
    ]
    table = power.render(rows, {"commit": "c", "candidates": {}, "started": "now"})
    line = next(r for r in table.splitlines() if r.startswith("| +5% ") and "| 10% |" in r)
    cells = [c.strip() for c in line.strip("|").split("|")]
    assert cells[5:8] == ["0/2", "2/2", "0/2"]  # FAIL, PASS or WARN, INCONCLUSIVE
    assert cells[12] == "0/2"  # none cut short
    assert " to " in cells[2]
    three = next(r for r in table.splitlines() if r.startswith("| +5% ") and "| 3% |" in r)
    assert [c.strip() for c in three.strip("|").split("|")][5] == "2/2"


def test_summarize_rejudges_the_raw_pairs(tmp_path: Path) -> None:
    (tmp_path / "trials").mkdir()
    ab_schema.write_record(_record(0.15, 0.5), tmp_path / "trials" / "000-15.json")
    row = {"arm": "+15%", "slowdown": 0.15, "trial": 0, "seconds": 9.0, "file": "000-15.json"}
    meta = {"commit": "c", "candidates": {}, "started": "then"}
    (tmp_path / "summary.json").write_text(json.dumps({**meta, "trials": [row]}))
    assert power.summarize(tmp_path) == 0
    data = json.loads((tmp_path / "summary.json").read_text())
    assert data["trials"][0]["verdicts"]["10%"]["outcome"] == "regression"
    assert data["gate"]["ab_spending"] == DEFAULT_THRESHOLDS.ab_spending
    assert "| +15% | +15% |" in (tmp_path / "summary.md").read_text()


@pytest.mark.parametrize("spending", ["none", "pocock"])
def test_a_replay_follows_the_gates_spending(spending: str) -> None:
    gate = with_overrides(AT_3, ab_spending=spending)
    outcome, used, _ = power.replay(_record(0.0, 0.0, n=200, noise=0.1), gate, gated=True)
    assert outcome in ("pass", "warn", "inconclusive") and used >= 20


def test_the_loop_seconds_count_the_workers_replacements_before_each_look() -> None:
    rounds = tuple(
        r.model_copy(update={"workers": r.index // 20}) for r in _record(0.0, 0.0).rounds
    )
    record = ab_record(
        rounds,
        ref="study",
        protocol=ab_schema.RoundProtocol(fresh_workers_every=20),
        restart_seconds=(4.0, 5.0),
    )
    walls = [r.wall_seconds for r in rounds]
    assert power.loop_seconds(record, 20) == pytest.approx(sum(walls[:20]))
    assert power.loop_seconds(record, 21) == pytest.approx(sum(walls[:21]) + 4.0)
    assert power.loop_seconds(record, 60) == pytest.approx(sum(walls) + 9.0)
    kept = ab_record(rounds, ref="study")  # one pair of workers: the rounds alone
    assert power.loop_seconds(kept, 60) == pytest.approx(sum(walls))


def test_a_replay_stops_when_the_time_budget_is_spent() -> None:
    noisy = _record(0.02, 0.0, n=200, noise=0.2)
    rounds = tuple(r.model_copy(update={"workers": r.index // 20}) for r in noisy.rounds)
    record = ab_record(
        rounds,
        ref="study",
        protocol=ab_schema.RoundProtocol(fresh_workers_every=20),
        restart_seconds=(30.0,) * 9,
    )
    budget = with_overrides(AT_3, ab_time_budget_s=60.0)
    assert power.replay(record, budget, gated=True)[1:] == (40, 0)  # 2 x 20 pairs + 30 s
    unhurried = ab_record(rounds, ref="study", protocol=record.protocol)
    assert power.replay(unhurried, budget, gated=True)[1] > 40
