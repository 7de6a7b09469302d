"""A scripted step comparison for the bisection's search: verdicts from per-commit speed levels.

Commit ``i`` of a range runs at ``levels[i]`` (GOOD is index 0 at 1.0); a step's change is the
ratio of its two levels, its interval ``WIDTH`` either side, and its verdict the A/B gate's rule
at the threshold: slower when the change is beyond it and the interval excludes no change, same
when the whole interval is under it, else undecided. ``overrides`` force a verdict on a step
(``(base, head)`` indices). A fake clock advances by ``step_seconds`` per step.

The commits are made up (:func:`commit_range`: readable shas for the report snapshots) or a
real git history built in a temporary folder (:func:`git_history`).
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from tests.bench.fakes import FakeClock
from virnucpro.bench.bisect.commits import CommitRange, resolve_range
from virnucpro.bench.bisect.schema import BisectResult, Commit, Step, StepVerdict
from virnucpro.bench.bisect.search import SearchSettings, StepRequest, bisect

WIDTH = 0.02
THRESHOLD = 0.10


def commit_range(n: int) -> CommitRange:
    """GOOD and ``n`` commits after it, with made-up shas (index ``i`` is ``f"{i:02x}" * 20``)."""
    commits = [Commit(sha=f"{i:02x}" * 20, subject=f"commit {i}") for i in range(n + 1)]
    return CommitRange(good=commits[0], path=tuple(commits[1:]))


def index_of(sha: str) -> int:
    """The index of a made-up sha of :func:`commit_range`."""
    return int(sha[:2], 16)


def git_history(root: Path, n: int) -> CommitRange:
    """A new repository at ``root``: GOOD (tag ``good``) and ``n`` commits after it."""
    identity = ("-c", "user.name=test", "-c", "user.email=test@localhost")

    def git(*args: str) -> None:
        subprocess.run(["git", "-C", str(root), *identity, *args], check=True, capture_output=True)

    root.mkdir(parents=True)
    git("init", "--quiet", "--initial-branch", "main")
    for i in range(n + 1):
        (root / "notes.txt").write_text(f"{i}\n", encoding="utf-8")
        git("add", "-A")
        git("commit", "--quiet", "-m", f"commit {i}")
        if i == 0:
            git("tag", "good")
    return resolve_range(root, "good..main")


@dataclass
class Scripted:
    levels: list[float]
    overrides: dict[tuple[int, int], StepVerdict] = field(default_factory=dict)
    # verdicts of a step's successive runs (a confirmation repeated on fresh workers)
    sequences: dict[tuple[int, int], list[StepVerdict]] = field(default_factory=dict)
    busy: dict[tuple[int, int], int] = field(default_factory=dict)  # INVALID answers left
    step_seconds: float = 30.0
    clock: FakeClock = field(default_factory=FakeClock)
    requests: list[StepRequest] = field(default_factory=list)
    fail_on: tuple[int, int] | None = None
    commits: CommitRange | None = None  # default: commit_range(len(levels) - 1)

    def __post_init__(self) -> None:
        if self.commits is None:
            self.commits = commit_range(len(self.levels) - 1)
        self._index = {c.sha: i for i, c in enumerate(self.commits.all)}

    def index(self, sha: str) -> int:
        """The position of ``sha`` in the range: GOOD is 0."""
        return self._index[sha]

    def verdict(self, change: float, key: tuple[int, int]) -> StepVerdict:
        if self.sequences.get(key):
            return self.sequences[key].pop(0)
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
        base, head = self.index(request.base.sha), self.index(request.head.sha)
        if self.fail_on == (base, head):
            raise RunFailure(f"the head worker stopped (exit 1) for commit {head}")
        self.clock.now += self.step_seconds
        change = self.levels[head] / self.levels[base] - 1.0
        verdict = self.verdict(change, (base, head))
        outcome = {"slower": "regression", "same": "pass", "undecided": "inconclusive"}[verdict]
        if self.busy.get((base, head)):
            self.busy[(base, head)] -= 1
            verdict, outcome = "undecided", "invalid"
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
        return [(r.role, self.index(r.base.sha), self.index(r.head.sha)) for r in self.requests]


def step_levels(n: int, steps: dict[int, float]) -> list[float]:
    """Speed levels of GOOD and ``n`` commits; commit ``i`` in ``steps`` scales by its factor."""
    levels, level = [], 1.0
    for i in range(n + 1):
        level *= steps.get(i, 1.0)
        levels.append(level)
    return levels


def run_scripted(script: Scripted, budget_s: float = 900.0) -> BisectResult:
    """The search over the script's commits, each step answered by ``script``."""
    assert script.commits is not None
    return bisect(
        script.commits,
        script,
        settings=SearchSettings(threshold=THRESHOLD, budget_s=budget_s),
        command="virnucpro benchmark --quick --bisect good..main",
        created_at="2026-12-03T10:00:00+00:00",
        clock=script.clock,
    )


def scripted_result(steps: dict[int, float], n: int = 8, budget_s: float = 900.0, **script):
    """The search's record over a history whose commits in ``steps`` change the speed."""
    return run_scripted(Scripted(step_levels(n, steps), **script), budget_s)
