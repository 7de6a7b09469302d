"""The collector: a valid results document from what suites record; duplicates refused."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from tools.bench.synthetic import synthetic_document
from virnucpro.bench.metric_names import TOTAL_TIME_METRIC
from virnucpro.bench.run.collector import DuplicateRecordError, ResultsCollector, new_run_id
from virnucpro.bench.schema import (
    EquivalenceResult,
    GpuTelemetry,
    ResultsDocument,
    ScalingPoint,
    StageTiming,
    metric_from_samples,
    read_document,
    write_document,
)

TEMPLATE = synthetic_document([])
NO_GPU = GpuTelemetry(available=False, reason="no NVIDIA driver")


def _time(name: str, *samples: float) -> object:
    return metric_from_samples(name, samples or (1.0, 1.1), unit="s", better="lower")


def _equivalence() -> EquivalenceResult:
    return EquivalenceResult(
        reference_engine="vanilla",
        candidate_engine="fast",
        precision="fp32",
        frames=3,
        label_agreement=1.0,
        chunk_call_agreement=1.0,
        max_score_diff=0.0,
        passed=True,
        criteria="fp32",
    )


def _build(collector: ResultsCollector, **kwargs: object) -> ResultsDocument:
    return collector.build(
        run=TEMPLATE.run,
        environment=TEMPLATE.environment,
        workload=TEMPLATE.workload,
        gpu=NO_GPU,
        **kwargs,  # type: ignore[arg-type]
    )


@pytest.fixture
def collector() -> ResultsCollector:
    c = ResultsCollector()
    c.add_metric(_time(TOTAL_TIME_METRIC, 2.0, 2.1, 1.9))
    c.add_unavailable(
        "memory.cuda_peak_allocated", unit="bytes", better="lower", reason="device is cpu"
    )
    c.add_stages([StageTiming(stage="esm", seconds=(0.5, 0.6), items_in=3, items_out=3)])
    c.add_scaling([ScalingPoint(workers=1, kind="rank", seconds=(1.0,))])
    c.set_equivalence(_equivalence())
    c.skip("scaling.over_gpus", "needs 2 GPUs")
    c.note("engine fell back")
    return c


def test_builds_a_document_that_round_trips(collector: ResultsCollector, tmp_path: Path) -> None:
    doc = _build(collector, extra_metrics=[_time("gpu.extra")])
    path = write_document(doc, tmp_path / "results.json")
    back = read_document(path)
    assert [m.name for m in back.metrics] == [
        TOTAL_TIME_METRIC,
        "memory.cuda_peak_allocated",
        "gpu.extra",
    ]
    assert back.metric(TOTAL_TIME_METRIC).samples == (2.0, 2.1, 1.9)
    assert back.stages[0].stage == "esm" and back.scaling[0].workers == 1
    assert back.equivalence is not None and back.equivalence.passed
    assert back.skipped == {"scaling.over_gpus": "needs 2 GPUs"}
    assert back.notes == ("engine fell back",)
    assert back.validity.valid


def test_unavailable_metrics_carry_their_reason(collector: ResultsCollector) -> None:
    metric = _build(collector).metric("memory.cuda_peak_allocated")
    assert metric is not None and not metric.available
    assert metric.reason == "device is cpu" and metric.samples == ()
    with pytest.raises(ValidationError, match="gives no reason"):
        collector.add_unavailable("memory.other", unit="bytes", reason="")


@pytest.mark.parametrize(
    "record",
    [
        lambda c: c.add_metric(_time(TOTAL_TIME_METRIC)),
        lambda c: c.add_stages([StageTiming(stage="esm", seconds=(1.0,))]),
        lambda c: c.add_scaling([ScalingPoint(workers=1, kind="rank", seconds=(2.0,))]),
        lambda c: c.set_equivalence(_equivalence()),
        lambda c: c.skip("scaling.over_gpus", "another reason"),
    ],
    ids=["metric", "stage", "scaling", "equivalence", "skip"],
)
def test_refuses_a_second_record_of_the_same_thing(collector: ResultsCollector, record) -> None:
    with pytest.raises(DuplicateRecordError):
        record(collector)


def test_refuses_extra_metrics_that_clash(collector: ResultsCollector) -> None:
    with pytest.raises(DuplicateRecordError, match=r"end_to_end\.total_time"):
        _build(collector, extra_metrics=[_time(TOTAL_TIME_METRIC)])
    with pytest.raises(DuplicateRecordError, match=r"gpu\.twice"):
        _build(collector, extra_metrics=[_time("gpu.twice"), _time("gpu.twice")])


def test_same_skip_twice_and_same_note_twice_are_kept_once(collector: ResultsCollector) -> None:
    collector.skip("scaling.over_gpus", "needs 2 GPUs")
    collector.note("engine fell back")
    doc = _build(collector)
    assert len(doc.skipped) == 1 and doc.notes == ("engine fell back",)


def test_invalid_reasons_make_an_invalid_run(collector: ResultsCollector) -> None:
    collector.invalidate("GPU 0 throttled")
    doc = _build(collector, invalid_reasons=["GPU 0 throttled", "other process on GPU 0"])
    assert not doc.validity.valid
    assert doc.validity.reasons == ("GPU 0 throttled", "other process on GPU 0")


def test_run_ids_are_unique_and_sortable() -> None:
    first, second = new_run_id(), new_run_id()
    assert first != second
    assert first[:16] <= second[:16]
