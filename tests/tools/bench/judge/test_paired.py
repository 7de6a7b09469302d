from __future__ import annotations

import math

import numpy as np
import pytest

from tests.bench.output_records import changed_check, same_check
from tools.bench.judge.paired import judge_paired, pairs_to_add
from tools.bench.thresholds import DEFAULT_THRESHOLDS
from virnucpro.bench.ab.schema import READS_PER_S, TOTAL_TIME, PairedMetric
from virnucpro.bench.metric_names import GPU_ROUND_UTILIZATION, HOST_PEAK_RSS

READS = 20.0


def _pairs(slowdown: float, n: int = 20, noise: float = 0.02, seed: int = 1):
    rng = np.random.default_rng(seed)
    drift = 1.0 + 0.3 * rng.random(n)  # the machine drifts: both sides of a pair alike
    base = drift * (1.0 + noise * rng.standard_normal(n))
    head = drift * (1.0 + slowdown) * (1.0 + noise * rng.standard_normal(n))
    return tuple(float(v) for v in base), tuple(float(v) for v in head)


def _metrics(slowdown: float, **kwargs) -> tuple[PairedMetric, ...]:
    base, head = _pairs(slowdown, **kwargs)
    return (
        PairedMetric(TOTAL_TIME, "s", "lower", base, head),
        PairedMetric(
            READS_PER_S,
            "reads/s",
            "higher",
            tuple(READS / b for b in base),
            tuple(READS / h for h in head),
        ),
    )


def _judge(metrics, **kwargs):
    return judge_paired(metrics, thresholds=DEFAULT_THRESHOLDS, label="base", **kwargs)


def test_a_fifteen_percent_slowdown_fails_and_names_the_metric() -> None:
    verdict = _judge(_metrics(0.15))
    assert (verdict.outcome, verdict.exit_code, verdict.mode) == ("regression", 1, "paired")
    total = verdict.failures[0]
    assert total.name == TOTAL_TIME
    assert total.change == pytest.approx(0.15, abs=0.03)
    assert total.interval_low is not None and total.interval_low > 0.0
    assert total.pairs == 20
    reads = next(j for j in verdict.judgements if j.name == READS_PER_S)
    assert reads.status == "warn" and reads.change is not None and reads.change > 0.1


def test_no_change_passes_despite_drift() -> None:
    verdict = _judge(_metrics(0.0))
    assert (verdict.outcome, verdict.exit_code) == ("pass", 0)
    total = verdict.judgements[0]
    assert total.interval_high is not None and total.interval_high < 0.10


def test_five_percent_slower_with_little_noise_passes() -> None:
    verdict = _judge(_metrics(0.05, noise=0.01))
    assert verdict.judgements[0].status == "pass"


def test_an_improvement_is_improved_not_a_failure() -> None:
    verdict = _judge(_metrics(-0.25))
    assert verdict.judgements[0].status == "improved"
    assert verdict.exit_code == 0


def test_noisy_pairs_stay_undecided_then_read_inconclusive_exit_2() -> None:
    metrics = _metrics(0.10, n=8, noise=0.15)
    running = _judge(metrics, final=False)
    assert running.judgements[0].status == "undecided"
    assert pairs_to_add(running, pairs=8, seconds=4.0, thresholds=DEFAULT_THRESHOLDS) == 20
    final = _judge(metrics, final=True)
    assert (final.outcome, final.exit_code) == ("inconclusive", 2)
    assert final.judgements[0].status == "inconclusive"


def test_too_few_pairs_have_no_interval() -> None:
    verdict = _judge(_metrics(0.3, n=4), final=False)
    assert verdict.judgements[0].status == "undecided"
    assert "too few pairs" in verdict.judgements[0].reason


def test_a_busy_host_is_invalid_whatever_the_numbers() -> None:
    verdict = _judge(_metrics(0.3), others_shares=(0.9, 0.8, 0.7))
    assert (verdict.outcome, verdict.exit_code) == ("invalid", 2)
    assert "80%" in verdict.reasons[0]
    assert pairs_to_add(verdict, pairs=20, seconds=1.0, thresholds=DEFAULT_THRESHOLDS) == 0


