"""Requirements evaluate from the data (or None with a reason); recommendations follow the data."""

from __future__ import annotations

import pytest

from tests.tools.bench import make_fixtures as mf
from tools.bench.report import targets as req
from tools.bench.report.recommendations import derive_recommendations
from tools.bench.verdict import MetricJudgement, RequirementResult, Verdict
from virnucpro.bench.metric_names import TOTAL_TIME_METRIC
from virnucpro.bench.schema import (
    EquivalenceResult,
    ResultsDocument,
    metric_from_samples,
    unavailable_metric,
)


def _by_name(
    results: ResultsDocument, verdict: Verdict | None = None
) -> dict[str, RequirementResult]:
    return {r.name: r for r in req.evaluate_requirements(results, verdict=verdict)}


def _without(doc: ResultsDocument, *prefixes: str) -> ResultsDocument:
    kept = tuple(m for m in doc.metrics if not m.name.startswith(prefixes))
    return doc.model_copy(update={"metrics": kept})


def _verdict(status: str, *, change: float = 0.12, name: str = TOTAL_TIME_METRIC) -> Verdict:
    judgement = MetricJudgement(name=name, unit="s", status=status, change=change, reason="why")
    return Verdict(outcome="pass", exit_code=0, baseline="main", judgements=(judgement,))


def test_cpu_run_requirements_are_unevaluated_with_reasons() -> None:
    found = _by_name(mf.load_fixture("cpu_run"))
    assert found[req.REQ_VALID].passed is True
    assert found[req.REQ_TOTAL_TIME].passed is None
    assert (
        found[req.REQ_SPEEDUP].passed is None
        and "vanilla comparison not requested" in found[req.REQ_SPEEDUP].detail
    )
    assert found[req.REQ_EQUIVALENCE].passed is None
    assert (
        found[req.REQ_SCALING].passed is None
        and "needs 2 or more GPUs" in found[req.REQ_SCALING].detail
    )
    assert (
        found[req.REQ_GPU_UTILIZATION].passed is None
        and "no CUDA device" in found[req.REQ_GPU_UTILIZATION].detail
    )


def test_gpu_run_requirements_are_judged_from_the_data() -> None:
    found = _by_name(mf.load_fixture("gpu_run"))
    assert found[req.REQ_SPEEDUP].passed is True and found[req.REQ_SPEEDUP].detail.startswith(
        "14.20x"
    )
    assert found[req.REQ_EQUIVALENCE].passed is True
    assert (
        found[req.REQ_SCALING].passed is False and "0.86 at 4 GPUs" in found[req.REQ_SCALING].detail
    )
    assert found[req.REQ_GPU_UTILIZATION].passed is True and found[
        req.REQ_GPU_UTILIZATION
    ].detail.startswith("88.0%")


def test_invalid_run_fails_validity_with_its_reasons() -> None:
    found = _by_name(mf.load_fixture("invalid_run"))
    assert found[req.REQ_VALID].passed is False
    assert "another compute process" in found[req.REQ_VALID].detail


@pytest.mark.parametrize(
    ("status", "expected"),
    [("fail", False), ("pass", True), ("improved", True), ("inconclusive", None), ("new", None)],
)
def test_total_time_requirement_follows_the_verdict(status: str, expected: bool | None) -> None:
    found = _by_name(mf.load_fixture("gpu_run"), _verdict(status))
    assert found[req.REQ_TOTAL_TIME].passed is expected


def test_a_busy_host_makes_the_validity_row_agree_with_the_invalid_verdict() -> None:
    busy = "INVALID: host busy, other processes used 78% of the CPUs during the rounds (median)"
    verdict = Verdict(outcome="invalid", exit_code=2, reasons=(busy,))
    found = _by_name(mf.load_fixture("cpu_run"), verdict)
    assert found[req.REQ_VALID].passed is False and found[req.REQ_VALID].detail == busy
    assert _by_name(mf.load_fixture("cpu_run"))[req.REQ_VALID].passed is True


def test_total_time_judged_by_the_history_says_so() -> None:
    found = _by_name(mf.load_fixture("gpu_run"), mf.history_verdict("fail"))
    assert found[req.REQ_TOTAL_TIME].passed is False
    assert found[req.REQ_TOTAL_TIME].detail == "fail +30.0% against 7 earlier runs of the history"


def test_total_time_requirement_without_a_total_time_judgement() -> None:
    found = _by_name(mf.load_fixture("gpu_run"), _verdict("fail", name="stage.esm.time"))
    assert (
        found[req.REQ_TOTAL_TIME].passed is None
        and "no `end_to_end.total_time`" in found[req.REQ_TOTAL_TIME].detail
    )


