"""The bisection's report: headline per outcome, the culprit's step and what moved, snapshots."""

from __future__ import annotations

from tests.bench.bisect.scripted import scripted_result
from tests.tools.bench.make_fixtures import assert_snapshot
from tools.bench.culprit.bisect import headline, render_bisect, summary_lines
from virnucpro.bench.bisect.schema import BisectResult, StepMetric

N = 8
MOVED = (
    StepMetric(
        name="end_to_end.total_time",
        unit="s",
        status="fail",
        change=0.25,
        low=0.2,
        high=0.3,
        base_median=0.5,
        head_median=0.625,
    ),
    StepMetric(
        name="stage.dnabert.time",
        unit="s",
        status="warn",
        change=0.36,
        low=0.3,
        high=0.41,
        base_median=0.17,
        head_median=0.23,
    ),
    StepMetric(
        name="throughput.dnabert.tokens_per_s",
        unit="tokens/s",
        status="warn",
        change=0.26,
        low=0.22,
        high=0.3,
        base_median=60_000.0,
        head_median=44_100.0,
    ),
    StepMetric(name="stage.read.time", unit="s", status="pass", change=0.01),
)


def _result(steps: dict[int, float], budget_s: float = 900.0, **script) -> BisectResult:
    return scripted_result(steps, N, budget_s, **script)


def _with_moved(result: BisectResult) -> BisectResult:
    steps = tuple(
        s.model_copy(update={"metrics": MOVED}) if s.index == result.culprit_step else s
        for s in result.steps
    )
    return result.model_copy(update={"steps": steps})


def test_the_headline_names_the_culprit_by_its_full_sha() -> None:
    result = _result({6: 1.25})
    assert headline(result) == f"CULPRIT: {'06' * 20} commit 6"


def test_the_headlines_of_the_other_outcomes() -> None:
    assert headline(_result({})) == "NO SLOWDOWN: no slowdown in this range"
    assert headline(_result({3: 1.07, 6: 1.07})) == "GRADUAL: 2 commit(s) each add a part"
    spent = headline(_result({6: 1.25}, budget_s=100.0))
    assert spent == f"BUDGET SPENT: the first slower commit is after {'04' * 6}, up to {'06' * 6}"


def test_the_console_lines_give_the_culprits_own_step_and_what_moved() -> None:
    lines = summary_lines(_with_moved(_result({6: 1.25})))
    assert lines[0].startswith(f"Culprit: {'06' * 20} commit 6")
    assert "against its parent on fresh workers: total time +25.0% [+23.0%, +27.0%]" in lines[1]
    assert "moved: stage.dnabert.time +36.0% [+30.0%, +41.0%] WARN" in lines
    assert not any("stage.read.time" in line for line in lines)


def test_a_range_measured_again_after_a_busy_host_reports_the_last_measurement() -> None:
    result = _result({6: 1.25}, busy={(0, 8): 1})
    lines = summary_lines(result)
    whole = next(line for line in lines if line.startswith("GOOD "))
    assert whole.endswith("total time +25.0% [+23.0%, +27.0%], 20 pairs.")
    assert result.steps[0].outcome == "invalid" and 0 not in result.uncertain


def test_an_undecided_step_is_named_in_the_report() -> None:
    result = _result({6: 1.25}, overrides={(0, 4): "undecided"})
    markdown = render_bisect(result)
    assert "stayed undecided" in markdown and "earlier commits searched first" in markdown


def test_the_culprit_report_snapshot() -> None:
    assert_snapshot("bisect_culprit.md", render_bisect(_with_moved(_result({6: 1.25}))))


def test_the_gradual_report_snapshot() -> None:
    assert_snapshot("bisect_gradual.md", render_bisect(_result({3: 1.07, 6: 1.07})))