def test_more_rounds_stop_at_the_pair_and_time_budgets() -> None:
    undecided = _judge(_metrics(0.10, n=8, noise=0.15), final=False)
    limits = DEFAULT_THRESHOLDS
    assert pairs_to_add(undecided, pairs=limits.ab_max_pairs, seconds=1.0, thresholds=limits) == 0
    near = limits.ab_max_pairs - 5
    assert pairs_to_add(undecided, pairs=near, seconds=1.0, thresholds=limits) == 5
    slow = limits.ab_time_budget_s
    assert pairs_to_add(undecided, pairs=8, seconds=slow, thresholds=limits) == 0
    decided = _judge(_metrics(0.0), final=False)
    assert pairs_to_add(decided, pairs=20, seconds=1.0, thresholds=limits) == 0


def test_a_tiny_stage_is_immaterial_under_the_floor() -> None:
    base, head = _pairs(0.0)
    stage_base, stage_head = _pairs(0.5, noise=0.3, seed=2)
    metrics = (
        PairedMetric(TOTAL_TIME, "s", "lower", base, head),
        PairedMetric(
            "stage.merge.time",
            "s",
            "lower",
            tuple(v * 1e-4 for v in stage_base),
            tuple(v * 1e-4 for v in stage_head),
        ),
    )
    stage = _judge(metrics).judgements[1]
    assert stage.status == "pass" and "immaterial" in stage.reason


def _with_stage(total: float, stage: float, stage_noise: float = 0.02):
    base, head = _pairs(total, noise=0.01)
    stage_base, stage_head = _pairs(stage, noise=stage_noise, seed=3)
    return (
        PairedMetric(TOTAL_TIME, "s", "lower", base, head),
        PairedMetric(
            "stage.dnabert.time",
            "s",
            "lower",
            tuple(v * 0.3 for v in stage_base),
            tuple(v * 0.3 for v in stage_head),
        ),
    )


def test_a_stage_far_slower_inside_a_total_five_percent_slower_warns_and_passes() -> None:
    verdict = _judge(_with_stage(0.05, 0.20))
    total, stage = verdict.judgements
    assert total.status == "pass"
    assert stage.status == "warn" and stage.change is not None and stage.change > 0.15
    assert (verdict.outcome, verdict.exit_code) == ("warn", 0)


def test_the_total_time_alone_fails_the_gate_and_the_stage_is_named_beside_it() -> None:
    verdict = _judge(_with_stage(0.15, 0.50))
    assert (verdict.outcome, verdict.exit_code) == ("regression", 1)
    assert [j.name for j in verdict.failures] == [TOTAL_TIME]
    assert {j.name: j.status for j in verdict.judgements}["stage.dnabert.time"] == "warn"


def test_an_undecided_stage_asks_for_no_more_pairs_once_the_total_is_decided() -> None:
    running = _judge(_with_stage(0.0, 0.10, stage_noise=0.3), final=False)
    total, stage = running.judgements
    assert total.status == "pass" and stage.status == "undecided"
    assert pairs_to_add(running, pairs=20, seconds=1.0, thresholds=DEFAULT_THRESHOLDS) == 0
    assert any("stage.dnabert.time" in note for note in running.reasons)


@pytest.mark.parametrize(("drop", "status"), [(8.0, "warn"), (3.0, "pass")])
def test_paired_memory_and_utilization_warn_and_never_fail(drop: float, status: str) -> None:
    """Memory warns beyond +20%, GPU utilization beyond a 5-point drop; neither is a failure."""
    base, head = _pairs(0.0, noise=0.005)
    growth = 1.3 if status == "warn" else 1.1
    rss = PairedMetric(HOST_PEAK_RSS, "bytes", "lower", base, tuple(h * growth for h in head))
    util = PairedMetric(
        GPU_ROUND_UTILIZATION,
        "%",
        "higher",
        tuple(60.0 * b for b in base),
        tuple((60.0 - drop) * h for h in head),
    )
    verdict = _judge((*_metrics(0.0, noise=0.005), rss, util))
    statuses = {j.name: j.status for j in verdict.judgements}
    assert statuses[HOST_PEAK_RSS] == statuses[GPU_ROUND_UTILIZATION] == status
    assert (verdict.outcome, verdict.exit_code) == (status, 0)


