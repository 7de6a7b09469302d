"""``python -m tools.bench badge REPORT_JSON``: write the report's shields.io badge, and
optionally commit it to a branch (:mod:`tools.bench.github.badge`).
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import requests

from tools.bench.cli.github import add_api_arguments, api_settings, parse_cli, run_guarded
from tools.bench.github.api import GitHubClient, Sleep
from tools.bench.github.badge import (
    DEFAULT_COMMIT_MESSAGE,
    DEFAULT_LABEL,
    DEFAULT_PUBLISH_PATH,
    Badge,
    make_badge,
    publish_badge,
    write_badge,
)
from tools.bench.report.document import read_report
from virnucpro.errors import InputError

PROG = "python -m tools.bench badge"


def _badge_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Write the benchmark report's shields.io badge, optionally commit it.",
    )
    parser.add_argument("report", type=Path, help="benchmark report JSON (benchmark_*.json)")
    parser.add_argument("--out", type=Path, help="where to write the badge JSON")
    parser.add_argument("--label", default=DEFAULT_LABEL, help="left-hand text of the badge")
    parser.add_argument("--publish-branch", metavar="BRANCH", help="commit the badge to BRANCH")
    parser.add_argument(
        "--publish-path",
        metavar="PATH",
        help=f"file on that branch (default: {DEFAULT_PUBLISH_PATH})",
    )
    parser.add_argument("--commit-message", default=DEFAULT_COMMIT_MESSAGE)
    add_api_arguments(parser)
    return parser


def _check_badge_args(args: argparse.Namespace) -> None:
    if args.publish_path is not None and args.publish_branch is None:
        raise InputError("--publish-path needs --publish-branch")
    if args.out is None and args.publish_branch is None:
        raise InputError("nothing to do: give --out and/or --publish-branch")


def _publish_from_cli(
    args: argparse.Namespace, env: Mapping[str, str], badge: Badge, sleep: Sleep
) -> str:
    settings = api_settings(args, env)
    path = args.publish_path or DEFAULT_PUBLISH_PATH
    if settings.token is None and not args.dry_run:
        raise InputError(f"publishing the badge needs a token in {settings.token_source}")
    with requests.Session() as session:
        client = GitHubClient(
            api_url=settings.api_url,
            token=settings.token,
            session=session,
            sleep=sleep,
            dry_run=args.dry_run,
        )
        action = publish_badge(
            client,
            badge,
            repo=settings.repo,
            branch=args.publish_branch,
            path=path,
            message=args.commit_message,
        )
    return f"badge: {action}: {path} on {args.publish_branch}"


def _badge_from_cli(args: argparse.Namespace, env: Mapping[str, str], sleep: Sleep) -> int:
    _check_badge_args(args)
    badge = make_badge(read_report(args.report), label=args.label)
    if args.out is not None:
        write_badge(badge, args.out)
        print(f"badge: written: {args.out} ({badge.message}, {badge.color})")
    if args.publish_branch is not None:
        print(_publish_from_cli(args, env, badge, sleep))
    return 0


def main_badge(
    argv: Sequence[str], *, env: Mapping[str, str] | None = None, sleep: Sleep = time.sleep
) -> int:
    """``python -m tools.bench badge REPORT_JSON``: 0 written, 1 API error, 2 bad input."""
    environ = os.environ if env is None else env
    args = parse_cli(_badge_parser(), argv)
    if isinstance(args, int):
        return args
    secret = (environ.get(args.token_env) or "").strip() or None
    return run_guarded(PROG, lambda: _badge_from_cli(args, environ, sleep), secret=secret)
