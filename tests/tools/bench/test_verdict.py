"""The one outcome ladder: every judge's verdict comes from ``decide_outcome``."""

from __future__ import annotations

from typing import get_args

import pytest

from tests.bench.output_records import changed_check, same_check
from tools.bench.verdict import (
    EXIT_CANNOT_JUDGE,
    EXIT_FOR_OUTCOME,
    EXIT_PASS,
    EXIT_REGRESSION,
    MetricJudgement,
    Outcome,
    decide_outcome,
    ladder_verdict,
)
from virnucpro.bench.output_check import not_compared

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


def test_changed_outputs_outrank_every_time_judgement_and_exit_1() -> None:
    judgements = (_j(GATE, "improved"),)
    outcome, first = decide_outcome(
        judgements, gate_metric=GATE, require_gate=True, outputs=changed_check()
    )
    assert outcome == "outputs_changed" and EXIT_FOR_OUTCOME[outcome] == EXIT_REGRESSION
    assert first is not None and first.startswith("not comparable: the outputs differ")
    failing = (_j(GATE, "fail"),)
    assert (
        decide_outcome(failing, gate_metric=GATE, require_gate=True, outputs=changed_check())[0]
        == "outputs_changed"
    )


def test_outputs_that_could_not_be_compared_cannot_be_judged() -> None:
    check = not_compared("fp32", "the head wrote no outputs")
    outcome, first = decide_outcome(
        (_j(GATE, "pass"),), gate_metric=GATE, require_gate=True, outputs=check
    )
    assert (
        outcome == "could_not_judge" and first == "outputs not compared: the head wrote no outputs"
    )


def test_an_accepted_change_keeps_the_time_verdict_and_says_so_first() -> None:
    verdict = ladder_verdict(
        (_j(GATE, "improved"),),
        gate_metric=GATE,
        baseline="abc",
        mode="paired",
        notes=("20 pairs",),
        outputs=changed_check(accepted=True),
    )
    assert (verdict.outcome, verdict.exit_code) == ("pass", EXIT_PASS)
    assert verdict.outputs_accepted
    assert verdict.reasons[0].startswith(
        "outputs changed and were accepted (--accept-output-change): the outputs differ"
    )
    same = ladder_verdict(
        (_j(GATE, "pass"),),
        gate_metric=GATE,
        baseline="abc",
        mode="paired",
        notes=(),
        outputs=same_check(),
    )
    assert same.outcome == "pass" and not same.outputs_accepted and same.reasons == ()


def test_every_outcome_has_an_exit_code_a_word_a_status_a_colour_and_a_style() -> None:
    from tools.bench.github.badge import COLOR_FOR_OUTCOME
    from tools.bench.github.render import STATE_FOR_OUTCOME
    from tools.bench.report.blocks import OUTCOME_WORDS
    from tools.bench.site.pages import OUTCOME_CLASS
    from virnucpro.cli.summary import OUTCOME_STYLES

    outcomes = set(get_args(Outcome))
    for mapping in (EXIT_FOR_OUTCOME, STATE_FOR_OUTCOME, COLOR_FOR_OUTCOME, OUTCOME_WORDS):
        assert outcomes <= set(mapping), outcomes - set(mapping)
    assert outcomes <= set(OUTCOME_STYLES)
    never_green = outcomes - {"pass", "warn"}
    assert all(STATE_FOR_OUTCOME[o] != "success" for o in never_green)
    assert all(COLOR_FOR_OUTCOME[o] != "green" for o in never_green)
    assert {o for o in outcomes if EXIT_FOR_OUTCOME[o] == EXIT_PASS} == {"pass", "warn"}
    assert OUTCOME_CLASS["outputs_changed"] == "bad"
