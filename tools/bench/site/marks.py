"""The labelled lines of a chart: the stored baseline, the first runs' level, the threshold and
the change points, each with an annotation that says what it is (:mod:`tools.bench.site.charts`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from tools.bench.history.runs import RunEntry
from tools.bench.history.trend import TrendReport
from tools.bench.site.scale import Scale, axes

STORED_COLOR = "#00695c"  # the stored baseline's median
LEVEL_COLOR = "#616161"  # the level of the first runs (the trend's reference)
THRESHOLD_COLOR = "#ef6c00"
CHANGE_COLOR = "#6a1b9a"


def _series_position(runs: Sequence[RunEntry], trend: TrendReport, index: int) -> int:
    """The run order of a trend series index (trend series skip invalid and unmeasured runs)."""
    run_id = trend.run_ids[index]
    return next(k for k, e in enumerate(runs) if e.run_id == run_id)


def _hline(
    y: float, text: str, color: str, cell: int, *, right: bool = False, below: bool = False
) -> tuple[dict[str, Any], dict[str, Any]]:
    xaxis, yaxis = axes(cell)
    shape = {
        "type": "line",
        "xref": f"{xaxis} domain",
        "yref": yaxis,
        "x0": 0,
        "x1": 1,
        "y0": y,
        "y1": y,
        "line": {"color": color, "dash": "dot", "width": 2},
    }
    note = {
        "xref": f"{xaxis} domain",
        "yref": yaxis,
        "x": 1 if right else 0,
        "y": y,
        "text": text,
        "showarrow": False,
        "xanchor": "right" if right else "left",
        "yanchor": "top" if below else "bottom",
        "font": {"color": color},
    }
    return shape, note


def _vline(x: float, text: str, cell: int) -> tuple[dict[str, Any], dict[str, Any]]:
    xaxis, yaxis = axes(cell)
    line = {"color": CHANGE_COLOR, "dash": "dash", "width": 2}
    shape = {
        "type": "line",
        "xref": xaxis,
        "yref": f"{yaxis} domain",
        "x0": x,
        "x1": x,
        "y0": 0,
        "y1": 1,
        "line": line,
    }
    note = {
        "xref": xaxis,
        "yref": f"{yaxis} domain",
        "x": x,
        "y": 1,
        "text": text,
        "showarrow": False,
        "xanchor": "left",
        "yanchor": "top",
        "font": {"color": CHANGE_COLOR},
    }
    return shape, note


@dataclass(frozen=True)
class StoredLine:
    """The stored baseline's median of a metric, and which stored run it is (for its label)."""

    median: float
    label: str  # e.g. "2026-11-24, 2b69376"


def trend_marks(
    runs: Sequence[RunEntry],
    trend: TrendReport | None,
    scale: Scale,
    *,
    cell: int = 0,
    stored: StoredLine | None = None,
) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """(shape, annotation) pairs: the stored baseline, the first runs' level and the threshold
    above it, change points; each labelled for what it is."""
    marks = []
    if stored is not None:
        text = f"stored baseline {scale.text(stored.median)} ({stored.label})"
        marks.append(_hline(scale.apply(stored.median), text, STORED_COLOR, cell, below=True))
    if trend is None:
        return marks
    if trend.reference_level is not None:
        text = f"first runs' level {scale.text(trend.reference_level)}"
        level = scale.apply(trend.reference_level)
        marks.append(_hline(level, text, LEVEL_COLOR, cell, right=True))
    if trend.threshold_level is not None:
        text = f"threshold (first runs' level + threshold) {scale.text(trend.threshold_level)}"
        marks.append(_hline(scale.apply(trend.threshold_level), text, THRESHOLD_COLOR, cell))
    for point in trend.change_points:
        x = _series_position(runs, trend, point.index) - 0.5
        change = point.level_after / point.level_before - 1.0 if point.level_before else 0.0
        marks.append(_vline(x, f" change point {change:+.0%}", cell))
    return marks
