"""The pairs and minutes a detection needs, planned from a pilot's pairs."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tests.bench.ab_records import ab_record, paired_rounds
from tools.bench.judge.detect import detection_plan
from tools.bench.thresholds import DEFAULT_THRESHOLDS, with_overrides
from virnucpro.errors import InputError


def _pilot(spread: float, n: int = 40, wall: float = 0.5):
    rng = np.random.default_rng(8)
    base = [0.2 * (1.0 + 0.2 * rng.random()) for _ in range(n)]
    head = [b * math.exp(spread * rng.standard_normal()) for b in base]
    return ab_record(paired_rounds(base, head, wall=wall))


def test_a_noisier_machine_needs_more_pairs_for_the_same_detection() -> None:
    quiet = detection_plan(_pilot(0.03), DEFAULT_THRESHOLDS, 0.03)
    noisy = detection_plan(_pilot(0.12), DEFAULT_THRESHOLDS, 0.03)
    assert quiet.pairs is not None and noisy.pairs is not None
    assert noisy.pairs > 4 * quiet.pairs
    assert noisy.seconds == pytest.approx(noisy.pairs * 0.5)
    assert noisy.budget_pairs == int(DEFAULT_THRESHOLDS.ab_time_budget_s // 0.5)
    lines = noisy.lines(startup_s=7.0)
    assert f"about {noisy.pairs} pairs" in lines[1] and "+ 7 s start-up" in lines[1]
    assert f"holds {noisy.budget_pairs} pairs" in lines[2]


def test_the_needed_pairs_detect_the_target_and_fewer_do_not() -> None:
    plan = detection_plan(_pilot(0.08), DEFAULT_THRESHOLDS, 0.03)
    assert plan.pairs is not None
    smaller = detection_plan(_pilot(0.08), DEFAULT_THRESHOLDS, 0.06)
    assert smaller.pairs is not None and smaller.pairs < plan.pairs / 2.5


def test_a_target_beyond_the_safety_cap_says_so() -> None:
    capped = with_overrides(DEFAULT_THRESHOLDS, ab_max_pairs=100)
    plan = detection_plan(_pilot(0.12), capped, 0.005)
    assert plan.pairs is None and "safety cap" in plan.lines()[1]


def test_bad_targets_and_tiny_pilots_are_refused() -> None:
    with pytest.raises(InputError, match="between 0 and 1"):
        detection_plan(_pilot(0.05), DEFAULT_THRESHOLDS, 1.5)
    with pytest.raises(InputError, match="too few pairs"):
        detection_plan(_pilot(0.05, n=4), DEFAULT_THRESHOLDS, 0.03)


def test_a_busy_pilot_says_so() -> None:
    record = _pilot(0.05)
    busy = record.model_copy(
        update={"rounds": tuple(r.model_copy(update={"others_share": 0.8}) for r in record.rounds)}
    )
    lines = detection_plan(busy, DEFAULT_THRESHOLDS, 0.03).lines()
    assert "others used 80% of the CPUs" in lines[0] and "INVALID" in lines[-1]
    quiet = detection_plan(record, DEFAULT_THRESHOLDS, 0.03).lines()
    assert len(quiet) == 4 and "does not measure" in quiet[-1]


def test_a_plan_for_a_gate_that_keeps_its_workers_has_no_offset_line() -> None:
    kept = with_overrides(DEFAULT_THRESHOLDS, ab_fresh_workers_every=0)
    assert len(detection_plan(_pilot(0.05), kept, 0.03).lines()) == 3
