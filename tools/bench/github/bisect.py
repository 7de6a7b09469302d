"""Post a bisection: the job summary, and a comment on the merged pull request of the culprit.

Runs in a trusted job (never the one that measured): it reads the bisection's JSON record and
renders it with this checkout's renderer. The comment carries a hidden marker naming the
culprit, so a rerun updates it instead of adding another; a commit that came with no merged
pull request (pushed directly) gets none. Like the report poster, a token that cannot write
skips the comment and still writes the summary.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import requests

from tools.bench.culprit.bisect import render_bisect
from tools.bench.github.api import (
    DEFAULT_API_URL,
    DEFAULT_TOKEN_ENV,
    Clock,
    Echo,
    GitHubClient,
    PermissionDenied,
    Sleep,
)
from tools.bench.github.post import StepResult, open_client, upsert_comment, write_summary
from tools.bench.github.render import MAX_COMMENT_CHARS, comment_body
from virnucpro.bench.bisect.schema import BisectResult

MARKER = "<!-- virnucpro-bisect {sha} -->"


@dataclass(frozen=True)
class BisectPostConfig:
    """Where to post; ``pr`` None looks the culprit's merged pull request up."""

    repo: str
    token: str | None = field(default=None, repr=False)
    token_source: str = f"${DEFAULT_TOKEN_ENV}"
    api_url: str = DEFAULT_API_URL
    summary_file: Path | None = None
    pr: int | None = None
    run_url: str | None = None
    dry_run: bool = False
    max_comment_chars: int = MAX_COMMENT_CHARS


@dataclass(frozen=True)
class BisectPosted:
    summary: StepResult
    comment: StepResult
    pr: int | None = None

    def lines(self) -> tuple[str, ...]:
        return (
            f"summary: {self.summary.action}: {self.summary.detail}",
            f"comment: {self.comment.action}: {self.comment.detail}",
        )


def bisect_markdown(result: BisectResult, run_url: str | None) -> str:
    """The report, with a link to the CI run that measured it when there is one."""
    markdown = render_bisect(result)
    link = run_url or result.report_url
    return f"{markdown}\n[The bisection's CI run]({link})\n" if link else markdown


def merged_pull_request(client: GitHubClient, *, repo: str, sha: str) -> int | None:
    """The pull request that merged ``sha``, from GitHub's commit-to-PR association."""
    pulls = client.request("GET", f"/repos/{repo}/commits/{sha}/pulls").data or []
    merged = [p for p in pulls if isinstance(p, dict) and p.get("merged_at")]
    return int(merged[0]["number"]) if merged else None


def _comment(client: GitHubClient, result: BisectResult, config: BisectPostConfig, body: str):
    assert result.culprit is not None
    pr = config.pr or merged_pull_request(client, repo=config.repo, sha=result.culprit.sha)
    if pr is None:
        why = "dry-run: no answer to find a pull request in" if config.dry_run else None
        return StepResult("skipped", why or "the culprit came with no merged pull request"), None
    marker = MARKER.format(sha=result.culprit.sha)
    text = comment_body(body, marker=marker, max_chars=config.max_comment_chars)
    try:
        step, _ = upsert_comment(client, repo=config.repo, pr=pr, marker=marker, body=text)
    except PermissionDenied as exc:
        return StepResult("skipped", f"could not comment, the token cannot write here: {exc}"), pr
    return step, pr


def post_bisect(
    result: BisectResult,
    *,
    config: BisectPostConfig,
    session: requests.Session | None = None,
    sleep: Sleep = time.sleep,
    clock: Clock = time.time,
    echo: Echo = print,
) -> BisectPosted:
    """Write the job summary; comment on the culprit's merged pull request (if any)."""
    markdown = bisect_markdown(result, config.run_url)
    summary = write_summary(markdown, config.summary_file)
    if result.culprit is None:
        return BisectPosted(summary, StepResult("skipped", "no culprit named"))
    if config.token is None and not config.dry_run:
        why = f"could not comment: no token in {config.token_source}"
        return BisectPosted(summary, StepResult("skipped", why))
    with open_client(
        api_url=config.api_url,
        token=config.token,
        dry_run=config.dry_run,
        session=session,
        sleep=sleep,
        clock=clock,
        echo=echo,
    ) as client:
        comment, pr = _comment(client, result, config, markdown)
    return BisectPosted(summary, comment, pr)
