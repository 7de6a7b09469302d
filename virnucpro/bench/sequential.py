"""Error control for a test that looks again and again: group-sequential alpha spending.

The A/B gate measures a block of pairs, judges, and measures another block while the total time
is undecided. Judging every look at the plain 95% level would fail unchanged code more often
than 5% of the time (each look is another chance for noise to cross the line). Here the looks
form a group-sequential design (Jennison & Turnbull, *Group Sequential Methods*, 2000):

- the planned looks are at ``first``, ``first + block``, ... pairs, up to the planned horizon
  ``most`` (the pairs the time budget holds at the pace of the first block);
- a spending function says how much of the two-sided ``alpha`` may be spent by the information
  fraction ``t = pairs / most``: O'Brien-Fleming-type ``4 - 4 Phi(z_{1-alpha/4} / sqrt(t))``
  (``alpha / 2`` a side; strict early, close to the fixed-sample level at the end) or
  Pocock-type ``alpha ln(1 + (e - 1) t)`` (even over the looks) (Lan & DeMets, 1983; the forms
  of R's ``gsDesign`` and ``ldbounds`` for symmetric two-sided bounds);
- :func:`boundaries` turns the spending into one critical value ``c_k`` per look: the
  probability that a Brownian-motion statistic first leaves ``(-c_j, c_j)`` at look ``k`` is
  what look ``k`` may spend. It is computed by numerical integration over a grid (the
  recursion of Armitage, McPherson and Rowe, 1969) with scipy's normal distribution, Simpson's
  rule and Brent's root finder;
- the interval of every look is then the *repeated confidence interval* at the nominal
  confidence ``1 - 2 (1 - Phi(c_k))``: all looks together cover the true change with
  probability at least ``1 - alpha``, whenever the loop stops, so a decision taken at any look
  (fail, pass, or more pairs) keeps its error rate. Stopping before the horizon (the time ran
  out, the decision came early) leaves alpha unspent: conservative, never invalid.

``spending="none"`` is the plain fixed-sample level at every look (the rule before this module,
kept for the ablation and as the gate's behaviour on a single look).

The minimum detectable change of a run (:func:`min_detectable`) and the pairs a planned
detection needs (:func:`pairs_for`) follow from the same boundaries and the measured paired
noise. Maintained libraries for this (``confseq``) pull in pytest, matplotlib and pandas as
run-time requirements, so the design is computed here from scipy's pieces.
"""

from __future__ import annotations

import functools
import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, get_args

Spending = Literal["obrien_fleming", "pocock", "none"]
SPENDINGS: tuple[Spending, ...] = get_args(Spending)
SPENDING_WORDS = {
    "obrien_fleming": "O'Brien-Fleming-type alpha spending",
    "pocock": "Pocock-type alpha spending",
    "none": "no alpha spending (the plain level at every look)",
}
DEFAULT_POWER = 0.80
GRID_STEP = 0.025  # grid spacing of the numerical integration, in standard deviations
MAX_CRITICAL = 8.0  # |Z| beyond this has probability < 1e-15: a look that may spend nothing
ROOT_TOLERANCE = 1e-7


@dataclass(frozen=True)
class SequentialPlan:
    """The looks of one A/B run: the first block, the block size, and the planned horizon."""

    first: int  # pairs at the first look
    block: int  # pairs added per look
    most: int  # the planned horizon: the last look, where the whole alpha is spent
    alpha: float  # two-sided
    spending: Spending

    def looks_until(self, pairs: int) -> tuple[int, ...]:
        """The looks a run with ``pairs`` pairs took: the planned ones before ``pairs``, then
        ``pairs`` itself (a run cut short by its time budget looks last off the schedule)."""
        looks = []
        n = self.first
        while n < min(pairs, self.most):
            looks.append(n)
            n += self.block
        return (*looks, pairs)

    def critical(self, pairs: int) -> float:
        """The critical value (in standard errors) of the look at ``pairs`` pairs."""
        if self.spending == "none":
            return _z(self.alpha)
        looks = self.looks_until(pairs)
        planned = self.looks_until(self.most)
        if looks == planned[: len(looks)]:  # on the schedule: one design for every look
            return boundaries(fractions_of(planned, self.most), self.alpha, self.spending)[
                len(looks) - 1
            ]
        return boundaries(fractions_of(looks, self.most), self.alpha, self.spending)[-1]

    def confidence(self, pairs: int) -> float:
        """The nominal two-sided confidence of the interval at the look with ``pairs`` pairs."""
        return confidence_of(self.critical(pairs))


