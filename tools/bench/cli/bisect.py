"""The command lines around a bisection in CI.

- ``python -m tools.bench bisect-post BISECT.json``: the job summary, a comment on the
  culprit's merged pull request, and with ``--publish-branch`` the record on the data branch
  (where the dashboard marks the culprit and the nightly job sees the range is done). Exit 0
  posted (or skipped for a token that cannot write), 1 an API or push failure, 2 bad input.
- ``python -m tools.bench change-point-range``: the newest change point that made the total
  time worse and has no bisection yet, as ``GOOD..BAD`` on stdout and ``range=GOOD..BAD`` in
  ``$GITHUB_OUTPUT``; nothing when there is none (exit 0 either way, 2 for bad input).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from tools.bench.cli.github import add_api_arguments, api_settings, parse_cli, run_guarded
from tools.bench.github.bisect import BisectPostConfig, post_bisect
from tools.bench.github.event import run_url
from tools.bench.history.bisects import new_change_range, publish_bisect
from tools.bench.history.publish import DEFAULT_REMOTE, resolve_remote
from tools.bench.history.source import load_history
from virnucpro.bench.bisect.schema import read_result
from virnucpro.bench.metric_names import TOTAL_TIME_METRIC
from virnucpro.errors import InputError

POST_PROG = "python -m tools.bench bisect-post"
RANGE_PROG = "python -m tools.bench change-point-range"


def _post_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=POST_PROG,
        description="Post a bisection: job summary, comment on the culprit's merged PR.",
    )
    parser.add_argument("record", type=Path, help="the bisection record (bisect_*.json)")
    add_api_arguments(parser)
    parser.add_argument("--pr", type=int, help="comment here (default: the culprit's merged PR)")
    parser.add_argument("--summary-file", type=Path, help="default: $GITHUB_STEP_SUMMARY")
    parser.add_argument("--report-url", help="where the report lives (default: this CI run)")
    parser.add_argument(
        "--publish-branch", metavar="BRANCH", help="also add the record to this data branch"
    )
    parser.add_argument("--remote", default=DEFAULT_REMOTE, help="of the data branch (origin)")
    return parser


def _post(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    settings = api_settings(args, env)
    result = read_result(args.record)
    link = args.report_url or run_url(env)
    result = result.model_copy(update={"report_url": link or result.report_url})
    summary = args.summary_file or env.get("GITHUB_STEP_SUMMARY")
    config = BisectPostConfig(
        repo=settings.repo,
        token=settings.token,
        token_source=settings.token_source,
        api_url=settings.api_url,
        summary_file=Path(summary) if summary else None,
        pr=args.pr,
        run_url=link,
        dry_run=args.dry_run,
    )
    for line in post_bisect(result, config=config).lines():
        print(line)
    if args.publish_branch:
        if args.dry_run:
            print(f"publish: planned: {args.publish_branch} of {args.remote}")
            return 0
        path, added = publish_bisect(
            result, remote=resolve_remote(args.remote), branch=args.publish_branch
        )
        print(f"publish: {'added' if added else 'already there'}: {path} on {args.publish_branch}")
    return 0


def main_bisect_post(argv: Sequence[str], *, env: Mapping[str, str] | None = None) -> int:
    environ = os.environ if env is None else env
    args = parse_cli(_post_parser(), argv)
    if isinstance(args, int):
        return args
    secret = (environ.get(args.token_env) or "").strip() or None
    return run_guarded(POST_PROG, lambda: _post(args, environ), secret=secret)


def _range_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=RANGE_PROG,
        description="The newest change point that made a metric worse, not bisected yet.",
    )
    parser.add_argument("--dir", type=Path, help="history folder")
    parser.add_argument("--branch", help="data branch (benchmark-data)")
    parser.add_argument("--remote", help="of the data branch (origin)")
    parser.add_argument("--metric", default=TOTAL_TIME_METRIC, help="default: the total time")
    parser.add_argument("--github-output", type=Path, help="default: $GITHUB_OUTPUT")
    return parser


def _range(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    loaded = load_history(folder=args.dir, branch=args.branch, remote=args.remote)
    found = new_change_range(loaded.histories, loaded.bisects, metric=args.metric)
    if found is None:
        print(
            f"no new change point that made {args.metric} worse in {loaded.source}", file=sys.stderr
        )
        return 0
    print(
        f"{found.key}: {args.metric} {found.change:+.1%} at run {found.run_id}; not bisected yet",
        file=sys.stderr,
    )
    print(found.text)
    output = args.github_output or env.get("GITHUB_OUTPUT")
    if output:
        try:
            with open(output, "a", encoding="utf-8") as handle:
                handle.write(f"range={found.text}\n")
        except OSError as exc:
            raise InputError(f"cannot write {output}: {exc.strerror or exc}") from None
    return 0


def main_change_point_range(argv: Sequence[str], *, env: Mapping[str, str] | None = None) -> int:
    environ = os.environ if env is None else env
    args = parse_cli(_range_parser(), argv)
    if isinstance(args, int):
        return args
    return run_guarded(RANGE_PROG, lambda: _range(args, environ), secret=None)
