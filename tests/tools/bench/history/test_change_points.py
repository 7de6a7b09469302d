"""The change-point detector against Apache Otava's (a test-only dependency) on the same series.

Float series only: on integer-valued ones, splits whose statistic ties exactly can round
differently in the two implementations and so pick another cut of equal merit.
"""

from __future__ import annotations

import numpy as np
import pytest
from otava.analysis import compute_change_points
from otava.change_point_divisive.calculator import PairDistanceCalculator
from scipy import stats as sps

from tools.bench.history.change_points import change_points, first_pass_p, split_statistic

SETTINGS = (  # (window, max p, min relative shift): the trend's, Otava's default, a loose one
    (16, 0.01, 0.03),
    (50, 0.001, 0.0),
    (8, 0.05, 0.0),
)
SERIES_PER_KIND = 25


def _series(kind: str, rng: np.random.Generator) -> list[float]:
    n = int(rng.integers(8, 60))
    values = 100.0 + rng.normal(0.0, 1.0, n)
    if kind == "step":
        values[int(rng.integers(3, n - 3)) :] += rng.choice([-6.0, 1.5, 6.0])
    elif kind == "steps":
        for cut in sorted(rng.choice(np.arange(3, n - 3), 2, replace=False)):
            values[cut:] += rng.normal(0.0, 5.0)
    elif kind == "drift":
        values += 0.3 * np.arange(n)
    return [float(v) for v in values]


def _corpus() -> list[tuple[str, int, list[float]]]:
    rng = np.random.default_rng(20140101)
    kinds = ("noise", "step", "steps", "drift")
    return [(k, i, _series(k, rng)) for k in kinds for i in range(SERIES_PER_KIND)]


CORPUS = _corpus()


def test_the_split_statistic_equals_otavas() -> None:
    rng = np.random.default_rng(7)
    for _ in range(200):
        values = 100.0 + rng.normal(0.0, 1.0, int(rng.integers(2, 30)))
        expected = PairDistanceCalculator(values).get_candidate_change_point(slice(0, len(values)))
        cut, q = split_statistic(values)  # type: ignore[misc]
        assert cut == expected.index
        assert q == pytest.approx(expected.qhat, rel=1e-9, abs=1e-12)


def test_a_single_run_has_no_split() -> None:
    assert split_statistic(np.array([1.0])) is None


@pytest.mark.parametrize(("window", "max_p", "min_shift"), SETTINGS)
def test_the_change_points_equal_otavas_on_the_same_series(
    window: int, max_p: float, min_shift: float
) -> None:
    for kind, number, series in CORPUS:
        expected, _ = compute_change_points(
            list(series), window_len=window, max_pvalue=max_p, min_magnitude=min_shift
        )
        found = change_points(series, window=window, max_p=max_p, min_magnitude=min_shift)
        assert [c.index for c in found] == [int(c.index) for c in expected], (kind, number)


def test_the_corpus_has_change_points_to_compare() -> None:
    found = [change_points(s, window=16, max_p=0.01, min_magnitude=0.03) for _, _, s in CORPUS]
    assert sum(len(f) for f in found) >= len(CORPUS) // 2
    assert sum(1 for f in found if not f) >= SERIES_PER_KIND // 2


def test_each_point_is_tested_against_its_final_neighbours() -> None:
    for _, _, series in CORPUS:
        found = change_points(series, window=8, max_p=0.05, min_magnitude=0.0)
        bounds = [0, *(c.index for c in found), len(series)]
        for n, point in enumerate(found, 1):
            left, right = series[bounds[n - 1] : point.index], series[point.index : bounds[n + 1]]
            assert point.mean_before == pytest.approx(np.mean(left))
            assert point.mean_after == pytest.approx(np.mean(right))
            p = sps.ttest_ind_from_stats(
                np.mean(left), np.std(left), len(left), np.mean(right), np.std(right), len(right)
            ).pvalue
            assert point.p_value == pytest.approx(p)


def test_a_clear_step_is_found_where_it_is() -> None:
    series = [10.0, 10.1, 9.9, 10.0, 10.2, 9.8, 12.0, 12.1, 11.9, 12.0, 12.2, 11.8]
    [point] = change_points(series, window=16, max_p=0.01, min_magnitude=0.03)
    assert point.index == 6
    assert point.magnitude == pytest.approx(0.2)


@pytest.mark.parametrize(("max_p", "first"), [(0.001, 0.01), (0.1, 0.2), (0.5, 0.5)])
def test_the_split_step_uses_a_looser_p_value(max_p: float, first: float) -> None:
    assert first_pass_p(max_p) == pytest.approx(first)
