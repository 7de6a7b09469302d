"""``python -m tools.bench``: reports, comparisons, the regression check, baselines and trends.

A thin layer over the library: each subcommand parses its options, calls one library function
with keyword arguments and prints what it did. Exit codes: 0 pass, 1 regression, 2 could not
judge (bad input, invalid run, required baseline absent). Errors are one line,
``tools.bench: error: ...``, never a traceback. The report, compare, dashboard, post and badge
modules are imported only when their subcommand runs.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import NoReturn

from tabulate import tabulate

from tools.bench.baseline import (
    DEFAULT_BASELINE_DIR,
    append_history,
    find_baseline,
    history_keys,
    read_history,
    read_reference,
    read_results,
    storage_key,
    update_baseline,
)
from tools.bench.check import check_regression
from tools.bench.judging import judge_document, resolve_thresholds
from tools.bench.thresholds import THRESHOLDS_FILE_NAME, Thresholds
from tools.bench.trend import TrendReport, analyze_history
from tools.bench.verdict import Verdict
from virnucpro.atomic import atomic_write_text
from virnucpro.bench.schema import ResultsDocument
from virnucpro.errors import EXIT_BAD_INPUT, EXIT_OK, InputError, VirnucproError

PROG = "tools.bench"
DEFAULT_REPORT_DIR = Path("tests/reports")
DELEGATED = {"post": ("github_cli", "main_post"), "badge": ("badge", "main_badge")}
NUMBER_FORMAT = "{:.4g}"
UNAVAILABLE = "-"
DESCRIPTION = "Benchmark reports, comparisons, regression checks, baselines and trends."
# option flag -> Thresholds field, type, help
THRESHOLD_OPTIONS: tuple[tuple[str, str, type, str], ...] = (
    ("--fail-threshold", "fail_slowdown", float, "fail above this slowdown of a time (0.10)"),
    ("--memory-threshold", "warn_memory_growth", float, "warn above this memory growth (0.20)"),
    (
        "--utilization-threshold",
        "warn_utilization_drop_points",
        float,
        "warn above this GPU utilization drop, points (5)",
    ),
    (
        "--scaling-threshold",
        "warn_scaling_efficiency_drop",
        float,
        "warn above this scaling efficiency drop (0.05)",
    ),
    ("--other-threshold", "warn_other_change", float, "warn above this change of others (0.10)"),
    ("--alpha", "alpha", float, "significance level after Benjamini-Hochberg (0.05)"),
    ("--min-samples", "min_samples", int, "fewest samples a side to judge a metric (5)"),
)


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line and exit 2."""

    def error(self, message: str) -> NoReturn:
        print(f"{PROG}: error: {message} (see --help)", file=sys.stderr)
        raise SystemExit(EXIT_BAD_INPUT)


# ----------------------------------------------------------------------------- rendering


def _number(value: float | None) -> str:
    return UNAVAILABLE if value is None else NUMBER_FORMAT.format(value)


def _percent(value: float | None) -> str:
    return UNAVAILABLE if value is None else f"{value:+.1%}"


def verdict_table(verdict: Verdict) -> str:
    """The verdict as a plain-text table with its outcome and reasons."""
    rows = [
        (
            j.name,
            j.status,
            _number(j.baseline_median),
            _number(j.candidate_median),
            _percent(j.change),
            _number(j.p_adjusted),
            j.reason,
        )
        for j in verdict.judgements
    ]
    head = ("metric", "status", "baseline", "candidate", "worse by", "p (BH)", "reason")
    lines = [tabulate(rows, headers=head, disable_numparse=True)] if rows else []
    lines.append(f"outcome: {verdict.outcome} (exit {verdict.exit_code})")
    lines += [f"- {reason}" for reason in verdict.reasons]
    return "\n".join(lines)


def _change_points(report: TrendReport) -> str:
    points = [
        f"#{c.index} {_number(c.level_before)}->{_number(c.level_after)}"
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
            _number(r.threshold_level),
            UNAVAILABLE if r.predicted_crossing is None else f"#{r.predicted_crossing}",
            r.note,
        )
        for r in reports
    ]
    head = ("metric", "runs", "change points", "slope/run", "threshold", "crossing", "note")
    return tabulate(rows, headers=head, disable_numparse=True)


# ----------------------------------------------------------------------------- subcommands


def _thresholds_from(args: argparse.Namespace) -> Thresholds:
    overrides = {field: getattr(args, field) for _, field, _, _ in THRESHOLD_OPTIONS}
    return resolve_thresholds(
        file=args.thresholds, baseline_dir=args.baseline_dir, overrides=overrides
    )


