"""The record of a bisection: the commits searched, every A/B step, and what was found.

Torch-free and free of processes: the search (:mod:`virnucpro.bench.bisect.search`) builds it,
the renderers (``tools/bench/culprit/bisect.py``) and the poster read it. One JSON document per
bisection, versioned like the other documents (``kind`` + ``schema_version``).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator

from virnucpro.bench.ab.profile import ProfileRecord
from virnucpro.bench.records import Envelope, Record, read_json_file

BISECT_KIND = "virnucpro-bisect"
BISECT_SCHEMA_VERSION = 1
BISECT_ENVELOPE = Envelope(
    BISECT_KIND, "schema_version", (BISECT_SCHEMA_VERSION,), "bisection record"
)
FULL_SHA = re.compile(r"^[0-9a-f]{40}([0-9a-f]{24})?$")

# slower: the head's total time is slower than the base's beyond the threshold (the A/B gate's
# REGRESSION); same: it is not (PASS, WARN, IMPROVED); undecided: the gate could not tell
# (INCONCLUSIVE after its more-pairs loop, or INVALID on a busy host).
StepVerdict = Literal["slower", "same", "undecided"]
# range: GOOD against BAD; search: GOOD against a commit in between; confirm: a candidate
# against its parent on fresh workers; part: a segment of the range, when the slowdown is gradual.
StepRole = Literal["range", "search", "confirm", "part"]
BisectOutcome = Literal["culprit", "gradual", "no_slowdown", "budget_spent", "could_not_judge"]
EXIT_FOR_BISECT: dict[str, int] = {
    "culprit": 1,
    "gradual": 1,
    "no_slowdown": 0,
    "budget_spent": 2,
    "could_not_judge": 2,
}


class Commit(Record):
    """One commit of the range: its full sha and subject line."""

    sha: str
    subject: str

    @field_validator("sha")
    @classmethod
    def _full_sha(cls, sha: str) -> str:
        if not FULL_SHA.match(sha):
            raise ValueError(f"{sha!r} is not a full hexadecimal sha")
        return sha

    @property
    def short(self) -> str:
        return self.sha[:12]


class StepMetric(Record):
    """One metric of a step as the paired judge saw it: change (worse positive) and interval."""

    name: str
    unit: str
    status: str  # the judge's status: pass, fail, warn, improved, inconclusive, ...
    change: float | None = None
    low: float | None = None
    high: float | None = None
    base_median: float | None = None
    head_median: float | None = None


class Step(Record):
    """One paired A/B of two commits of the range."""

    index: int
    role: StepRole
    base: str  # full sha
    head: str
    verdict: StepVerdict
    outcome: str  # the A/B gate's outcome word (regression, pass, warn, inconclusive, invalid)
    change: float | None = None  # total time, paired median, worse positive
    low: float | None = None  # its 95% interval
    high: float | None = None
    pairs: int
    seconds: float  # wall seconds of the whole step (workers, warm-up, pairs, profile)
    fresh_workers: bool
    reasons: tuple[str, ...] = ()
    metrics: tuple[StepMetric, ...] = ()
    pairs_file: str | None = None
    profile_file: str | None = None

    @property
    def summary(self) -> str:
        """The gate's outcome and the total time's change (an INVALID run: the host's reason)."""
        if self.outcome == "invalid" and self.reasons:
            return f"invalid: {self.reasons[0]}"
        return f"{self.outcome}, {self.total_text}"

    @property
    def total_text(self) -> str:
        if self.change is None:
            return "no estimate"
        if self.low is None or self.high is None:
            return f"{self.change:+.1%} (no interval)"
        return f"{self.change:+.1%} [{self.low:+.1%}, {self.high:+.1%}]"


class Span(Record):
    """A stretch of the range, ``(good, bad]``: the commits after ``good`` up to ``bad``."""

    good: str
    bad: str
    commits: int  # how many commits it holds


class BisectResult(Record):
    """What a bisection found, and every step it took to find it."""

    kind: Literal["virnucpro-bisect"] = BISECT_KIND
    schema_version: int = BISECT_SCHEMA_VERSION
    created_at: str
    command: str
    good: Commit
    bad: Commit
    commits: tuple[Commit, ...]  # the first-parent path after GOOD up to BAD, oldest first
    outcome: BisectOutcome
    exit_code: int
    culprit: Commit | None = None
    culprit_step: int | None = None  # the step that confirmed it
    gradual: bool = False  # no single commit explains most of the GOOD->BAD change
    parts: tuple[Commit, ...] = ()  # commits that each add a part of the change
    unresolved: tuple[Span, ...] = ()  # a part lies in each; the budget or the noise stopped it
    adding_steps: tuple[int, ...] = ()  # steps whose stretch was shown to add a part
    narrowest: Span | None = None  # the smallest stretch known to hold the first slow commit
    uncertain: tuple[int, ...] = ()  # steps that stayed undecided
    threshold: float  # the gate's total-time threshold the steps were judged at
    budget_s: float
    seconds: float
    profiled: bool = False
    culprit_profile: ProfileRecord | None = None  # --profile: the culprit's confirmation step
    steps: tuple[Step, ...] = ()
    reasons: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    report_url: str | None = Field(default=None, description="where the rendered report lives")

    def commit(self, sha: str) -> Commit | None:
        return next((c for c in (self.good, *self.commits) if c.sha == sha), None)

    def step(self, index: int | None) -> Step | None:
        return None if index is None else next((s for s in self.steps if s.index == index), None)


def write_result(result: BisectResult, path: Path) -> Path:
    """The bisection record, atomically, as JSON."""
    from virnucpro.atomic import atomic_write_text

    atomic_write_text(path, json.dumps(result.model_dump(mode="json"), indent=2) + "\n")
    return path


def read_result(path: Path) -> BisectResult:
    return BISECT_ENVELOPE.parse(BisectResult, read_json_file(path), source=str(path))
