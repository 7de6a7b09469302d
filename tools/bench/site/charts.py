"""Plotly figures of a metric's history, for the HTML dashboard (:mod:`tools.bench.site.pages`).

A chart has one point per run in run order (x is the run's position; its tick names the
commit and time). It draws the median with its IQR band, the baseline level and the threshold
level from the trend analysis, the change points as dashed vertical lines, and invalid runs as
red crosses. Values are scaled to a unit people read (ms, not 0.08 s; GiB, not 3.2e9 B).
Hovering a point shows sha, date, n, median and IQR; clicking it opens that run's page.

Figures are plain Plotly JSON (``{"data": [...], "layout": {...}}``) handed to Plotly's own
renderer: building them through ``plotly.graph_objects`` validated every shape again on each
addition and took most of a minute for a few dozen charts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from tools.bench.history.runs import MetricSummary, RunEntry
from tools.bench.history.trend import TrendReport
from tools.bench.report.formatting import BYTE_UNITS, SECOND_UNITS

TIME_SCALES = ((60.0, "min"), (1.0, "s"), (1e-3, "ms"), (1e-6, "µs"))
MINUTES_FROM_S = 120.0  # times whose typical value passes this are shown in minutes
BYTE_SCALES = ((2.0**30, "GiB"), (2.0**20, "MiB"), (2.0**10, "KiB"), (1.0, "B"))
MEDIAN_COLOR = "#1f5fa8"
BAND_COLOR = "rgba(31, 95, 168, 0.18)"
INVALID_COLOR = "#c62828"
BASELINE_COLOR = "#2e7d32"
THRESHOLD_COLOR = "#ef6c00"
CHANGE_COLOR = "#6a1b9a"
CHART_HEIGHT_PX = 420
SMALL_HEIGHT_PX = 260
SMALL_COLUMNS = 3
SMALL_GAP = 0.07
SMALL_ROW_GAP = 0.45  # share of the height between rows, over all rows
GRID_COLOR = "#e6e6e6"
FONT = {"family": "system-ui, -apple-system, Segoe UI, Roboto, sans-serif", "size": 14}
TICK_TIME_FORMAT = slice(5, 16)  # "MM-DDTHH:MM" out of an ISO timestamp
Figure = dict[str, Any]
HOVER = (
    "<b>run %{customdata[0]}</b><br>commit %{customdata[1]}<br>%{customdata[2]}"
    "<br>n = %{customdata[3]}<br>median %{customdata[4]}<br>IQR %{customdata[5]}"
    "<br>%{customdata[6]}<extra></extra>"
)


@dataclass(frozen=True)
class Scale:
    """Divide by ``factor`` to show a value in ``unit``."""

    factor: float
    unit: str

    def apply(self, value: float | None) -> float | None:
        return None if value is None else value / self.factor

    def text(self, value: float | None) -> str:
        return "not measured" if value is None else f"{value / self.factor:.4g} {self.unit}"


def choose_scale(unit: str, values: Sequence[float]) -> Scale:
    """The largest unit in which the typical value is at least 1 (seconds and bytes)."""
    typical = sorted(abs(v) for v in values)[len(values) // 2] if values else 0.0
    options = TIME_SCALES if unit in SECOND_UNITS else BYTE_SCALES if unit in BYTE_UNITS else ()
    for factor, label in options:
        if typical >= (MINUTES_FROM_S if label == "min" else factor):
            return Scale(factor, label)
    return Scale(*options[-1]) if options else Scale(1.0, unit)


def run_tick(index: int, entry: RunEntry) -> str:
    """'#3 a1b2c3d<br>03-12 08:00': run order, commit, time (two runs of a day differ)."""
    moment = entry.created_at[TICK_TIME_FORMAT].replace("T", " ")
    return f"#{index + 1} {entry.short_commit}<br>{moment}"


def _hover_row(entry: RunEntry, metric: MetricSummary | None, scale: Scale) -> list[object]:
    if metric is None or metric.median is None:
        return [entry.run_id, entry.short_commit, entry.created_at, 0, "not measured", "-", ""]
    iqr = f"{scale.text(metric.q1)} to {scale.text(metric.q3)}"
    state = "valid" if entry.valid else "INVALID: " + "; ".join(entry.invalid_reasons)
    return [
        entry.run_id,
        entry.short_commit,
        entry.created_at,
        metric.n,
        scale.text(metric.median),
        iqr,
        state,
    ]


def _axes(cell: int) -> tuple[str, str]:
    """Trace axis ids ('x', 'y') and ('x2', 'y2') ... for subplot ``cell`` (0-based)."""
    suffix = "" if cell == 0 else str(cell + 1)
    return f"x{suffix}", f"y{suffix}"


def metric_traces(
    runs: Sequence[RunEntry], name: str, scale: Scale, *, legend: bool, cell: int = 0
) -> list[dict[str, Any]]:
    """IQR band, median points (one per run), the line through valid runs, invalid crosses."""
    metrics = [e.metric(name) for e in runs]
    xs = list(range(len(runs)))
    medians = [scale.apply(m.median) if m else None for m in metrics]
    low = [scale.apply(m.q1) if m else None for m in metrics]
    high = [scale.apply(m.q3) if m else None for m in metrics]
    hover = [_hover_row(e, m, scale) for e, m in zip(runs, metrics, strict=True)]
    xaxis, yaxis = _axes(cell)
    common = {"type": "scatter", "xaxis": xaxis, "yaxis": yaxis}
    band = {**common, "mode": "lines", "line": {"width": 0}, "hoverinfo": "skip"}
    bad = [x for x, e in zip(xs, runs, strict=True) if not e.valid and medians[x] is not None]
    return [
        {**band, "x": xs, "y": high, "name": "IQR", "legendgroup": "iqr", "showlegend": False},
        {
            **band,
            "x": xs,
            "y": low,
            "fill": "tonexty",
            "fillcolor": BAND_COLOR,
            "name": "IQR (q1 to q3)",
            "legendgroup": "iqr",
            "showlegend": legend,
        },
        {
            **common,
            "x": [x for x in xs if runs[x].valid],
            "y": [medians[x] for x in xs if runs[x].valid],
            "mode": "lines",
            "name": "median of the valid runs",
            "hoverinfo": "skip",
            "showlegend": False,
            "line": {"color": MEDIAN_COLOR, "width": 2},
        },
        {
            **common,
            "x": xs,
            "y": medians,
            "mode": "markers",
            "name": "median",
            "customdata": hover,
            "hovertemplate": HOVER,
            "showlegend": legend,
            "marker": {"size": 9, "color": MEDIAN_COLOR},
        },
        {
            **common,
            "x": bad,
            "y": [medians[x] for x in bad],
            "mode": "markers",
            "name": "invalid run (not analysed)",
            "hoverinfo": "skip",
            "showlegend": legend and bool(bad),
            "marker": {"symbol": "x", "size": 16, "color": INVALID_COLOR, "line": {"width": 2}},
        },
    ]


def _series_position(runs: Sequence[RunEntry], trend: TrendReport, index: int) -> int:
    """The run order of a trend series index (trend series skip invalid and unmeasured runs)."""
    run_id = trend.run_ids[index]
    return next(k for k, e in enumerate(runs) if e.run_id == run_id)


def _hline(
    y: float, text: str, color: str, cell: int, *, right: bool = False
) -> tuple[dict[str, Any], dict[str, Any]]:
    xaxis, yaxis = _axes(cell)
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
        "yanchor": "bottom",
        "font": {"color": color},
    }
    return shape, note


def _vline(x: float, text: str, cell: int) -> tuple[dict[str, Any], dict[str, Any]]:
    xaxis, yaxis = _axes(cell)
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


def trend_marks(
    runs: Sequence[RunEntry], trend: TrendReport | None, scale: Scale, *, cell: int = 0
) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """(shape, annotation) pairs: baseline and threshold levels, change points."""
    if trend is None:
        return []
    marks = []
    if trend.reference_level is not None:
        text = f"baseline {scale.text(trend.reference_level)}"
        level = scale.apply(trend.reference_level)
        marks.append(_hline(level, text, BASELINE_COLOR, cell, right=True))
    if trend.threshold_level is not None:
        text = f"threshold {scale.text(trend.threshold_level)}"
        marks.append(_hline(scale.apply(trend.threshold_level), text, THRESHOLD_COLOR, cell))
    for point in trend.change_points:
        x = _series_position(runs, trend, point.index) - 0.5
        change = point.level_after / point.level_before - 1.0 if point.level_before else 0.0
        marks.append(_vline(x, f" change point {change:+.0%}", cell))
    return marks


def _layout(height: int) -> dict[str, Any]:
    return {
        "height": height,
        "font": FONT,
        "hovermode": "closest",
        "paper_bgcolor": "white",
        "plot_bgcolor": "white",
        "margin": {"l": 70, "r": 30, "t": 70, "b": 90},
        "legend": {"orientation": "h", "x": 0, "y": 0.995, "yanchor": "top", "yref": "container"},
    }


def _scale_of(runs: Sequence[RunEntry], name: str) -> Scale:
    unit = next((m.unit for e in runs if (m := e.metric(name))), "")
    values = [m.median for e in runs if (m := e.metric(name)) and m.median is not None]
    return choose_scale(unit, values)


def _axis(runs: Sequence[RunEntry], ticks: list[str], **extra: Any) -> dict[str, Any]:
    return {
        "tickvals": list(range(len(runs))),
        "ticktext": ticks,
        "range": [-0.5, len(runs) - 0.5],
        "gridcolor": GRID_COLOR,
        "zeroline": False,
        **extra,
    }


def metric_figure(runs: Sequence[RunEntry], name: str, trend: TrendReport | None) -> Figure:
    """The full chart of one metric over ``runs`` (in run order)."""
    scale = _scale_of(runs, name)
    marks = trend_marks(runs, trend, scale)
    layout = _layout(CHART_HEIGHT_PX)
    ticks = [run_tick(k, e) for k, e in enumerate(runs)]
    layout["xaxis"] = _axis(runs, ticks, title={"text": "run (order, commit, time UTC)"})
    label = f"{name} ({scale.unit})" if scale.unit else name
    layout["yaxis"] = {"title": {"text": label}, "gridcolor": GRID_COLOR, "rangemode": "tozero"}
    layout["shapes"] = [shape for shape, _ in marks]
    layout["annotations"] = [note for _, note in marks]
    return {"data": metric_traces(runs, name, scale, legend=True), "layout": layout}


def _domain(index: int, count: int, gap: float) -> list[float]:
    size = (1.0 - gap * (count - 1)) / count
    start = index * (size + gap)
    return [start, start + size]


def small_multiples(
    runs: Sequence[RunEntry], names: Sequence[str], trends: dict[str, TrendReport]
) -> Figure:
    """One small chart per headline metric, each with its own axes, in a grid."""
    rows = max((len(names) + SMALL_COLUMNS - 1) // SMALL_COLUMNS, 1)
    layout = _layout(SMALL_HEIGHT_PX * rows + 90)
    data: list[dict[str, Any]] = []
    shapes, notes = [], []
    ticks = [f"#{k + 1}" for k in range(len(runs))]  # commit and time are in the hover
    for cell, name in enumerate(names):
        scale = _scale_of(runs, name)
        row, col = divmod(cell, SMALL_COLUMNS)
        xaxis, yaxis = _axes(cell)
        suffix = xaxis[1:]
        layout[f"xaxis{suffix}"] = _axis(
            runs, ticks, domain=_domain(col, SMALL_COLUMNS, SMALL_GAP), anchor=yaxis
        )
        layout[f"yaxis{suffix}"] = {
            "domain": _domain(rows - 1 - row, rows, SMALL_ROW_GAP / rows),
            "anchor": xaxis,
            "gridcolor": GRID_COLOR,
            "rangemode": "tozero",
        }
        data += metric_traces(runs, name, scale, legend=cell == 0, cell=cell)
        marks = trend_marks(runs, trends.get(name), scale, cell=cell)
        shapes += [shape for shape, _ in marks]
        notes += [note for _, note in marks if note["xref"] == xaxis]  # change points only
        title = f"<b>{name}</b> ({scale.unit})" if scale.unit else f"<b>{name}</b>"
        notes.append(
            {
                "xref": f"{xaxis} domain",
                "yref": f"{yaxis} domain",
                "x": 0.5,
                "y": 1.0,
                "yanchor": "bottom",
                "text": title,
                "showarrow": False,
            }
        )
    layout["shapes"], layout["annotations"] = shapes, notes
    return {"data": data, "layout": layout}
