"""The bisection's search over a small git history built in a temporary folder, driven by
scripted verdicts: one step, no step, two steps (gradual), an undecided middle, a budget that
runs out, and steps that cannot be judged."""

from __future__ import annotations

import pytest

from tests.bench.bisect.scripted import Scripted, git_history, run_scripted, step_levels
from virnucpro.bench.bisect.commits import CommitRange

N = 8  # commits after GOOD, as in the done-when


@pytest.fixture(scope="module")
def history(tmp_path_factory) -> CommitRange:
    """GOOD and eight commits after it, in a real repository."""
    return git_history(tmp_path_factory.mktemp("bisect") / "repo", N)


def _run(script: Scripted, budget_s: float = 900.0):
    return run_scripted(script, budget_s)


def history_index(history: CommitRange, sha: str) -> int:
    return [c.sha for c in history.all].index(sha)


def test_one_step_is_named_after_it_is_confirmed_against_its_parent_on_fresh_workers(
    history: CommitRange,
) -> None:
    script = Scripted(step_levels(N, {6: 1.25}), commits=history)
    result = _run(script)
    assert result.outcome == "culprit" and result.exit_code == 1
    assert result.culprit is not None and history_index(history, result.culprit.sha) == 6
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


def test_a_step_in_the_first_commit_is_confirmed_against_good(history: CommitRange) -> None:
    script = Scripted(step_levels(N, {1: 1.25}), commits=history)
    result = _run(script)
    assert result.culprit is not None and history_index(history, result.culprit.sha) == 1
    assert script.pairs()[-1] == ("confirm", 0, 1)


def test_a_range_without_a_slowdown_names_no_commit_and_exits_0(history: CommitRange) -> None:
    script = Scripted(step_levels(N, {}), commits=history)
    result = _run(script)
    assert result.outcome == "no_slowdown" and result.exit_code == 0
    assert result.culprit is None and result.narrowest is None
    assert script.pairs() == [("range", 0, 8)]
    assert "no slowdown in this range" in result.reasons[0]


def test_two_small_steps_are_gradual_and_both_commits_are_listed(history: CommitRange) -> None:
    """+7% at commit 3 and at commit 6: each under the 10% threshold, together +14.5%."""
    script = Scripted(step_levels(N, {3: 1.07, 6: 1.07}), commits=history)
    result = _run(script)
    assert result.outcome == "gradual" and result.exit_code == 1
    assert result.culprit is None and result.gradual
    assert [history_index(history, c.sha) for c in result.parts] == [3, 6]
    assert "no single commit crosses the threshold" in result.reasons[0]
    assert {s.role for s in result.steps} == {"range", "search", "confirm", "part"}


def test_a_culprit_explaining_under_half_of_the_change_is_named_and_the_other_part_listed(
    history: CommitRange,
) -> None:
    script = Scripted(step_levels(N, {2: 1.12, 6: 1.20}), commits=history)  # 2: 39% of +34%
    result = _run(script)
    assert result.outcome == "culprit" and result.exit_code == 1
    assert result.culprit is not None and history_index(history, result.culprit.sha) == 2
    assert result.gradual
    assert [history_index(history, c.sha) for c in result.parts] == [2, 6]
    # the search's steps against GOOD and the confirmation are reused, not measured again
    measured = [(b, h) for _, b, h in script.pairs()]
    assert len(measured) == len(set(measured))


def test_an_undecided_middle_searches_the_earlier_half_first_and_says_which_step(
    history: CommitRange,
) -> None:
    script = Scripted(step_levels(N, {6: 1.25}), commits=history, overrides={(0, 4): "undecided"})
    result = _run(script)
    assert result.outcome == "culprit"
    assert result.culprit is not None and history_index(history, result.culprit.sha) == 6
    undecided = next(
        s
        for s in result.steps
        if (history_index(history, s.base), history_index(history, s.head)) == (0, 4)
    )
    assert result.uncertain == (undecided.index,)
    pairs = script.pairs()
    # the earlier half was searched first, commit 4 confirmed not slower on its own, then 5..8
    assert pairs.index(("confirm", 3, 4)) < pairs.index(("search", 0, 6))
    assert pairs[-1] == ("confirm", 5, 6)


def test_an_undecided_middle_that_is_the_culprit_is_confirmed_twice(
    history: CommitRange,
) -> None:
    script = Scripted(step_levels(N, {4: 1.25}), commits=history, overrides={(0, 4): "undecided"})
    result = _run(script)
    assert result.culprit is not None and history_index(history, result.culprit.sha) == 4
    confirms = [r for r in script.requests if r.role == "confirm"]
    assert len(confirms) == 2 and all(r.fresh for r in confirms)
    assert result.culprit_step == result.steps[-1].index  # the second confirmation


def test_a_candidate_that_reads_slower_once_but_not_again_is_set_aside(
    history: CommitRange,
) -> None:
    """A false alarm on a docs-only commit, not shown slower than GOOD: not named."""
    script = Scripted(
        step_levels(N, {6: 1.25}),
        commits=history,
        overrides={(0, 4): "undecided"},
        sequences={(3, 4): ["slower", "same"]},
    )
    result = _run(script)
    assert result.culprit is not None and history_index(history, result.culprit.sha) == 6
    assert any("read slower than its parent once" in r for r in result.reasons)
    assert ("confirm", 3, 4) in script.pairs() and script.pairs()[-1] == ("confirm", 5, 6)


