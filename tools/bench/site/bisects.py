"""Bisections on the dashboard: the named culprit marked on the total time's chart, linked.

A bisection (:mod:`tools.bench.history.bisects`) is drawn on a history's total-time page where
its commits appear among the runs: a dotted red line before the first run at the culprit (or
at BAD, when the culprit has no run of its own), labelled with the culprit's short sha and
linking its report page, ``bisects/<good>-<bad>.html`` (the bisection's markdown report, as
CI's job summary shows it). A table under the chart lists them with a link to the CI run.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any

from markdown_it import MarkdownIt

from tools.bench.culprit.bisect import OUTCOME_WORDS, render_bisect
from tools.bench.history.runs import RunEntry
from virnucpro.bench.bisect.schema import BisectResult

BISECTS_DIR = "bisects"
CULPRIT_COLOR = "#c62828"


def page_name(result: BisectResult) -> str:
    return f"{BISECTS_DIR}/{result.good.sha[:12]}-{result.bad.sha[:12]}.html"


def _named(result: BisectResult) -> str | None:
    commit = result.culprit or (result.parts[-1] if result.parts else None)
    return None if commit is None else commit.sha


def position(runs: Sequence[RunEntry], result: BisectResult) -> int | None:
    """The first run (in run order) at the named commit, else at BAD; None if neither ran."""
    for sha in (_named(result), result.bad.sha):
        found = next((k for k, e in enumerate(runs) if sha and e.commit == sha), None)
        if found is not None:
            return found
    return None


def on_chart(runs: Sequence[RunEntry], bisects: Sequence[BisectResult]) -> list[BisectResult]:
    """The bisections that name a commit and can be placed among these runs."""
    return [r for r in bisects if _named(r) and position(runs, r) is not None]


def culprit_marks(
    runs: Sequence[RunEntry], bisects: Sequence[BisectResult], *, depth: int
) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """(shape, annotation) pairs for :func:`tools.bench.site.charts.metric_figure`'s layout."""
    marks = []
    for result in on_chart(runs, bisects):
        x = (position(runs, result) or 0) - 0.5
        line = {"color": CULPRIT_COLOR, "dash": "dot", "width": 2}
        shape = {"type": "line", "xref": "x", "yref": "y domain", "x0": x, "x1": x, "y0": 0}
        shape.update({"y1": 1, "line": line})
        label = f"culprit {(_named(result) or '')[:7]}"
        target = f"{'../' * depth}{page_name(result)}"
        note = {
            "xref": "x",
            "yref": "y domain",
            "x": x,
            "y": 0.92,
            "text": f'<a href="{target}" style="color:{CULPRIT_COLOR}">{label}</a>',
            "showarrow": False,
            "xanchor": "right",
            "font": {"color": CULPRIT_COLOR},
        }
        marks.append((shape, note))
    return marks


def bisects_section(
    runs: Sequence[RunEntry], bisects: Sequence[BisectResult], *, depth: int
) -> str:
    """The bisections placed on this chart, as an HTML table (empty text when none)."""
    shown = on_chart(runs, bisects)
    if not shown:
        return ""
    rows = []
    for r in shown:
        named = r.commit(_named(r) or "")
        report = f'<a href="{"../" * depth}{page_name(r)}">report</a>'
        ci = f' · <a href="{html.escape(r.report_url)}">CI run</a>' if r.report_url else ""
        rows.append(
            "<tr>"
            f"<td><code>{r.good.short}..{r.bad.short}</code></td>"
            f"<td>{html.escape(OUTCOME_WORDS[r.outcome])}</td>"
            f"<td><code>{html.escape(named.sha if named else '')}</code> "
            f"{html.escape(named.subject if named else '')}</td>"
            f"<td>{report}{ci}</td></tr>"
        )
    head = "<tr><th>range</th><th>outcome</th><th>named commit</th><th>links</th></tr>"
    return f"<h2>Bisections</h2><table><thead>{head}</thead><tbody>{''.join(rows)}</tbody></table>"


def bisect_page_body(result: BisectResult) -> str:
    """The bisection's markdown report as HTML (tables kept)."""
    return MarkdownIt("commonmark", {"html": False}).enable("table").render(render_bisect(result))
