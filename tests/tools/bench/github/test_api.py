"""The GitHub REST client against the loopback fake: headers, retries, rate limits, secrecy."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest
import requests

from tests.tools.bench.fake_github import (
    HEAD_SHA,
    NOW,
    PR_NUMBER,
    READ_ONLY_TOKEN,
    REPO,
    TOKEN,
    SleepRecorder,
)
from tools.bench.cli.github import run_guarded
from tools.bench.github.api import (
    API_VERSION,
    MEDIA_TYPE,
    REDACTED,
    GitHubClient,
    GitHubError,
    PermissionDenied,
    ReplayableWrite,
    clean_token,
    validate_api_url,
)
from virnucpro.errors import InputError

STATUSES = f"/repos/{REPO}/statuses/{HEAD_SHA}"
COMMENTS = f"/repos/{REPO}/issues/{PR_NUMBER}/comments"
STATUS = {"state": "success", "context": "virnucpro-bench", "description": "pass"}
RATE_LIMITED = "API rate limit exceeded"


@pytest.fixture
def session() -> Iterator[requests.Session]:
    with requests.Session() as http:
        yield http


def _client(
    url: str, session: requests.Session, sleeps: SleepRecorder, **options: object
) -> GitHubClient:
    values = {"token": TOKEN, "sleep": sleeps, "clock": lambda: NOW, **options}
    return GitHubClient(api_url=url, session=session, **values)  # type: ignore[arg-type]


@pytest.fixture
def client(fake, session, sleeps) -> GitHubClient:
    return _client(fake.url, session, sleeps)


def test_every_request_carries_the_github_headers(fake, client):
    client.request("GET", "/user")
    client.request("POST", STATUSES, json_body=STATUS)
    for request in fake.requests:
        assert request.headers["authorization"] == f"Bearer {TOKEN}"
        assert request.headers["accept"] == MEDIA_TYPE
        assert request.headers["x-github-api-version"] == API_VERSION
        assert request.headers["user-agent"]


def test_paginate_follows_next_links(fake, client):
    for n in range(5):
        fake.add_comment("reviewer", f"comment {n}")
    bodies = [c["body"] for c in client.paginate(COMMENTS)]
    assert bodies == [f"comment {n}" for n in range(5)]
    assert [r.query.get("page", "1") for r in fake.requests] == ["1", "2", "3"]


def test_link_to_another_host_is_not_followed(fake, client):
    for n in range(3):
        fake.add_comment("reviewer", f"comment {n}")
    fake.link_base = "http://127.0.0.2:9"
    with pytest.raises(GitHubError, match="refusing to follow"):
        list(client.paginate(COMMENTS))
    assert len(fake.requests) == 1


def test_missing_ok_returns_the_404(client):
    answer = client.request("GET", f"/repos/{REPO}/contents/absent.json", missing_ok=True)
    assert answer.status == 404 and answer.data is None
    with pytest.raises(GitHubError) as caught:
        client.request("GET", f"/repos/{REPO}/contents/absent.json")
    assert caught.value.status == 404


def test_server_errors_are_retried_with_exponential_backoff(fake, client, sleeps):
    fake.fail("POST", "/statuses/", 502, times=3)
    assert client.request("POST", STATUSES, json_body=STATUS).status == 201
    assert sleeps.delays == [1.0, 2.0, 4.0] and len(fake.statuses) == 1


def test_retries_are_bounded(fake, client, sleeps):
    fake.fail("GET", "/user$", 503, times=100)
    with pytest.raises(GitHubError, match=r"HTTP 503 .*after 5 attempts"):
        client.request("GET", "/user")
    assert len(fake.requests) == 5 and sleeps.delays == [1.0, 2.0, 4.0, 8.0]


def test_a_write_that_must_not_be_replayed_is_not_retried(fake, client, sleeps):
    fake.fail("POST", "/comments$", 502, after_processing=True)
    with pytest.raises(ReplayableWrite, match="may or may not have happened"):
        client.request("POST", COMMENTS, json_body={"body": "x"}, replay_safe=False)
    assert len(fake.comments[PR_NUMBER]) == 1 and sleeps.delays == []


def test_rate_limit_waits_until_the_reset_time(fake, client, sleeps):
    headers = {"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(int(NOW) + 30)}
    fake.fail("GET", "/user$", 403, headers=headers, message=RATE_LIMITED)
    assert client.request("GET", "/user").data["login"]
    assert sleeps.delays == [31.0]  # until the reset, plus a second of slack


def test_429_honours_retry_after(fake, client, sleeps):
    fake.fail("POST", "/comments$", 429, headers={"retry-after": "7"})
    client.request("POST", COMMENTS, json_body={"body": "x"}, replay_safe=False)
    assert sleeps.delays == [7.0] and len(fake.comments[PR_NUMBER]) == 1


def test_secondary_rate_limit_without_hints_backs_off_from_a_minute(fake, client, sleeps):
    fake.fail(
        "POST", "/statuses/", 403, times=2, message="You have exceeded a secondary rate limit"
    )
    client.request("POST", STATUSES, json_body=STATUS)
    assert sleeps.delays == [60.0, 120.0] and len(fake.statuses) == 1


def test_rate_limit_wait_beyond_the_cap_fails_without_sleeping(fake, client, sleeps):
    headers = {"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(int(NOW) + 7200)}
    fake.fail("GET", "/user$", 403, headers=headers, message=RATE_LIMITED)
    with pytest.raises(GitHubError, match="over the cap"):
        client.request("GET", "/user")
    assert sleeps.delays == []


def test_permission_problem_is_not_retried(fake, session, sleeps):
    client = _client(fake.url, session, sleeps, token=READ_ONLY_TOKEN)
    with pytest.raises(PermissionDenied, match="Resource not accessible by integration"):
        client.request("POST", STATUSES, json_body=STATUS)
    assert len(fake.requests) == 1 and sleeps.delays == []


def test_network_failure_is_retried_then_reported(session, sleeps):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    client = _client(f"http://127.0.0.1:{closed_port}", session, sleeps)
    with pytest.raises(GitHubError, match="ConnectionError"):
        client.request("GET", "/user")
    assert sleeps.delays == [1.0, 2.0, 4.0, 8.0]


def test_dry_run_sends_nothing_and_shows_long_values_by_size(fake, session, sleeps):
    lines: list[str] = []
    client = _client(fake.url, session, sleeps, dry_run=True, echo=lines.append)
    answer = client.request("POST", COMMENTS, json_body={"body": "z" * 500})
    assert answer.status == 0 and fake.requests == []
    assert lines == [f"dry-run: POST {fake.url}{COMMENTS} body {{body: <500 chars>}}"]


# --- the token stays secret -------------------------------------------------------------------


def test_error_text_is_redacted(fake, client):
    fake.fail("POST", "/statuses/", 400, message=f"echoing {TOKEN}")
    with pytest.raises(GitHubError) as caught:
        client.request("POST", STATUSES, json_body=STATUS)
    assert TOKEN not in str(caught.value) and f"echoing {REDACTED}" in str(caught.value)
    assert TOKEN not in repr(client)


def test_unexpected_error_text_is_redacted(capsys):
    def explode() -> int:
        raise RuntimeError(f"boom with {TOKEN}")

    assert run_guarded("prog", explode, secret=TOKEN) == 1
    err = capsys.readouterr().err
    assert TOKEN not in err and f"prog: error: unexpected RuntimeError: boom with {REDACTED}" in err


def test_token_with_inner_whitespace_is_refused_without_echo():
    with pytest.raises(InputError) as caught:
        clean_token("ghs_abc def", source="$GITHUB_TOKEN")
    assert "abc" not in str(caught.value)
    assert clean_token("  ghs_abc\n", source="$GITHUB_TOKEN") == "ghs_abc"
    assert clean_token("", source="$GITHUB_TOKEN") is None


def test_plain_http_api_url_is_only_for_loopback():
    assert validate_api_url("http://127.0.0.1:8080/") == "http://127.0.0.1:8080"
    assert validate_api_url("https://ghe.example.com/api/v3/") == "https://ghe.example.com/api/v3"
    with pytest.raises(InputError):
        validate_api_url("http://github.example.com/api/v3")
