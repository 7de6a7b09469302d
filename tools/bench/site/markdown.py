"""Markdown history page: one PNG trend chart per metric and sparklines, for PR comments.

The browsable dashboard is the HTML site (:mod:`tools.bench.site.pages`); this page is what fits in
a
comment or an artifact. Runs are ordered by ``created_at``. Each chart draws the median over
runs with the IQR band; invalid runs are marked, and a run where the metric was not measured
leaves a gap (never a zero). Ticks name each run's order, commit and time. Charts use
matplotlib's object API with the Agg canvas, so no global backend is set.
"""

from __future__ import annotations

import io
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from tools.bench.history.runs import MetricSummary, RunEntry
from tools.bench.report.formatting import BYTE_UNITS, format_quantity, sparkline, table, unavailable
from virnucpro.atomic import atomic_write_bytes, atomic_write_text
from virnucpro.errors import InputError

__all__ = ["DASHBOARD_FILE", "sparkline", "write_dashboard"]

DASHBOARD_FILE = "dashboard.md"
TITLE = "# VirNucPro Benchmark Dashboard"
CHART_SIZE_IN = (8.0, 3.6)
CHART_DPI = 100
BYTES_PER_GIB = 2**30
SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]")
NOT_IN_HISTORY = "not recorded in any run"


@dataclass(frozen=True)
class Point:
    """One run's value of one metric; None fields: not measured in that run."""

    median: float | None
    q1: float | None
    q3: float | None
    valid: bool


def _created(entry: RunEntry) -> datetime:
    return datetime.fromisoformat(entry.created_at.replace("Z", "+00:00"))


def order_history(history: Sequence[RunEntry]) -> list[RunEntry]:
    """Runs oldest first (ties broken by run id, so the order is stable)."""
    return sorted(history, key=lambda entry: (_created(entry), entry.run_id))


def default_metrics(history: Sequence[RunEntry]) -> list[str]:
    """Every metric measured in at least one run, in order of first appearance."""
    names: dict[str, None] = {}
    for entry in history:
        names.update((m.name, None) for m in entry.metrics if m.median is not None)
    return list(names)


def _point(metric: MetricSummary | None, valid: bool) -> Point:
    if metric is None or metric.median is None:
        return Point(None, None, None, valid)
    return Point(metric.median, metric.q1, metric.q3, valid)


def series(runs: Sequence[RunEntry], name: str) -> list[Point]:
    return [_point(entry.metric(name), entry.valid) for entry in runs]


def png_name(metric: str) -> str:
    return SAFE_NAME.sub("_", metric) + ".png"


def _unit_of(runs: Sequence[RunEntry], name: str) -> str:
    return next((m.unit for entry in runs if (m := entry.metric(name)) is not None), "")


def _axis_scale(unit: str) -> tuple[float, str]:
    return (BYTES_PER_GIB, "GiB") if unit in BYTE_UNITS else (1.0, unit)


def _nan(value: float | None, scale: float) -> float:
    return math.nan if value is None else value / scale


def _chart(name: str, unit: str, runs: Sequence[RunEntry], points: list[Point]) -> bytes:
    scale, label = _axis_scale(unit)
    xs = list(range(len(points)))
    fig = Figure(figsize=CHART_SIZE_IN, dpi=CHART_DPI)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    medians = [_nan(p.median, scale) for p in points]
    low, high = [_nan(p.q1, scale) for p in points], [_nan(p.q3, scale) for p in points]
    ax.fill_between(xs, low, high, alpha=0.25, label="IQR")
    ax.plot(xs, medians, marker="o", label="median")
    bad = [x for x, p in zip(xs, points, strict=True) if not p.valid and p.median is not None]
    if bad:
        bad_y = [medians[x] for x in bad]
        ax.plot(bad, bad_y, linestyle="none", marker="x", markersize=10, label="invalid run")
    ticks = [f"#{k + 1} {e.short_commit}\n{e.created_at[5:16]}" for k, e in enumerate(runs)]
    ax.set_xticks(xs, ticks, rotation=30, fontsize=7)
    ax.set_title(name)
    ax.set_ylabel(label)
    ax.legend(fontsize=7)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", metadata={"Software": None})
    return buffer.getvalue()


def _row(name: str, runs: Sequence[RunEntry], points: list[Point]) -> list[str]:
    unit = _unit_of(runs, name)
    measured = [p.median for p in points if p.median is not None]
    last = runs[-1].metric(name)
    if last is None:
        last_text = unavailable("not recorded in the last run")
    else:
        last_text = format_quantity(last.median, unit, reason=last.reason)
    spread = (
        (format_quantity(min(measured), unit), format_quantity(max(measured), unit))
        if measured
        else (unavailable(NOT_IN_HISTORY),) * 2
    )
    trend = sparkline([p.median for p in points])
    return [f"`{name}`", unit, last_text, f"`{trend}`", *spread, f"{len(measured)}/{len(points)}"]


def _header(runs: Sequence[RunEntry]) -> list[str]:
    lines = [TITLE, "", f"{len(runs)} runs, {runs[0].created_at} to {runs[-1].created_at}."]
    keys = {entry.key for entry in runs}
    if len(keys) > 1:
        lines += ["", f"> **Warning:** the history mixes {len(keys)} hardware/workload setups."]
    invalid = [entry.run_id for entry in runs if not entry.valid]
    if invalid:
        lines += ["", f"> Invalid runs (marked x in the charts): {', '.join(invalid)}."]
    return lines


def _runs_table(runs: Sequence[RunEntry]) -> str:
    rows = [
        (
            str(k + 1),
            entry.created_at,
            f"`{entry.run_id}`",
            entry.commit or "unknown",
            "valid" if entry.valid else "INVALID: " + "; ".join(entry.invalid_reasons),
        )
        for k, entry in enumerate(runs)
    ]
    return table(("#", "created", "run", "commit", "validity"), rows)


def write_dashboard(
    history: Sequence[RunEntry], out_dir: Path, *, metrics: Sequence[str] | None = None
) -> Path:
    """Write ``dashboard.md`` and one PNG per charted metric into ``out_dir``; return the md."""
    if not history:
        raise InputError("the dashboard needs at least one run")
    out_dir = Path(out_dir)
    runs = order_history(history)
    names = list(metrics) if metrics is not None else default_metrics(runs)
    rows, charts = [], []
    for name in names:
        points = series(runs, name)
        rows.append(_row(name, runs, points))
        if any(p.median is not None for p in points):
            png = _chart(name, _unit_of(runs, name), runs, points)
            atomic_write_bytes(out_dir / png_name(name), png)
            charts.append(f"![{name}]({png_name(name)})")
    headers = ("metric", "unit", "last", "trend", "min", "max", "measured")
    blocks = [
        "\n".join(_header(runs)),
        "## Metrics",
        table(headers, rows) if rows else "No metrics.",
        "## Charts",
        "\n\n".join(charts) or "No metric was measured in any run.",
        "## Runs",
        _runs_table(runs),
    ]
    path = out_dir / DASHBOARD_FILE
    atomic_write_text(path, "\n\n".join(blocks) + "\n")
    return path
