"""What an A/B run can detect here: the pairs and minutes a given slowdown needs, from a pilot.

``virnucpro benchmark --against REF --plan --mde 0.03`` measures a short pilot of pairs and
hands its record to :func:`detection_plan`: the per-pair spread of the total time's estimator
(its interval's standard error times the square root of the pairs, on the log scale), the pace,
and from them the fewest pairs whose last look detects the target slowdown with 80% power under
the gate's own design (estimator, alpha spending over the looks), and what the gate's time
budget could detect at this pace. The arithmetic is :mod:`virnucpro.bench.sequential`'s.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import virnucpro.bench.paired_stats as paired_stats
import virnucpro.bench.sequential as sequential
import virnucpro.bench.stats as stats
from tools.bench.judge.paired import plan_for
from tools.bench.thresholds import Thresholds
from virnucpro.bench.ab.schema import TOTAL_TIME, ABRecord
from virnucpro.errors import InputError


@dataclass(frozen=True)
class DetectionPlan:
    """A pilot's answer: how many pairs (and seconds of rounds) ``target`` needs here."""

    target: float
    power: float
    alpha: float
    spending: str
    pilot_pairs: int
    pace_s: float  # wall seconds per pair in the pilot
    spread: float  # per-pair spread of the total time's estimator, log scale
    pairs: int | None  # None: more than the safety cap
    seconds: float | None  # of rounds
    budget_pairs: int  # the gate's horizon at this pace
    budget_detectable: float  # what the gate's whole budget detects with ``power``
    safety_cap: int
    others_share: float  # median share of the CPUs other processes used in the pilot
    busy_limit: float  # the host gate's limit
    fresh_workers_every: int = 0  # the gate replaces its workers every so many pairs (0: never)

    def lines(self, startup_s: float | None = None) -> list[str]:
        """What the command prints."""
        head = (
            f"pilot: {self.pilot_pairs} pairs at {self.pace_s:.2f} s a pair; per-pair spread of "
            f"the total time {self.spread:.3f} (log ratio); others used {self.others_share:.0%} "
            "of the CPUs"
        )
        design = (
            f"{self.power:.0%} power at alpha {self.alpha:g}, "
            f"{sequential.SPENDING_WORDS[self.spending]} over the looks"
        )
        if self.pairs is None or self.seconds is None:
            need = (
                f"to detect a {self.target:.1%} slowdown ({design}): more than the "
                f"{self.safety_cap}-pair safety cap; not reachable here"
            )
        else:
            extra = f" + {startup_s:.0f} s start-up" if startup_s is not None else ""
            need = (
                f"to detect a {self.target:.1%} slowdown ({design}): about {self.pairs} pairs, "
                f"{self.seconds / 60:.1f} min of rounds{extra}"
            )
        budget = (
            f"the gate's time budget holds {self.budget_pairs} pairs at this pace; they would "
            f"detect >= {self.budget_detectable:.1%}"
        )
        lines = [head, need, budget]
        if self.fresh_workers_every:
            lines.append(
                f"the gate replaces its workers every {self.fresh_workers_every} pairs (seconds "
                "of the budget each) and widens its interval by the offset between worker pairs, "
                f"which this pilot of {self.pilot_pairs} pairs does not measure: the figures "
                "above leave both out (see docs/ab-gate.md, fresh workers)"
            )
        if self.others_share > self.busy_limit:
            lines.append(
                f"the machine was busy during the pilot (others {self.others_share:.0%}, the "
                f"gate's limit {self.busy_limit:.0%}): a gate run would read INVALID, and the "
                "plan describes a busy machine"
            )
        return lines


def detection_plan(
    record: ABRecord,
    thresholds: Thresholds,
    target: float,
    *,
    power: float = sequential.DEFAULT_POWER,
) -> DetectionPlan:
    """The pairs the gate's design needs to detect ``target`` (a fraction) with ``power``."""
    if not 0.0 < target < 1.0:
        raise InputError(f"--mde must be a fraction between 0 and 1, e.g. 0.03; got {target:g}")
    total = next((m for m in record.paired_metrics() if m.name == TOTAL_TIME), None)
    if total is None or len(total.base) < paired_stats.MIN_PAIRS_FOR_INTERVAL:
        raise InputError("the pilot has too few pairs of the total time to measure its noise")
    single = sequential.single_look(thresholds.alpha)
    pilot = paired_stats.paired_ratio(
        total.base,
        total.head,
        confidence=single.confidence(len(total.base)),
        estimator=thresholds.ab_estimator,
    )
    if pilot.low is None or pilot.high is None:
        raise InputError("the pilot's pairs give no interval of the total time")
    se = sequential.standard_error(pilot.low, pilot.high, single.critical(len(total.base)))
    spread = sequential.spread_of(se, len(total.base))
    pace = sum(r.wall_seconds for r in record.rounds) / len(record.rounds)

    def design(n: int) -> sequential.SequentialPlan:
        return sequential.SequentialPlan(
            first=min(thresholds.ab_initial_pairs, n),
            block=thresholds.ab_block_pairs,
            most=n,
            alpha=thresholds.alpha,
            spending=thresholds.ab_spending,
        )

    pairs = sequential.pairs_for(
        target, spread=spread, plan_for=design, power=power, most=thresholds.ab_max_pairs
    )
    gate = plan_for(thresholds, pace_s=pace)
    budget_se = spread / math.sqrt(gate.most)
    return DetectionPlan(
        target=target,
        power=power,
        alpha=thresholds.alpha,
        spending=thresholds.ab_spending,
        pilot_pairs=len(total.base),
        pace_s=pace,
        spread=spread,
        pairs=pairs,
        seconds=None if pairs is None else pairs * pace,
        budget_pairs=gate.most,
        budget_detectable=sequential.min_detectable(budget_se, gate.critical(gate.most), power),
        safety_cap=thresholds.ab_max_pairs,
        others_share=stats.median(record.others_shares()),
        busy_limit=thresholds.ab_busy_host_share,
        fresh_workers_every=thresholds.ab_fresh_workers_every,
    )
