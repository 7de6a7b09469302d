"""Derived facts: stage breakdown, scaling speedup/efficiency, per-device telemetry."""

from __future__ import annotations

import statistics

import pytest

import virnucpro.bench.paired_stats as paired_stats
from tests.tools.bench import make_fixtures as mf
from tools.bench.report import analysis, targets
from virnucpro.bench.metric_names import GPU_ROUND_UTILIZATION, TOTAL_TIME_METRIC
from virnucpro.bench.schema import (
    GpuSample,
    GpuTelemetry,
    ScalingPoint,
    metric_from_samples,
    unavailable_metric,
)


def test_sample_summary_matches_the_metric_record() -> None:
    metric = mf.load_fixture("gpu_run").metric("stage.read.time")
    summary = analysis.SampleSummary.of(metric.samples)
    assert (summary.median, summary.iqr, summary.n) == (metric.median, metric.iqr, 5)
    assert analysis.SampleSummary.of([]) is None
    assert analysis.SampleSummary.of([2.0]).iqr is None


def test_stage_breakdown_shares_and_rates() -> None:
    doc = mf.load_fixture("gpu_run")
    breakdown = analysis.stage_breakdown(doc)
    assert [s.stage for s in breakdown.stages] == list(analysis.STAGE_ORDER)
    esm = next(s for s in breakdown.stages if s.stage == "esm")
    total = doc.metric(TOTAL_TIME_METRIC).median
    assert esm.share == pytest.approx(1450.0 / total)
    assert esm.items_per_s == pytest.approx(310_000 / 1450.0)
    assert esm.tokens_per_s == pytest.approx(51_700_000 / 1450.0)
    assert esm.gpu_util_median is not None
    assert sum(s.share for s in breakdown.stages) < 1.0  # overhead outside the stages
    assert breakdown.basis == "median end-to-end total time"


def test_stage_breakdown_without_total_time_uses_the_stage_sum() -> None:
    doc = mf.load_fixture("cpu_run")
    doc = doc.model_copy(
        update={"metrics": tuple(m for m in doc.metrics if m.name != TOTAL_TIME_METRIC)}
    )
    breakdown = analysis.stage_breakdown(doc)
    assert sum(s.share for s in breakdown.stages) == pytest.approx(1.0)
    assert "sum of stage medians" in breakdown.basis
    assert all(s.gpu_util_median is None for s in breakdown.stages)  # telemetry unavailable


def test_unknown_stages_sort_after_known_ones() -> None:
    doc = mf.load_fixture("cpu_run")
    stages = (*doc.stages, doc.stages[0].model_copy(update={"stage": "alpha"}))
    names = [
        s.stage for s in analysis.stage_breakdown(doc.model_copy(update={"stages": stages})).stages
    ]
    assert names[-1] == "alpha" and names[0] == "read"


def test_scaling_rows_speedup_and_efficiency() -> None:
    """One definition: the median of the per-round efficiencies (the suite's metric)."""
    points = (
        ScalingPoint(workers=4, kind="gpu", seconds=(30.0, 28.0, 40.0)),
        ScalingPoint(workers=1, kind="gpu", seconds=(100.0, 80.0, 120.0)),
        ScalingPoint(workers=2, kind="gpu", seconds=(50.0, 52.0, 54.0)),
        ScalingPoint(workers=8, kind="gpu", seconds=(20.0,)),  # rounds that cannot be paired
    )
    doc = mf.load_fixture("gpu_run").model_copy(update={"scaling": points})
    rows = analysis.scaling_rows(doc)
    assert [r.workers for r in rows] == [1, 2, 4, 8]
    per_round = [100 / (50 * 2), 80 / (52 * 2), 120 / (54 * 2)]
    assert rows[1].efficiency == pytest.approx(statistics.median(per_round))
    assert rows[1].speedup == pytest.approx(2 * statistics.median(per_round))
    assert rows[1].efficiency != pytest.approx(100 / 52 / 2)  # not a ratio of medians
    assert rows[2].efficiency == pytest.approx(statistics.median([100 / 120, 80 / 112, 120 / 160]))
    assert rows[3].efficiency is None and rows[3].speedup is None
    (widest,) = analysis.widest_scaling_rows(doc)
    assert widest.workers == 8