def test_a_candidate_slower_than_good_is_named_on_one_confirmation(history: CommitRange) -> None:
    script = Scripted(step_levels(N, {6: 1.25}), commits=history)
    _run(script)
    assert [p for p in script.pairs() if p[0] == "confirm"] == [("confirm", 5, 6)]


def test_a_step_on_a_busy_host_is_measured_again(history: CommitRange) -> None:
    script = Scripted(step_levels(N, {6: 1.25}), commits=history, busy={(5, 6): 1})
    result = _run(script)
    assert result.culprit is not None and history_index(history, result.culprit.sha) == 6
    assert script.pairs()[-2:] == [("confirm", 5, 6), ("confirm", 5, 6)]
    assert any("busy host (INVALID): measured again" in r for r in result.reasons)
    assert result.uncertain == ()  # the busy step was measured again and decided


def test_a_host_that_stays_busy_leaves_the_step_undecided(history: CommitRange) -> None:
    script = Scripted(step_levels(N, {6: 1.25}), commits=history, busy={(0, 8): 3})
    result = _run(script)
    assert result.outcome == "could_not_judge" and script.pairs() == [("range", 0, 8)] * 3


def test_a_budget_that_runs_out_exits_2_with_the_narrowest_stretch_found(
    history: CommitRange,
) -> None:
    script = Scripted(step_levels(N, {6: 1.25}), commits=history, step_seconds=30.0)
    result = _run(script, budget_s=100.0)  # room for the range and two search steps
    assert result.outcome == "budget_spent" and result.exit_code == 2
    assert result.culprit is None
    assert len(result.steps) == 3
    assert result.narrowest is not None
    assert (
        history_index(history, result.narrowest.good),
        history_index(history, result.narrowest.bad),
    ) == (4, 6)
    assert any("time budget" in r for r in result.reasons)


def test_a_step_starts_only_while_the_time_left_covers_a_typical_step(history: CommitRange) -> None:
    script = Scripted(step_levels(N, {6: 1.25}), commits=history, step_seconds=30.0)
    result = _run(script, budget_s=85.0)  # 25 s left after two steps: less than one step takes
    assert len(result.steps) == 2 and result.outcome == "budget_spent"
    assert script.requests[-1].seconds_left == 55.0


def test_an_undecided_range_cannot_be_judged(history: CommitRange) -> None:
    script = Scripted(step_levels(N, {6: 1.09}), commits=history)
    result = _run(script)
    assert result.outcome == "could_not_judge" and result.exit_code == 2
    assert script.pairs() == [("range", 0, 8)]
    assert result.uncertain == (0,)


def test_an_undecided_middle_undecided_on_its_own_is_set_aside_and_the_search_goes_on(
    history: CommitRange,
) -> None:
    overrides = {(0, 4): "undecided", (3, 4): "undecided"}
    script = Scripted(step_levels(N, {6: 1.25}), commits=history, overrides=overrides)
    result = _run(script)
    assert result.culprit is not None and history_index(history, result.culprit.sha) == 6
    uncertain = [s for s in result.steps if s.index in result.uncertain]
    undecided = [
        (history_index(history, s.base), history_index(history, s.head)) for s in uncertain
    ]
    assert undecided == [(0, 4), (3, 4)]


def test_a_candidate_undecided_against_its_parent_is_not_named(history: CommitRange) -> None:
    script = Scripted(step_levels(N, {6: 1.25}), commits=history, overrides={(5, 6): "undecided"})
    result = _run(script)
    assert result.outcome == "could_not_judge" and result.culprit is None
    assert result.narrowest is not None and result.narrowest.commits == 1
    assert history_index(history, result.narrowest.bad) == 6


def test_a_failed_step_stops_the_search_with_exit_2(history: CommitRange) -> None:
    script = Scripted(step_levels(N, {6: 1.25}), commits=history, fail_on=(0, 6))
    result = _run(script)
    assert result.outcome == "could_not_judge" and result.exit_code == 2
    assert "the head worker stopped" in result.reasons[-1]
    assert result.narrowest is not None and history_index(history, result.narrowest.good) == 4


def test_a_gradual_change_spread_too_thin_for_any_part_cannot_be_judged(
    history: CommitRange,
) -> None:
    """Eight +1.5% commits: +12.6% in all; pairs of commits add 3%, no single one does."""
    script = Scripted(step_levels(N, dict.fromkeys(range(1, N + 1), 1.015)), commits=history)
    result = _run(script)
    assert result.gradual and result.parts == ()
    assert result.outcome == "could_not_judge" and result.exit_code == 2
    spans = [
        (history_index(history, s.good), history_index(history, s.bad)) for s in result.unresolved
    ]
    assert sorted(spans) == [(0, 2), (2, 4), (4, 6), (6, 8)]


def test_the_record_round_trips_through_json(history: CommitRange, tmp_path) -> None:
    from virnucpro.bench.bisect.schema import read_result, write_result

    result = _run(Scripted(step_levels(N, {6: 1.25}), commits=history))
    assert read_result(write_result(result, tmp_path / "bisect.json")) == result
