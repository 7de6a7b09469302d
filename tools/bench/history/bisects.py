"""Bisections kept beside the run history: what the dashboard marks and what CI need not redo.

Layout under a history folder (or the root of the data branch)::

    bisects/<good sha, 12>-<bad sha, 12>.json

One :class:`~virnucpro.bench.bisect.schema.BisectResult` per range, as the command wrote it
(with ``report_url``, where its rendered report lives, when CI gave one). A range bisected
again replaces its record. A malformed record is refused with one line naming it.

:func:`new_change_range` is what the nightly job bisects: the runs around the newest change
point that made the total time worse (:mod:`tools.bench.history.trend`), unless that range
already has a record here.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from tools.bench.history.publish import DEFAULT_BRANCH, land_on_branch
from tools.bench.history.runs import RunEntry
from tools.bench.history.trend import analyze_trend
from tools.bench.thresholds import DEFAULT_THRESHOLDS, Thresholds
from virnucpro.atomic import atomic_write_text
from virnucpro.bench.bisect.schema import BisectResult, read_result
from virnucpro.bench.metric_names import TOTAL_TIME_METRIC

BISECTS_DIR = "bisects"


def record_path(folder: Path, result: BisectResult) -> Path:
    return Path(folder) / BISECTS_DIR / f"{result.good.sha[:12]}-{result.bad.sha[:12]}.json"


def add_bisect(folder: Path, result: BisectResult) -> tuple[Path, bool]:
    """Write ``result`` under ``folder``; False when the same record is already there."""
    path = record_path(folder, result)
    text = json.dumps(result.model_dump(mode="json"), indent=2) + "\n"
    if path.is_file() and path.read_text(encoding="utf-8") == text:
        return path, False
    atomic_write_text(path, text)
    return path, True


def read_bisects(folder: Path) -> tuple[BisectResult, ...]:
    """Every bisection recorded under ``folder``, oldest first (none: an empty tuple)."""
    found = [read_result(p) for p in sorted((Path(folder) / BISECTS_DIR).glob("*.json"))]
    return tuple(sorted(found, key=lambda r: r.created_at))


def bisected(bisects: tuple[BisectResult, ...], good: str, bad: str) -> BisectResult | None:
    """The recorded bisection of exactly ``good..bad`` (full shas), if any."""
    return next((r for r in bisects if r.good.sha == good and r.bad.sha == bad), None)


def culprits(bisects: tuple[BisectResult, ...]) -> dict[str, BisectResult]:
    """Commit sha -> the latest bisection that named it (the culprit or a part of a change)."""
    named: dict[str, BisectResult] = {}
    for result in bisects:
        for commit in (result.culprit, *result.parts):
            if commit is not None:
                named[commit.sha] = result
    return named


def publish_bisect(
    result: BisectResult, *, remote: str, branch: str = DEFAULT_BRANCH
) -> tuple[str, bool]:
    """Add the record to ``branch`` of ``remote`` (retried like a run); its path, whether new."""
    message = f"bisect: {result.good.sha[:12]}..{result.bad.sha[:12]} ({result.outcome})"
    path, added, _ = land_on_branch(
        lambda repo: add_bisect(repo, result), message=message, remote=remote, branch=branch
    )
    return path, added


@dataclass(frozen=True)
class ChangeRange:
    """The runs around the newest change point that made a metric worse, by their commits."""

    key: str
    metric: str
    good: str  # the commit of the last run before the change point
    bad: str  # the commit of the first run at the new level
    change: float  # the level's change, worse positive
    run_id: str  # the first run at the new level

    @property
    def text(self) -> str:
        return f"{self.good}..{self.bad}"


def _worse(better: str, before: float, after: float) -> float | None:
    if before <= 0:
        return None
    change = after / before - 1.0
    worse = change if better == "lower" else -change if better == "higher" else None
    return worse if worse is not None and worse > 0 else None


def _key_range(
    key: str, runs: Sequence[RunEntry], metric: str, thresholds: Thresholds
) -> ChangeRange | None:
    ordered = sorted(runs, key=lambda e: (e.created_at, e.run_id))
    trend = analyze_trend(ordered, metric, thresholds=thresholds)
    if trend is None or not trend.change_points or trend.change_points[-1].index == 0:
        return None
    point = trend.change_points[-1]
    change = _worse(trend.better, point.level_before, point.level_after)
    by_id = {e.run_id: e for e in ordered}
    good, bad = by_id[trend.run_ids[point.index - 1]], by_id[trend.run_ids[point.index]]
    if change is None or not good.commit or not bad.commit or good.commit == bad.commit:
        return None
    return ChangeRange(key, metric, good.commit, bad.commit, change, bad.run_id)


def new_change_range(
    histories: Mapping[str, Sequence[RunEntry]],
    bisects: tuple[BisectResult, ...],
    *,
    metric: str = TOTAL_TIME_METRIC,
    thresholds: Thresholds = DEFAULT_THRESHOLDS,
) -> ChangeRange | None:
    """The newest change point that made ``metric`` worse and was not bisected yet (per key,
    its history's last change point; across keys, the one whose first run is newest)."""
    found = []
    for key, runs in histories.items():
        span = _key_range(key, runs, metric, thresholds)
        if span is not None and bisected(bisects, span.good, span.bad) is None:
            found.append((by_created(runs, span.run_id), span))
    return max(found, key=lambda pair: pair[0])[1] if found else None


def by_created(runs: Sequence[RunEntry], run_id: str) -> str:
    return next(e.created_at for e in runs if e.run_id == run_id)
