"""The gate's health from the history: the canary's false alarms and CV flag, PR verdicts."""

from __future__ import annotations

from datetime import datetime

import pytest

from tests.tools.bench.site_history import (
    CANARY_KEY,
    GATE_NOW,
    PR_OUTCOMES,
    gate_history,
)
from tools.bench.history import gate_health as gh
from tools.bench.history.runs import GateFacts


def _health():
    return gh.gate_health(gate_history(), now=datetime.fromisoformat(GATE_NOW))


def test_a_canary_whose_cv_doubled_is_flagged_and_its_false_alarms_counted() -> None:
    canaries, _ = _health()
    (canary,) = canaries
    assert canary.key == CANARY_KEY and canary.runner == "runner-a"
    assert len(canary.nights) == 12 and canary.outcomes == {"pass": 11, "regression": 1}
    assert canary.false_alarm_rate == pytest.approx(1 / 12)
    assert canary.cv_recent == pytest.approx(0.11) and canary.cv_before == pytest.approx(0.05)
    assert canary.flagged and canary.flag_text().startswith("FLAGGED")


def test_a_steady_canary_is_not_flagged_and_a_short_one_cannot_be() -> None:
    history = gate_history()[CANARY_KEY]
    steady = [
        e.model_copy(
            update={"gate": GateFacts(pairs=80, per_pair_cv=0.05, power=0.8, confidence=0.98)}
        )
        for e in history
    ]
    health = gh.canary_health(CANARY_KEY, steady)
    assert health is not None and not health.flagged and "1.0x" in health.flag_text()
    short = gh.canary_health(CANARY_KEY, history[:7])
    assert short is not None and not short.flagged and "not enough nights" in short.flag_text()


def test_only_the_last_thirty_nights_count() -> None:
    history = gate_history()[CANARY_KEY]
    many = [
        e.model_copy(
            update={
                "run_id": f"n{k}",
                "created_at": f"2026-{1 + k // 28:02d}-{1 + k % 28:02d}T03:00:00+00:00",
            }
        )
        for k, e in enumerate(history * 4)
    ]
    health = gh.canary_health(CANARY_KEY, many)
    assert health is not None and len(health.nights) == gh.CANARY_NIGHTS


def test_pr_verdicts_in_the_window() -> None:
    _, prs = _health()
    assert prs.runs == len(PR_OUTCOMES)  # the one from October is outside the 30 days
    assert prs.share("invalid") == pytest.approx(0.2)
    assert prs.share("inconclusive") == pytest.approx(0.1)