def _judge_from(args: argparse.Namespace, results: ResultsDocument) -> Verdict:
    return judge_document(
        results,
        baseline_dir=args.baseline_dir,
        thresholds=_thresholds_from(args),
        require_baseline=args.require_baseline,
        baseline_file=args.baseline,
    )


def cmd_check(args: argparse.Namespace) -> int:
    verdict = _judge_from(args, read_results(args.results))
    print(verdict_table(verdict))
    if args.json:
        atomic_write_text(args.json, verdict.model_dump_json(indent=2) + "\n")
    return verdict.exit_code


def cmd_report(args: argparse.Namespace) -> int:
    from tools.bench.report import build_report, write_reports

    results = read_results(args.results)
    verdict = _judge_from(args, results) if args.check else None
    report = build_report(results, verdict=verdict, now=datetime.now(timezone.utc))
    md_path, json_path = write_reports(report, args.out)
    print(f"wrote {md_path}\nwrote {json_path}")
    if verdict is not None:
        print(verdict_table(verdict))
    return verdict.exit_code if verdict else EXIT_OK


def cmd_compare(args: argparse.Namespace) -> int:
    from tools.bench.compare import render_comparison

    baseline = read_reference(args.base).results
    candidate = read_results(args.candidate)
    verdict = check_regression(candidate, baseline, thresholds=_thresholds_from(args))
    text = render_comparison(baseline, candidate, verdict=verdict)
    if args.out:
        atomic_write_text(args.out, text)
        print(f"wrote {args.out}")
    else:
        print(text)
    return EXIT_OK


def cmd_baseline_update(args: argparse.Namespace) -> int:
    path = update_baseline(read_results(args.results), args.baseline_dir)
    print(f"baseline set: {path}")
    return EXIT_OK


def cmd_baseline_show(args: argparse.Namespace) -> int:
    results = read_results(args.results)
    record = find_baseline(results, args.baseline_dir)
    if record is None:
        print(f"no baseline stored for {storage_key(results)} in {args.baseline_dir}")
        return EXIT_OK
    print(f"baseline {record.path}\nset {record.created_at} from run {record.source_run_id}")
    rows = [
        (m.name, m.unit, _number(m.median), len(m.samples), m.reason or "")
        for m in record.results.metrics
    ]
    print(tabulate(rows, headers=("metric", "unit", "median", "n", "note"), disable_numparse=True))
    return EXIT_OK


def cmd_history_append(args: argparse.Namespace) -> int:
    path = append_history(read_results(args.results), args.baseline_dir)
    print(f"appended to {path}")
    return EXIT_OK


def _keys(args: argparse.Namespace) -> list[str]:
    if args.key:
        if not read_history(args.baseline_dir, args.key):
            raise InputError(f"no history for key {args.key} in {args.baseline_dir}")
        return [args.key]
    return history_keys(args.baseline_dir)


def cmd_trend(args: argparse.Namespace) -> int:
    keys = _keys(args)
    if not keys:
        print(f"no history in {args.baseline_dir}")
    thresholds = _thresholds_from(args)
    for key in keys:
        history = read_history(args.baseline_dir, key)
        reports = analyze_history(history, metrics=args.metric, thresholds=thresholds)
        print(f"{key} ({len(history)} runs)\n{trend_table(reports)}")
    return EXIT_OK


def cmd_dashboard(args: argparse.Namespace) -> int:
    from tools.bench.dashboard import write_dashboard

    keys = _keys(args)
    if len(keys) != 1:
        found = ", ".join(keys) or "none"
        raise InputError(f"choose one history with --key (found: {found})")
    history = read_history(args.baseline_dir, keys[0])
    path = write_dashboard(history, args.out, metrics=args.metric)
    print(f"wrote {path}")
    return EXIT_OK


def _delegate(command: str, argv: Sequence[str]) -> int:
    module_name, function = DELEGATED[command]
    entry: Callable[[list[str]], int] = getattr(
        importlib.import_module(f"tools.bench.{module_name}"), function
    )
    return int(entry(list(argv)))


# ----------------------------------------------------------------------------- parser


