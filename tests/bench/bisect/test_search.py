"""The bisection's search, driven by scripted verdicts: one step, no step, two steps (gradual),
an undecided middle, a budget that runs out, and steps that cannot be judged."""

from __future__ import annotations

from tests.bench.bisect.scripted import Scripted, index_of, run_scripted, step_levels

N = 8  # commits after GOOD, as in the done-when


def _run(script: Scripted, n: int = N, budget_s: float = 900.0):
    return run_scripted(script, n, budget_s)


def test_one_step_is_named_after_it_is_confirmed_against_its_parent_on_fresh_workers() -> None:
    script = Scripted(step_levels(N, {6: 1.25}))
    result = _run(script)
    assert result.outcome == "culprit" and result.exit_code == 1
    assert result.culprit is not None and index_of(result.culprit.sha) == 6
    assert script.pairs() == [
        ("range", 0, 8),
        ("search", 0, 4),
        ("search", 0, 6),
        ("search", 0, 5),
        ("confirm", 5, 6),
    ]
    confirm = result.step(result.culprit_step)
    assert confirm is not None and confirm.role == "confirm" and confirm.fresh_workers
    assert [r.fresh for r in script.requests] == [True, False, False, False, True]
    assert not result.gradual and result.parts == () and result.uncertain == ()
    assert result.narrowest is not None and result.narrowest.commits == 1


def test_a_step_in_the_first_commit_is_confirmed_against_good() -> None:
    script = Scripted(step_levels(N, {1: 1.25}))
    result = _run(script)
    assert result.culprit is not None and index_of(result.culprit.sha) == 1
    assert script.pairs()[-1] == ("confirm", 0, 1)


def test_a_range_without_a_slowdown_names_no_commit_and_exits_0() -> None:
    script = Scripted(step_levels(N, {}))
    result = _run(script)
    assert result.outcome == "no_slowdown" and result.exit_code == 0
    assert result.culprit is None and result.narrowest is None
    assert script.pairs() == [("range", 0, 8)]
    assert "no slowdown in this range" in result.reasons[0]


def test_two_small_steps_are_gradual_and_both_commits_are_listed() -> None:
    """+7% at commit 3 and at commit 6: each under the 10% threshold, together +14.5%."""
    script = Scripted(step_levels(N, {3: 1.07, 6: 1.07}))
    result = _run(script)
    assert result.outcome == "gradual" and result.exit_code == 1
    assert result.culprit is None and result.gradual
    assert [index_of(c.sha) for c in result.parts] == [3, 6]
    assert "no single commit crosses the threshold" in result.reasons[0]
    assert {s.role for s in result.steps} == {"range", "search", "confirm", "part"}


def test_a_culprit_that_explains_under_half_of_the_change_is_named_and_the_other_part_listed() -> (
    None
):
    script = Scripted(step_levels(N, {2: 1.12, 6: 1.20}))  # 2 explains 39% of +34%
    result = _run(script)
    assert result.outcome == "culprit" and result.exit_code == 1
    assert result.culprit is not None and index_of(result.culprit.sha) == 2
    assert result.gradual
    assert [index_of(c.sha) for c in result.parts] == [2, 6]
    # the search's steps against GOOD and the confirmation are reused, not measured again
    measured = [(b, h) for _, b, h in script.pairs()]
    assert len(measured) == len(set(measured))


def test_an_undecided_middle_searches_the_earlier_half_first_and_says_which_step() -> None:
    script = Scripted(step_levels(N, {6: 1.25}), overrides={(0, 4): "undecided"})
    result = _run(script)
    assert result.outcome == "culprit"
    assert result.culprit is not None and index_of(result.culprit.sha) == 6
    undecided = next(s for s in result.steps if (index_of(s.base), index_of(s.head)) == (0, 4))
    assert result.uncertain == (undecided.index,)
    pairs = script.pairs()
    # the earlier half was searched first, commit 4 confirmed not slower on its own, then 5..8
    assert pairs.index(("confirm", 3, 4)) < pairs.index(("search", 0, 6))
    assert pairs[-1] == ("confirm", 5, 6)


