"""``python -m tools.bench rejudge REPORT --pairs PAIRS --out FILE``: a PR's report with its
verdict re-judged from the raw pairs by this checkout (:mod:`tools.bench.judge.rejudge`).

What a trusted job publishes instead of the verdict the PR's job wrote: the report's data with
this checkout's verdict, requirements and output check. Exit codes: 0 the written verdict
matches, 1 it differs (the re-judged report is written all the same), 2 nothing could be judged
(the raw pairs missing, malformed, oversized or of another commit: a could-not-judge report is
written; an unreadable report: nothing is written) or bad input.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from tools.bench.cli.github import parse_cli, rejudge_args, rejudge_exit_code, run_guarded
from tools.bench.judge.rejudge import read_untrusted_report
from tools.bench.report.document import report_to_json
from virnucpro.atomic import atomic_write_text

PROG = "python -m tools.bench rejudge"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG, description="Re-judge a PR's A/B report from its raw pairs; write the result."
    )
    parser.add_argument("report", type=Path, help="the benchmark_*.json the PR's job wrote")
    parser.add_argument("--pairs", type=Path, required=True, help="its raw pairs, ab_pairs.json")
    parser.add_argument("--out", type=Path, required=True, help="where to write the result")
    parser.add_argument("--head-sha", help="the commit the raw pairs must have measured")
    parser.add_argument("--thresholds", type=Path, help="default: this checkout's")
    parser.add_argument(
        "--accept-output-change",
        action="store_true",
        help="the change is meant to alter the predictions (CI: a label only maintainers set)",
    )
    return parser


def _rejudge(args: argparse.Namespace) -> int:
    report, found = rejudge_args(args, read_untrusted_report(args.report), args.head_sha)
    atomic_write_text(args.out, report_to_json(report))
    for line in (*found.lines(), f"wrote {args.out}"):
        print(line)
    return rejudge_exit_code(found)


def main_rejudge(argv: Sequence[str]) -> int:
    args = parse_cli(_parser(), argv)
    if isinstance(args, int):
        return args
    return run_guarded(PROG, lambda: _rejudge(args), secret=None)
