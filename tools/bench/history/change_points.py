"""Change points of a series of run medians: E-divisive means with a t-test, as Otava runs it.

Written here from the papers so that the history needs numpy and scipy only (Apache Otava, which
does the same, brings 31 distributions with it): Matteson & James (2014), "A nonparametric
approach for multiple change point analysis of multivariate data", for the split statistic, and
Fleming et al. (2023), "Hunter: using change point detection to hunt for performance
regressions", for the sliding windows, the t-test in place of the permutation test and the merge
of weak change points. ``tests/tools/bench/history/test_change_points.py`` checks the results
against Otava's ``compute_change_points`` (a test-only dependency) on the same series.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats as sps

FIRST_PASS_FACTOR = 10  # the split step keeps weak points at 10x the final p-value (Hunter)
MIN_SEGMENT = 2  # runs a segment needs before the split statistic can cut it


@dataclass(frozen=True)
class ChangePoint:
    """Index of the first run of a new level; the segments around it and their t-test."""

    index: int
    mean_before: float
    mean_after: float
    p_value: float

    @property
    def magnitude(self) -> float:
        """The larger relative change of the two directions (0 where a mean is 0)."""
        forward = self.mean_after / self.mean_before - 1.0 if self.mean_before else 0.0
        backward = self.mean_before / self.mean_after - 1.0 if self.mean_after else 0.0
        return max(abs(forward), abs(backward))


def split_statistic(values: np.ndarray) -> tuple[int, float] | None:
    """The best cut of ``values`` by Matteson & James's Q-hat (alpha = 1), and its Q-hat.

    For every ``tau < kappa``, X = values[:tau] (n runs) and Y = values[tau:kappa] (m runs)::

        Q = 2/(m+n) sum|X-Y| - 2m/((m+n)(n-1)) sum_{i<k}|Xi-Xk| - 2n/((m+n)(m-1)) sum_{j<k}|Yj-Yk|

    (a within-sum of one run is 0). The cut is the ``tau`` of the largest Q over all pairs, the
    first in (tau, kappa) order on a tie; None when ``values`` has fewer than two runs.
    """
    size = len(values)
    if size < MIN_SEGMENT:
        return None
    distance = np.abs(values[:, None] - values[None, :])
    within = np.triu(distance, 1)
    best: tuple[int, float] | None = None
    for tau in range(1, size):
        n = tau
        x_pairs = float(within[:tau, :tau].sum())
        for kappa in range(tau + 1, size + 1):
            m = kappa - tau
            between = float(distance[:tau, tau:kappa].sum())
            y_pairs = float(within[tau:kappa, tau:kappa].sum())
            q = 2.0 * between / (m + n)
            if n > 1:
                q -= 2.0 * m * x_pairs / ((m + n) * (n - 1))
            if m > 1:
                q -= 2.0 * n * y_pairs / ((m + n) * (m - 1))
            if best is None or q > best[1]:
                best = (tau, q)
    return best


def t_test(values: np.ndarray, lo: int, cut: int, hi: int) -> ChangePoint:
    """Student's two-sample t-test of values[lo:cut] against values[cut:hi], as Hunter uses it:
    pooled variance from the population standard deviations; p = 1 for two runs in all."""
    left, right = values[lo:cut], values[cut:hi]
    mean_l, mean_r = float(np.mean(left)), float(np.mean(right))
    if len(left) + len(right) > MIN_SEGMENT:
        std_l = float(np.std(left)) if len(left) >= MIN_SEGMENT else 0.0
        std_r = float(np.std(right)) if len(right) >= MIN_SEGMENT else 0.0
        p = float(
            sps.ttest_ind_from_stats(mean_l, std_l, len(left), mean_r, std_r, len(right)).pvalue
        )
    else:
        p = 1.0
    return ChangePoint(cut, mean_l, mean_r, p)


def _bounds(cuts: Sequence[int], size: int) -> list[int]:
    return [0, *cuts, size]


def _restat(values: np.ndarray, cuts: Sequence[int]) -> list[ChangePoint]:
    """Each cut tested against its neighbouring cuts (or the series' ends)."""
    bounds = _bounds(cuts, len(values))
    return [t_test(values, bounds[i], cut, bounds[i + 2]) for i, cut in enumerate(cuts)]


def _divide(values: np.ndarray, max_p: float) -> list[int]:
    """E-divisive within one window: cut the segment with the largest Q-hat while its t-test
    is significant (p <= ``max_p``); the cuts, in order."""
    cuts: list[int] = []
    while True:
        bounds = _bounds(cuts, len(values))
        best: tuple[float, int, int, int] | None = None
        for lo, hi in itertools.pairwise(bounds):
            found = split_statistic(values[lo:hi])
            if found is not None and (best is None or found[1] > best[0]):
                best = (found[1], lo, lo + found[0], hi)
        if best is None:
            return cuts
        _, lo, cut, hi = best
        if not t_test(values, lo, cut, hi).p_value <= max_p:
            return cuts
        cuts = sorted([*cuts, cut])


def weak_change_points(values: np.ndarray, window: int, max_p: float) -> list[int]:
    """The split step: E-divisive over windows of ``window`` runs, each starting at the later of
    half a window on and the last cut found; the union of the cuts, in order."""
    cuts: set[int] = set()
    start = 0
    while start < len(values):
        found = [start + c for c in _divide(values[start : start + window], max_p)]
        cuts.update(found)
        start = max(found[-1] if found else 0, start + window // 2)
    return sorted(cuts)


def merge(values: np.ndarray, cuts: list[int], max_p: float, min_magnitude: float) -> list[int]:
    """The merge step: drop the weakest cut (largest p above ``max_p``; once every p is below
    it, the smallest change up to ``min_magnitude``) until every cut is significant and large
    enough.

    After a drop, the cut that took the dropped one's place and the cut after it are tested
    again, and the cut before keeps its older test until it is tested again, as in Hunter and
    Otava: kept so that the cuts found equal Otava's (testing the two true neighbours instead
    changes the result on about one random series in five).
    """
    points = _restat(values, cuts)
    while points:
        weakest = max(points, key=lambda p: p.p_value)
        if weakest.p_value < max_p:
            weakest = min(points, key=lambda p: p.magnitude)
            if weakest.magnitude > min_magnitude:
                break
        dropped = points.index(weakest)
        del points[dropped]
        bounds = _bounds([p.index for p in points], len(values))
        for i in (dropped, dropped + 1)[: max(len(points) - dropped, 0)]:
            points[i] = t_test(values, bounds[i], points[i].index, bounds[i + 2])
    return [p.index for p in points]


def first_pass_p(max_p: float) -> float:
    """The split step's p-value: ``FIRST_PASS_FACTOR`` times ``max_p``; from 0.05 twice it, from
    0.5 ``max_p`` itself (Otava's rule)."""
    if max_p < 0.05:
        return max_p * FIRST_PASS_FACTOR
    return max_p * 2 if max_p < 0.5 else max_p


def change_points(
    series: Sequence[float], *, window: int, max_p: float, min_magnitude: float
) -> tuple[ChangePoint, ...]:
    """The change points of ``series``: weak points at :func:`first_pass_p`, merged down to
    those with p below ``max_p`` that move the mean by more than ``min_magnitude`` (relative)."""
    values = np.asarray(series, dtype=float)
    weak = weak_change_points(values, window, first_pass_p(max_p))
    kept = merge(values, weak, max_p, min_magnitude)
    return tuple(_restat(values, kept))  # each tested against its final neighbours