def test_an_undecided_middle_that_is_the_culprit_is_confirmed() -> None:
    script = Scripted(step_levels(N, {4: 1.25}), overrides={(0, 4): "undecided"})
    result = _run(script)
    assert result.culprit is not None and index_of(result.culprit.sha) == 4


def test_a_budget_that_runs_out_exits_2_with_the_narrowest_stretch_found() -> None:
    script = Scripted(step_levels(N, {6: 1.25}), step_seconds=30.0)
    result = _run(script, budget_s=100.0)  # room for the range and two search steps
    assert result.outcome == "budget_spent" and result.exit_code == 2
    assert result.culprit is None
    assert len(result.steps) == 3
    assert result.narrowest is not None
    assert (index_of(result.narrowest.good), index_of(result.narrowest.bad)) == (4, 6)
    assert any("time budget" in r for r in result.reasons)


def test_a_step_starts_only_while_the_time_left_covers_a_typical_step() -> None:
    script = Scripted(step_levels(N, {6: 1.25}), step_seconds=30.0)
    result = _run(script, budget_s=85.0)  # 25 s left after two steps: less than one step takes
    assert len(result.steps) == 2 and result.outcome == "budget_spent"
    assert script.requests[-1].seconds_left == 55.0


def test_an_undecided_range_cannot_be_judged() -> None:
    script = Scripted(step_levels(N, {6: 1.09}))
    result = _run(script)
    assert result.outcome == "could_not_judge" and result.exit_code == 2
    assert script.pairs() == [("range", 0, 8)]
    assert result.uncertain == (0,)


def test_an_undecided_middle_undecided_on_its_own_is_set_aside_and_the_search_goes_on() -> None:
    script = Scripted(
        step_levels(N, {6: 1.25}), overrides={(0, 4): "undecided", (3, 4): "undecided"}
    )
    result = _run(script)
    assert result.culprit is not None and index_of(result.culprit.sha) == 6
    undecided = [
        (index_of(s.base), index_of(s.head)) for s in result.steps if s.index in result.uncertain
    ]
    assert undecided == [(0, 4), (3, 4)]


def test_a_candidate_undecided_against_its_parent_is_not_named() -> None:
    script = Scripted(step_levels(N, {6: 1.25}), overrides={(5, 6): "undecided"})
    result = _run(script)
    assert result.outcome == "could_not_judge" and result.culprit is None
    assert result.narrowest is not None and result.narrowest.commits == 1
    assert index_of(result.narrowest.bad) == 6


def test_a_failed_step_stops_the_search_with_exit_2() -> None:
    script = Scripted(step_levels(N, {6: 1.25}), fail_on=(0, 6))
    result = _run(script)
    assert result.outcome == "could_not_judge" and result.exit_code == 2
    assert "the head worker stopped" in result.reasons[-1]
    assert result.narrowest is not None and index_of(result.narrowest.good) == 4


def test_a_gradual_change_spread_too_thin_for_any_part_cannot_be_judged() -> None:
    """Eight +1.5% commits: +12.6% in all; pairs of commits add 3%, no single one does."""
    script = Scripted(step_levels(N, dict.fromkeys(range(1, N + 1), 1.015)))
    result = _run(script)
    assert result.gradual and result.parts == ()
    assert result.outcome == "could_not_judge" and result.exit_code == 2
    spans = [(index_of(s.good), index_of(s.bad)) for s in result.unresolved]
    assert sorted(spans) == [(0, 2), (2, 4), (4, 6), (6, 8)]


def test_the_record_round_trips_through_json(tmp_path) -> None:
    from virnucpro.bench.bisect.schema import read_result, write_result

    result = _run(Scripted(step_levels(N, {6: 1.25})))
    assert read_result(write_result(result, tmp_path / "bisect.json")) == result