def single_look(alpha: float) -> SequentialPlan:
    """A plan of one look at the plain ``1 - alpha`` level (a sample judged once)."""
    return SequentialPlan(first=1, block=1, most=1, alpha=alpha, spending="none")


def _z(alpha: float) -> float:
    from scipy.stats import norm

    return float(norm.isf(alpha / 2.0))


def confidence_of(critical: float) -> float:
    """The two-sided confidence of an interval ``estimate ± critical * SE``."""
    from scipy.stats import norm

    return float(1.0 - 2.0 * norm.sf(critical))


def spent(fraction: float, alpha: float, spending: Spending) -> float:
    """The two-sided alpha a design may have spent by the information fraction (0..1]."""
    from scipy.stats import norm

    t = min(max(fraction, 0.0), 1.0)
    if t == 0.0:
        return 0.0
    if spending == "obrien_fleming":
        return float(4.0 - 4.0 * norm.cdf(_z(alpha / 2.0) / math.sqrt(t)))
    if spending == "pocock":
        return alpha * math.log(1.0 + (math.e - 1.0) * t)
    return alpha


def _grid(critical: float):
    """Points (an odd count, for Simpson's rule) over (-critical, critical)."""
    import numpy as np

    points = 2 * max(math.ceil(critical / GRID_STEP), 8) + 1
    return np.linspace(-critical, critical, points)


@dataclass(frozen=True)
class _Continuing:
    """The sub-density of Z at the last look over the paths that have not stopped yet."""

    grid: object  # numpy array of Z values
    density: object  # numpy array, the sub-density at each grid point
    t: float  # the information fraction of that look


def _leaving(state: _Continuing, t: float, critical: float) -> float:
    """The probability of continuing to ``state`` and then leaving (-critical, critical) at the
    next look, at information fraction ``t``."""
    from scipy.integrate import simpson
    from scipy.stats import norm

    step = math.sqrt(t - state.t)
    scaled = state.grid * math.sqrt(state.t)
    edge = critical * math.sqrt(t)
    out = norm.cdf((-edge - scaled) / step) + norm.sf((edge - scaled) / step)
    return float(simpson(state.density * out, x=state.grid))


def _advance(state: _Continuing, t: float, critical: float) -> _Continuing:
    """The sub-density at the next look (fraction ``t``) over the paths still inside."""
    from scipy.integrate import simpson
    from scipy.stats import norm

    step = math.sqrt(t - state.t)
    scaled = state.grid * math.sqrt(state.t)
    grid = _grid(critical)
    kernel = norm.pdf((grid[:, None] * math.sqrt(t) - scaled[None, :]) / step)
    density = simpson(state.density[None, :] * kernel, x=state.grid, axis=1)
    return _Continuing(grid=grid, density=density * math.sqrt(t) / step, t=t)


def _critical(state: _Continuing | None, t: float, budget: float) -> float:
    """The critical value at fraction ``t`` that spends ``budget`` after ``state``."""
    from scipy.optimize import brentq
    from scipy.stats import norm

    if budget <= 0:
        return MAX_CRITICAL
    if state is None:
        return min(float(norm.isf(budget / 2.0)), MAX_CRITICAL)
    if _leaving(state, t, MAX_CRITICAL) >= budget:
        return MAX_CRITICAL
    return float(
        brentq(lambda c: _leaving(state, t, c) - budget, 0.0, MAX_CRITICAL, xtol=ROOT_TOLERANCE)
    )


