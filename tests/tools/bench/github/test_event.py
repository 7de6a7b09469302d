"""Where the poster posts: PR and head sha from the Actions event, and the hidden marker."""

from __future__ import annotations

import pytest

from tests.tools.bench.fake_github import HEAD_SHA, PR_NUMBER, PUSH_SHA
from tools.bench.github.event import event_pr_and_sha, normalize_marker
from virnucpro.errors import InputError

MERGE_SHA = "ee" * 20  # GITHUB_SHA of a pull_request event: the merge commit, not the head
PR_EVENT = {"pull_request": {"number": PR_NUMBER, "head": {"sha": HEAD_SHA}}}


@pytest.mark.parametrize(
    ("marker", "expected"),
    [
        ("<!-- virnucpro-bench -->", "<!-- virnucpro-bench -->"),
        ("<!--nightly-->", "<!-- nightly -->"),
        ("nightly", "<!-- nightly -->"),
    ],
)
def test_normalize_marker(marker, expected):
    assert normalize_marker(marker) == expected


@pytest.mark.parametrize("marker", ["", "<!-- -->", "a -- b", "two\nlines"])
def test_marker_that_cannot_be_hidden_is_refused(marker):
    with pytest.raises(InputError):
        normalize_marker(marker)


@pytest.mark.parametrize(
    ("event", "expected"),
    [
        (PR_EVENT, (PR_NUMBER, HEAD_SHA)),
        ({"workflow_run": {"head_sha": HEAD_SHA, "pull_requests": [{"number": 3}]}}, (3, HEAD_SHA)),
        ({"workflow_run": {"head_sha": HEAD_SHA, "pull_requests": []}}, (None, HEAD_SHA)),
        ({"after": PUSH_SHA}, (None, PUSH_SHA)),
        ({"after": "0" * 40}, (None, MERGE_SHA)),  # a deleted branch: fall back to GITHUB_SHA
    ],
)
def test_event_gives_pr_and_head_sha(event, expected):
    assert event_pr_and_sha(event, {"GITHUB_SHA": MERGE_SHA}) == expected
