"""The search over commits: which commit on the path from GOOD to BAD made the total time slower.

Every step is one paired A/B of two commits, measured and judged by the injected ``compare``
function (the command wires the A/B gate's workers and judge; the tests script the verdicts).
A step reads slower, same or undecided (:data:`~virnucpro.bench.bisect.schema.StepVerdict`).

1. **The range.** GOOD against BAD. Not slower: "no slowdown in this range" (exit 0); undecided:
   could not judge (exit 2).
2. **The search.** Commits in between are compared with GOOD, halving the stretch that holds the
   first commit slower than GOOD. An undecided step counts as slower while searching: the
   earlier half is searched first, so no commit that might be the culprit is skipped; if that
   half yields no confirmed culprit the search comes back for the later half.
3. **Confirm before naming.** The candidate against its parent, on fresh workers, must be slower
   on its own; a candidate that was only undecided against GOOD has nothing else for it, so its
   step is repeated on fresh workers and both must read slower. A candidate undecided against
   GOOD and not shown slower than its parent is set aside (its steps are listed as uncertain)
   and the search goes on after it.
   If it was slower than GOOD but is not slower than its parent, no single commit crosses the
   threshold: the change is **gradual**; if its own step stays undecided, nobody is named
   (could not judge, with that one commit as the narrowest stretch).
4. **Gradual.** When the confirmed step explains less than :data:`GRADUAL_SHARE` of the GOOD to
   BAD change (on the log scale), or no single step crosses the threshold, the commits that each
   add a part are listed as far as the budget allows: a stretch whose own step is slower by at
   least :data:`PART_MIN_CHANGE` with its interval above no change is halved until single
   commits remain; a stretch neither half of which shows its part is kept as unresolved.

A step the host gate calls INVALID (other processes kept the host busy) is measured again, up
to :data:`INVALID_RETRIES` times, before it counts as undecided. The budget covers the whole
search: a step starts only while the time left is at least the
median time of the steps so far, and gets the time left as its own limit. When it runs out the
result is ``budget_spent`` (exit 2) with the narrowest stretch found.
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from virnucpro.bench.bisect.commits import CommitRange
from virnucpro.bench.bisect.schema import (
    EXIT_FOR_BISECT,
    BisectOutcome,
    BisectResult,
    Commit,
    Span,
    Step,
    StepRole,
)
from virnucpro.errors import VirnucproError

GRADUAL_SHARE = 0.5  # a culprit explaining less than this share of GOOD->BAD: gradual
PART_MIN_CHANGE = 0.03  # a part adds at least this much (two processes differ by a few %)
DEFAULT_BUDGET_S = 15 * 60.0  # the quick tier's default --time-budget for a whole bisection
JUDGED_ROLES = ("range", "search", "confirm")  # steps judged at the threshold
INVALID = "invalid"  # the A/B gate's outcome for a step measured on a busy host
INVALID_RETRIES = 2  # a step measured on a busy host is measured again, at most this often


@dataclass(frozen=True)
class StepRequest:
    """One A/B step to measure: ``base`` against ``head``."""

    index: int
    role: StepRole
    base: Commit
    head: Commit
    fresh: bool  # start new workers for both commits (the confirmation)
    seconds_left: float  # of the whole search's budget


Compare = Callable[[StepRequest], Step]


@dataclass(frozen=True)
class SearchSettings:
    threshold: float  # the gate's total-time threshold, recorded with the result
    budget_s: float = DEFAULT_BUDGET_S
    gradual_share: float = GRADUAL_SHARE
    part_min_change: float = PART_MIN_CHANGE
    invalid_retries: int = INVALID_RETRIES


class _BudgetSpent(Exception):
    pass


@dataclass
class _Found:
    outcome: BisectOutcome
    reasons: list[str] = field(default_factory=list)
    culprit: int | None = None
    culprit_step: int | None = None
    gradual: bool = False


def _log_share(part: float | None, whole: float | None) -> float | None:
    if part is None or whole is None or whole <= 0 or part <= -1:
        return None
    return math.log1p(part) / math.log1p(whole)


class _Search:
    def __init__(self, commits: CommitRange, compare: Compare, settings: SearchSettings, clock):
        self.all = commits.all
        self.n = len(self.all) - 1
        self.compare = compare
        self.settings = settings
        self.clock = clock
        self.start = clock()
        self.steps: list[Step] = []
        self.vs_good: dict[int, Step] = {}
        self.cleared: set[int] = set()
        self.cache: dict[tuple[str, str], Step] = {}
        self.parts: list[int] = []
        self.unresolved: list[tuple[int, int]] = []
        self.adding: set[int] = set()  # steps whose stretch was shown to add a part
        self.notes: list[str] = []  # what the search set aside, and why
        self.superseded: set[int] = set()  # INVALID steps measured again

    # -- steps

    def seconds_left(self) -> float:
        return self.settings.budget_s - (self.clock() - self.start)

    def run(self, role: StepRole, base: int, head: int, *, fresh: bool = False) -> Step:
        key = (self.all[base].sha, self.all[head].sha)
        if not fresh and key in self.cache:
            return self.cache[key]
        step = self.measure(role, base, head, fresh=fresh)
        for _ in range(self.settings.invalid_retries):
            if step.outcome != INVALID:
                break
            self.notes.append(f"step {step.index} ran on a busy host (INVALID): measured again")
            self.superseded.add(step.index)
            step = self.measure(role, base, head, fresh=fresh)
        self.cache[key] = step
        return step

    def measure(self, role: StepRole, base: int, head: int, *, fresh: bool) -> Step:
        left = self.seconds_left()
        typical = statistics.median(s.seconds for s in self.steps) if self.steps else 0.0
        if left <= 0 or left < typical:
            raise _BudgetSpent
        request = StepRequest(
            index=len(self.steps),
            role=role,
            base=self.all[base],
            head=self.all[head],
            fresh=fresh,
            seconds_left=left,
        )
        step = self.compare(request)
        self.steps.append(step)
        return step

    # -- what is known against GOOD

    def status(self, i: int) -> str:
        if i == 0 or i in self.cleared:
            return "same"
        return self.vs_good[i].verdict

    def first_not_same(self) -> int:
        return min(i for i in self.vs_good if self.status(i) != "same")

    def last_same_before(self, hi: int) -> int:
        return max(i for i in (0, *self.vs_good) if i < hi and self.status(i) == "same")

    def narrowest(self) -> Span | None:
        slower = [i for i in self.vs_good if self.status(i) == "slower"]
        if not slower:
            return None
        hi = min(slower)
        return self.span(self.last_same_before(hi), hi)

    def span(self, lo: int, hi: int) -> Span:
        return Span(good=self.all[lo].sha, bad=self.all[hi].sha, commits=hi - lo)

    # -- the phases

    def range_step(self) -> _Found | None:
        step = self.run("range", 0, self.n, fresh=True)
        self.vs_good[self.n] = step
        if step.verdict == "same":
            return _Found(
                "no_slowdown", [f"no slowdown in this range: GOOD to BAD {step.total_text}"]
            )
        if step.verdict == "undecided":
            return _Found(
                "could_not_judge",
                [f"GOOD to BAD stayed undecided ({step.summary})"],
            )
        return None

    def narrow(self) -> tuple[int, int]:
        """The stretch ``(lo, hi]`` of one commit that first differs from GOOD."""
        while True:
            hi = self.first_not_same()
            lo = self.last_same_before(hi)
            if hi - lo == 1:
                return lo, hi
            mid = (lo + hi) // 2
            self.vs_good[mid] = self.run("search", 0, mid)

    def find(self) -> _Found:
        while True:
            lo, hi = self.narrow()
            step = self.run("confirm", lo, hi, fresh=True)
            if step.verdict == "slower" and self.status(hi) != "slower":
                step = self.replicate(lo, hi, step)
            if step.verdict == "slower":
                return self.named(hi, step)
            if self.status(hi) == "undecided":
                self.cleared.add(hi)  # not shown slower on its own: search after it
                continue
            candidate = self.all[hi].short
            if step.verdict == "same":
                return _Found(
                    "gradual",
                    [
                        f"no single commit crosses the threshold: {candidate} is slower than GOOD "
                        f"but not than its parent ({step.total_text})"
                    ],
                    gradual=True,
                )
            return _Found(
                "could_not_judge",
                [f"candidate {candidate} against its parent stayed undecided ({step.summary})"],
            )

    def replicate(self, lo: int, hi: int, first: Step) -> Step:
        """A candidate not shown slower than GOOD has only its own step for it: that step is
        repeated on fresh workers, and it is named only when both read slower."""
        again = self.run("confirm", lo, hi, fresh=True)
        if again.verdict != "slower":
            self.notes.append(
                f"{self.all[hi].short} read slower than its parent once ({first.total_text}) "
                f"but not again on fresh workers ({again.summary}): set aside"
            )
        return again

    def named(self, k: int, step: Step) -> _Found:
        whole = self.vs_good[self.n]
        share = _log_share(step.change, whole.change)
        found = _Found("culprit", culprit=k, culprit_step=step.index)
        found.reasons.append(
            f"{self.all[k].sha} is slower than its parent on its own: {step.total_text}"
        )
        if share is not None and share < self.settings.gradual_share:
            found.gradual = True
            found.reasons.append(
                f"it explains {share:.0%} of GOOD to BAD ({whole.total_text}): the rest is "
                "spread over other commits"
            )
        return found

    def adds(self, step: Step) -> bool:
        low, change = step.low, step.change
        if low is None or change is None:
            return False
        if low > 0 and change >= self.settings.part_min_change:
            self.adding.add(step.index)
            return True
        return False

    def find_parts(self) -> None:
        """Halve the stretches that add a part until single commits remain (breadth first)."""
        queue = [(0, self.n)]
        try:
            while queue:
                a, b = queue.pop(0)
                if b - a == 1:
                    self.parts.append(b)
                    continue
                mid = (a + b) // 2
                halves = [
                    (x, y) for x, y in ((a, mid), (mid, b)) if self.adds(self.run("part", x, y))
                ]
                if not halves:
                    self.unresolved.append((a, b))
                queue.extend(halves)
        except _BudgetSpent:
            self.unresolved.extend(queue)
            raise


def _uncertain(steps: list[Step], superseded: set[int]) -> tuple[int, ...]:
    judged = (s for s in steps if s.role in JUDGED_ROLES and s.index not in superseded)
    return tuple(s.index for s in judged if s.verdict == "undecided")


def bisect(
    commits: CommitRange,
    compare: Compare,
    *,
    settings: SearchSettings,
    command: str,
    created_at: str,
    clock: Callable[[], float] = time.monotonic,
) -> BisectResult:
    """Search ``commits`` with ``compare`` (see the module docstring) and record what it found."""
    search = _Search(commits, compare, settings, clock)
    found = _Found("could_not_judge")
    try:
        found = search.range_step() or search.find()
        if found.gradual:
            search.find_parts()
    except _BudgetSpent:
        found = _budget_spent(search, found)
    except VirnucproError as exc:
        found = _Found("could_not_judge", [*found.reasons, f"a step failed: {exc}"])
    return _result(search, found, commits, command=command, created_at=created_at)


def _budget_spent(search: _Search, found: _Found) -> _Found:
    spent = f"the time budget ({search.settings.budget_s:.0f} s) ran out"
    if found.outcome == "culprit" or (found.outcome == "gradual" and search.parts):
        found.reasons.append(f"{spent} while listing the parts of a gradual change")
        return found
    reasons = [*found.reasons, spent]
    narrowest = search.narrowest()
    if narrowest is not None:
        reasons.append(
            f"the first slower commit lies after {narrowest.good[:12]} up to "
            f"{narrowest.bad[:12]} ({narrowest.commits} commits)"
        )
    return _Found("budget_spent", reasons, gradual=found.gradual)


def _result(
    search: _Search, found: _Found, commits: CommitRange, *, command: str, created_at: str
) -> BisectResult:
    outcome = found.outcome
    if outcome == "gradual" and not search.parts:
        outcome = "could_not_judge"
        found.reasons.append("no commit could be shown to add a part on its own")
    every = search.all
    return BisectResult(
        created_at=created_at,
        command=command,
        good=commits.good,
        bad=commits.bad,
        commits=commits.path,
        outcome=outcome,
        exit_code=EXIT_FOR_BISECT[outcome],
        culprit=None if found.culprit is None else every[found.culprit],
        culprit_step=found.culprit_step,
        gradual=found.gradual,
        parts=tuple(every[i] for i in sorted(set(search.parts))),
        adding_steps=tuple(sorted(search.adding)),
        unresolved=tuple(search.span(a, b) for a, b in search.unresolved),
        narrowest=search.narrowest(),
        uncertain=_uncertain(search.steps, search.superseded),
        threshold=search.settings.threshold,
        budget_s=search.settings.budget_s,
        seconds=search.clock() - search.start,
        steps=tuple(search.steps),
        reasons=(*found.reasons, *search.notes),
    )
