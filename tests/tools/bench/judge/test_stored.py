"""The regression check on synthetic runs with known noise (seeded)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pytest

from tests.bench.output_records import ROWS, Row, flip, same_rounds
from tools.bench.history.runs import entry_from_results
from tools.bench.judge.history_noise import RunHistory
from tools.bench.judge.stored import (
    ONE_RUN_NOTE,
    POOLED_NOTE,
    check_regression,
    judge_metrics,
    key_differences,
)
from tools.bench.synthetic import draw_samples, synthetic_document
from tools.bench.thresholds import DEFAULT_THRESHOLDS
from tools.bench.verdict import MetricJudgement, Verdict
from virnucpro.bench.metric_names import (
    GPU_ROUND_UTILIZATION,
    POOLED_POLLS,
    SAMPLES_LABEL,
    TOTAL_TIME_METRIC,
)
from virnucpro.bench.schema import (
    Direction,
    Metric,
    ResultsDocument,
    metric_from_samples,
    unavailable_metric,
)

QUIET = 0.02
NOISY = 0.30
BASE_SEED = 1
CAND_SEED = 2


def _metric(
    level: float,
    *,
    name: str = TOTAL_TIME_METRIC,
    unit: str = "s",
    better: Direction = "lower",
    noise: float = QUIET,
    n: int = 10,
    seed: int = BASE_SEED,
) -> Metric:
    samples = draw_samples(np.random.default_rng(seed), level=level, noise=noise, count=n)
    return metric_from_samples(name, samples, unit=unit, better=better)


def _doc(*metrics: Metric, **fields: str) -> ResultsDocument:
    return synthetic_document(metrics, **fields)


def _pair(base: float, cand: float, **options: Any) -> tuple[ResultsDocument, ResultsDocument]:
    return (
        _doc(_metric(base, seed=BASE_SEED, **options), run_id="base"),
        _doc(_metric(cand, seed=CAND_SEED, **options), run_id="cand"),
    )


def _only(verdict: Verdict, name: str = TOTAL_TIME_METRIC) -> MetricJudgement:
    return next(j for j in verdict.judgements if j.name == name)


def test_unchanged_run_passes() -> None:
    base, cand = _pair(100.0, 100.0)
    verdict = check_regression(cand, base)
    assert (verdict.outcome, verdict.exit_code) == ("pass", 0)
    assert _only(verdict).status == "pass"
    assert verdict.baseline == "base"


def test_twenty_percent_slowdown_with_ten_samples_fails() -> None:
    base, cand = _pair(100.0, 120.0)
    verdict = check_regression(cand, base)
    judgement = _only(verdict)
    assert (verdict.outcome, verdict.exit_code) == ("regression", 1)
    assert judgement.status == "fail"
    assert judgement.change == pytest.approx(0.20, abs=0.03)
    assert judgement.p_adjusted is not None and judgement.p_adjusted < 0.05
    assert verdict.failures == (judgement,)


def test_twenty_percent_slowdown_with_three_samples_is_inconclusive() -> None:
    base, cand = _pair(100.0, 120.0, n=3)
    verdict = check_regression(cand, base)
    judgement = _only(verdict)
    assert judgement.status == "inconclusive"
    assert "too few samples" in judgement.reason
    assert judgement.change == pytest.approx(0.20, abs=0.05)
    assert (verdict.outcome, verdict.exit_code) == ("inconclusive", 2)  # never a pass


def test_twelve_percent_slowdown_under_thirty_percent_noise_is_inconclusive() -> None:
    base, cand = _pair(100.0, 112.0, noise=NOISY)
    judgement = _only(check_regression(cand, base))
    assert judgement.status == "inconclusive"


def test_doubling_under_heavy_noise_still_fails() -> None:
    base, cand = _pair(100.0, 200.0, noise=NOISY, n=20)
    assert _only(check_regression(cand, base)).status == "fail"


def test_significant_speedup_is_reported_as_improved() -> None:
    base, cand = _pair(100.0, 80.0)
    verdict = check_regression(cand, base)
    assert _only(verdict).status == "improved"
    assert (verdict.outcome, verdict.exit_code) == ("pass", 0)


def test_small_significant_slowdown_within_threshold_passes() -> None:
    base, cand = _pair(100.0, 105.0, noise=0.005)
    judgement = _only(check_regression(cand, base))
    assert judgement.status == "pass"
    assert judgement.p_adjusted is not None and judgement.p_adjusted < 0.05


@pytest.mark.parametrize(("drop", "status"), [(6.0, "warn"), (4.0, "pass")])
def test_gpu_utilization_drop_warns_beyond_five_points(drop: float, status: str) -> None:
    options = {"name": GPU_ROUND_UTILIZATION, "unit": "%", "better": "higher", "noise": 0.01}
    base, cand = _pair(80.0, 80.0 - drop, **options)
    verdict = check_regression(cand, base)
    judgement = _only(verdict, GPU_ROUND_UTILIZATION)
    assert judgement.status == status
    assert "points" in judgement.reason
    assert verdict.outcome == ("warn" if status == "warn" else "pass")
    assert verdict.exit_code == 0


@pytest.mark.parametrize(("growth", "status"), [(1.25, "warn"), (1.10, "pass")])
def test_memory_growth_warns_beyond_twenty_percent(growth: float, status: str) -> None:
    options = {"name": "memory.cuda_peak_allocated", "unit": "bytes", "noise": 0.01}
    base, cand = _pair(8e9, 8e9 * growth, **options)
    assert _only(check_regression(cand, base), "memory.cuda_peak_allocated").status == status


def test_scaling_efficiency_drop_warns() -> None:
    options = {"name": "scaling.efficiency.4", "unit": "ratio", "better": "higher", "noise": 0.01}
    base, cand = _pair(0.90, 0.82, **options)
    assert _only(check_regression(cand, base), "scaling.efficiency.4").status == "warn"


def test_fail_outweighs_warn() -> None:
    util = {"name": "gpu.utilization", "unit": "%", "better": "higher", "noise": 0.01}
    base = _doc(_metric(100.0), _metric(80.0, **util), run_id="base")
    cand = _doc(_metric(125.0, seed=CAND_SEED), _metric(70.0, seed=CAND_SEED, **util))
    verdict = check_regression(cand, base)
    assert (verdict.outcome, verdict.exit_code) == ("regression", 1)
    assert len(verdict.warnings) == 1


def test_other_hardware_is_no_baseline_and_never_a_regression() -> None:
    base, cand = _pair(100.0, 150.0)
    other = base.model_copy(
        update={"environment": base.environment.model_copy(update={"cpu_model": "other-cpu"})}
    )
    verdict = check_regression(cand, other)
    assert (verdict.outcome, verdict.exit_code) == ("no_baseline", 2)
    assert verdict.judgements == ()
    assert "hardware" in verdict.reasons[0]
    assert key_differences(cand, other) == ["hardware"]


def test_busy_host_makes_the_run_invalid_not_a_regression() -> None:
    base, cand = _pair(100.0, 150.0)
    busy = metric_from_samples("host.others_cpu_share", (0.5, 0.6, 0.55), unit="ratio")
    cand = cand.model_copy(update={"metrics": (*cand.metrics, busy)})
    verdict = check_regression(cand, base)
    assert (verdict.outcome, verdict.exit_code) == ("invalid", 2)
    assert "55%" in verdict.reasons[0] and "25%" in verdict.reasons[0]


def test_a_quiet_host_is_judged_and_the_single_run_is_said() -> None:
    base, cand = _pair(100.0, 100.0)
    quiet = metric_from_samples("host.others_cpu_share", (0.05, 0.1, 0.0), unit="ratio")
    cand = cand.model_copy(update={"metrics": (*cand.metrics, quiet)})
    verdict = check_regression(cand, base)
    assert verdict.outcome == "pass"
    assert any("one run cannot measure" in reason for reason in verdict.reasons)


def test_invalid_candidate_cannot_be_judged() -> None:
    base, _ = _pair(100.0, 100.0)
    cand = _doc(_metric(100.0, seed=CAND_SEED), invalid_reason="GPU clocks throttled")
    verdict = check_regression(cand, base)
    assert (verdict.outcome, verdict.exit_code) == ("could_not_judge", 2)
    assert "GPU clocks throttled" in verdict.reasons


def test_invalid_baseline_cannot_be_judged() -> None:
    _, cand = _pair(100.0, 100.0)
    base = _doc(_metric(100.0), invalid_reason="another process on the GPU")
    assert check_regression(cand, base).exit_code == 2


@pytest.mark.parametrize(("required", "code"), [(False, 0), (True, 2)])
def test_missing_baseline(required: bool, code: int) -> None:
    _, cand = _pair(100.0, 100.0)
    verdict = check_regression(cand, None, require_baseline=required)
    assert (verdict.outcome, verdict.exit_code) == ("no_baseline", code)


def test_unavailable_new_and_missing_metrics_are_not_regressions() -> None:
    gone = unavailable_metric("memory.cuda_peak_allocated", unit="bytes", reason="no CUDA")
    base = _doc(_metric(100.0), gone, _metric(5.0, name="stage.read.time"), run_id="base")
    cand = _doc(
        _metric(100.0, seed=CAND_SEED),
        _metric(8e9, name="memory.cuda_peak_allocated", unit="bytes"),
        _metric(3.0, name="throughput.new", unit="items/s", better="higher"),
    )
    verdict = check_regression(cand, base)
    statuses = {j.name: j.status for j in verdict.judgements}
    assert statuses == {
        TOTAL_TIME_METRIC: "pass",
        "memory.cuda_peak_allocated": "unavailable",
        "throughput.new": "new",
        "stage.read.time": "unavailable",
    }
    assert "no CUDA" in _only(verdict, "memory.cuda_peak_allocated").reason
    assert (verdict.outcome, verdict.exit_code) == ("pass", 0)


def test_metric_without_direction_is_not_judged_but_noted() -> None:
    base = _doc(_metric(100.0), _metric(3.0, name="info.batches", unit="", better="none"))
    cand = _doc(
        _metric(100.0, seed=CAND_SEED), _metric(9.0, name="info.batches", unit="", better="none")
    )
    verdict = check_regression(cand, base)
    assert [j.name for j in verdict.judgements] == [TOTAL_TIME_METRIC]
    assert any("info.batches" in r for r in verdict.reasons)


def _polls(level: float, name: str, seed: int) -> Metric:
    samples = draw_samples(np.random.default_rng(seed), level=level, noise=QUIET, count=200)
    labels = {SAMPLES_LABEL: POOLED_POLLS}
    return metric_from_samples(name, samples, unit="%", better="higher", labels=labels)


def test_pooled_polls_are_not_judged_and_the_round_means_are() -> None:
    """A 10-point drop in pooled polls (200 a side) is left alone; the per-round means warn."""
    pooled = ("gpu.utilization", "gpu.dev1.utilization", "gpu.esm.utilization")
    base = _doc(
        _metric(100.0),
        *(_polls(80.0, name, BASE_SEED) for name in pooled),
        _metric(80.0, name=GPU_ROUND_UTILIZATION, unit="%", better="higher"),
        run_id="base",
    )
    cand = _doc(
        _metric(100.0, seed=CAND_SEED),
        *(_polls(70.0, name, CAND_SEED) for name in pooled),
        _metric(70.0, name=GPU_ROUND_UTILIZATION, unit="%", better="higher", seed=CAND_SEED),
    )
    verdict = check_regression(cand, base)
    assert [j.name for j in verdict.judgements] == [TOTAL_TIME_METRIC, GPU_ROUND_UTILIZATION]
    assert _only(verdict, GPU_ROUND_UTILIZATION).status == "warn"
    note = next(r for r in verdict.reasons if r.startswith(POOLED_NOTE))
    assert note.endswith(", ".join(pooled))


def test_pooled_polls_on_one_side_only_are_not_judged() -> None:
    """A baseline stored before the marker existed is still compared with pooled polls."""
    plain = _metric(80.0, name="gpu.utilization", unit="%", better="higher", n=200)
    base = _doc(_metric(100.0), plain, run_id="base")
    cand = _doc(_metric(100.0, seed=CAND_SEED), _polls(60.0, "gpu.utilization", CAND_SEED))
    verdict = check_regression(cand, base)
    assert [j.name for j in verdict.judgements] == [TOTAL_TIME_METRIC]
    assert any("gpu.utilization" in r and r.startswith(POOLED_NOTE) for r in verdict.reasons)


def test_unit_mismatch_is_inconclusive() -> None:
    base = _doc(_metric(100.0))
    cand = _doc(_metric(100.0, unit="ms", seed=CAND_SEED))
    judgement = _only(check_regression(cand, base))
    assert judgement.status == "inconclusive"
    assert "units differ" in judgement.reason


def test_all_inconclusive_says_nothing_could_be_judged() -> None:
    base, cand = _pair(100.0, 120.0, n=3)
    assert "no metric could be judged" in check_regression(cand, base).reasons


def _null_runs(seed: int, count: int) -> tuple[ResultsDocument, ResultsDocument]:
    rng = np.random.default_rng(seed)

    def run(run_id: str) -> ResultsDocument:
        metrics = [
            metric_from_samples(
                f"suite.m{i}.time",
                draw_samples(rng, level=100.0, noise=0.05, count=10),
                unit="s",
                better="lower",
            )
            for i in range(count)
        ]
        return synthetic_document(metrics, run_id=run_id)

    return run("base"), run("cand")


def test_benjamini_hochberg_removes_false_alarms_over_fifty_null_metrics() -> None:
    base, cand = _null_runs(seed=3, count=50)
    judgements, _ = judge_metrics(cand, base, thresholds=DEFAULT_THRESHOLDS)
    raw = [j for j in judgements if j.p_value is not None and j.p_value < 0.05]
    adjusted = [j for j in judgements if j.p_adjusted is not None and j.p_adjusted < 0.05]
    assert raw, "the seed should produce at least one raw false positive"
    assert adjusted == []
    assert all((j.p_adjusted or 0.0) >= (j.p_value or 0.0) for j in judgements)


@pytest.mark.parametrize("seed", [11, 12, 13, 14, 15])
def test_null_metrics_rarely_fail(seed: int) -> None:
    base, cand = _null_runs(seed=seed, count=50)
    assert len(check_regression(cand, base).failures) <= 1


def test_small_change_under_heavy_noise_is_inconclusive_not_pass() -> None:
    base, cand = _pair(100.0, 103.0, noise=NOISY)
    judgement = _only(check_regression(cand, base))
    assert judgement.status == "inconclusive"
    assert judgement.reason.startswith("noise")


def _stage_pair(stage_base: float, stage_cand: float) -> tuple[ResultsDocument, ResultsDocument]:
    stage = "stage.write.time"
    base = _doc(
        _metric(100.0, seed=BASE_SEED),
        _metric(stage_base, name=stage, seed=BASE_SEED + 10),
        run_id="base",
    )
    cand = _doc(
        _metric(100.0, seed=CAND_SEED),
        _metric(stage_cand, name=stage, seed=CAND_SEED + 10),
        run_id="cand",
    )
    return base, cand


def test_a_small_stage_slowing_down_is_immaterial() -> None:
    base, cand = _stage_pair(1.0, 1.3)  # +30% of a stage worth 1% of the total: +0.3%
    judgement = _only(check_regression(cand, base), "stage.write.time")
    assert judgement.status == "pass"
    assert "immaterial" in judgement.reason


def test_a_large_stage_slowing_down_warns_but_only_the_total_time_fails() -> None:
    base, cand = _stage_pair(50.0, 65.0)  # +30% of a stage worth half the total
    verdict = check_regression(cand, base)
    assert _only(verdict, "stage.write.time").status == "warn"
    assert (verdict.outcome, verdict.exit_code) == ("warn", 0)


def test_the_total_time_slowing_down_fails() -> None:
    base, cand = _pair(100.0, 130.0)
    verdict = check_regression(cand, base)
    assert _only(verdict).status == "fail"
    assert (verdict.outcome, verdict.exit_code) == ("regression", 1)


def test_the_floor_can_be_switched_off() -> None:
    from tools.bench.thresholds import with_overrides

    base, cand = _stage_pair(1.0, 1.3)
    strict = with_overrides(DEFAULT_THRESHOLDS, min_time_share=0.0)
    assert (
        _only(check_regression(cand, base, thresholds=strict), "stage.write.time").status == "warn"
    )


# ----------------------------------------------------------------------------- with a run history

TIGHT_RUNS = (100.0, 101.0, 99.0, 100.5, 99.5, 100.2, 99.8)  # about ±0.7% between runs
DRIFTING_RUNS = (100.0, 112.0, 95.0, 118.0, 104.0, 92.0, 115.0)  # about ±10% between runs


def _history(levels: Sequence[float], *, prefix: str = "h", **fields: Any) -> RunHistory:
    """Earlier runs whose total time has exactly these medians."""
    runs = tuple(
        entry_from_results(
            _doc(
                metric_from_samples(TOTAL_TIME_METRIC, [level] * 10, unit="s", better="lower"),
                run_id=f"{prefix}{i}",
                **fields,
            )
        )
        for i, level in enumerate(levels)
    )
    return RunHistory(runs, "history/key.jsonl")


def test_a_rerun_in_a_drifting_history_is_not_a_regression() -> None:
    base, cand = _pair(100.0, 118.0)
    assert check_regression(cand, base).outcome == "regression"  # one stored run: drift reads
    verdict = check_regression(cand, base, history=_history(DRIFTING_RUNS))
    assert (verdict.outcome, verdict.exit_code) == ("inconclusive", 2)
    judgement = _only(verdict)
    assert judgement.status == "inconclusive"
    assert "between-run noise ±10.1%" in judgement.reason
    noted = "between-run noise from 7 runs of the history: total time ±10.1%"
    assert any(r.startswith(noted) for r in verdict.reasons)
    assert ONE_RUN_NOTE not in verdict.reasons


def test_a_real_slowdown_against_a_tight_history_is_a_regression() -> None:
    base, cand = _pair(100.0, 130.0)
    verdict = check_regression(cand, base, history=_history(TIGHT_RUNS))
    assert (verdict.outcome, verdict.exit_code) == ("regression", 1)
    assert "outside their 95% prediction interval" in _only(verdict).reason
    assert ONE_RUN_NOTE not in verdict.reasons


def test_an_unchanged_run_against_a_tight_history_passes() -> None:
    base, cand = _pair(100.0, 100.0)
    verdict = check_regression(cand, base, history=_history(TIGHT_RUNS))
    assert (verdict.outcome, verdict.exit_code) == ("pass", 0)
    assert _only(verdict).reason.startswith("against 7 earlier runs")


def test_a_short_history_keeps_the_within_run_test_and_says_so() -> None:
    base, cand = _pair(100.0, 118.0)
    without = check_regression(cand, base)
    verdict = check_regression(cand, base, history=_history(DRIFTING_RUNS[:2]))
    assert verdict.judgements == without.judgements
    assert verdict.outcome == "regression"
    assert ONE_RUN_NOTE in verdict.reasons
    assert any("fewer than 3 of the 2 usable earlier runs" in r for r in verdict.reasons)


def test_runs_of_another_key_and_the_candidate_itself_are_not_its_history() -> None:
    base, cand = _pair(100.0, 118.0)
    others = _history(TIGHT_RUNS, prefix="o", cpu_model="another-cpu").runs
    itself = (entry_from_results(cand),) * 3
    history = RunHistory((*_history(DRIFTING_RUNS[:2]).runs, *others, *itself), "h.jsonl")
    verdict = check_regression(cand, base, history=history)
    assert verdict.judgements == check_regression(cand, base).judgements
    assert any("of the 2 usable earlier runs" in r for r in verdict.reasons)


def test_metrics_the_history_lacks_are_judged_on_the_rounds() -> None:
    base, cand = _stage_pair(50.0, 65.0)
    verdict = check_regression(cand, base, history=_history(TIGHT_RUNS))
    assert _only(verdict).reason.startswith("against 7 earlier runs")
    stage = _only(verdict, "stage.write.time")
    assert stage.status == "warn" and stage.p_adjusted is not None  # the within-run test
    assert ONE_RUN_NOTE in verdict.reasons
    assert any(
        r.startswith("1 metric(s) judged on the rounds of one stored run: fewer than 3 of the 7")
        for r in verdict.reasons
    )


# ----------------------------------------------------------------------------- outputs


def _with_outputs(doc: ResultsDocument, rows: list[Row] | None) -> ResultsDocument:
    return doc.model_copy(update={"outputs": None if rows is None else same_rounds(rows)})


def test_a_faster_run_whose_outputs_differ_from_the_baseline_reads_outputs_changed() -> None:
    baseline = _with_outputs(_doc(_metric(1.0)), ROWS)
    faster = _with_outputs(_doc(_metric(0.7, seed=CAND_SEED)), flip(ROWS, 4))
    verdict = check_regression(faster, baseline)
    assert (verdict.outcome, verdict.exit_code) == ("outputs_changed", 1)
    assert verdict.judgements[0].status == "improved"  # the time is judged and shown
    assert "this run (first round) against baseline (first round)" in verdict.reasons[0]
    accepted = check_regression(faster, baseline, accept_output_change=True)
    assert accepted.outcome == "pass" and accepted.reasons[0].startswith("outputs changed and")


def test_the_same_outputs_leave_the_time_verdict_alone() -> None:
    baseline = _with_outputs(_doc(_metric(1.0)), ROWS)
    same = _with_outputs(_doc(_metric(1.0, seed=CAND_SEED)), ROWS)
    verdict = check_regression(same, baseline)
    assert verdict.outcome == "pass" and verdict.outputs is not None
    assert verdict.outputs.status == "same"


def test_a_baseline_stored_before_outputs_were_kept_is_said_not_failed() -> None:
    old = _with_outputs(_doc(_metric(1.0)), None)
    verdict = check_regression(_with_outputs(_doc(_metric(1.0, seed=CAND_SEED)), ROWS), old)
    assert verdict.outcome == "pass" and verdict.outputs is None
    assert any("was stored before outputs were kept" in r for r in verdict.reasons)


def test_changed_outputs_outrank_a_busy_host() -> None:
    baseline = _with_outputs(_doc(_metric(1.0)), ROWS)
    share = metric_from_samples("host.others_cpu_share", [0.9] * 10, unit="ratio")
    busy = _with_outputs(_doc(_metric(1.0, seed=CAND_SEED), share), flip(ROWS, 1))
    assert check_regression(busy, baseline).outcome == "outputs_changed"
    calm = _with_outputs(_doc(_metric(1.0, seed=CAND_SEED), share), ROWS)
    assert check_regression(calm, baseline).outcome == "invalid"
