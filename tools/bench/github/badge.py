"""The shields.io badge of a benchmark report: a JSON endpoint file, written atomically and
optionally committed to a branch through the contents API so a README can show it.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import quote

from tools.bench.github.api import GitHubClient, GitHubError
from tools.bench.report.headline import badge_message
from tools.bench.verdict import ReportDocument
from virnucpro.atomic import atomic_write_text

BADGE_SCHEMA_VERSION = 1  # shields.io endpoint format
DEFAULT_LABEL = "benchmark"
DEFAULT_COMMIT_MESSAGE = "Update the benchmark badge"
DEFAULT_PUBLISH_PATH = "benchmark-badge.json"  # on the publish branch

Color = Literal["green", "yellow", "red", "lightgrey"]
COLOR_FOR_OUTCOME: Mapping[str | None, Color] = {
    "pass": "green",
    "warn": "yellow",
    "regression": "red",
    "outputs_changed": "red",
    "no_baseline": "lightgrey",
    "could_not_judge": "lightgrey",
    "inconclusive": "lightgrey",
    "invalid": "lightgrey",
    None: "lightgrey",  # no verdict: measured, not compared
}
PublishAction = Literal["created", "updated", "unchanged", "planned"]


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
