"""The gate's own health, from the history: the nightly A/A canary and the PR verdicts.

- **Canary** (series ``canary``, one file per runner and workload): the commit measured against
  itself every night on the GPU runner, so every FAIL is a false alarm. Over its last
  :data:`CANARY_NIGHTS` runs: the false-alarm rate, the share it could not decide (INCONCLUSIVE,
  INVALID), and per night the per-pair CV of the total time and the minimum detectable slowdown.
  A runner is **flagged** when its canary's per-pair CV doubled: the median of its last
  :data:`RECENT_NIGHTS` nights is at least :data:`CV_FLAG_FACTOR` times the median of the nights
  before them (at least :data:`MIN_EARLIER_NIGHTS` of them).
- **PRs** (series ``pr``): the share of PR verdicts that were INVALID or INCONCLUSIVE (a red CI
  that says nothing about the change) over the last :data:`PR_WINDOW_DAYS` days.

Data only; :mod:`tools.bench.site.gate` renders it.
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from tools.bench.history.runs import RunEntry

CANARY_NIGHTS = 30
RECENT_NIGHTS = 5
MIN_EARLIER_NIGHTS = 5
CV_FLAG_FACTOR = 2.0
PR_WINDOW_DAYS = 30
FALSE_ALARM = "regression"  # an A/A verdict of regression is a false alarm
UNDECIDED = ("inconclusive", "invalid", "could_not_judge")


@dataclass(frozen=True)
class CanaryHealth:
    """One runner's canary over its last nights (oldest first)."""

    key: str
    nights: tuple[RunEntry, ...]
    outcomes: dict[str, int]
    cv_recent: float | None
    cv_before: float | None
    flagged: bool

    @property
    def runner(self) -> str:
        return self.key.split("/")[0]

    @property
    def false_alarm_rate(self) -> float:
        return self.outcomes.get(FALSE_ALARM, 0) / len(self.nights)

    @property
    def undecided_rate(self) -> float:
        return sum(self.outcomes.get(o, 0) for o in UNDECIDED) / len(self.nights)

    def flag_text(self) -> str:
        """Why the runner is flagged, or how its CV compares."""
        if self.cv_recent is None or self.cv_before is None:
            return (
                f"not enough nights to compare its CV (the last {RECENT_NIGHTS} against at "
                f"least {MIN_EARLIER_NIGHTS} before them)"
            )
        ratio = self.cv_recent / self.cv_before if self.cv_before > 0 else float("inf")
        words = (
            f"per-pair CV of the last {RECENT_NIGHTS} nights {self.cv_recent:.1%} against "
            f"{self.cv_before:.1%} before ({ratio:.1f}x)"
        )
        if self.flagged:
            return f"FLAGGED: the canary's noise doubled: {words}"
        return words


@dataclass(frozen=True)
class PrHealth:
    """PR verdicts over a window of days."""

    runs: int
    outcomes: dict[str, int]
    days: int

    def share(self, *outcomes: str) -> float:
        return sum(self.outcomes.get(o, 0) for o in outcomes) / self.runs if self.runs else 0.0


def _moment(entry: RunEntry) -> datetime:
    return datetime.fromisoformat(entry.created_at.replace("Z", "+00:00"))


def _median_cv(entries: Sequence[RunEntry]) -> float | None:
    values = [e.gate.per_pair_cv for e in entries if e.gate and e.gate.per_pair_cv is not None]
    return statistics.median(values) if values else None


def canary_health(key: str, entries: Sequence[RunEntry]) -> CanaryHealth | None:
    """The health of one canary file's runs (None when it has none)."""
    ordered = sorted(entries, key=lambda e: (_moment(e), e.run_id))
    if not ordered:
        return None
    nights = tuple(ordered[-CANARY_NIGHTS:])
    recent, before = ordered[-RECENT_NIGHTS:], ordered[:-RECENT_NIGHTS]
    cv_recent = _median_cv(recent) if len(recent) == RECENT_NIGHTS else None
    cv_before = _median_cv(before) if len(before) >= MIN_EARLIER_NIGHTS else None
    flagged = (
        cv_recent is not None and cv_before is not None and cv_recent >= CV_FLAG_FACTOR * cv_before
    )
    return CanaryHealth(
        key=key,
        nights=nights,
        outcomes=dict(Counter(e.outcome or "not judged" for e in nights)),
        cv_recent=cv_recent,
        cv_before=cv_before,
        flagged=flagged,
    )


def pr_health(entries: Sequence[RunEntry], *, now: datetime) -> PrHealth:
    """The PR verdicts of the last :data:`PR_WINDOW_DAYS` days before ``now``."""
    since = now - timedelta(days=PR_WINDOW_DAYS)
    window = [e for e in entries if _moment(e) >= since]
    return PrHealth(
        runs=len(window),
        outcomes=dict(Counter(e.outcome or "not judged" for e in window)),
        days=PR_WINDOW_DAYS,
    )


def gate_health(
    histories: Mapping[str, Sequence[RunEntry]], *, now: datetime
) -> tuple[list[CanaryHealth], PrHealth]:
    """Every runner's canary health, and the PR verdicts of all runners together."""
    canaries = []
    prs: list[RunEntry] = []
    for key in sorted(histories):
        entries = histories[key]
        canary = [e for e in entries if e.series == "canary"]
        if canary and (health := canary_health(key, canary)) is not None:
            canaries.append(health)
        prs += [e for e in entries if e.series == "pr"]
    return canaries, pr_health(prs, now=now)
