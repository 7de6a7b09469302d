"""What the poster says: status state and description, the comment body, truncation."""

from __future__ import annotations

import pytest

from tests.tools.bench.fake_github import judgement, make_report, regression_report
from tools.bench.github.render import (
    DEFAULT_MARKER,
    FENCE,
    MAX_COMMENT_CHARS,
    TRUNCATION_NOTE,
    comment_markdown,
    pr_comment,
    status_description,
    status_state,
    truncate,
)

PASS = make_report("pass")
REGRESSION = regression_report()


@pytest.mark.parametrize(
    ("report", "state", "description"),
    [
        (PASS, "success", "pass, total 12.30 s"),
        (
            make_report("warn", judgements=(judgement("gpu.utilization", "warn", 0.06),)),
            "success",
            "pass with 1 warning(s): gpu.utilization +6.0%",
        ),
        (REGRESSION, "failure", "regression: end_to_end.total_time +14.2% (and 1 more)"),
        (
            make_report("could_not_judge", reasons=("run invalid",)),
            "error",
            "could not judge: run invalid",
        ),
        (make_report("no_baseline"), "error", "no baseline, total 12.30 s"),
        (
            make_report("inconclusive", reasons=("total time inconclusive",)),
            "error",
            "inconclusive: total time inconclusive",
        ),
        (make_report(None), "error", "measured, not compared, total 12.30 s"),
    ],
)
def test_status_state_and_description_per_outcome(report, state, description):
    assert status_state(report) == state
    assert status_description(report) == description


def test_truncate_cuts_at_a_line_and_closes_a_code_fence():
    text = "intro\n" + FENCE + "\n" + "code line\n" * 100
    cut = truncate(text, 300)
    assert len(cut) <= 300 and cut.endswith(TRUNCATION_NOTE)
    kept = cut.removesuffix(TRUNCATION_NOTE)
    assert kept.count(FENCE) == 2 and kept.endswith(f"code line\n{FENCE}")
    assert truncate("short", 300) == "short"


def test_comment_body_names_the_failing_metrics():
    body = comment_markdown(REGRESSION, marker=DEFAULT_MARKER, max_chars=MAX_COMMENT_CHARS)
    assert body.startswith("### VirNucPro benchmark: REGRESSION")
    rows = {line.split("|")[1].strip(): line for line in body.splitlines() if "| `" in line}
    total, utilization = rows["`end_to_end.total_time`"], rows["`gpu.utilization`"]
    assert "FAIL" in total and "+14.2%" in total
    assert "WARN" in utilization and "+6.0%" in utilization


def test_the_posted_body_is_the_marker_then_the_markdown_within_the_limit():
    body = pr_comment(REGRESSION)
    assert body == f"{DEFAULT_MARKER}\n" + comment_markdown(
        REGRESSION, marker=DEFAULT_MARKER, max_chars=MAX_COMMENT_CHARS
    )
    short = pr_comment(REGRESSION, marker="<!-- x -->", max_chars=400)
    assert short.startswith("<!-- x -->\n") and len(short) <= 400
    # the report renderer was given what is left after the marker line: 400 - 10 - 1
    assert "left out to stay under 389 characters" in short