# ------------------------------------------------------------------------ the sequential design


def _record(slowdown: float, n: int, *, wall: float = 0.5, noise: float = 0.02):
    from tests.bench.ab_records import ab_record, paired_rounds

    base, head = _pairs(slowdown, n=n, noise=noise)
    return ab_record(paired_rounds(base, head, wall=wall))


def test_a_record_is_judged_at_its_look_of_the_plan_its_pace_gives() -> None:
    from tools.bench.judge.paired import judge_record, record_plan

    record = _record(0.0, 40)
    plan = record_plan(record, DEFAULT_THRESHOLDS)
    assert plan.most == int(DEFAULT_THRESHOLDS.ab_time_budget_s // 0.5)
    verdict = judge_record(record, thresholds=DEFAULT_THRESHOLDS, label="base", final=False)
    design = verdict.design
    assert design is not None and (design.look, design.planned_pairs) == (2, plan.most)
    assert design.spending == DEFAULT_THRESHOLDS.ab_spending
    assert design.confidence == pytest.approx(plan.confidence(40)) and design.confidence > 0.95
    total = verdict.judgements[0]
    assert f"{design.confidence:.2%} interval" in total.reason
    assert any(r.startswith("intervals: look 2 of") for r in verdict.reasons)


def test_every_verdict_says_what_it_could_have_detected() -> None:
    from virnucpro.bench import sequential

    verdict = _judge(_metrics(0.0, n=40, noise=0.03))
    design = verdict.design
    assert design is not None and design.min_detectable is not None
    total = verdict.judgements[0]
    critical = sequential.single_look(0.05).critical(40)
    se = sequential.standard_error(1 + total.interval_low, 1 + total.interval_high, critical)
    assert design.min_detectable == pytest.approx(math.expm1((critical + 0.8416) * se), 1e-3)
    assert 0.0 < design.min_detectable < 0.10
    note = next(r for r in verdict.reasons if r.startswith("this run could detect"))
    assert f">= {design.min_detectable:.1%} slower total time" in note
    assert "80% power" in note and "10% threshold" in note
    few = _judge(_metrics(0.0, n=4))
    assert few.design is not None and few.design.min_detectable is None
    assert any("could detect: unknown" in r for r in few.reasons)


def test_the_spent_level_is_wider_than_the_plain_one_at_an_early_look() -> None:
    from tools.bench.judge.paired import judge_record
    from tools.bench.thresholds import with_overrides

    record = _record(0.06, 20, noise=0.05)
    strict = with_overrides(DEFAULT_THRESHOLDS, fail_slowdown=0.03)
    plain = with_overrides(strict, ab_spending="none")
    spent = judge_record(record, thresholds=strict, label="b", final=False).judgements[0]
    fixed = judge_record(record, thresholds=plain, label="b", final=False).judgements[0]
    assert spent.interval_low < fixed.interval_low and spent.interval_high > fixed.interval_high


def test_more_pairs_stop_at_the_planned_horizon() -> None:
    from tools.bench.judge.paired import judge_record

    record = _record(0.10, 20, noise=0.3, wall=6.0)  # 180 s / 6 s: a 30-pair horizon
    verdict = judge_record(record, thresholds=DEFAULT_THRESHOLDS, label="b", final=False)
    assert verdict.design is not None and verdict.design.planned_pairs == 30
    assert pairs_to_add(verdict, pairs=20, seconds=1.0, thresholds=DEFAULT_THRESHOLDS) == 10


def test_the_estimator_is_the_thresholds_choice() -> None:
    from tools.bench.thresholds import with_overrides

    for estimator, word in (("hodges_lehmann", "Hodges-Lehmann"), ("trimmed_mean", "trimmed")):
        chosen = with_overrides(DEFAULT_THRESHOLDS, ab_estimator=estimator)
        verdict = judge_paired(_metrics(0.15), thresholds=chosen, label="b")
        assert verdict.outcome == "regression" and word in verdict.judgements[0].reason
        assert verdict.design is not None and verdict.design.estimator == estimator


def test_cpu_time_is_a_companion_that_warns_and_never_fails() -> None:
    from virnucpro.bench.ab.schema import CPU_TIME

    base, head = _pairs(0.0, noise=0.005)
    cpu = PairedMetric(CPU_TIME, "s", "lower", base, tuple(h * 1.3 for h in head))
    verdict = _judge((*_metrics(0.0, noise=0.005), cpu))
    statuses = {j.name: j.status for j in verdict.judgements}
    assert statuses[CPU_TIME] == "warn" and statuses[TOTAL_TIME] == "pass"
    assert verdict.outcome == "warn" and verdict.exit_code == 0


def test_changed_outputs_read_outputs_changed_even_when_faster_or_busy() -> None:
    faster = _judge(_metrics(-0.25), outputs=changed_check())
    assert (faster.outcome, faster.exit_code) == ("outputs_changed", 1)
    assert faster.judgements[0].status == "improved"  # the times are still judged and shown
    busy = _judge(_metrics(-0.25), others_shares=(0.9, 0.8), outputs=changed_check())
    assert busy.outcome == "outputs_changed"
    assert any("host busy" in reason for reason in busy.reasons)


def test_an_accepted_change_gets_the_time_verdict() -> None:
    verdict = _judge(_metrics(-0.25), outputs=changed_check(accepted=True))
    assert (verdict.outcome, verdict.exit_code) == ("pass", 0)
    assert verdict.reasons[0].startswith("outputs changed and were accepted")
    busy_accepted = _judge(
        _metrics(-0.25), others_shares=(0.9,), outputs=changed_check(accepted=True)
    )
    assert busy_accepted.outcome == "invalid"
    assert busy_accepted.reasons[0].startswith("outputs changed and were accepted")
    busy = _judge(_metrics(0.0), others_shares=(0.9,), outputs=same_check())
    assert busy.outcome == "invalid"
    assert busy.outputs is not None and busy.outputs.status == "same"


def _by_workers(offsets: list[float], per: int, noise: float = 0.02) -> PairedMetric:
    """The total time of pairs from ``len(offsets)`` worker pairs, ``per`` pairs each; the head
    worker of pair ``g`` runs ``offsets[g]`` slower than its base (a process's steady offset)."""
    rng = np.random.default_rng(5)
    base, head, workers = [], [], []
    for g, offset in enumerate(offsets):
        for _ in range(per):
            b = 1.0 + 0.3 * rng.random()
            base.append(b)
            head.append(b * (1.0 + offset) * (1.0 + noise * rng.standard_normal()))
            workers.append(g)
    return PairedMetric(TOTAL_TIME, "s", "lower", tuple(base), tuple(head), tuple(workers))


def test_one_pair_of_workers_decides_nothing_when_the_run_replaces_them() -> None:
    metric = _by_workers([0.0], 40)
    verdict = _judge((metric,), final=True)
    total = verdict.judgements[0]
    assert (verdict.outcome, total.status) == ("inconclusive", "inconclusive")
    assert "a decision needs pairs from 2 worker pairs" in total.reason
    unrecorded = PairedMetric(TOTAL_TIME, "s", "lower", metric.base, metric.head)
    assert _judge((unrecorded,)).outcome == "pass"  # a run that kept its workers, as before


def test_the_offset_between_worker_pairs_widens_the_interval() -> None:
    offsets = [0.02, -0.02, 0.025, -0.015]
    spread = _by_workers(offsets, 30)
    plain = PairedMetric(TOTAL_TIME, "s", "lower", spread.base, spread.head)
    wide, narrow = _judge((spread,)).judgements[0], _judge((plain,)).judgements[0]
    assert wide.interval_low is not None and narrow.interval_low is not None
    assert wide.interval_high is not None and narrow.interval_high is not None
    assert wide.interval_high - wide.interval_low > 1.5 * (
        narrow.interval_high - narrow.interval_low
    )
    assert "from 4 worker pairs, interval widened by their" in wide.reason
    steady = _judge((_by_workers([0.0] * 4, 30, noise=0.0),)).judgements[0]
    assert "no offset between them measured" in steady.reason
