"""Plotly figures of a metric's history, for the HTML dashboard (:mod:`tools.bench.site.pages`).

A chart has one point per run in run order (x is the run's position; its tick names the
commit and time). Each point's colour and shape is the run's verdict (REGRESSION a red
triangle, PASS a green circle, ...; the legend names them), so no failed run can sit unmarked
on a line. It draws the median with its IQR band; the stored baseline's median (where one is
stored for the history's hardware and workload), the level of the first runs and the threshold
above it, each labelled for what it is; the change points as dashed vertical lines; and
invalid runs as red crosses. Values are scaled to a unit people read (ms, not 0.08 s; GiB,
not 3.2e9 B). Hovering a point shows sha, date, n, median, IQR and verdict; clicking it opens
that run's page.

Figures are plain Plotly JSON (``{"data": [...], "layout": {...}}``) handed to Plotly's own
renderer: building them through ``plotly.graph_objects`` validated every shape again on each
addition and took most of a minute for a few dozen charts.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from tools.bench.history.runs import MetricSummary, RunEntry
from tools.bench.history.trend import TrendReport
from tools.bench.site.marks import StoredLine, trend_marks
from tools.bench.site.scale import Scale, axes, choose_scale

MEDIAN_COLOR = "#1f5fa8"
BAND_COLOR = "rgba(31, 95, 168, 0.18)"
INVALID_COLOR = "#c62828"
# A run's verdict on its point: legend name, colour, marker symbol, size. Runs without a
# verdict (measured, not compared) keep the median's colour.
OUTCOME_MARKERS: dict[str | None, tuple[str, str, str, int]] = {
    "regression": ("REGRESSION", "#c62828", "triangle-up", 14),
    "warn": ("WARN", "#b26a00", "diamond", 11),
    "pass": ("PASS", "#2e7d32", "circle", 9),
    "inconclusive": ("INCONCLUSIVE", "#6a1b9a", "square", 10),
    "invalid": ("INVALID", "#757575", "square-open", 10),
    "could_not_judge": ("COULD NOT JUDGE", "#757575", "square-open", 10),
    "no_baseline": ("NO BASELINE", "#757575", "circle-open", 10),
    None: ("not judged", MEDIAN_COLOR, "circle", 9),
}
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
    "<br>%{customdata[6]}<br>verdict %{customdata[7]}<extra></extra>"
)


def run_tick(index: int, entry: RunEntry) -> str:
    """'#3 a1b2c3d<br>03-12 08:00': run order, commit, time (two runs of a day differ)."""
    moment = entry.created_at[TICK_TIME_FORMAT].replace("T", " ")
    return f"#{index + 1} {entry.short_commit}<br>{moment}"


def outcome_marker(entry: RunEntry) -> tuple[str, str, str, int]:
    """(legend name, colour, symbol, size) of a run's verdict."""
    return OUTCOME_MARKERS.get(entry.outcome, OUTCOME_MARKERS[None])


def _hover_row(entry: RunEntry, metric: MetricSummary | None, scale: Scale) -> list[object]:
    verdict = outcome_marker(entry)[0]
    if metric is None or metric.median is None:
        return [entry.run_id, entry.short_commit, entry.created_at, 0, "not measured", "-", "", ""]
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
        verdict,
    ]


def _verdict_traces(
    runs: Sequence[RunEntry],
    medians: list[float | None],
    hover: list[list[object]],
    common: dict[str, Any],
    legend: bool,
) -> list[dict[str, Any]]:
    """The median points, one trace per verdict (its colour and shape; named in the legend)."""
    groups: dict[str | None, list[int]] = {}
    for x, entry in enumerate(runs):
        if medians[x] is not None:
            key = entry.outcome if entry.outcome in OUTCOME_MARKERS else None
            groups.setdefault(key, []).append(x)
    traces = []
    for outcome in OUTCOME_MARKERS:
        xs = groups.get(outcome)
        if not xs:
            continue
        word, color, symbol, size = OUTCOME_MARKERS[outcome]
        traces.append(
            {
                **common,
                "x": xs,
                "y": [medians[x] for x in xs],
                "mode": "markers",
                "name": f"{word} run" if outcome else "run not judged",
                "legendgroup": f"verdict-{outcome}",
                "customdata": [hover[x] for x in xs],
                "hovertemplate": HOVER,
                "showlegend": legend,
                "marker": {"size": size, "color": color, "symbol": symbol},
            }
        )
    return traces


def metric_traces(
    runs: Sequence[RunEntry], name: str, scale: Scale, *, legend: bool, cell: int = 0
) -> list[dict[str, Any]]:
    """IQR band, the line through valid runs, median points (one per run, in the colour and
    shape of the run's verdict), invalid crosses."""
    metrics = [e.metric(name) for e in runs]
    xs = list(range(len(runs)))
    medians = [scale.apply(m.median) if m else None for m in metrics]
    low = [scale.apply(m.q1) if m else None for m in metrics]
    high = [scale.apply(m.q3) if m else None for m in metrics]
    hover = [_hover_row(e, m, scale) for e, m in zip(runs, metrics, strict=True)]
    xaxis, yaxis = axes(cell)
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
        *_verdict_traces(runs, medians, hover, common, legend),
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


def metric_figure(
    runs: Sequence[RunEntry],
    name: str,
    trend: TrendReport | None,
    stored: StoredLine | None = None,
) -> Figure:
    """The full chart of one metric over ``runs`` (in run order)."""
    scale = _scale_of(runs, name)
    marks = trend_marks(runs, trend, scale, stored=stored)
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
    runs: Sequence[RunEntry],
    names: Sequence[str],
    trends: dict[str, TrendReport],
    stored: dict[str, StoredLine] | None = None,
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
        xaxis, yaxis = axes(cell)
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
        marks = trend_marks(
            runs, trends.get(name), scale, cell=cell, stored=(stored or {}).get(name)
        )
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
