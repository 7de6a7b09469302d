"""The dashboard's "gate health" page (``gate.html``): is the A/B gate itself to be trusted?

From :mod:`tools.bench.history.gate_health`: per runner, the nightly A/A canary's false-alarm
rate over its last nights, a chart of its per-pair CV and minimum detectable slowdown night by
night (FAIL nights marked), its nights in a table, and a flag when its CV doubled; then the
share of INVALID and INCONCLUSIVE verdicts among pull requests.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any

from tools.bench.history.gate_health import (
    CANARY_NIGHTS,
    CV_FLAG_FACTOR,
    FALSE_ALARM,
    UNDECIDED,
    CanaryHealth,
    PrHealth,
)
from tools.bench.history.runs import RunEntry
from tools.bench.site.charts import (
    CHART_HEIGHT_PX,
    FONT,
    GRID_COLOR,
    INVALID_COLOR,
    MEDIAN_COLOR,
    Figure,
    run_tick,
)
from tools.bench.site.marks import THRESHOLD_COLOR
from tools.bench.site.parts import figure_html, page, table

GATE_FILE = "gate.html"
TITLE = "Gate health - VirNucPro benchmark dashboard"
NO_CANARY = (
    "No canary runs in the history yet: the nightly <code>canary</code> job of "
    "<code>.github/workflows/benchmark.yml</code> publishes them (series <code>canary</code>)."
)
NO_PRS = (
    "No pull-request verdicts in the last {days} days: the <code>pr-history</code> job "
    "publishes each PR's verdict (series <code>pr</code>)."
)


def _percent(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1%}"


def _outcome(entry: RunEntry) -> str:
    word = (entry.outcome or "not judged").replace("_", " ").upper()
    css = "bad" if entry.outcome == FALSE_ALARM else "warn" if entry.outcome in UNDECIDED else ""
    return f'<span class="{css}">{html.escape(word)}</span>' if css else html.escape(word)


def _percents(nights: Sequence[RunEntry], field: str) -> list[float | None]:
    """A gate fact of every night in percent (None where the night has none)."""
    values = [getattr(e.gate, field) if e.gate else None for e in nights]
    return [None if v is None else 100.0 * v for v in values]


def canary_figure(nights: Sequence[RunEntry]) -> Figure:
    """Per-pair CV and the minimum detectable slowdown per night (%), FAIL nights crossed."""
    xs = list(range(len(nights)))
    cv = _percents(nights, "per_pair_cv")
    mde = _percents(nights, "min_detectable")
    fails = [x for x, e in zip(xs, nights, strict=True) if e.outcome == FALSE_ALARM]
    common: dict[str, Any] = {"type": "scatter", "mode": "lines+markers"}
    data = [
        {
            **common,
            "x": xs,
            "y": cv,
            "name": "per-pair CV of the total time (%)",
            "marker": {"size": 9, "color": MEDIAN_COLOR},
            "line": {"color": MEDIAN_COLOR},
        },
        {
            **common,
            "x": xs,
            "y": mde,
            "name": "could detect (MDE, %)",
            "marker": {"size": 9, "color": THRESHOLD_COLOR},
            "line": {"color": THRESHOLD_COLOR},
        },
        {
            "type": "scatter",
            "mode": "markers",
            "x": fails,
            "y": [cv[x] for x in fails],
            "name": "FAIL (a false alarm)",
            "showlegend": bool(fails),
            "marker": {"symbol": "x", "size": 16, "color": INVALID_COLOR, "line": {"width": 2}},
        },
    ]
    layout = {
        "height": CHART_HEIGHT_PX,
        "font": FONT,
        "paper_bgcolor": "white",
        "plot_bgcolor": "white",
        "margin": {"l": 70, "r": 30, "t": 70, "b": 90},
        "legend": {"orientation": "h", "x": 0, "y": 0.995, "yanchor": "top", "yref": "container"},
        "xaxis": {
            "tickvals": xs,
            "ticktext": [run_tick(k, e) for k, e in enumerate(nights)],
            "range": [-0.5, len(nights) - 0.5],
            "gridcolor": GRID_COLOR,
            "title": {"text": "night (order, commit, time UTC)"},
        },
        "yaxis": {"title": {"text": "%"}, "gridcolor": GRID_COLOR, "rangemode": "tozero"},
    }
    return {"data": data, "layout": layout}


def _canary_section(health: CanaryHealth, index: int) -> str:
    n = len(health.nights)
    fails = health.outcomes.get(FALSE_ALARM, 0)
    undecided = sum(health.outcomes.get(o, 0) for o in UNDECIDED)
    flag_css = "bad" if health.flagged else "muted"
    rows = [
        (
            str(k + 1),
            html.escape(e.created_at),
            f"<code>{html.escape(e.short_commit)}</code>",
            _outcome(e),
            str(e.gate.pairs) if e.gate else "n/a",
            _percent(e.gate.per_pair_cv if e.gate else None),
            _percent(e.gate.min_detectable if e.gate else None),
        )
        for k, e in enumerate(health.nights)
    ]
    return "\n".join(
        [
            f"<h3>Runner <code>{html.escape(health.runner)}</code></h3>",
            f'<p class="muted">{html.escape(health.key)}</p>',
            f"<p>Last {n} nights (at most {CANARY_NIGHTS}): false alarms (FAIL) "
            f'<span class="{"bad" if fails else "pass"}">{fails}/{n}</span> '
            f"({health.false_alarm_rate:.0%}); could not decide (INCONCLUSIVE, INVALID) "
            f"{undecided}/{n} ({health.undecided_rate:.0%}).</p>",
            f'<p class="{flag_css}">{html.escape(health.flag_text())}</p>',
            figure_html(canary_figure(health.nights), f"canary-{index}"),
            table(("#", "night (UTC)", "commit", "verdict", "pairs", "per-pair CV", "MDE"), rows),
        ]
    )


def _pr_section(prs: PrHealth) -> str:
    if not prs.runs:
        return f'<p class="muted">{NO_PRS.format(days=prs.days)}</p>'
    invalid, inconclusive = prs.share("invalid"), prs.share("inconclusive")
    rows = [
        (html.escape(outcome.replace("_", " ").upper()), str(count), f"{count / prs.runs:.0%}")
        for outcome, count in sorted(prs.outcomes.items(), key=lambda kv: -kv[1])
    ]
    return "\n".join(
        [
            f"<p>{prs.runs} PR verdicts in the last {prs.days} days: INVALID "
            f'<span class="warn">{invalid:.0%}</span>, INCONCLUSIVE '
            f'<span class="warn">{inconclusive:.0%}</span> (each a red CI that says nothing '
            "about the change).</p>",
            table(("verdict", "PRs", "share"), rows),
        ]
    )


def gate_page(canaries: Sequence[CanaryHealth], prs: PrHealth) -> str:
    """The whole page."""
    flagged = [c.runner for c in canaries if c.flagged]
    summary = (
        f'<p class="bad">Flagged runner(s): {html.escape(", ".join(flagged))} (the canary\'s '
        f"per-pair CV became at least {CV_FLAG_FACTOR:g}x what it was).</p>"
        if flagged
        else ""
    )
    sections = [_canary_section(c, k) for k, c in enumerate(canaries)] or [
        f'<p class="muted">{NO_CANARY}</p>'
    ]
    body = [
        '<p><a href="index.html">&larr; overview</a></p>',
        "<h1>Gate health</h1>",
        '<p class="muted">The A/B gate judged by its own record. The canary measures a commit '
        "against itself every night, so every FAIL is a false alarm; its per-pair CV is the "
        "noise of the runner, its MDE the smallest slowdown that night's run could detect with "
        "80% power.</p>",
        summary,
        "<h2>Nightly A/A canary</h2>",
        *sections,
        "<h2>Pull requests</h2>",
        _pr_section(prs),
    ]
    return page(TITLE, "\n".join(part for part in body if part), depth=0)
