"""One-line digests of a benchmark report: the headline and the shields.io badge.

The headline ("regression: end_to_end.total_time +14.2%") is shared by the commit status and
the PR comment title; the badge is a shields.io endpoint JSON file, written atomically and
optionally committed to a branch through the contents API so a README can show it.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import quote

import requests

from tools.bench.cli.github import add_api_arguments, api_settings, parse_cli, run_guarded
from tools.bench.github.api import (
    GitHubClient,
    GitHubError,
    Sleep,
)
from tools.bench.report.formatting import format_change, format_quantity
from tools.bench.verdict import MetricJudgement, ReportDocument
from virnucpro.atomic import atomic_write_text
from virnucpro.bench.metric_names import TOTAL_TIME_METRIC
from virnucpro.errors import InputError

BADGE_SCHEMA_VERSION = 1  # shields.io endpoint format
DEFAULT_LABEL = "benchmark"
DEFAULT_COMMIT_MESSAGE = "Update the benchmark badge"
DEFAULT_PUBLISH_PATH = "benchmark-badge.json"  # on the publish branch
ELLIPSIS = "…"
PROG = "python -m tools.bench badge"

Color = Literal["green", "yellow", "red", "lightgrey"]
COLOR_FOR_OUTCOME: Mapping[str | None, Color] = {
    "pass": "green",
    "warn": "yellow",
    "regression": "red",
    "no_baseline": "lightgrey",
    "could_not_judge": "lightgrey",
    "inconclusive": "lightgrey",
    "invalid": "lightgrey",
    None: "lightgrey",  # no verdict: measured, not compared
}
PublishAction = Literal["created", "updated", "unchanged", "planned"]


# --- digests ----------------------------------------------------------------------------------


def worst(judgements: Sequence[MetricJudgement]) -> MetricJudgement | None:
    """The judgement with the largest (worst) change; one without a change counts last."""
    return max(
        judgements, key=lambda j: j.change if j.change is not None else float("-inf"), default=None
    )


def total_time_text(report: ReportDocument) -> str | None:
    """The end-to-end median time in its unit, or None when not measured."""
    metric = report.results.metric(TOTAL_TIME_METRIC)
    if metric is None or not metric.available:
        return None
    return format_quantity(metric.median, metric.unit)


def _judged_text(label: str, judgements: Sequence[MetricJudgement]) -> str:
    top = worst(judgements)
    if top is None:
        return label
    more = f" (and {len(judgements) - 1} more)" if len(judgements) > 1 else ""
    return f"{label}: {top.name} {format_change(top.change)}{more}"


def headline(report: ReportDocument) -> str:
    """One line that says how the run went, e.g. 'regression: end_to_end.total_time +14.2%'."""
    verdict = report.verdict
    total = total_time_text(report)
    timed = f", total {total}" if total else ""
    if verdict is None:
        return f"measured, not compared{timed}"
    if verdict.outcome == "regression":
        return _judged_text("regression", verdict.failures)
    if verdict.outcome == "warn":
        return _judged_text(f"pass with {len(verdict.warnings)} warning(s)", verdict.warnings)
    if verdict.outcome in ("could_not_judge", "inconclusive", "invalid"):
        reason = verdict.reasons[0] if verdict.reasons else "no reason given"
        return f"{verdict.outcome.replace('_', ' ')}: {reason}"
    if verdict.outcome == "no_baseline":
        return f"no baseline{timed}"
    return f"pass{timed}"


def shorten(text: str, limit: int) -> str:
    """One line of at most ``limit`` characters, with an ellipsis when cut."""
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - len(ELLIPSIS)] + ELLIPSIS


# --- the badge --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Badge:
    label: str
    message: str
    color: Color

    def to_dict(self) -> dict[str, object]:
        """The shields.io endpoint document."""
        return {
            "schemaVersion": BADGE_SCHEMA_VERSION,
            "label": self.label,
            "message": self.message,
            "color": self.color,
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2) + "\n"


def _change_word(word: str, judgements: Sequence[MetricJudgement]) -> str:
    top = worst(judgements)
    return f"{word} {format_change(top.change)}" if top and top.change is not None else word


def badge_message(report: ReportDocument) -> str:
    """'pass 12.30 s', 'regression +14.2%', 'warn +6.0%', 'no baseline', 'could not judge'."""
    verdict = report.verdict
    if verdict is None:
        return "not compared"
    if verdict.outcome == "regression":
        return _change_word("regression", verdict.failures)
    if verdict.outcome == "warn":
        return _change_word("warn", verdict.warnings)
    if verdict.outcome == "pass":
        total = total_time_text(report)
        return f"pass {total}" if total else "pass"
    return verdict.outcome.replace("_", " ")


def make_badge(report: ReportDocument, *, label: str = DEFAULT_LABEL) -> Badge:
    outcome = report.verdict.outcome if report.verdict else None
    return Badge(label=label, message=badge_message(report), color=COLOR_FOR_OUTCOME[outcome])


def write_badge(badge: Badge, path: Path) -> Path:
    atomic_write_text(path, badge.to_json())
    return path


def _current_file(client: GitHubClient, url: str, branch: str) -> tuple[str | None, bytes | None]:
    """The sha and content of the file on the branch, (None, None) when absent."""
    current = client.request("GET", url, params={"ref": branch}, missing_ok=True)
    if current.data is None:
        return None, None
    if not isinstance(current.data, dict) or current.data.get("type", "file") != "file":
        raise GitHubError(f"{url} on {branch} is not a file")
    return current.data.get("sha"), base64.b64decode(current.data.get("content") or "")


def publish_badge(
    client: GitHubClient, badge: Badge, *, repo: str, branch: str, path: str, message: str
) -> PublishAction:
    """Commit the badge JSON to ``path`` on ``branch``; no commit when it is already there."""
    url = f"/repos/{repo}/contents/{quote(path.strip('/'), safe='/')}"
    content = badge.to_json().encode("utf-8")

    def operation() -> PublishAction:
        sha, existing = _current_file(client, url, branch)
        if existing == content:
            return "unchanged"
        payload = {
            "message": message,
            "content": base64.b64encode(content).decode("ascii"),
            "branch": branch,
        }
        if sha:
            payload["sha"] = sha
        client.request("PUT", url, json_body=payload, replay_safe=False)
        if client.dry_run:
            return "planned"
        return "updated" if sha else "created"

    return client.replay(operation)


# --- command line -----------------------------------------------------------------------------


def _badge_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.splitlines()[0])
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
    from tools.bench.report.document import read_report

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
