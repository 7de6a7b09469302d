"""Post a benchmark report to GitHub: one sticky PR comment, a commit status, the job summary.

The poster reports; it never judges. A run that could not be posted (read-only token on a fork
PR, no token) still writes the job summary and exits 0; an API failure exits 1; a bad report or
missing environment exits 2. The verdict's own exit code is not this module's business.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import requests

from tools.bench.badge import headline, shorten
from tools.bench.github_api import (
    DEFAULT_API_URL,
    DEFAULT_TOKEN_ENV,
    Clock,
    Echo,
    GitHubClient,
    PermissionDenied,
    Sleep,
    add_api_arguments,
    api_settings,
    parse_cli,
    run_guarded,
)
from tools.bench.report import render_pr_comment
from tools.bench.verdict import ReportDocument
from virnucpro.atomic import atomic_write_bytes
from virnucpro.errors import InputError, RunFailure

DEFAULT_MARKER = "<!-- virnucpro-bench -->"
DEFAULT_CONTEXT = "virnucpro-bench"
FALLBACK_LOGIN = "github-actions[bot]"  # who GITHUB_TOKEN comments as; /user is 403 for it
MAX_COMMENT_CHARS = 65_536  # GitHub refuses a longer comment body with 422
MAX_SUMMARY_BYTES = 1024 * 1024  # GitHub's limit on one step's job summary
MAX_DESCRIPTION_CHARS = 140  # a commit status description
FENCE = "```"
TRUNCATION_NOTE = (
    "\n\n_Truncated to fit GitHub's size limit; the full report is in the run's artifacts._\n"
)
PROG = "python -m tools.bench post"
DRY_RUN_NOTE = (
    "dry-run: nothing is sent and no answer comes back, so the comment lookup finds nothing;"
    " a real run PATCHes our marked comment where this shows a POST"
)

StatusState = Literal["success", "failure", "error"]
Action = Literal["created", "updated", "unchanged", "posted", "written", "skipped", "planned"]
SizeUnit = Literal["chars", "bytes"]

STATE_FOR_OUTCOME: Mapping[str | None, StatusState] = {
    "pass": "success",
    "warn": "success",
    "no_baseline": "success",
    None: "success",  # a report without a verdict: measured, not compared
    "regression": "failure",
    "could_not_judge": "error",
}


@dataclass(frozen=True)
class PostConfig:
    """Where and how to post; ``pr`` None skips the comment, ``sha`` None skips the status."""

    repo: str
    pr: int | None
    sha: str | None
    token: str | None = field(default=None, repr=False)
    token_source: str = f"${DEFAULT_TOKEN_ENV}"
    api_url: str = DEFAULT_API_URL
    summary_file: Path | None = None
    marker: str = DEFAULT_MARKER
    context: str = DEFAULT_CONTEXT
    target_url: str | None = None
    dry_run: bool = False
    max_comment_chars: int = MAX_COMMENT_CHARS


@dataclass(frozen=True)
class StepResult:
    action: Action
    detail: str


@dataclass(frozen=True)
class PostOutcome:
    """What each of the three steps did, with a one-line detail each."""

    summary: StepResult
    comment: StepResult
    status: StepResult
    comment_id: int | None = None
    status_state: StatusState | None = None

    def lines(self) -> tuple[str, ...]:
        return tuple(
            f"{name}: {step.action}: {step.detail}"
            for name, step in (
                ("summary", self.summary),
                ("comment", self.comment),
                ("status", self.status),
            )
        )


# --- what to say ------------------------------------------------------------------------------


def status_state(report: ReportDocument) -> StatusState:
    return STATE_FOR_OUTCOME[report.verdict.outcome if report.verdict else None]


def status_description(report: ReportDocument) -> str:
    return shorten(headline(report), MAX_DESCRIPTION_CHARS)


def render_markdown(report: ReportDocument, *, max_chars: int) -> str:
    """The PR comment markdown (the report renderer's PR comment)."""
    return render_pr_comment(report, max_chars=max_chars)


def _size(text: str, unit: SizeUnit) -> int:
    return len(text) if unit == "chars" else len(text.encode("utf-8"))


def _prefix(text: str, room: int, unit: SizeUnit) -> str:
    if unit == "chars":
        return text[:room]
    return text.encode("utf-8")[:room].decode("utf-8", errors="ignore")


def truncate(text: str, limit: int, *, unit: SizeUnit = "chars") -> str:
    """``text`` cut at a line end to fit ``limit`` with a truncation note; fences stay closed."""
    if _size(text, unit) <= limit:
        return text
    room = max(limit - _size(TRUNCATION_NOTE, unit) - _size(f"\n{FENCE}", unit), 0)
    cut = _prefix(text, room, unit)
    if "\n" in cut:
        cut = cut[: cut.rindex("\n")]
    if cut.count(FENCE) % 2:
        cut += f"\n{FENCE}"
    return cut + TRUNCATION_NOTE


def comment_body(markdown: str, *, marker: str, max_chars: int) -> str:
    """The marker on the first line, then the markdown, within ``max_chars``."""
    return truncate(f"{marker}\n{markdown}", max_chars)


# --- the three steps --------------------------------------------------------------------------


def write_summary(markdown: str, path: Path | None) -> StepResult:
    """Append to the job summary, keeping the whole file within GitHub's 1 MiB."""
    if path is None:
        return StepResult("skipped", "no job summary file (GITHUB_STEP_SUMMARY unset)")
    try:
        existing = path.read_bytes() if path.exists() else b""
        separator = b"\n" if existing and not existing.endswith(b"\n") else b""
        room = MAX_SUMMARY_BYTES - len(existing + separator)
        if room <= _size(TRUNCATION_NOTE, "bytes"):
            return StepResult("skipped", f"{path} is already at GitHub's 1 MiB limit")
        text = truncate(markdown, room, unit="bytes").encode("utf-8")
        atomic_write_bytes(path, existing + separator + text)
    except OSError as exc:
        raise RunFailure(f"cannot write the job summary {path}: {exc.strerror or exc}") from None
    return StepResult("written", f"appended {len(text)} bytes to {path}")


def _login(client: GitHubClient) -> str:
    try:
        login = client.request("GET", "/user").data
    except PermissionDenied:
        return FALLBACK_LOGIN
    return login.get("login", FALLBACK_LOGIN) if isinstance(login, dict) else FALLBACK_LOGIN


def find_marked_comment(client: GitHubClient, *, repo: str, pr: int, marker: str) -> dict | None:
    """Our earliest comment on the PR that carries ``marker``, or None."""
    login = _login(client)
    for comment in client.paginate(f"/repos/{repo}/issues/{pr}/comments"):
        author = (comment.get("user") or {}).get("login")
        if author == login and marker in (comment.get("body") or ""):
            return comment
    return None


def upsert_comment(
    client: GitHubClient, *, repo: str, pr: int, marker: str, body: str
) -> tuple[StepResult, int | None]:
    """Update our marked comment, or create it when absent; never a second one."""

    def operation() -> tuple[StepResult, int | None]:
        found = find_marked_comment(client, repo=repo, pr=pr, marker=marker)
        if found is not None and found.get("body") == body:
            return StepResult("unchanged", f"comment {found['id']} already says this"), found["id"]
        if found is not None:
            path = f"/repos/{repo}/issues/comments/{found['id']}"
            client.request("PATCH", path, json_body={"body": body})
            return StepResult("updated", f"comment {found['id']} on #{pr}"), found["id"]
        made = client.request(
            "POST",
            f"/repos/{repo}/issues/{pr}/comments",
            json_body={"body": body},
            replay_safe=False,
        )
        made_id = made.data.get("id") if isinstance(made.data, dict) else None
        action: Action = "planned" if client.dry_run else "created"
        return StepResult(action, f"comment {made_id or '(new)'} on #{pr}"), made_id

    return client.replay(operation)


def post_status(
    client: GitHubClient, report: ReportDocument, config: PostConfig, sha: str
) -> StepResult:
    """Set the commit status on the head sha from the verdict."""
    payload = {
        "state": status_state(report),
        "context": config.context,
        "description": status_description(report),
    }
    if config.target_url:
        payload["target_url"] = config.target_url
    client.request("POST", f"/repos/{config.repo}/statuses/{sha}", json_body=payload)
    action: Action = "planned" if client.dry_run else "posted"
    return StepResult(action, f"{payload['state']} on {sha[:12]} ({payload['description']})")


def _unposted(why: str) -> StepResult:
    return StepResult("skipped", why)


def _comment_step(
    client: GitHubClient, config: PostConfig, body: str
) -> tuple[StepResult, int | None]:
    if config.pr is None:
        return _unposted("not a pull request"), None
    try:
        return upsert_comment(
            client, repo=config.repo, pr=config.pr, marker=config.marker, body=body
        )
    except PermissionDenied as exc:
        return _unposted(f"could not comment, the token cannot write here (fork PR?): {exc}"), None


def _status_step(client: GitHubClient, report: ReportDocument, config: PostConfig) -> StepResult:
    if config.sha is None:
        return _unposted("no commit sha")
    try:
        return post_status(client, report, config, config.sha)
    except PermissionDenied as exc:
        return _unposted(f"could not set a status, the token cannot write here: {exc}")


def post_report(
    report: ReportDocument,
    *,
    config: PostConfig,
    session: requests.Session | None = None,
    sleep: Sleep = time.sleep,
    clock: Clock = time.time,
    echo: Echo = print,
) -> PostOutcome:
    """Write the job summary, then the sticky comment and the commit status.

    A read-only or missing token skips the comment and the status (the summary is still
    written); any other API failure raises :class:`~tools.bench.github_api.GitHubError`.
    """
    budget = config.max_comment_chars - len(config.marker) - 1
    markdown = render_markdown(report, max_chars=budget)
    summary = write_summary(markdown, config.summary_file)
    if config.token is None and not config.dry_run:
        why = f"could not comment or set a status: no token in {config.token_source}"
        return PostOutcome(summary=summary, comment=_unposted(why), status=_unposted(why))
    body = comment_body(markdown, marker=config.marker, max_chars=config.max_comment_chars)
    if config.dry_run:
        echo(DRY_RUN_NOTE)
    with requests.Session() if session is None else contextlib.nullcontext(session) as http:
        client = GitHubClient(
            api_url=config.api_url,
            token=config.token,
            session=http,
            sleep=sleep,
            clock=clock,
            dry_run=config.dry_run,
            echo=echo,
        )
        comment, comment_id = _comment_step(client, config, body)
        status = _status_step(client, report, config)
    state = status_state(report) if status.action in ("posted", "planned") else None
    return PostOutcome(
        summary=summary, comment=comment, status=status, comment_id=comment_id, status_state=state
    )


# --- command line -----------------------------------------------------------------------------

SHA_PATTERN = re.compile(r"^[0-9a-f]{40}([0-9a-f]{24})?$")  # SHA-1, or SHA-256 repositories
NULL_SHA = "0" * 40  # ``after`` of a push that deleted the branch


@dataclass(frozen=True)
class PostTarget:
    """Which PR and commit to post on, from flags, else the Actions event and environment."""

    pr: int | None
    sha: str | None
    summary_file: Path | None
    marker: str
    run_url: str | None


def normalize_marker(value: str) -> str:
    """An HTML comment as given, or a bare name wrapped into one (``<!-- nightly -->``)."""
    text = value.strip()
    inner = (
        text.removeprefix("<!--").removesuffix("-->").strip() if text.startswith("<!--") else text
    )
    if not inner or "--" in inner or "\n" in inner:
        raise InputError(f"marker {value!r} cannot be a hidden HTML comment")
    return f"<!-- {inner} -->"


def read_event(path: str) -> dict:
    """The event JSON GitHub Actions wrote at ``GITHUB_EVENT_PATH``."""
    try:
        event = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"cannot read the event file {path} ({exc.__class__.__name__})") from None
    if not isinstance(event, dict):
        raise InputError(f"the event file {path} is not a JSON object")
    return event