def test_scaling_efficiency_is_one_figure_in_console_report_json_and_targets() -> None:
    """The suite's metric, the report's table and the requirement give the same value."""
    base, scaled = (10.0, 9.0, 13.0, 11.0, 10.5), (6.0, 7.5, 6.1, 8.0, 6.2)
    metric = metric_from_samples(
        "scaling.efficiency.2",
        paired_stats.scaling_efficiencies(base, scaled, 2.0),
        unit="ratio",
        better="higher",
    )
    points = (
        ScalingPoint(workers=1, kind="rank", seconds=base),
        ScalingPoint(workers=2, kind="rank", seconds=scaled),
    )
    doc = mf.load_fixture("cpu_run").model_copy(update={"scaling": points})
    doc = doc.model_copy(update={"metrics": (*doc.metrics, metric)})
    (row,) = analysis.widest_scaling_rows(doc)
    assert row.efficiency == pytest.approx(metric.median)
    requirement = next(
        r for r in targets.evaluate_requirements(doc, verdict=None) if r.name == targets.REQ_SCALING
    )
    assert requirement.detail.startswith(f"{metric.median:.2f} at 2 ranks")


def test_single_worker_count_has_no_widest_row() -> None:
    doc = mf.load_fixture("gpu_run").model_copy(
        update={"scaling": (ScalingPoint(workers=1, kind="rank", seconds=(10.0,)),)}
    )
    assert analysis.widest_scaling_rows(doc) == ()


def test_device_summaries() -> None:
    devices = analysis.device_summaries(mf.load_fixture("gpu_run"))
    assert [d.device for d in devices] == [0, 1, 2, 3]
    last = devices[3]
    assert last.samples == mf.TELEMETRY_SAMPLES
    assert last.energy_j == pytest.approx(260.0 * (mf.TELEMETRY_SAMPLES - 1))
    assert last.throttled_fraction == 0.5 and last.throttle_reasons == ("SwThermalSlowdown",)
    assert devices[0].throttled_fraction == 0.0


def test_fields_nvml_did_not_report_stay_none() -> None:
    telemetry = GpuTelemetry(
        available=True, samples=(GpuSample(t=0.0, device=0), GpuSample(t=1.0, device=0))
    )
    doc = mf.load_fixture("gpu_run").model_copy(update={"gpu": telemetry})
    (device,) = analysis.device_summaries(doc)
    assert device.util_median is None and device.power_mean_w is None and device.energy_j is None
    assert device.name == "GPU 0"


def test_gpu_utilization_sources() -> None:
    value, source = analysis.gpu_utilization(mf.load_fixture("gpu_run"))
    assert value == 88.0 and "`gpu.utilization`" in source
    value, reason = analysis.gpu_utilization(mf.load_fixture("cpu_run"))
    assert value is None and "no CUDA device" in reason


def test_gpu_utilization_from_round_means_when_the_readings_are_not_kept() -> None:
    """An A/B run keeps one utilization mean per round and no telemetry readings."""
    doc = mf.load_fixture("gpu_run")
    replaced = (analysis.GPU_UTIL_METRIC, GPU_ROUND_UTILIZATION)
    kept = tuple(m for m in doc.metrics if m.name not in replaced)
    rounds = metric_from_samples(GPU_ROUND_UTILIZATION, [70.0, 74.0, 90.0], unit="%")
    value, source = analysis.gpu_utilization(doc.model_copy(update={"metrics": (*kept, rounds)}))
    assert value == 74.0 and source == f"`{GPU_ROUND_UTILIZATION}` median of 3 round means"
    on_cpu = unavailable_metric(GPU_ROUND_UTILIZATION, unit="%", reason="not measured: CPU")
    doc = doc.model_copy(update={"metrics": (*kept, on_cpu)})
    assert analysis.gpu_utilization(doc) == (None, "not measured: CPU")


def test_skip_reason() -> None:
    doc = mf.load_fixture("cpu_run")
    assert analysis.skip_reason(doc, "scaling") == "skipped: needs 2 or more GPUs (found 0)"
    assert analysis.skip_reason(doc, "memory") is None
