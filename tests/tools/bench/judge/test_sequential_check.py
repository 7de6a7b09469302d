"""The gate's loop under optional stopping, on synthetic A/A runs with this machine's noise.

A small, seeded version of ``python -m tools.bench.judge.sequential_check``: 400 A/A runs of the
real judge and more-pairs loop, five looks each, the pairs drawn from the committed power study's
A/A pairs. At a threshold near zero a verdict other than INCONCLUSIVE means the interval left
"no change" on one side or the other: the error the design bounds by alpha. The plain level at
every look (the rule before) exceeds alpha on the same sequences, so the check can fail.
"""

from __future__ import annotations

import pytest

from tools.bench.judge import sequential_check as check
from tools.bench.thresholds import DEFAULT_THRESHOLDS, with_overrides

pytestmark = pytest.mark.slow
SEQUENCES = 400
LOOKS_PAIRS = 100  # first 20, blocks of 20: five looks
MEASURED_SPREAD = 0.013  # the offset SD between worker pairs, power study of 2026-12-03


@pytest.fixture(scope="module")
def noise() -> check.Noise:
    return check.load_noise()


def _worst_case(noise: check.Noise, spending: str):
    thresholds = with_overrides(
        DEFAULT_THRESHOLDS,
        fail_slowdown=0.0001,
        ab_spending=spending,
        ab_time_budget_s=LOOKS_PAIRS * noise.pace_s + 0.01,
    )
    return thresholds, check.simulate(noise, thresholds, sequences=SEQUENCES, seed=5)


def test_the_noise_is_the_committed_power_studys_aa_pairs(noise: check.Noise) -> None:
    assert len(noise.trials) == 20 and len(noise.pooled) >= 400
    assert 0.05 < float(noise.pooled.std()) < 0.3  # this machine's per-pair spread
    assert 0.2 < noise.pace_s < 1.0


def test_alpha_spending_keeps_the_error_of_the_whole_loop_below_alpha(noise: check.Noise) -> None:
    """The gate's default spending (Pocock-type); O'Brien-Fleming's bounds are checked on
    Brownian paths in tests/bench/test_sequential.py."""
    thresholds, result = _worst_case(noise, DEFAULT_THRESHOLDS.ab_spending)
    assert result.pairs_max == LOOKS_PAIRS
    decided = result.rate("regression", "pass", "warn", "improved")
    assert decided <= thresholds.alpha, result.outcomes
    assert result.rate("regression") <= thresholds.alpha / 2 + 0.01, result.outcomes


def test_the_plain_level_at_every_look_exceeds_alpha(noise: check.Noise) -> None:
    thresholds, result = _worst_case(noise, "none")
    assert result.rate("regression", "pass", "warn", "improved") > thresholds.alpha


def test_a_table_of_the_arms(noise: check.Noise) -> None:
    thresholds = with_overrides(DEFAULT_THRESHOLDS, fail_slowdown=0.03)
    arms = [
        check.simulate(noise, thresholds, slowdown=k, sequences=20, seed=1) for k in (0.0, 0.08)
    ]
    assert arms[0].rate("regression") == 0.0 and arms[1].rate("regression") == 1.0
    table = check.render(arms, thresholds, noise)
    assert "| +0% | pooled | 0.0% | 20 | 0.00% | 100.00% | 0.00% |" in table
    assert "| +8% | pooled | 0.0% | 20 | 100.00% |" in table
    assert "Worker pairs: fresh every 40 pairs, a decision from 2." in table


def _worst_case_with_offsets(noise: check.Noise, fresh_every: int):
    thresholds = with_overrides(
        DEFAULT_THRESHOLDS,
        fail_slowdown=0.0001,
        ab_time_budget_s=LOOKS_PAIRS * noise.pace_s + 0.01,
        ab_fresh_workers_every=fresh_every,
    )
    result = check.simulate(
        noise,
        thresholds,
        sequences=SEQUENCES,
        seed=6,
        process_spread=MEASURED_SPREAD,
        restart_s=0.0,
    )
    return thresholds, result


def test_fresh_workers_keep_the_error_below_alpha_when_processes_differ(
    noise: check.Noise,
) -> None:
    """The offset between worker processes measured on this machine (SD 1.3%) defeats the
    interval of one pair of workers (the gate before fresh workers); fresh workers every 20
    pairs, the widened interval and decisions from two worker pairs keep the whole loop's error
    below alpha."""
    thresholds, kept = _worst_case_with_offsets(noise, 0)
    assert kept.rate("regression", "pass", "warn", "improved") > 2 * thresholds.alpha
    thresholds, fresh = _worst_case_with_offsets(noise, 20)
    assert fresh.rate("regression", "pass", "warn", "improved") <= thresholds.alpha, fresh.outcomes