@functools.lru_cache(maxsize=512)
def boundaries(fractions: tuple[float, ...], alpha: float, spending: Spending) -> tuple[float, ...]:
    """Two-sided critical values, one per look at the increasing information ``fractions``.

    Look ``k`` spends ``spent(t_k) - spent(t_{k-1})``: its critical value is the one at which
    a standardized Brownian motion, still inside every earlier look's bounds, leaves this
    look's bounds with that probability. A look that may spend nothing gets
    :data:`MAX_CRITICAL`.
    """
    from scipy.stats import norm

    if not fractions or fractions[0] <= 0 or any(b <= a for a, b in itertools.pairwise(fractions)):
        raise ValueError(f"information fractions must increase from above 0: {fractions}")
    critical: list[float] = []
    state: _Continuing | None = None
    before = 0.0
    for t in fractions:
        now = spent(t, alpha, spending)
        c = _critical(state, t, now - before)
        if state is None:
            grid = _grid(c)
            state = _Continuing(grid=grid, density=norm.pdf(grid), t=t)
        else:
            state = _advance(state, t, c)
        critical.append(c)
        before = now
    return tuple(critical)


# ----------------------------------------------------------------------------- planning


def horizon(*, first: int, pace_s: float | None, budget_s: float, safety_cap: int) -> int:
    """The planned last look: the pairs the time budget holds at the measured pace (seconds per
    pair), never fewer than the first block and never more than the safety cap."""
    if pace_s is None or pace_s <= 0 or not math.isfinite(pace_s):
        return max(min(safety_cap, first), 1)
    return max(first, min(safety_cap, int(budget_s // pace_s)))


def standard_error(low: float, high: float, critical: float) -> float:
    """The standard error an interval ``[low, high]`` at ``critical`` implies (log scale)."""
    return (math.log(high) - math.log(low)) / (2.0 * critical)


def min_detectable(se: float, critical: float, power: float = DEFAULT_POWER) -> float:
    """The smallest slowdown (a fraction) this interval tells from no change with ``power``:
    ``exp((c + z_power) * SE) - 1``, with ``SE`` on the log scale."""
    from scipy.stats import norm

    return math.expm1((critical + float(norm.ppf(power))) * se)


def pairs_for(
    target: float,
    *,
    spread: float,
    plan_for,
    power: float = DEFAULT_POWER,
    most: int,
) -> int | None:
    """The fewest pairs whose final look detects ``target`` (a fraction) with ``power``, given
    the per-pair ``spread`` (standard deviation of the estimator times sqrt(pairs), log scale);
    ``plan_for(n)`` is the plan whose horizon is ``n`` pairs. None when even ``most`` is short.
    """
    if target <= 0:
        raise ValueError("the change to detect must be positive")

    def detects(n: int) -> bool:
        plan = plan_for(n)
        return min_detectable(spread / math.sqrt(n), plan.critical(n), power) <= target

    low = plan_for(most).first
    if detects(low):
        return low
    if not detects(most):
        return None
    high = most
    while high - low > 1:
        middle = (low + high) // 2
        if detects(middle):
            high = middle
        else:
            low = middle
    return high


def spread_of(se: float, pairs: int) -> float:
    """The per-pair spread (``SE * sqrt(pairs)``) of an estimator over ``pairs`` pairs."""
    return se * math.sqrt(pairs)


def describe(plan: SequentialPlan, pairs: int) -> str:
    """'look 3 of 9 (O'Brien-Fleming spending over 360 planned pairs): 98.9% interval'."""
    level = plan.confidence(pairs)
    if plan.spending == "none":
        return f"one fixed {level:.0%} interval at every look (no alpha spending)"
    looks = plan.looks_until(pairs)
    planned = len(plan.looks_until(plan.most))
    return (
        f"look {len(looks)} of {planned} ({SPENDING_WORDS[plan.spending]} over {plan.most} "
        f"planned pairs): a {level:.2%} interval"
    )


def fractions_of(looks: Sequence[int], most: int) -> tuple[float, ...]:
    return tuple(min(n / most, 1.0) for n in looks)
