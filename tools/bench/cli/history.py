"""``python -m tools.bench`` history commands: publish, trend, dashboard and export.

``publish`` adds a run to the history (a folder, or a git data branch); ``trend`` prints change
points, slopes and predicted threshold crossings; ``dashboard --html`` writes the static site
(``--md`` the markdown page with PNG charts for PR comments); ``export`` writes a run for
pytest-benchmark, github-action-benchmark or Bencher.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from pathlib import Path

from tabulate import tabulate

from tools.bench.cli.common import (
    DEFAULT_REPORT_DIR,
    UNAVAILABLE,
    Subparsers,
    add_baseline_dir,
    add_results,
    add_threshold_options,
    number,
    subcommand,
    thresholds_from,
)
from tools.bench.history.baseline import read_results, stored_baselines
from tools.bench.history.publish import (
    DEFAULT_BRANCH,
    DEFAULT_REMOTE,
    publish_to_branch,
    resolve_remote,
)
from tools.bench.history.runs import DEFAULT_HISTORY_DIR, MAIN_SERIES, SERIES, add_run
from tools.bench.history.source import LoadedHistory, entry_from_file, load_history
from tools.bench.history.trend import TrendReport, analyze_history
from tools.bench.report.export import FORMATS, export_text
from virnucpro.atomic import atomic_write_text
from virnucpro.errors import EXIT_OK, InputError
from virnucpro.extras import require

DEFAULT_SITE_DIR = DEFAULT_REPORT_DIR / "dashboard"


def cmd_publish(args: argparse.Namespace) -> int:
    entry = entry_from_file(args.results, series=args.series)
    if args.branch is not None or args.remote is not None:
        if args.dir is not None:
            raise InputError("give either --dir or --branch/--remote, not both")
        remote = resolve_remote(args.remote or DEFAULT_REMOTE)
        result = publish_to_branch(entry, remote=remote, branch=args.branch or DEFAULT_BRANCH)
        where = f"{result.path} on branch {result.branch} of {remote}"
        tries = f" after {result.attempts} attempts" if result.attempts > 1 else ""
        done = "added" if result.added else "already there"
        print(f"run {entry.run_id}: {done}, {where} ({result.runs} runs){tries}")
        return EXIT_OK
    folder = args.dir or DEFAULT_HISTORY_DIR
    added = add_run(folder, entry)
    done = "added" if added.added else "already there"
    print(f"run {entry.run_id}: {done}, {added.path} ({added.runs} runs)")
    return EXIT_OK


def _loaded(args: argparse.Namespace) -> LoadedHistory:
    loaded = load_history(folder=args.dir, branch=args.branch, remote=args.remote)
    if args.key:
        if args.key not in loaded.histories:
            found = ", ".join(sorted(loaded.histories)) or "none"
            raise InputError(f"no history for key {args.key} in {loaded.source} (found: {found})")
        return LoadedHistory({args.key: loaded.histories[args.key]}, loaded.source, loaded.bisects)
    return loaded


def _change_points(report: TrendReport) -> str:
    points = [
        f"#{c.index} {number(c.level_before)}->{number(c.level_after)}"
        for c in report.change_points
    ]
    return ", ".join(points) or "none"


def trend_table(reports: Sequence[TrendReport]) -> str:
    rows = [
        (
            r.metric,
            len(r.medians),
            _change_points(r),
            UNAVAILABLE if r.slope is None else f"{r.slope:+.3g} ± {r.slope_se:.2g}",
            number(r.threshold_level),
            UNAVAILABLE if r.predicted_crossing is None else f"#{r.predicted_crossing}",
            r.note,
        )
        for r in reports
    ]
    head = ("metric", "runs", "change points", "slope/run", "threshold", "crossing", "note")
    return tabulate(rows, headers=head, disable_numparse=True)


def cmd_trend(args: argparse.Namespace) -> int:
    loaded = _loaded(args)
    thresholds = thresholds_from(args)
    print(f"from {loaded.source}")
    for key, runs in sorted(loaded.histories.items()):
        reports = analyze_history(runs, metrics=args.metric, thresholds=thresholds)
        print(f"{key} ({len(runs)} runs)\n{trend_table(reports)}")
    return EXIT_OK


def cmd_dashboard(args: argparse.Namespace) -> int:
    require("dashboard", command="python -m tools.bench dashboard")
    loaded = _loaded(args)
    if args.md is not None:
        from tools.bench.site.markdown import write_dashboard

        if len(loaded.histories) != 1:
            found = ", ".join(sorted(loaded.histories))
            raise InputError(f"--md charts one history: choose it with --key (found: {found})")
        (runs,) = loaded.histories.values()
        print(f"wrote {write_dashboard(runs, args.md, metrics=args.metric)}")
    if args.md is None or args.html is not None:
        from tools.bench.site.pages import build_site

        started = time.perf_counter()
        site = build_site(
            loaded.histories,
            args.html or DEFAULT_SITE_DIR,
            source=loaded.source,
            thresholds=thresholds_from(args),
            baselines=stored_baselines(loaded.histories, args.baseline_dir),
            bisects=loaded.bisects,
        )
        seconds = time.perf_counter() - started
        print(
            f"wrote {site.out_dir / 'index.html'} ({len(site.pages)} files, "
            f"{site.size_bytes / 2**20:.1f} MiB, {seconds:.1f} s) from {loaded.source}"
        )
    return EXIT_OK


def cmd_export(args: argparse.Namespace) -> int:
    text = export_text(read_results(args.results), args.format, bigger=args.bigger)
    if args.out is None:
        print(text, end="")
    else:
        atomic_write_text(args.out, text)
        print(f"wrote {args.out} ({args.format})")
    return EXIT_OK


def _add_source_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group(
        "where the runs come from (default: the benchmark-data branch of this checkout, "
        f"else {DEFAULT_HISTORY_DIR}, else the reports under {DEFAULT_REPORT_DIR})"
    )
    group.add_argument("--dir", type=Path, metavar="DIR", help="a history folder")
    group.add_argument("--branch", metavar="BRANCH", help=f"a data branch ({DEFAULT_BRANCH})")
    group.add_argument(
        "--remote", metavar="REMOTE", help="remote name, URL or path of that branch (origin)"
    )
    parser.add_argument("--key", metavar="KEY", help="one history <hardware_key>/<slug>")
    parser.add_argument("--metric", action="append", metavar="NAME", help="metric (repeatable)")


def add_history_commands(subparsers: Subparsers) -> None:
    publish = subcommand(
        subparsers, "publish", cmd_publish, "add a run to the history (a folder or a data branch)"
    )
    add_results(publish, what="benchmark_*.json report (or results document)")
    publish.add_argument(
        "--dir", type=Path, metavar="DIR", help=f"history folder (default: {DEFAULT_HISTORY_DIR})"
    )
    publish.add_argument("--branch", metavar="BRANCH", help=f"git data branch ({DEFAULT_BRANCH})")
    publish.add_argument("--remote", metavar="REMOTE", help="remote name, URL or path (origin)")
    publish.add_argument(
        "--series",
        choices=SERIES,
        default=MAIN_SERIES,
        help="the series the run joins: runs (the main job's trend, default), canary (the "
        "nightly A/A gate check), pr (a pull request's verdict, kept without metrics)",
    )
    trend = subcommand(subparsers, "trend", cmd_trend, "change points and drift per metric")
    _add_source_options(trend)
    add_baseline_dir(trend)
    add_threshold_options(trend)
    dashboard = subcommand(
        subparsers, "dashboard", cmd_dashboard, "write the HTML dashboard (publish runs first)"
    )
    _add_source_options(dashboard)
    dashboard.add_argument(
        "--html", type=Path, metavar="OUTDIR", help=f"site folder (default: {DEFAULT_SITE_DIR})"
    )
    dashboard.add_argument(
        "--md", type=Path, metavar="OUTDIR", help="markdown page with PNG charts instead"
    )
    add_baseline_dir(dashboard)
    add_threshold_options(dashboard)
    export = subcommand(
        subparsers,
        "export",
        cmd_export,
        "write a run for pytest-benchmark, github-action-benchmark or Bencher",
    )
    add_results(export, what="benchmark_*.json report (or results document)")
    export.add_argument("--format", required=True, choices=FORMATS)
    export.add_argument(
        "--bigger",
        action="store_true",
        help="github-action-benchmark: the higher-is-better metrics (customBiggerIsBetter)",
    )
    export.add_argument("--out", type=Path, metavar="FILE", help="write here instead of stdout")