def event_pr_and_sha(event: Mapping, env: Mapping[str, str]) -> tuple[int | None, str | None]:
    """PR number and head sha of a pull_request or workflow_run event; a push has no PR."""
    pull = event.get("pull_request")
    if isinstance(pull, dict):
        return pull.get("number"), (pull.get("head") or {}).get("sha")
    run = event.get("workflow_run")
    if isinstance(run, dict):
        pulls = run.get("pull_requests") or []
        return (pulls[0].get("number") if pulls else None), run.get("head_sha")
    after = event.get("after")
    return None, after if after and after != NULL_SHA else env.get("GITHUB_SHA")


def _run_url(env: Mapping[str, str]) -> str | None:
    parts = [env.get(name) for name in ("GITHUB_SERVER_URL", "GITHUB_REPOSITORY", "GITHUB_RUN_ID")]
    if not all(parts):
        return None
    server, repo, run_id = parts
    return f"{str(server).rstrip('/')}/{repo}/actions/runs/{run_id}"


def post_target(args: argparse.Namespace, env: Mapping[str, str]) -> PostTarget:
    """Resolve and validate where to post; nothing to post to is an :class:`InputError`."""
    pr, sha = args.pr, args.sha
    if (pr is None or sha is None) and env.get("GITHUB_EVENT_PATH"):
        event_pr, event_sha = event_pr_and_sha(read_event(env["GITHUB_EVENT_PATH"]), env)
        pr, sha = pr if pr is not None else event_pr, sha or event_sha
    sha = sha or env.get("GITHUB_SHA")
    if pr is None and sha is None:
        raise InputError("nothing to post to: give --pr/--sha or run inside GitHub Actions")
    if pr is not None and (not isinstance(pr, int) or pr <= 0):
        raise InputError(f"pull request number {pr!r} is not a positive integer")
    if sha is not None and not SHA_PATTERN.match(str(sha)):
        raise InputError(f"commit sha {sha!r} is not a full hexadecimal sha")
    summary = args.summary_file or env.get("GITHUB_STEP_SUMMARY")
    return PostTarget(
        pr=pr,
        sha=sha,
        summary_file=Path(summary) if summary else None,
        marker=normalize_marker(args.marker),
        run_url=_run_url(env),
    )


def _post_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.splitlines()[0])
    parser.add_argument("report", type=Path, help="benchmark report JSON (benchmark_*.json)")
    add_api_arguments(parser)
    parser.add_argument("--pr", type=int, help="pull request number (default: from the event)")
    parser.add_argument("--sha", help="commit to set the status on (default: the PR head)")
    parser.add_argument("--summary-file", type=Path, help="default: $GITHUB_STEP_SUMMARY")
    parser.add_argument("--marker", default=DEFAULT_MARKER, help="hidden marker of our comment")
    parser.add_argument("--context", default=DEFAULT_CONTEXT, help="commit status context")
    return parser


def _post_from_cli(
    args: argparse.Namespace, env: Mapping[str, str], sleep: Sleep, clock: Clock
) -> int:
    from tools.bench.report import read_report

    settings = api_settings(args, env)
    target = post_target(args, env)
    report = read_report(args.report)
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
    for line in post_report(report, config=config, sleep=sleep, clock=clock).lines():
        print(line)
    return 0


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
