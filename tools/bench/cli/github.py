"""The command lines of the GitHub tools: ``python -m tools.bench post`` and the plumbing it
shares with ``badge`` (API settings from flags or the Actions environment, one-line redacted
errors). Posting itself is :mod:`tools.bench.github.post`; the client is
:mod:`tools.bench.github.api`.

``post REPORT --pairs PAIRS`` is the trusted mode CI uses for pull requests: the verdict is
re-judged from the raw pairs with this checkout's judge and thresholds
(:mod:`tools.bench.judge.rejudge`), never taken from the report. Exit codes there: 0 posted (the
verdict, whatever it is), 1 the report's written verdict differed (a failure status was posted)
or an API error, 2 nothing could be judged (an error status was posted) or bad input.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from tools.bench.github.api import (
    DEFAULT_API_URL,
    DEFAULT_TOKEN_ENV,
    REDACTED,
    Clock,
    Sleep,
    clean_token,
    validate_api_url,
)
from tools.bench.github.event import post_target
from tools.bench.github.post import (
    DEFAULT_CONTEXT,
    PostConfig,
    Posting,
    post_report,
    problem_posting,
    rejudged_posting,
    report_posting,
)
from tools.bench.github.render import DEFAULT_MARKER
from tools.bench.judge.document import resolve_thresholds
from tools.bench.judge.rejudge import Rejudgement, read_untrusted_report, rejudge
from tools.bench.report.document import read_report
from tools.bench.thresholds import Thresholds
from tools.bench.verdict import ReportDocument
from virnucpro.errors import EXIT_BAD_INPUT, EXIT_FAILURE, InputError, VirnucproError

PROG = "python -m tools.bench post"
POST_DESCRIPTION = (
    "Post a benchmark report to GitHub: one sticky PR comment, a commit status, the job summary."
)
REPO_PATTERN = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")
CHECKOUT = Path(__file__).resolve().parents[3]  # the checkout these tools run from
BASELINE_DIR = CHECKOUT / "baselines"  # its thresholds.toml is the trusted one
EXIT_DIFFERS = 1


@dataclass(frozen=True)
class ApiSettings:
    """API URL, token and repository from flags, else the GitHub Actions environment."""

    api_url: str
    repo: str
    token: str | None = field(default=None, repr=False)
    token_source: str = f"${DEFAULT_TOKEN_ENV}"


def add_api_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--api-url", help=f"default: $GITHUB_API_URL or {DEFAULT_API_URL}")
    parser.add_argument(
        "--token-env",
        default=DEFAULT_TOKEN_ENV,
        metavar="NAME",
        help="environment variable holding the token (default: GITHUB_TOKEN)",
    )
    parser.add_argument("--repo", help="owner/name (default: $GITHUB_REPOSITORY)")
    parser.add_argument(
        "--dry-run", action="store_true", help="print the requests instead of sending them"
    )


def api_settings(args: argparse.Namespace, env: Mapping[str, str]) -> ApiSettings:
    """Resolve the API settings; a missing or malformed value is an :class:`InputError`."""
    repo = args.repo or env.get("GITHUB_REPOSITORY", "")
    if not REPO_PATTERN.match(repo):
        raise InputError(
            f"repository {repo!r} is not owner/name (give --repo or set GITHUB_REPOSITORY)"
        )
    source = f"${args.token_env}"
    return ApiSettings(
        api_url=validate_api_url(args.api_url or env.get("GITHUB_API_URL") or DEFAULT_API_URL),
        repo=repo,
        token=clean_token(env.get(args.token_env), source=source),
        token_source=source,
    )


def parse_cli(parser: argparse.ArgumentParser, argv: Sequence[str]) -> argparse.Namespace | int:
    """Parsed arguments, or the exit code argparse chose (0 for --help, 2 for bad usage)."""
    try:
        return parser.parse_args(list(argv))
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else EXIT_BAD_INPUT


def run_guarded(prog: str, action: Callable[[], int], *, secret: str | None) -> int:
    """Run a command; any error becomes one redacted ``prog: error: ...`` line and its exit code.

    Unexpected exceptions are caught too: a traceback could carry the token in a message.
    """
    try:
        return action()
    except VirnucproError as exc:
        message, code = str(exc), exc.exit_code
    except Exception as exc:  # see the docstring: nothing may print the token
        message, code = f"unexpected {exc.__class__.__name__}: {exc}", EXIT_FAILURE
    line = " ".join(message.split())
    if secret:
        line = line.replace(secret, REDACTED)
    print(f"{prog}: error: {line}", file=sys.stderr)
    return code


# --- python -m tools.bench post ------------------------------------------------------------


def _post_parser() -> argparse.ArgumentParser:

    parser = argparse.ArgumentParser(prog=PROG, description=POST_DESCRIPTION)
    parser.add_argument("report", type=Path, help="benchmark report JSON (benchmark_*.json)")
    add_api_arguments(parser)
    parser.add_argument("--pr", type=int, help="pull request number (default: from the event)")
    parser.add_argument("--sha", help="commit to set the status on (default: the PR head)")
    parser.add_argument("--summary-file", type=Path, help="default: $GITHUB_STEP_SUMMARY")
    parser.add_argument("--marker", default=DEFAULT_MARKER, help="hidden marker of our comment")
    parser.add_argument("--context", default=DEFAULT_CONTEXT, help="commit status context")
    trusted = parser.add_argument_group(
        "trusted mode (CI on pull requests): never believe the report's verdict"
    )
    trusted.add_argument(
        "--pairs",
        type=Path,
        metavar="FILE",
        help="re-judge these raw A/B pairs (ab_pairs.json) with this checkout's judge and "
        "thresholds and post that verdict; missing, malformed or oversized pairs post an error "
        "status, a written verdict that differs posts a failure status",
    )
    trusted.add_argument(
        "--thresholds",
        type=Path,
        metavar="FILE",
        help=f"thresholds for the re-judge (default: {BASELINE_DIR}/thresholds.toml, else the "
        "built-in defaults)",
    )
    trusted.add_argument(
        "--accept-output-change",
        action="store_true",
        help="the change is meant to alter the predictions (CI: a label only maintainers set)",
    )
    return parser


def _post_from_cli(
    args: argparse.Namespace, env: Mapping[str, str], sleep: Sleep, clock: Clock
) -> int:

    settings = api_settings(args, env)
    target = post_target(args, env)
    report = read_report(args.report) if args.pairs is None else None
    config = PostConfig(
        repo=settings.repo,
        pr=target.pr,
        sha=target.sha,
        token=settings.token,
        token_source=settings.token_source,
        api_url=settings.api_url,
        summary_file=target.summary_file,
        marker=target.marker,
        context=args.context,
        target_url=target.run_url,
        dry_run=args.dry_run,
    )
    posting, code = (
        (report_posting(report, config), 0) if report is not None else _trusted(args, config)
    )
    for line in post_report(posting, config=config, sleep=sleep, clock=clock).lines():
        print(line)
    return code


def trusted_thresholds(given: Path | None) -> Thresholds:
    """The re-judge's thresholds: ``given``, else this checkout's, else the defaults."""
    return resolve_thresholds(file=given, baseline_dir=BASELINE_DIR, overrides={})


def rejudge_exit_code(found: Rejudgement) -> int:
    """2 when nothing could be judged, 1 when the written verdict differs, else 0."""
    return EXIT_BAD_INPUT if found.problem else EXIT_DIFFERS if found.differences else 0


def rejudge_args(
    args: argparse.Namespace, written: ReportDocument, head_sha: str | None
) -> tuple[ReportDocument, Rejudgement]:
    """:func:`rejudge` with the options ``--pairs``, ``--thresholds``, ``--accept-output-change``
    (of ``post`` and ``rejudge``)."""
    return rejudge(
        written,
        args.pairs,
        thresholds=trusted_thresholds(args.thresholds),
        accepted=args.accept_output_change,
        head_sha=head_sha,
    )


def _trusted(args: argparse.Namespace, config: PostConfig) -> tuple[Posting, int]:
    """The verdict re-judged from ``--pairs``, and the exit code: 2 when nothing could be
    judged (the report or the raw pairs unreadable), 1 when the written verdict differs."""
    try:
        written = read_untrusted_report(args.report)
    except InputError as exc:
        return problem_posting(str(exc)), EXIT_BAD_INPUT
    report, rejudgement = rejudge_args(args, written, config.sha)
    for line in rejudgement.lines():
        print(line)
    return rejudged_posting(report, rejudgement, config), rejudge_exit_code(rejudgement)


def main_post(
    argv: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    sleep: Sleep = time.sleep,
    clock: Clock = time.time,
) -> int:
    """``python -m tools.bench post REPORT``: 0 posted or degraded, 1 API error, 2 bad input."""
    environ = os.environ if env is None else env
    args = parse_cli(_post_parser(), argv)
    if isinstance(args, int):
        return args
    secret = (environ.get(args.token_env) or "").strip() or None
    return run_guarded(PROG, lambda: _post_from_cli(args, environ, sleep, clock), secret=secret)
