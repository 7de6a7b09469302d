"""The one outcome ladder: every judge's verdict comes from ``decide_outcome``."""

from __future__ import annotations

import pytest

from tools.bench.verdict import (
    EXIT_CANNOT_JUDGE,
    EXIT_FOR_OUTCOME,
    EXIT_PASS,
    EXIT_REGRESSION,
    MetricJudgement,
    decide_outcome,
    ladder_verdict,
)

GATE = "end_to_end.total_time"


def _j(name: str, status: str, reason: str = "") -> MetricJudgement:
    return MetricJudgement(name=name, unit="s", status=status, reason=reason)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("statuses", "outcome"),
    [
        ({GATE: "fail", "stage.esm.time": "pass"}, "regression"),
        ({GATE: "pass", "stage.esm.time": "fail"}, "regression"),
        ({GATE: "undecided", "stage.esm.time": "warn"}, "inconclusive"),
        ({GATE: "inconclusive"}, "inconclusive"),
        ({GATE: "pass", "stage.esm.time": "warn"}, "warn"),
        ({GATE: "improved", "stage.esm.time": "inconclusive"}, "pass"),
    ],
)
def test_the_ladder_orders_fail_then_undecided_gate_then_warn(
    statuses: dict[str, str], outcome: str
) -> None:
    judgements = tuple(_j(name, status) for name, status in statuses.items())
    assert decide_outcome(judgements, gate_metric=GATE, require_gate=True)[0] == outcome


def test_a_missing_gate_metric_cannot_be_judged_only_where_it_is_required() -> None:
    judgements = (_j("stage.esm.time", "pass"),)
    assert decide_outcome(judgements, gate_metric=GATE, require_gate=True)[0] == "could_not_judge"
    assert decide_outcome(judgements, gate_metric=GATE, require_gate=False)[0] == "pass"


def test_the_exit_code_follows_from_the_outcome() -> None:
    assert EXIT_FOR_OUTCOME["pass"] == EXIT_FOR_OUTCOME["warn"] == EXIT_PASS
    assert EXIT_FOR_OUTCOME["regression"] == EXIT_REGRESSION
    for outcome in ("inconclusive", "invalid", "could_not_judge", "no_baseline"):
        assert EXIT_FOR_OUTCOME[outcome] == EXIT_CANNOT_JUDGE
    verdict = ladder_verdict(
        (_j(GATE, "inconclusive", "noise 12%"),),
        gate_metric=GATE,
        baseline="abc",
        mode="paired",
        notes=("20 pairs",),
    )
    assert (verdict.outcome, verdict.exit_code) == ("inconclusive", EXIT_CANNOT_JUDGE)
    assert verdict.reasons == (f"{GATE} is inconclusive: noise 12%", "20 pairs")