def _add_results(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("results", type=Path, metavar="RESULTS_JSON", help="results document")


def _add_baseline_dir(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--baseline-dir",
        type=Path,
        default=DEFAULT_BASELINE_DIR,
        metavar="DIR",
        help="baselines folder (default: the repository's baselines/)",
    )


def _add_threshold_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("thresholds")
    group.add_argument(
        "--thresholds",
        type=Path,
        metavar="FILE",
        help=f"TOML file (default: <baseline-dir>/{THRESHOLDS_FILE_NAME})",
    )
    for flag, field, kind, text in THRESHOLD_OPTIONS:
        metavar = "N" if kind is int else "X"
        group.add_argument(flag, dest=field, type=kind, metavar=metavar, help=text)


def _add_judge_options(parser: argparse.ArgumentParser) -> None:
    _add_baseline_dir(parser)
    parser.add_argument(
        "--baseline", type=Path, metavar="FILE", help="compare with this file instead"
    )
    parser.add_argument(
        "--require-baseline", action="store_true", help="exit 2 when no baseline is found"
    )
    _add_threshold_options(parser)


def _add_history_options(parser: argparse.ArgumentParser) -> None:
    _add_baseline_dir(parser)
    parser.add_argument(
        "--key", metavar="KEY", help="history key <hardware_key>/<slug> (default: all)"
    )
    parser.add_argument(
        "--metric", action="append", metavar="NAME", help="metric name (repeatable)"
    )


def _subcommand(
    subparsers: argparse._SubParsersAction, name: str, handler: Callable[..., int], text: str
) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(name, help=text, description=text)
    parser.set_defaults(handler=handler)
    return parser


def _add_report_commands(subparsers: argparse._SubParsersAction) -> None:
    report = _subcommand(subparsers, "report", cmd_report, "write markdown and JSON reports")
    _add_results(report)
    report.add_argument(
        "--out", type=Path, default=DEFAULT_REPORT_DIR, metavar="DIR", help="output folder"
    )
    report.add_argument("--check", action="store_true", help="include a regression verdict")
    _add_judge_options(report)
    compare = _subcommand(subparsers, "compare", cmd_compare, "compare two runs (markdown)")
    compare.add_argument("base", type=Path, metavar="BASE_JSON")
    compare.add_argument("candidate", type=Path, metavar="CAND_JSON")
    compare.add_argument(
        "--out", type=Path, metavar="FILE", help="write to this file instead of stdout"
    )
    _add_baseline_dir(compare)
    _add_threshold_options(compare)
    check = _subcommand(subparsers, "check", cmd_check, "judge a run against its baseline")
    _add_results(check)
    _add_judge_options(check)
    check.add_argument("--json", type=Path, metavar="FILE", help="also write the verdict as JSON")


def _add_store_commands(subparsers: argparse._SubParsersAction) -> None:
    store = subparsers.add_parser("baseline", help="set or show the stored baseline")
    actions = store.add_subparsers(dest="action", required=True, metavar="ACTION")
    for name, handler, text in (
        ("update", cmd_baseline_update, "make this run the baseline for its key"),
        ("show", cmd_baseline_show, "show the baseline this run would be compared with"),
    ):
        parser = _subcommand(actions, name, handler, text)
        _add_results(parser)
        _add_baseline_dir(parser)
    history = subparsers.add_parser("history", help="the append-only run history")
    actions = history.add_subparsers(dest="action", required=True, metavar="ACTION")
    append = _subcommand(actions, "append", cmd_history_append, "append this run to its history")
    _add_results(append)
    _add_baseline_dir(append)
    trend = _subcommand(subparsers, "trend", cmd_trend, "change points and drift per metric")
    _add_history_options(trend)
    _add_threshold_options(trend)
    dashboard = _subcommand(subparsers, "dashboard", cmd_dashboard, "write the trend dashboard")
    _add_history_options(dashboard)
    dashboard.add_argument(
        "--out", type=Path, default=DEFAULT_REPORT_DIR, metavar="DIR", help="output folder"
    )


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog=PROG, description=DESCRIPTION)
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_report_commands(subparsers)
    _add_store_commands(subparsers)
    for name, text in (("post", "post the report to a pull request"), ("badge", "badge data")):
        subparsers.add_parser(name, help=f"{text} (options: {name} --help)", add_help=False)
    return parser


def _error(message: str) -> None:
    print(f"{PROG}: error: {message}", file=sys.stderr)


def _parse(arguments: list[str]) -> argparse.Namespace | int:
    """Parsed arguments, or the exit code of --help or of a usage error (already printed)."""
    try:
        return build_parser().parse_args(arguments)
    except SystemExit as exc:
        return int(exc.code or 0)


def main(argv: Sequence[str] | None = None) -> int:
    """Run one subcommand; return its exit code."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    try:
        if arguments and arguments[0] in DELEGATED:
            return _delegate(arguments[0], arguments[1:])
        args = _parse(arguments)
        return args if isinstance(args, int) else int(args.handler(args))
    except VirnucproError as exc:
        _error(str(exc))
        return exc.exit_code
    except OSError as exc:
        _error(f"{exc.filename or 'file'}: {exc.strerror or exc.__class__.__name__}")
        return EXIT_BAD_INPUT
