"""The static HTML dashboard: an overview page, one page per metric, one page per run.

The site works from ``file://`` and on GitHub Pages alike: pages use relative links only and
load one shipped script, ``plotly.min.js``, written beside them from the installed Plotly
package (no CDN, no network). Everything else (styles, figure data) is inlined in each page.

- ``index.html``: per group, the latest run's verdict and requirement rows, the headline
  metrics as small multiples, and every metric with its trend and a link to its page;
- ``<group>/<metric>.html``: the metric's chart (:mod:`tools.bench.site.charts`) and its runs;
- ``runs/<run_id>.html``: one run's summary (validity, verdict, requirements, every metric).

A group is one history key (the hardware and the workload, engine, preset, device and
precision) and one kind of run: plain runs and the head sides of A/B runs of the same machine
are drawn apart (:data:`AB_GROUP_NOTE` says why on the page). Its title says what ran in words,
with the key as its tooltip. Where a baseline is stored for the key, every chart draws its
median as a labelled line.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from plotly.offline import get_plotlyjs

from tools.bench.history.baseline import BaselineRecord
from tools.bench.history.gate_health import gate_health
from tools.bench.history.runs import MAIN_SERIES, RunEntry
from tools.bench.history.trend import TrendReport, analyze_history
from tools.bench.report.analysis import GPU_UTIL_METRIC
from tools.bench.report.formatting import format_quantity
from tools.bench.site.bisects import bisect_page_body, bisects_section, culprit_marks, page_name
from tools.bench.site.charts import metric_figure, small_multiples
from tools.bench.site.gate import GATE_FILE, gate_page
from tools.bench.site.groups import Group, groups_of
from tools.bench.site.groups import run_order as run_order
from tools.bench.site.marks import LEVEL_COLOR, STORED_COLOR, THRESHOLD_COLOR
from tools.bench.site.names import key_dir as key_dir
from tools.bench.site.names import safe_name
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
STATUS_WORDS = {True: "met", False: "NOT MET", None: "not evaluated"}
LINES_KEY = (
    f'Dotted lines: <span style="color:{STORED_COLOR}">teal, the stored baseline</span> (the '
    "median of the run stored in baselines/ for this hardware and workload, where one is); "
    f'<span style="color:{LEVEL_COLOR}">grey, the first runs\' level</span> (the median of the '
    f'first valid runs shown); <span style="color:{THRESHOLD_COLOR}">orange, the threshold'
    "</span> (that level plus the checker's threshold, e.g. +10% for a time). Each point's "
    "colour and shape is its run's verdict (the legend names them: a REGRESSION is a red "
    "triangle). Hover a point for its commit, time, n, median, IQR and verdict."
)
AB_GROUP_NOTE = (
    "These are the head sides of A/B runs: each point was measured alternating, round by "
    "round, with its base commit's rounds, and its verdict is about that pair (paired, "
    "against the base), not about a stored baseline. They are drawn apart from the plain runs "
    "of the same machine and workload, whose verdicts are against the stored baseline and the "
    "history."
)
OUTCOME_CLASS = {
    "pass": "pass",
    "warn": "warn",
    "regression": "bad",
    "outputs_changed": "bad",
    "could_not_judge": "bad",
    "inconclusive": "bad",
    "invalid": "bad",
    "no_baseline": "bad",
}


@dataclass(frozen=True)
class SiteResult:
    """What was written: the folder, its pages and its total size in bytes."""

    out_dir: Path
    pages: tuple[Path, ...]
    size_bytes: int


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


def _stored_words(group: Group) -> str:
    stored = group.stored
    if stored is None:
        return "No baseline is stored for this hardware and workload."
    commit = (stored.results.environment.git_commit or "unknown")[:7]
    return (
        f"Stored baseline: run {html.escape(stored.source_run_id)} of "
        f"{html.escape(stored.results.run.created_at[:10])} (commit <code>{commit}</code>), "
        "drawn as a teal line."
    )


def _group_section(group: Group, trends: dict[str, TrendReport]) -> str:
    runs = list(group.runs)
    latest = runs[-1]
    heads = headline_metrics(runs)
    invalid = sum(not e.valid for e in runs)
    metric_rows = [
        (
            f'<a href="{group.folder}/{safe_name(name)}.html"><code>{html.escape(name)}</code></a>',
            html.escape(_latest_value(runs, name)),
            _trend_cell(trends.get(name)),
        )
        for name in all_metrics(runs)
    ]
    note = [f'<p class="muted">{AB_GROUP_NOTE}</p>'] if group.mode == "ab" else []
    figure = small_multiples(runs, heads, trends, group.stored_lines(heads))
    parts = [
        f'<h2 title="{html.escape(group.key)}">{html.escape(group.title())}</h2>',
        *note,
        f"<p>{len(runs)} runs ({invalid} invalid), {html.escape(runs[0].created_at)} to "
        f"{html.escape(latest.created_at)}. Latest run {_run_link(latest, 0)} "
        f"(commit <code>{html.escape(latest.short_commit)}</code>): verdict {_outcome(latest)}, "
        f"{_validity(latest)}. {_stored_words(group)}</p>",
        _requirements(latest),
        "<h3>Headline metrics</h3>",
        f'<p class="muted">{LINES_KEY}</p>',
        figure_html(figure, f"overview-{group.folder}"),
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
    group: Group, name: str, trend: TrendReport | None, bisects: Sequence[BisectResult] = ()
) -> str:
    div = f"chart-{safe_name(name)}"
    runs = list(group.runs)
    figure = metric_figure(runs, name, trend, group.stored_line(name))
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
            _outcome(e),
            _validity(e),
        )
        for k, e in enumerate(runs)
    ]
    body = [
        f'<p><a href="../{INDEX_FILE}">&larr; overview</a></p>',
        f"<h1><code>{html.escape(name)}</code></h1>",
        f'<p class="muted" title="{html.escape(group.key)}">{html.escape(group.title())}. '
        f"Trend: {_trend_cell(trend)}. {_stored_words(group)} "
        "Hover a point for its run; click it to open the run.</p>",
        f'<p class="muted">{LINES_KEY}</p>',
        figure_html(figure, div),
        CLICK_SCRIPT.format(div=div, runs=RUNS_DIR),
        bisects_section(runs, marked, depth=1),
        "<h2>Runs</h2>",
        table(("#", "run", "commit", "created (UTC)", "median", "verdict", "validity"), rows),
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
    baselines: Mapping[str, BaselineRecord] | None = None,
    now: datetime | None = None,
    bisects: Sequence[BisectResult] = (),
) -> SiteResult:
    """Write the whole site for ``histories`` (key -> runs) into ``out_dir``: the main series'
    overview, metric and run pages, and the gate-health page from the canary and PR series
    (``now`` dates the PR window; the current time unless given); ``baselines`` (key -> the
    baseline stored for it) draws each stored baseline's line; ``bisects`` are marked on the
    total time's pages (:mod:`tools.bench.site.bisects`)."""
    if not any(histories.values()):
        raise InputError("the dashboard needs at least one run")
    out_dir = Path(out_dir)
    pages: dict[Path, str] = {out_dir / PLOTLY_FILE: get_plotlyjs()}
    canaries, prs = gate_health(histories, now=now or datetime.now(timezone.utc))
    pages[out_dir / GATE_FILE] = gate_page(canaries, prs)
    main = {key: [e for e in runs if e.series == MAIN_SERIES] for key, runs in histories.items()}
    sections = []
    for group in groups_of(main, baselines or {}):
        runs = list(group.runs)
        trends = {t.metric: t for t in analyze_history(runs, thresholds=thresholds)}
        sections.append(_group_section(group, trends))
        for name in all_metrics(runs):
            path = out_dir / group.folder / f"{safe_name(name)}.html"
            pages[path] = _metric_page(group, name, trends.get(name), bisects)
        pages.update(
            {out_dir / RUNS_DIR / f"{safe_name(e.run_id)}.html": _run_page(e) for e in runs}
        )
    flagged = sum(c.flagged for c in canaries)
    health = f" ({flagged} runner(s) flagged)" if flagged else ""
    intro = (
        f'<h1>{TITLE}</h1><p class="muted">Source: {html.escape(source)}. One section per '
        "machine and workload (its history key is the title's tooltip) and kind of run: plain "
        "runs and A/B runs apart. Points are medians with their IQR band, in the colour and "
        "shape of their run's verdict; red crosses are invalid runs, left out of change "
        "detection; dashed purple lines are change points (E-divisive means, as Apache Otava "
        "finds them).</p>"
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
