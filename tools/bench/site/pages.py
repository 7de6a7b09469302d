"""The static HTML dashboard: an overview page, one page per metric, one page per run.

The site works from ``file://`` and on GitHub Pages alike: pages use relative links only and
load one shipped script, ``plotly.min.js``, written beside them from the installed Plotly
package (no CDN, no network). Everything else (styles, figure data) is inlined in each page.

- ``index.html``: per history key, the latest run's verdict and requirement rows, the headline
  metrics as small multiples, and every metric with its trend and a link to its page;
- ``<key>/<metric>.html``: the metric's chart (:mod:`tools.bench.site.charts`) and its runs;
- ``runs/<run_id>.html``: one run's summary (validity, verdict, requirements, every metric).
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from plotly.offline import get_plotlyjs

from tools.bench.history.gate_health import gate_health
from tools.bench.history.runs import MAIN_SERIES, RunEntry
from tools.bench.history.trend import TrendReport, analyze_history
from tools.bench.report.analysis import GPU_UTIL_METRIC
from tools.bench.report.formatting import format_quantity
from tools.bench.site.bisects import bisect_page_body, bisects_section, culprit_marks, page_name
from tools.bench.site.charts import (
    BASELINE_COLOR,
    THRESHOLD_COLOR,
    metric_figure,
    small_multiples,
)
from tools.bench.site.gate import GATE_FILE, gate_page
from tools.bench.site.parts import PLOTLY_FILE, figure_html, page, table
from tools.bench.thresholds import DEFAULT_THRESHOLDS, Thresholds
from virnucpro.atomic import atomic_write_text
from virnucpro.bench.bisect.schema import BisectResult
from virnucpro.bench.metric_names import TOTAL_TIME_METRIC
from virnucpro.errors import InputError

INDEX_FILE = "index.html"
RUNS_DIR = "runs"
TITLE = "VirNucPro benchmark dashboard"
HEADLINE_METRICS = (
    TOTAL_TIME_METRIC,
    "end_to_end.reads_per_s",
    "throughput.dnabert.tokens_per_s",
    "throughput.esm.tokens_per_s",
    "memory.host_peak_rss",
    "memory.cuda_peak_allocated",
    GPU_UTIL_METRIC,
)
FALLBACK_HEADLINES = 6
SAFE = re.compile(r"[^A-Za-z0-9._-]+")
STATUS_WORDS = {True: "met", False: "NOT MET", None: "not evaluated"}
LINES_KEY = (
    f'Dotted lines: <span style="color:{BASELINE_COLOR}">green, the baseline level</span> '
    f'(median of the first runs); <span style="color:{THRESHOLD_COLOR}">orange, the '
    "threshold</span> (the checker's, e.g. +10% for a time). Hover a point for its commit, "
    "time, n, median and IQR."
)
OUTCOME_CLASS = {
    "pass": "pass",
    "warn": "warn",
    "regression": "bad",
    "outputs_changed": "bad",
    "could_not_judge": "bad",
}


@dataclass(frozen=True)
class SiteResult:
    """What was written: the folder, its pages and its total size in bytes."""

    out_dir: Path
    pages: tuple[Path, ...]
    size_bytes: int


def safe_name(text: str) -> str:
    return SAFE.sub("_", text).strip("_") or "_"


def key_dir(key: str) -> str:
    return safe_name(key.replace("/", "--"))


def run_order(entries: Sequence[RunEntry]) -> list[RunEntry]:
    """Runs oldest first (ties by run id)."""
    return sorted(entries, key=lambda e: (_moment(e.created_at), e.run_id))


def _moment(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def headline_metrics(runs: Sequence[RunEntry]) -> list[str]:
    """The headline metrics measured in these runs (else the first few measured ones)."""
    seen = all_metrics(runs)
    chosen = [name for name in HEADLINE_METRICS if name in seen]
    return chosen or seen[:FALLBACK_HEADLINES]


def all_metrics(runs: Sequence[RunEntry]) -> list[str]:
    names: dict[str, None] = {}
    for entry in runs:
        names.update((m.name, None) for m in entry.metrics if m.median is not None)
    return list(names)


def _outcome(entry: RunEntry) -> str:
    word = (entry.outcome or "not judged").replace("_", " ")
    css = OUTCOME_CLASS.get(entry.outcome or "", "muted")
    return f'<span class="{css}">{html.escape(word.upper())}</span>'


def _validity(entry: RunEntry) -> str:
    if entry.valid:
        return "valid"
    return '<span class="bad">INVALID</span>: ' + html.escape("; ".join(entry.invalid_reasons))


def _requirements(entry: RunEntry) -> str:
    if not entry.requirements:
        return '<p class="muted">No requirement rows in this run\'s report.</p>'
    rows = [
        (
            html.escape(r.name),
            f'<span class="{"met" if r.passed else "bad" if r.passed is False else "muted"}">'
            f"{STATUS_WORDS[r.passed]}</span>",
            html.escape(r.detail),
        )
        for r in entry.requirements
    ]
    return table(("requirement (target)", "status", "detail"), rows)


def _trend_cell(trend: TrendReport | None) -> str:
    if trend is None:
        return "no valid run measured it"
    points = ", ".join(f"at run {trend.run_ids[p.index]}" for p in trend.change_points)
    crossing = (
        "" if trend.predicted_crossing is None else f"; crosses at #{trend.predicted_crossing + 1}"
    )
    return html.escape(
        f"{len(trend.change_points)} change point(s) {points}".strip() + f"; {trend.note}{crossing}"
    )


def _run_link(entry: RunEntry, depth: int) -> str:
    target = f"{'../' * depth}{RUNS_DIR}/{safe_name(entry.run_id)}.html"
    return f'<a href="{target}">{html.escape(entry.run_id)}</a>'


def _key_section(key: str, runs: list[RunEntry], trends: dict[str, TrendReport]) -> str:
    latest = runs[-1]
    heads = headline_metrics(runs)
    invalid = sum(not e.valid for e in runs)
    metric_rows = [
        (
            f'<a href="{key_dir(key)}/{safe_name(name)}.html"><code>{html.escape(name)}</code></a>',
            html.escape(_latest_value(runs, name)),
            _trend_cell(trends.get(name)),
        )
        for name in all_metrics(runs)
    ]
    parts = [
        f"<h2>{html.escape(key)}</h2>",
        f"<p>{len(runs)} runs ({invalid} invalid), {html.escape(runs[0].created_at)} to "
        f"{html.escape(latest.created_at)}. Latest run {_run_link(latest, 0)} "
        f"(commit <code>{html.escape(latest.short_commit)}</code>): verdict {_outcome(latest)}, "
        f"{_validity(latest)}.</p>",
        _requirements(latest),
        "<h3>Headline metrics</h3>",
        f'<p class="muted">{LINES_KEY}</p>',
        figure_html(small_multiples(runs, heads, trends), f"overview-{key_dir(key)}"),
        "<h3>Every metric</h3>",
        table(("metric", "latest median", "trend"), metric_rows),
    ]
    return "\n".join(parts)


def _latest_value(runs: Sequence[RunEntry], name: str) -> str:
    metric = runs[-1].metric(name)
    if metric is None:
        return "not recorded in the latest run"
    return format_quantity(metric.median, metric.unit, reason=metric.reason)


CLICK_SCRIPT = """<script>
document.getElementById("{div}").on("plotly_click", function (event) {{
  var row = event.points[0].customdata;
  if (!row) {{ return; }}
  var name = row[0].replace(/[^A-Za-z0-9._-]+/g, "_");
  window.location.href = "../{runs}/" + name + ".html";
}});
</script>"""


def _metric_page(
    key: str,
    name: str,
    runs: list[RunEntry],
    trend: TrendReport | None,
    bisects: Sequence[BisectResult] = (),
) -> str:
    div = f"chart-{safe_name(name)}"
    figure = metric_figure(runs, name, trend)
    marked = bisects if name == TOTAL_TIME_METRIC else ()
    for shape, note in culprit_marks(runs, marked, depth=1):
        figure["layout"]["shapes"].append(shape)
        figure["layout"]["annotations"].append(note)
    rows = [
        (
            str(k + 1),
            _run_link(e, 1),
            f"<code>{html.escape(e.short_commit)}</code>",
            html.escape(e.created_at),
            html.escape(format_quantity(m.median, m.unit) if (m := e.metric(name)) else "-"),
            _validity(e),
        )
        for k, e in enumerate(runs)
    ]
    body = [
        f'<p><a href="../{INDEX_FILE}">&larr; overview</a></p>',
        f"<h1><code>{html.escape(name)}</code></h1>",
        f'<p class="muted">{html.escape(key)}. Trend: {_trend_cell(trend)}. '
        "Hover a point for its run; click it to open the run.</p>",
        figure_html(figure, div),
        CLICK_SCRIPT.format(div=div, runs=RUNS_DIR),
        bisects_section(runs, marked, depth=1),
        "<h2>Runs</h2>",
        table(("#", "run", "commit", "created (UTC)", "median", "validity"), rows),
    ]
    return page(f"{name} - {TITLE}", "\n".join(body), depth=1)


def _run_page(entry: RunEntry) -> str:
    rows = [
        (
            f"<code>{html.escape(m.name)}</code>",
            html.escape(format_quantity(m.median, m.unit, reason=m.reason)),
            html.escape(f"{format_quantity(m.q1, m.unit)} to {format_quantity(m.q3, m.unit)}"),
            str(m.n),
        )
        for m in entry.metrics
    ]
    body = [
        f'<p><a href="../{INDEX_FILE}">&larr; overview</a></p>',
        f"<h1>Run {html.escape(entry.run_id)}</h1>",
        f"<p>commit <code>{html.escape(entry.commit or 'unknown')}</code>"
        f"{' (dirty tree)' if entry.dirty else ''}, {html.escape(entry.created_at)}, tier "
        f"{html.escape(entry.tier)}, key <code>{html.escape(entry.key)}</code>.</p>",
        f"<p>Verdict: {_outcome(entry)}. Validity: {_validity(entry)}.</p>",
        _requirements(entry),
        table(("metric", "median", "IQR (q1 to q3)", "n"), rows),
    ]
    return page(f"run {entry.run_id} - {TITLE}", "\n".join(body), depth=1)


def build_site(
    histories: Mapping[str, Sequence[RunEntry]],
    out_dir: Path,
    *,
    source: str,
    thresholds: Thresholds = DEFAULT_THRESHOLDS,
    now: datetime | None = None,
    bisects: Sequence[BisectResult] = (),
) -> SiteResult:
    """Write the whole site for ``histories`` (key -> runs) into ``out_dir``: the main series'
    overview, metric and run pages, and the gate-health page from the canary and PR series
    (``now`` dates the PR window; the current time unless given); ``bisects`` are marked on
    the total time's pages (:mod:`tools.bench.site.bisects`)."""
    if not any(histories.values()):
        raise InputError("the dashboard needs at least one run")
    out_dir = Path(out_dir)
    pages: dict[Path, str] = {out_dir / PLOTLY_FILE: get_plotlyjs()}
    canaries, prs = gate_health(histories, now=now or datetime.now(timezone.utc))
    pages[out_dir / GATE_FILE] = gate_page(canaries, prs)
    sections = []
    for key in sorted(histories):
        runs = run_order([e for e in histories[key] if e.series == MAIN_SERIES])
        if not runs:
            continue
        trends = {t.metric: t for t in analyze_history(runs, thresholds=thresholds)}
        sections.append(_key_section(key, runs, trends))
        for name in all_metrics(runs):
            path = out_dir / key_dir(key) / f"{safe_name(name)}.html"
            pages[path] = _metric_page(key, name, runs, trends.get(name), bisects)
        pages.update(
            {out_dir / RUNS_DIR / f"{safe_name(e.run_id)}.html": _run_page(e) for e in runs}
        )
    flagged = sum(c.flagged for c in canaries)
    health = f" ({flagged} runner(s) flagged)" if flagged else ""
    intro = (
        f'<h1>{TITLE}</h1><p class="muted">Source: {html.escape(source)}. Points are medians '
        "with their IQR band; red crosses are invalid runs, left out of change detection; "
        "dashed purple lines are change points (E-divisive means, as Apache Otava finds them).</p>"
        f'<p><a href="{GATE_FILE}">Gate health</a>{health}: the nightly A/A canary and the '
        "pull requests' verdicts.</p>"
    )
    pages[out_dir / INDEX_FILE] = page(TITLE, intro + "\n".join(sections), depth=0)
    for result in bisects:
        body = f'<p><a href="../{INDEX_FILE}">&larr; overview</a></p>' + bisect_page_body(result)
        pages[out_dir / page_name(result)] = page(f"bisection - {TITLE}", body, depth=1)
    for path, text in pages.items():
        atomic_write_text(path, text)
    size = sum(p.stat().st_size for p in pages)
    return SiteResult(out_dir=out_dir, pages=tuple(sorted(pages)), size_bytes=size)
