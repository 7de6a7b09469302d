"""Where the GitHub poster posts: the PR and commit from flags, else the Actions event.

Reads ``GITHUB_EVENT_PATH`` (pull_request, workflow_run and push events) and the Actions
environment; anything that names no PR or commit, or a malformed one, is an
:class:`~virnucpro.errors.InputError` (exit 2).
"""

from __future__ import annotations

import argparse
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from virnucpro.errors import InputError

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


def run_url(env: Mapping[str, str]) -> str | None:
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
        run_url=run_url(env),
    )
