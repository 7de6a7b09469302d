"""The sampler's overhead: interleaved pairs with and without polling, or no figure at all."""

from __future__ import annotations

from contextlib import contextmanager

import pytest

from virnucpro.bench.gpu.overhead import SAMPLER_OVERHEAD, measure_sampler_overhead


class Work:
    """A run whose cost depends on whether the sampler is paused (fake clock)."""

    def __init__(self, with_cost: float, without_cost: float) -> None:
        self.now = 0.0
        self.paused = False
        self.order: list[str] = []
        self.costs = {True: without_cost, False: with_cost}

    def clock(self) -> float:
        return self.now

    def run(self) -> None:
        self.order.append("without" if self.paused else "with")
        self.now += self.costs[self.paused]

    @contextmanager
    def pause(self):
        self.paused = True
        try:
            yield
        finally:
            self.paused = False


def test_pairs_alternate_and_give_one_sample_each() -> None:
    work = Work(with_cost=1.01, without_cost=1.0)
    measured = measure_sampler_overhead(
        work.run, paused=work.pause, active=lambda: (True, None), pairs=4, clock=work.clock
    )
    assert work.order == ["with", "without", "without", "with"] * 2
    assert measured.fractions == pytest.approx([0.01] * 4)
    metric = measured.metric()
    assert metric.name == SAMPLER_OVERHEAD and metric.available
    assert metric.median == pytest.approx(0.01) and metric.labels["pairs"] == "4"


def test_without_a_polling_sampler_there_is_no_figure() -> None:
    work = Work(with_cost=1.0, without_cost=1.0)
    measured = measure_sampler_overhead(
        work.run, paused=work.pause, active=lambda: (False, "no NVML"), pairs=2, clock=work.clock
    )
    metric = measured.metric()
    assert not metric.available and metric.samples == ()
    assert "no NVML" in (metric.reason or "")


def test_pairs_must_be_positive() -> None:
    with pytest.raises(ValueError, match="pairs"):
        measure_sampler_overhead(
            lambda: None, paused=Work(1, 1).pause, active=lambda: (True, None), pairs=0
        )