def test_speedup_falls_back_to_the_equivalence_record() -> None:
    doc = _without(mf.load_fixture("gpu_run"), "equivalence.")
    eq = doc.equivalence.model_copy(update={"speedup": 6.5})
    found = _by_name(doc.model_copy(update={"equivalence": eq}))
    assert (
        found[req.REQ_SPEEDUP].passed is False
        and found[req.REQ_SPEEDUP].detail
        == "6.50x (embedding + classification only: equivalence suite)"
    )


def test_speedup_uses_the_end_to_end_figure_when_measured() -> None:
    doc = mf.with_metrics(
        mf.load_fixture("gpu_run"),
        metric_from_samples("equivalence.end_to_end_speedup", [9.0, 9.5, 9.8], unit="x"),
    )
    found = _by_name(doc)[req.REQ_SPEEDUP]  # equivalence.speedup (14.2x) is ignored
    assert found.passed is False
    assert found.detail == (
        "9.50x (end to end: `equivalence.end_to_end_speedup` median of 3 round(s))"
    )


def test_speedup_without_end_to_end_says_which_figure_it_used() -> None:
    found = _by_name(_without(mf.load_fixture("gpu_run"), "equivalence.end_to_end"))
    detail = found[req.REQ_SPEEDUP].detail
    assert "embedding + classification only: `equivalence.speedup`, one sample" in detail
    assert "--vanilla-baseline" in detail


def test_sampler_overhead_is_a_checked_target_where_measured() -> None:
    low = mf.with_metrics(
        mf.load_fixture("cpu_run"),
        metric_from_samples("gpu.sampler_overhead", [0.002, 0.004, 0.006], unit="ratio"),
    )
    found = _by_name(low)[req.REQ_SAMPLER_OVERHEAD]
    assert found.passed is True and "median of 3 with/without pair(s)" in found.detail
    high = mf.with_metrics(
        mf.load_fixture("cpu_run"),
        metric_from_samples("gpu.sampler_overhead", [0.02, 0.03], unit="ratio"),
    )
    assert _by_name(high)[req.REQ_SAMPLER_OVERHEAD].passed is False
    assert any("GPU sampling costs" in r for r in derive_recommendations(high, verdict=None))


def test_sampler_overhead_not_measured_is_not_judged() -> None:
    gone = mf.with_metrics(
        mf.load_fixture("cpu_run"),
        unavailable_metric("gpu.sampler_overhead", unit="ratio", reason="not measured: no GPU"),
    )
    found = _by_name(gone)[req.REQ_SAMPLER_OVERHEAD]
    assert found.passed is None and found.detail == "not measured: no GPU"
    absent = _by_name(_without(mf.load_fixture("cpu_run"), "gpu.sampler"))
    assert absent[req.REQ_SAMPLER_OVERHEAD].passed is None


def test_unavailable_speedup_metric_gives_its_reason() -> None:
    doc = mf.with_metrics(
        mf.load_fixture("cpu_run"),
        unavailable_metric("equivalence.speedup", unit="x", reason="vanilla timed out"),
    )
    assert _by_name(doc)[req.REQ_SPEEDUP].detail == "vanilla timed out"


def test_failed_equivalence_fails_the_requirement() -> None:
    doc = mf.load_fixture("gpu_run")
    eq: EquivalenceResult = doc.equivalence.model_copy(
        update={"passed": False, "label_agreement": 0.97}
    )
    found = _by_name(doc.model_copy(update={"equivalence": eq}))
    assert (
        found[req.REQ_EQUIVALENCE].passed is False and "97.0%" in found[req.REQ_EQUIVALENCE].detail
    )


def test_scaling_falls_back_to_efficiency_metrics_at_the_largest_count() -> None:
    doc = mf.load_fixture("gpu_run").model_copy(update={"scaling": ()})
    doc = mf.with_metrics(
        doc, metric_from_samples("scaling.efficiency.8", [0.93], unit="ratio", better="higher")
    )
    found = _by_name(doc)
    assert found[req.REQ_SCALING].passed is True
    assert "`scaling.efficiency.8`" in found[req.REQ_SCALING].detail


def test_gpu_utilization_falls_back_to_telemetry() -> None:
    doc = _without(mf.load_fixture("gpu_run"), "gpu.")
    found = _by_name(doc)
    result = found[req.REQ_GPU_UTILIZATION]
    assert result.detail == "86.5% (median over 32 telemetry samples)"
    assert result.passed is True
