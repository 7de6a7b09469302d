"""Post a benchmark report to GitHub: one sticky PR comment, a commit status, the job summary.

The poster reports what it is given: a report as written (:func:`post_report`), or, in the
trusted job, the report with its verdict re-judged from the raw pairs
(:mod:`tools.bench.judge.rejudge`), whose comment says first what the re-judge found and whose
status is failure when the written verdict differs and error when nothing could be judged
(:func:`rejudged_posting`, :func:`problem_posting`). A run that could not be posted (read-only
token on a fork PR, no token) still writes the job summary and exits 0; an API failure exits 1;
a bad report or missing environment exits 2. The verdict's own exit code is not this module's
business.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import requests

from tools.bench.github.api import (
    DEFAULT_API_URL,
    DEFAULT_TOKEN_ENV,
    Clock,
    Echo,
    GitHubClient,
    PermissionDenied,
    Sleep,
)
from tools.bench.github.render import (
    DEFAULT_MARKER,
    MAX_COMMENT_CHARS,
    MAX_DESCRIPTION_CHARS,
    TRUNCATION_NOTE,
    StatusState,
    comment_body,
    comment_markdown,
    status_description,
    status_state,
    text_size,
    truncate,
)
from tools.bench.judge.rejudge import Rejudgement
from tools.bench.report.document import COMMENT_TITLE
from tools.bench.report.headline import shorten
from tools.bench.verdict import ReportDocument
from virnucpro.atomic import atomic_write_bytes
from virnucpro.errors import RunFailure

DEFAULT_CONTEXT = "virnucpro-bench"
FALLBACK_LOGIN = "github-actions[bot]"  # who GITHUB_TOKEN comments as; /user is 403 for it
MAX_SUMMARY_BYTES = 1024 * 1024  # GitHub's limit on one step's job summary
PROG = "python -m tools.bench post"
DRY_RUN_NOTE = (
    "dry-run: nothing is sent and no answer comes back, so the comment lookup finds nothing;"
    " a real run PATCHes our marked comment where this shows a POST"
)

Action = Literal["created", "updated", "unchanged", "posted", "written", "skipped", "planned"]


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


@dataclass(frozen=True)
class Posting:
    """What to post: the comment's markdown (without the marker), the status and its text."""

    markdown: str
    state: StatusState
    description: str


def report_posting(report: ReportDocument, config: PostConfig) -> Posting:
    """The report as written: its comment, and the status of its verdict."""
    markdown = comment_markdown(report, marker=config.marker, max_chars=config.max_comment_chars)
    return Posting(markdown, status_state(report), status_description(report))


def rejudged_posting(
    report: ReportDocument, rejudgement: Rejudgement, config: PostConfig
) -> Posting:
    """The re-judged report: what the re-judge found comes first; a written verdict that
    differs makes the status failure, a problem makes it error, whatever else is said."""
    found = "\n\n".join(rejudgement.lines())
    room = config.max_comment_chars - len(found) - 2
    title, _, rest = comment_markdown(report, marker=config.marker, max_chars=room).partition("\n")
    markdown = f"{title}\n\n{found}\n{rest}"  # the title stays the first line
    if rejudgement.problem is not None:
        return problem_posting(rejudgement.problem, markdown=markdown)
    if rejudgement.differences:
        text = f"written verdict differs from the re-judged one: {rejudgement.differences[0]}"
        return Posting(markdown, "failure", shorten(text, MAX_DESCRIPTION_CHARS))
    return Posting(markdown, status_state(report), status_description(report))


def problem_posting(problem: str, *, markdown: str | None = None) -> Posting:
    """Nothing could be judged: an error status (never success) that says why."""
    text = markdown or f"{COMMENT_TITLE}: COULD NOT JUDGE\n\n{problem}\n"
    return Posting(text, "error", shorten(f"could not judge: {problem}", MAX_DESCRIPTION_CHARS))


# --- the three steps --------------------------------------------------------------------------


def write_summary(markdown: str, path: Path | None) -> StepResult:
    """Append to the job summary, keeping the whole file within GitHub's 1 MiB."""
    if path is None:
        return StepResult("skipped", "no job summary file (GITHUB_STEP_SUMMARY unset)")
    try:
        existing = path.read_bytes() if path.exists() else b""
        separator = b"\n" if existing and not existing.endswith(b"\n") else b""
        room = MAX_SUMMARY_BYTES - len(existing + separator)
        if room <= text_size(TRUNCATION_NOTE, "bytes"):
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


def post_status(client: GitHubClient, posting: Posting, config: PostConfig, sha: str) -> StepResult:
    """Set the commit status on the head sha."""
    payload = {
        "state": posting.state,
        "context": config.context,
        "description": posting.description,
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


def _status_step(client: GitHubClient, posting: Posting, config: PostConfig) -> StepResult:
    if config.sha is None:
        return _unposted("no commit sha")
    try:
        return post_status(client, posting, config, config.sha)
    except PermissionDenied as exc:
        return _unposted(f"could not set a status, the token cannot write here: {exc}")


@contextlib.contextmanager
def open_client(
    *,
    api_url: str,
    token: str | None,
    dry_run: bool,
    session: requests.Session | None,
    sleep: Sleep,
    clock: Clock,
    echo: Echo,
) -> Iterator[GitHubClient]:
    """A client over ``session``, or over a session of its own that is closed after."""
    with requests.Session() if session is None else contextlib.nullcontext(session) as http:
        yield GitHubClient(
            api_url=api_url,
            token=token,
            session=http,
            sleep=sleep,
            clock=clock,
            dry_run=dry_run,
            echo=echo,
        )


def post_report(
    report: ReportDocument | Posting,
    *,
    config: PostConfig,
    session: requests.Session | None = None,
    sleep: Sleep = time.sleep,
    clock: Clock = time.time,
    echo: Echo = print,
) -> PostOutcome:
    """Write the job summary, then the sticky comment and the commit status of a report as
    written, or of a prepared :class:`Posting` (the trusted mode's).

    A read-only or missing token skips the comment and the status (the summary is still
    written); any other API failure raises :class:`~tools.bench.github.api.GitHubError`.
    """
    posting = report if isinstance(report, Posting) else report_posting(report, config)
    markdown = posting.markdown
    summary = write_summary(markdown, config.summary_file)
    if config.token is None and not config.dry_run:
        why = f"could not comment or set a status: no token in {config.token_source}"
        return PostOutcome(summary=summary, comment=_unposted(why), status=_unposted(why))
    body = comment_body(markdown, marker=config.marker, max_chars=config.max_comment_chars)
    if config.dry_run:
        echo(DRY_RUN_NOTE)
    with open_client(
        api_url=config.api_url,
        token=config.token,
        dry_run=config.dry_run,
        session=session,
        sleep=sleep,
        clock=clock,
        echo=echo,
    ) as client:
        comment, comment_id = _comment_step(client, config, body)
        status = _status_step(client, posting, config)
    state = posting.state if status.action in ("posted", "planned") else None
    return PostOutcome(
        summary=summary, comment=comment, status=status, comment_id=comment_id, status_state=state
    )


# --- command line -----------------------------------------------------------------------------
