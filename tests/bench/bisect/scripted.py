"""A scripted step comparison for the bisection's search: verdicts from per-commit speed levels.

Commit ``i`` of a range runs at ``levels[i]`` (GOOD is index 0 at 1.0); a step's change is the
ratio of its two levels, its interval ``WIDTH`` either side, and its verdict the A/B gate's rule
at the threshold: slower when the change is beyond it and the interval excludes no change, same
when the whole interval is under it, else undecided. ``overrides`` force a verdict on a step
(``(base, head)`` indices). A fake clock advances by ``step_seconds`` per step.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from virnucpro.bench.bisect.commits import CommitRange
from virnucpro.bench.bisect.schema import BisectResult, Commit, Step, StepVerdict
from virnucpro.bench.bisect.search import SearchSettings, StepRequest, bisect

WIDTH = 0.02
THRESHOLD = 0.10


def commit_range(n: int) -> CommitRange:
    """GOOD and ``n`` commits after it, with made-up shas (index ``i`` is ``f"{i:02x}" * 20``)."""
    commits = [Commit(sha=f"{i:02x}" * 20, subject=f"commit {i}") for i in range(n + 1)]
    return CommitRange(good=commits[0], path=tuple(commits[1:]))


def index_of(sha: str) -> int:
    return int(sha[:2], 16)


@dataclass
class FakeClock:
    now: float = 0.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Scripted:
    levels: list[float]
    overrides: dict[tuple[int, int], StepVerdict] = field(default_factory=dict)
    step_seconds: float = 30.0
    clock: FakeClock = field(default_factory=FakeClock)
    requests: list[StepRequest] = field(default_factory=list)
    fail_on: tuple[int, int] | None = None

    def verdict(self, change: float, key: tuple[int, int]) -> StepVerdict:
        if key in self.overrides:
            return self.overrides[key]
        if change > THRESHOLD and change - WIDTH > 0:
            return "slower"
        if change + WIDTH < THRESHOLD:
            return "same"
        return "undecided"

    def __call__(self, request: StepRequest) -> Step:
        from virnucpro.errors import RunFailure

        self.requests.append(request)
        base, head = index_of(request.base.sha), index_of(request.head.sha)
        if self.fail_on == (base, head):
            raise RunFailure(f"the head worker stopped (exit 1) for commit {head}")
        self.clock.now += self.step_seconds
        change = self.levels[head] / self.levels[base] - 1.0
        verdict = self.verdict(change, (base, head))
        outcome = {"slower": "regression", "same": "pass", "undecided": "inconclusive"}[verdict]
        return Step(
            index=request.index,
            role=request.role,
            base=request.base.sha,
            head=request.head.sha,
            verdict=verdict,
            outcome=outcome,
            change=change,
            low=change - WIDTH,
            high=change + WIDTH,
            pairs=20,
            seconds=self.step_seconds,
            fresh_workers=request.fresh,
        )

    def pairs(self) -> list[tuple[str, int, int]]:
        """(role, base, head) of every step requested, in order."""
        return [(r.role, index_of(r.base.sha), index_of(r.head.sha)) for r in self.requests]


def step_levels(n: int, steps: dict[int, float]) -> list[float]:
    """Speed levels of GOOD and ``n`` commits; commit ``i`` in ``steps`` scales by its factor."""
    levels, level = [], 1.0
    for i in range(n + 1):
        level *= steps.get(i, 1.0)
        levels.append(level)
    return levels


def run_scripted(script: Scripted, n: int = 8, budget_s: float = 900.0) -> BisectResult:
    """The search over GOOD and ``n`` commits, each step answered by ``script``."""
    return bisect(
        commit_range(n),
        script,
        settings=SearchSettings(threshold=THRESHOLD, budget_s=budget_s),
        command="virnucpro benchmark --quick --bisect good..main",
        created_at="2026-12-03T10:00:00+00:00",
        clock=script.clock,
    )


def scripted_result(steps: dict[int, float], n: int = 8, budget_s: float = 900.0, **script):
    """The search's record over a history whose commits in ``steps`` change the speed."""
    return run_scripted(Scripted(step_levels(n, steps), **script), n, budget_s)
