from __future__ import annotations

import dataclasses

import pytest

from tests.bench.fakes import FakeClock
from virnucpro.bench import measure as measure_mod
from virnucpro.bench.measure import (
    DEFAULT_ROUNDS,
    DEFAULT_WARMUP,
    Measurement,
    measure,
    observing_rounds,
    rate_metric,
    rate_metrics,
    rate_samples,
    stage_metrics,
    stage_timings,
)
from virnucpro.errors import InputError, RunFailure
from virnucpro.pipeline.metrics import RunMetrics, StageMetrics


def _stepping(clock: FakeClock, durations: list[float]):
    remaining = list(durations)

    def fn() -> float:
        step = remaining.pop(0)
        clock.now += step
        return step

    return fn


def test_warmup_kept_apart_and_samples_raw():
    clock = FakeClock(start=100.0)
    fn = _stepping(clock, [9.0, 2.0, 1.0, 3.0, 2.0])
    m = measure(fn, rounds=4, warmup=1, device=None, clock=clock)
    assert m.warmup == (9.0,)
    assert m.cold_seconds == 9.0
    assert m.samples == (2.0, 1.0, 3.0, 2.0)
    assert m.median == 2.0
    assert m.minimum == 1.0


def test_on_round_sees_measured_rounds_only():
    clock = FakeClock(start=100.0)
    seen: list[tuple[int, float, float]] = []
    fn = _stepping(clock, [5.0, 1.0, 2.0])
    measure(fn, rounds=2, warmup=1, device="cpu", clock=clock, on_round=lambda *a: seen.append(a))
    assert seen == [(0, 1.0, 1.0), (1, 2.0, 2.0)]


def test_observers_hear_each_measured_round_with_the_median_so_far():
    clock = FakeClock(start=100.0)
    heard: list[tuple[int, int, float]] = []
    fn = _stepping(clock, [9.0, 4.0, 1.0, 2.0, 100.0])
    with observing_rounds(lambda *a: heard.append(a)):
        measure(fn, rounds=3, warmup=1, device=None, clock=clock)
    assert heard == [(1, 3, 4.0), (2, 3, 2.5), (3, 3, 2.0)]
    measure(fn, rounds=1, warmup=0, device=None, clock=clock)  # outside the block: not heard
    assert len(heard) == 3


def test_synchronizes_around_every_call(monkeypatch):
    events: list[str] = []
    monkeypatch.setattr(measure_mod, "synchronize", lambda device: events.append(f"sync:{device}"))
    measure(lambda: events.append("call"), rounds=2, warmup=1, device="cuda:0")
    assert events == ["sync:cuda:0", "call", "sync:cuda:0"] * 3


@pytest.mark.parametrize(("rounds", "warmup"), [(0, 1), (3, -1)])
def test_bad_counts_are_input_errors(rounds, warmup):
    with pytest.raises(InputError):
        measure(lambda: None, rounds=rounds, warmup=warmup, device=None)


def test_defaults_are_named():
    assert DEFAULT_ROUNDS >= 3 and DEFAULT_WARMUP >= 1


def test_no_warmup_has_no_cold_cost():
    m = Measurement(samples=(1.0, 2.0))
    assert m.cold_seconds is None


def test_statistics_from_samples():
    m = Measurement(samples=(1.0, 2.0, 3.0, 4.0, 100.0))
    assert m.median == 3.0
    assert m.iqr == pytest.approx(2.0)
    assert m.relative_noise == pytest.approx(2.0 / 3.0)
    assert Measurement(samples=(1.0,)).iqr is None
    assert Measurement(samples=(1.0,)).relative_noise is None


def test_measurement_is_frozen_and_needs_samples():
    with pytest.raises(dataclasses.FrozenInstanceError):
        Measurement(samples=(1.0,)).samples = ()  # type: ignore[misc]
    with pytest.raises(ValueError):
        Measurement(samples=())


def test_rates_per_round():
    assert rate_samples([2.0, 4.0, 0.0], 100) == (50.0, 25.0)
    metric = rate_metric("throughput.esm", "tokens", [2.0, 4.0], 100, stage="esm")
    assert (metric.name, metric.unit, metric.better) == (
        "throughput.esm.tokens_per_s",
        "tokens/s",
        "higher",
    )
    assert metric.samples == (50.0, 25.0)
    assert metric.stage == "esm"


def test_rate_of_nothing_is_unavailable_not_zero():
    metric = rate_metric("throughput.dnabert", "tokens", [1.0], 0)
    assert not metric.available and "no tokens" in (metric.reason or "")
    assert not rate_metric("throughput.x", "reads", [0.0], 5).available


def test_rate_metrics_units():
    metrics = rate_metrics("throughput.total", [1.0], {"reads": 10, "bases": 5000, "frames": 3})
    assert [(m.name, m.unit) for m in metrics] == [
        ("throughput.total.reads_per_s", "reads/s"),
        ("throughput.total.bases_per_s", "bp/s"),
        ("throughput.total.frames_per_s", "frames/s"),
    ]
    with pytest.raises(ValueError):
        rate_metric("x", "widgets", [1.0], 1)


def _run(times: dict[str, float], items: int = 10) -> RunMetrics:
    stages = tuple(
        StageMetrics(name=n, seconds=s, items_in=items, items_out=items, tokens=items * 2)
        for n, s in times.items()
    )
    return RunMetrics(
        virnucpro_version="0",
        engine="vanilla",
        device="cpu",
        precision="fp32",
        expected_length=500,
        input_path="x.fa",
        input_sha256="0" * 64,
        reads=1,
        bases=1,
        chunks=1,
        kept_frames=1,
        dnabert_tokens=1,
        esm_tokens=1,
        total_seconds=sum(times.values()),
        stages=stages,
        models=(),
        models_meaningful=False,
        model_note="",
    )


def test_stage_timings_gather_rounds_in_run_order():
    runs = [_run({"read": 1.0, "esm": 5.0}), _run({"read": 2.0, "esm": 4.0})]
    timings = stage_timings(runs)
    assert [t.stage for t in timings] == ["read", "esm"]
    assert timings[1].seconds == (5.0, 4.0)
    assert (timings[1].items_in, timings[1].items_out, timings[1].tokens) == (10, 10, 20)
    metrics = stage_metrics(timings)
    assert [(m.name, m.stage, m.better, m.unit) for m in metrics] == [
        ("stage.read.time", "read", "lower", "s"),
        ("stage.esm.time", "esm", "lower", "s"),
    ]
    assert metrics[1].samples == (5.0, 4.0)


def test_stage_timings_refuse_mismatched_rounds():
    with pytest.raises(RunFailure):
        stage_timings([])
    with pytest.raises(RunFailure, match="other stages"):
        stage_timings([_run({"read": 1.0}), _run({"esm": 1.0})])
    with pytest.raises(RunFailure, match="different amounts"):
        stage_timings([_run({"read": 1.0}, items=1), _run({"read": 1.0}, items=2)])
