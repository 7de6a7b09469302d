"""What the GitHub poster says: the PR comment, the commit status, and fitting GitHub's limits.

Rendering only; :mod:`tools.bench.github.post` posts, :mod:`tools.bench.github.event` reads the
Actions event. The comment's markdown is the report renderer's
(:func:`tools.bench.report.document.render_pr_comment`) under a hidden marker line that finds it
again.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

from tools.bench.report.document import render_pr_comment
from tools.bench.report.headline import headline, shorten
from tools.bench.verdict import ReportDocument

DEFAULT_MARKER = "<!-- virnucpro-bench -->"
MAX_COMMENT_CHARS = 65_536  # GitHub refuses a longer comment body with 422
MAX_DESCRIPTION_CHARS = 140  # a commit status description
FENCE = "```"
TRUNCATION_NOTE = (
    "\n\n_Truncated to fit GitHub's size limit; the full report is in the run's artifacts._\n"
)

StatusState = Literal["success", "failure", "error"]
SizeUnit = Literal["chars", "bytes"]

STATE_FOR_OUTCOME: Mapping[str | None, StatusState] = {
    "pass": "success",
    "warn": "success",
    None: "error",  # a report without a verdict was measured, not judged: never green
    "regression": "failure",
    "outputs_changed": "failure",  # faster or not, it computes something else: never green
    "inconclusive": "error",  # never green: the total time was not decided
    "invalid": "error",
    "no_baseline": "error",
    "could_not_judge": "error",
}


def status_state(report: ReportDocument) -> StatusState:
    return STATE_FOR_OUTCOME[report.verdict.outcome if report.verdict else None]


def status_description(report: ReportDocument) -> str:
    return shorten(headline(report), MAX_DESCRIPTION_CHARS)


def comment_markdown(report: ReportDocument, *, marker: str, max_chars: int) -> str:
    """The PR comment's markdown, sized to leave room for the marker line within ``max_chars``."""
    return render_pr_comment(report, max_chars=max_chars - len(marker) - 1)


def text_size(text: str, unit: SizeUnit) -> int:
    """Length in characters or in UTF-8 bytes."""
    return len(text) if unit == "chars" else len(text.encode("utf-8"))


def _prefix(text: str, room: int, unit: SizeUnit) -> str:
    if unit == "chars":
        return text[:room]
    return text.encode("utf-8")[:room].decode("utf-8", errors="ignore")


def truncate(text: str, limit: int, *, unit: SizeUnit = "chars") -> str:
    """``text`` cut at a line end to fit ``limit`` with a truncation note; fences stay closed."""
    if text_size(text, unit) <= limit:
        return text
    room = max(limit - text_size(TRUNCATION_NOTE, unit) - text_size(f"\n{FENCE}", unit), 0)
    cut = _prefix(text, room, unit)
    if "\n" in cut:
        cut = cut[: cut.rindex("\n")]
    if cut.count(FENCE) % 2:
        cut += f"\n{FENCE}"
    return cut + TRUNCATION_NOTE


def comment_body(markdown: str, *, marker: str, max_chars: int) -> str:
    """The marker on the first line, then the markdown, within ``max_chars``."""
    return truncate(f"{marker}\n{markdown}", max_chars)


def pr_comment(
    report: ReportDocument, *, marker: str = DEFAULT_MARKER, max_chars: int = MAX_COMMENT_CHARS
) -> str:
    """The whole comment body as posted: the marker line, then the markdown, within the limit."""
    markdown = comment_markdown(report, marker=marker, max_chars=max_chars)
    return comment_body(markdown, marker=marker, max_chars=max_chars)
