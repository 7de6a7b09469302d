"""``python -m tools.bench``: reports, comparisons, the regression check, baselines, history.

A thin layer over the library: each subcommand parses its options, calls one library function
with keyword arguments and prints what it did. Exit codes: 0 pass, 1 regression, 2 could not
judge (bad input, invalid run or busy host, no baseline unless allowed, total time
inconclusive). Errors are one line,
``tools.bench: error: ...``, never a traceback. This module holds the judging and baseline
commands; the history commands (publish, trend, dashboard, export) are in
:mod:`tools.bench.cli.history`, the shared options in :mod:`tools.bench.cli.common`.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from pathlib import Path

from tabulate import tabulate

from tools.bench.cli.common import (
    DEFAULT_REPORT_DIR,
    PROG,
    Parser,
    Subparsers,
    add_baseline_dir,
    add_results,
    add_threshold_options,
    number,
    subcommand,
    thresholds_from,
)
from tools.bench.cli.history import add_history_commands
from tools.bench.history.baseline import (
    find_baseline,
    read_reference,
    read_results,
    storage_key,
    update_baseline,
)
from tools.bench.history.runs import DEFAULT_HISTORY_DIR
from tools.bench.judge.document import history_folder, judge_document
from tools.bench.report.formatting import SIDE_HEADINGS, change_cell, change_heading, status_cell
from tools.bench.thresholds import MIN_HISTORY_RUNS
from tools.bench.verdict import Verdict
from virnucpro.atomic import atomic_write_text
from virnucpro.bench.schema import ResultsDocument
from virnucpro.errors import EXIT_BAD_INPUT, EXIT_OK, VirnucproError
from virnucpro.extras import missing_extra

DELEGATED = {
    "post": ("tools.bench.cli.github", "main_post"),
    "badge": ("tools.bench.cli.badge", "main_badge"),
    "bisect-post": ("tools.bench.cli.bisect", "main_bisect_post"),
    "change-point-range": ("tools.bench.cli.bisect", "main_change_point_range"),
    "rejudge": ("tools.bench.cli.rejudge", "main_rejudge"),
}
DESCRIPTION = "Benchmark reports, comparisons, regression checks, baselines and history."


# ----------------------------------------------------------------------------- rendering


def verdict_table(verdict: Verdict) -> str:
    """The verdict as a plain-text table with its outcome and reasons."""
    rows = [
        (
            j.name,
            status_cell(j).lower(),
            number(j.baseline_median),
            number(j.candidate_median),
            change_cell(j),
            number(j.p_adjusted),
            j.reason,
        )
        for j in verdict.judgements
    ]
    head = (
        "metric",
        "status",
        *SIDE_HEADINGS[verdict.mode],
        change_heading(verdict),
        "p (BH)",
        "reason",
    )
    lines = [tabulate(rows, headers=head, disable_numparse=True)] if rows else []
    lines.append(f"outcome: {verdict.outcome} (exit {verdict.exit_code})")
    lines += [f"- {reason}" for reason in verdict.reasons]
    return "\n".join(lines)


# ----------------------------------------------------------------------------- subcommands


def _judge_from(args: argparse.Namespace, results: ResultsDocument) -> Verdict:
    return judge_document(
        results,
        baseline_dir=args.baseline_dir,
        thresholds=thresholds_from(args),
        require_baseline=args.require_baseline,
        baseline_file=args.baseline,
        history_dir=history_folder(args.history, default=DEFAULT_HISTORY_DIR, use=args.use_history),
        accept_output_change=args.accept_output_change,
    )


def cmd_check(args: argparse.Namespace) -> int:
    verdict = _judge_from(args, read_results(args.results))
    print(verdict_table(verdict))
    if args.json:
        atomic_write_text(args.json, verdict.model_dump_json(indent=2) + "\n")
    return verdict.exit_code


def cmd_report(args: argparse.Namespace) -> int:
    from tools.bench.report.document import build_report, write_reports

    results = read_results(args.results)
    verdict = _judge_from(args, results) if args.check else None
    report = build_report(results, verdict=verdict, now=datetime.now(timezone.utc))
    md_path, json_path = write_reports(report, args.out)
    print(f"wrote {md_path}\nwrote {json_path}")
    if verdict is not None:
        print(verdict_table(verdict))
    return verdict.exit_code if verdict else EXIT_OK


def cmd_compare(args: argparse.Namespace) -> int:
    from tools.bench.judge.pairing import compare_documents
    from tools.bench.report.compare import render_comparison

    record = read_reference(args.base)
    candidate = read_results(args.candidate)
    comparison = compare_documents(
        record.results,
        candidate,
        thresholds=thresholds_from(args),
        base_label=f"{record.source_run_id} ({record.path})",
        base_path=args.base,
        candidate_path=args.candidate,
    )
    verdict = comparison.verdict
    print(comparison.how)
    text = render_comparison(record.results, candidate, verdict=verdict)
    if args.out:
        atomic_write_text(args.out, text)
        print(f"wrote {args.out}")
    else:
        print(text)
    print(f"verdict: {verdict.outcome} (exit {verdict.exit_code})")
    return verdict.exit_code


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
        (m.name, m.unit, number(m.median), len(m.samples), m.reason or "")
        for m in record.results.metrics
    ]
    print(tabulate(rows, headers=("metric", "unit", "median", "n", "note"), disable_numparse=True))
    return EXIT_OK


def _delegate(command: str, argv: Sequence[str]) -> int:
    module_name, function = DELEGATED[command]
    entry: Callable[[list[str]], int] = getattr(importlib.import_module(module_name), function)
    return int(entry(list(argv)))


# ----------------------------------------------------------------------------- parser


def _add_judge_options(parser: argparse.ArgumentParser) -> None:
    add_baseline_dir(parser)
    parser.add_argument(
        "--baseline", type=Path, metavar="FILE", help="compare with this file instead"
    )
    parser.add_argument(
        "--allow-no-baseline",
        dest="require_baseline",
        action="store_false",
        help="exit 0 when no baseline is found (default: exit 2, nothing was judged)",
    )
    history = parser.add_mutually_exclusive_group()
    history.add_argument(
        "--history",
        type=Path,
        metavar="DIR",
        help=f"run history folder: metrics that {MIN_HISTORY_RUNS} or more earlier comparable "
        "runs in it measured are judged against their between-run noise, not on the one stored "
        f"run's rounds (default: {DEFAULT_HISTORY_DIR} when it exists)",
    )
    history.add_argument(
        "--no-history",
        dest="use_history",
        action="store_false",
        help="judge on the stored run's rounds only, even where a history exists",
    )
    parser.add_argument(
        "--accept-output-change",
        action="store_true",
        help="outputs that differ from the baseline's get a time verdict (the change is meant "
        "to alter the predictions) instead of OUTPUTS CHANGED, exit 1",
    )
    add_threshold_options(parser)


def _add_report_commands(subparsers: Subparsers) -> None:
    report = subcommand(subparsers, "report", cmd_report, "write markdown and JSON reports")
    add_results(report)
    report.add_argument(
        "--out", type=Path, default=DEFAULT_REPORT_DIR, metavar="DIR", help="output folder"
    )
    report.add_argument("--check", action="store_true", help="include a regression verdict")
    _add_judge_options(report)
    compare = subcommand(
        subparsers,
        "compare",
        cmd_compare,
        "compare two runs (markdown): paired when they are the base and head sides of one A/B "
        "run (its runs/ab-*/results-base.json and its report), as that run judged them; "
        "otherwise unpaired, which is weaker",
    )
    compare.add_argument("base", type=Path, metavar="BASE_JSON")
    compare.add_argument("candidate", type=Path, metavar="CAND_JSON")
    compare.add_argument(
        "--out", type=Path, metavar="FILE", help="write to this file instead of stdout"
    )
    add_baseline_dir(compare)
    add_threshold_options(compare)
    check = subcommand(subparsers, "check", cmd_check, "judge a run against its baseline")
    add_results(check)
    _add_judge_options(check)
    check.add_argument("--json", type=Path, metavar="FILE", help="also write the verdict as JSON")


def _add_store_commands(subparsers: Subparsers) -> None:
    store = subparsers.add_parser("baseline", help="set or show the stored baseline")
    actions = store.add_subparsers(dest="action", required=True, metavar="ACTION")
    for name, handler, text in (
        ("update", cmd_baseline_update, "make this run the baseline for its key"),
        ("show", cmd_baseline_show, "show the baseline this run would be compared with"),
    ):
        parser = subcommand(actions, name, handler, text)
        add_results(parser)
        add_baseline_dir(parser)


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog=PROG, description=DESCRIPTION)
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_report_commands(subparsers)
    _add_store_commands(subparsers)
    add_history_commands(subparsers)
    delegated = (
        ("post", "post the report to a pull request"),
        ("badge", "badge data"),
        ("rejudge", "re-judge a PR's report from its raw pairs"),
        ("bisect-post", "post a bisection: job summary, comment on the culprit's merged PR"),
        ("change-point-range", "the newest change point not bisected yet, as GOOD..BAD"),
    )
    for name, text in delegated:
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
    except ModuleNotFoundError as exc:
        missing = missing_extra(exc, command=PROG)
        if missing is None:
            raise
        _error(str(missing))
        return missing.exit_code
    except OSError as exc:
        _error(f"{exc.filename or 'file'}: {exc.strerror or exc.__class__.__name__}")
        return EXIT_BAD_INPUT
