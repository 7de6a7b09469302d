"""A small GitHub REST client for the benchmark poster and badge writer.

It sends the headers GitHub asks for, retries server errors with exponential backoff, waits out
rate limits (``retry-after``, else ``x-ratelimit-reset``, else backoff from a minute), refuses to
retry a 403 that is a permission problem, follows ``Link: rel="next"`` pages, and in dry-run
mode prints each request instead of sending it. The token only ever goes into the
``Authorization`` header: every message this module produces passes through :meth:`redact`.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlsplit

import requests

from virnucpro.errors import InputError, RunFailure

DEFAULT_API_URL = "https://api.github.com"
DEFAULT_TOKEN_ENV = "GITHUB_TOKEN"
API_VERSION = "2022-11-28"
MEDIA_TYPE = "application/vnd.github+json"
USER_AGENT = "virnucpro-bench-poster/1"
CONNECT_TIMEOUT_S = 10.0
READ_TIMEOUT_S = 30.0
PER_PAGE = 100  # GitHub's maximum page size
MAX_PAGES = 100  # 10,000 items: far more than any PR has comments; stops a Link loop
REDACTED = "***"
MAX_MESSAGE_CHARS = 300  # an error message from GitHub, kept to one readable line
MAX_SHOWN_VALUE_CHARS = 80  # dry run: longer strings in a body are shown as their length
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
RATE_LIMIT_WORDS = "rate limit"
CONFLICT = 409

T = TypeVar("T")
Sleep = Callable[[float], None]
Clock = Callable[[], float]
Echo = Callable[[str], None]


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to retry; the defaults follow GitHub's REST guidance."""

    max_attempts: int = 5
    server_backoff_s: float = 1.0  # first wait after a 5xx or a network failure; then doubles
    rate_limit_backoff_s: float = 60.0  # first wait after a rate limit that gives no hint
    backoff_factor: float = 2.0
    reset_slack_s: float = 1.0  # added to x-ratelimit-reset: clocks differ by a little
    max_wait_s: float = 600.0  # a longer wait is reported as a failure instead of slept

    def backoff(self, first_s: float, attempt: int) -> float:
        return first_s * self.backoff_factor**attempt


DEFAULT_POLICY = RetryPolicy()


class GitHubError(RunFailure):
    """A failed GitHub API request (exit 1); ``status`` is the HTTP status when there was one."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class PermissionDenied(GitHubError):
    """A 403 that retrying cannot fix, e.g. a read-only token on a fork PR."""


class ReplayableWrite(GitHubError):
    """A write that may or may not have landed, or lost a race: redo its read-then-write whole."""


@dataclass(frozen=True)
class ApiResponse:
    """The parts of a response the callers use; ``status`` is 0 for a dry-run stand-in."""

    status: int
    data: Any = None
    next_url: str | None = None


def validate_api_url(url: str) -> str:
    """The API base URL without a trailing slash; plain http only to loopback (for tests)."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InputError(f"API URL {url!r} is not an http(s) URL")
    if parts.scheme == "http" and parts.hostname not in LOOPBACK_HOSTS:
        raise InputError(f"API URL {url!r} is plain http: the token must not travel unencrypted")
    return url.strip().rstrip("/")


def clean_token(raw: str | None, *, source: str) -> str | None:
    """The token without surrounding whitespace, None when empty; never echoed in an error."""
    token = (raw or "").strip()
    if not token:
        return None
    if re.search(r"[\s\x00-\x1f\x7f]", token):
        raise InputError(f"the token in {source} contains whitespace or control characters")
    return token


def _error_message(response: requests.Response) -> str:
    """GitHub's ``message`` plus any validation details, on one line."""
    try:
        data = response.json()
    except ValueError:
        return " ".join(response.text.split())[:MAX_MESSAGE_CHARS] or response.reason or ""
    if not isinstance(data, dict):
        return ""
    details = [
        str(e.get("message") or e.get("code"))
        for e in data.get("errors") or []
        if isinstance(e, dict)
    ]
    text = "; ".join([str(data.get("message", "")), *details]).strip("; ")
    return " ".join(text.split())[:MAX_MESSAGE_CHARS]


def _number(value: str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def rate_limit_delay(
    headers: Mapping[str, str],
    *,
    message: str,
    status: int,
    now: float,
    attempt: int,
    policy: RetryPolicy,
) -> float | None:
    """Seconds to wait before retrying a 403/429, or None when it is not a rate limit."""
    retry_after = _number(headers.get("retry-after"))
    if retry_after is not None:
        return max(retry_after, 0.0)
    reset = _number(headers.get("x-ratelimit-reset"))
    if headers.get("x-ratelimit-remaining") == "0" and reset is not None:
        return max(reset - now, 0.0) + policy.reset_slack_s
    if status == 429 or RATE_LIMIT_WORDS in message.lower():
        return policy.backoff(policy.rate_limit_backoff_s, attempt)
    return None


def _summarize(value: Any) -> str:
    """A body for the dry-run listing: short values as JSON, long strings as their length."""
    if isinstance(value, str) and len(value) > MAX_SHOWN_VALUE_CHARS:
        return f"<{len(value)} chars>"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_summarize(v)}" for k, v in value.items()) + "}"
    return json.dumps(value)


class GitHubClient:
    """GitHub REST calls over one ``requests.Session``; see the module docstring for behaviour."""

    def __init__(
        self,
        *,
        api_url: str,
        token: str | None,
        session: requests.Session,
        policy: RetryPolicy = DEFAULT_POLICY,
        sleep: Sleep = time.sleep,
        clock: Clock = time.time,
        dry_run: bool = False,
        echo: Echo = print,
    ) -> None:
        self.api_url = validate_api_url(api_url)
        self._token = token
        self._session = session
        self.policy = policy
        self._sleep = sleep
        self._clock = clock
        self.dry_run = dry_run
        self._echo = echo

    def __repr__(self) -> str:
        return f"GitHubClient(api_url={self.api_url!r}, dry_run={self.dry_run})"

    def redact(self, text: str) -> str:
        """``text`` with the token replaced; applied to everything this client says."""
        return text.replace(self._token, REDACTED) if self._token else text

    def _headers(self) -> dict[str, str]:
        headers = {
            "Accept": MEDIA_TYPE,
            "X-GitHub-Api-Version": API_VERSION,
            "User-Agent": USER_AGENT,
        }
        if self._token:
            headers["Authorization"] = f"Bearer {self._token}"
        return headers

    def _url(self, path_or_url: str) -> str:
        if not path_or_url.startswith(("http://", "https://")):
            return f"{self.api_url}{path_or_url}"
        if not path_or_url.startswith(f"{self.api_url}/"):
            raise GitHubError(f"refusing to follow a link outside {self.api_url}: {path_or_url}")
        return path_or_url

    def _where(self, method: str, url: str) -> str:
        return f"{method} {url.removeprefix(self.api_url)}"

    def _pause(self, seconds: float, why: str) -> None:
        if seconds > self.policy.max_wait_s:
            raise GitHubError(self.redact(f"{why}; retrying needs {seconds:.0f} s, over the cap"))
        self._sleep(seconds)

    def request(
        self,
        method: str,
        path_or_url: str,
        *,
        json_body: Mapping[str, Any] | None = None,
        params: Mapping[str, Any] | None = None,
        replay_safe: bool = True,
        missing_ok: bool = False,
    ) -> ApiResponse:
        """Send one request with retries; an error status raises :class:`GitHubError`.

        ``replay_safe=False`` marks a write that must not be resent blindly: a server error or
        network failure raises :class:`ReplayableWrite` instead of retrying. ``missing_ok``
        returns a 404 as a response instead of raising.
        """
        url = self._url(path_or_url)
        if self.dry_run:
            return self._echo_dry_run(method, url, params, json_body)
        for attempt in range(self.policy.max_attempts):
            final = attempt + 1 == self.policy.max_attempts
            try:
                response = self._send(method, url, json_body=json_body, params=params)
            except requests.RequestException as exc:
                why = self.redact(f"{self._where(method, url)}: {exc.__class__.__name__}: {exc}")
                self._give_up_or_wait(
                    why, None, final=final, replay_safe=replay_safe, attempt=attempt
                )
                continue
            if response.status_code < 300 or (missing_ok and response.status_code == 404):
                return self._parsed(response, method, url)
            self._handle_error(
                response, method, url, attempt=attempt, final=final, replay_safe=replay_safe
            )
        raise AssertionError("unreachable: the last attempt returns or raises")

    def _send(
        self,
        method: str,
        url: str,
        *,
        json_body: Mapping[str, Any] | None,
        params: Mapping[str, Any] | None,
    ) -> requests.Response:
        return self._session.request(
            method,
            url,
            json=json_body,
            params=params,
            headers=self._headers(),
            timeout=(CONNECT_TIMEOUT_S, READ_TIMEOUT_S),
            allow_redirects=False,
        )

    def _give_up_or_wait(
        self, why: str, status: int | None, *, final: bool, replay_safe: bool, attempt: int
    ) -> None:
        """After a server error or network failure: raise, or wait before the next attempt."""
        if not replay_safe:
            raise ReplayableWrite(f"{why} (the write may or may not have happened)", status=status)
        if final:
            raise GitHubError(f"{why} (after {self.policy.max_attempts} attempts)", status=status)
        self._pause(self.policy.backoff(self.policy.server_backoff_s, attempt), why)

    def _handle_error(
        self,
        response: requests.Response,
        method: str,
        url: str,
        *,
        attempt: int,
        final: bool,
        replay_safe: bool,
    ) -> None:
        status = response.status_code
        message = _error_message(response)
        why = self.redact(f"{self._where(method, url)}: HTTP {status} {message}".rstrip())
        if status >= 500:
            self._give_up_or_wait(
                why, status, final=final, replay_safe=replay_safe, attempt=attempt
            )
            return
        if status in (403, 429):
            self._wait_out_rate_limit(
                response, why, status=status, message=message, attempt=attempt, final=final
            )
            return
        if status == CONFLICT and not replay_safe:
            raise ReplayableWrite(why, status=status)
        raise GitHubError(why, status=status)

    def _wait_out_rate_limit(
        self,
        response: requests.Response,
        why: str,
        *,
        status: int,
        message: str,
        attempt: int,
        final: bool,
    ) -> None:
        delay = rate_limit_delay(
            response.headers,
            message=message,
            status=status,
            now=self._clock(),
            attempt=attempt,
            policy=self.policy,
        )
        if delay is None:
            raise PermissionDenied(why, status=status)
        if final:
            raise GitHubError(
                f"{why} (still rate limited after {self.policy.max_attempts} attempts)",
                status=status,
            )
        self._pause(delay, why)

    def _parsed(self, response: requests.Response, method: str, url: str) -> ApiResponse:
        next_url = response.links.get("next", {}).get("url")
        if response.status_code == 404 or not response.content:
            return ApiResponse(status=response.status_code, next_url=next_url)
        try:
            data = response.json()
        except ValueError:
            raise GitHubError(
                self.redact(f"{self._where(method, url)}: the response is not JSON"),
                status=response.status_code,
            ) from None
        return ApiResponse(status=response.status_code, data=data, next_url=next_url)

    def _echo_dry_run(
        self,
        method: str,
        url: str,
        params: Mapping[str, Any] | None,
        json_body: Mapping[str, Any] | None,
    ) -> ApiResponse:
        query = "?" + "&".join(f"{k}={v}" for k, v in params.items()) if params else ""
        body = f" body {_summarize(dict(json_body))}" if json_body is not None else ""
        self._echo(self.redact(f"dry-run: {method} {url}{query}{body}"))
        return ApiResponse(status=0)

    def paginate(self, path: str, *, params: Mapping[str, Any] | None = None) -> Iterator[Any]:
        """Every item of a list endpoint, following ``Link: rel="next"`` page by page."""
        url: str | None = path
        query: Mapping[str, Any] | None = {**(params or {}), "per_page": PER_PAGE}
        for _ in range(MAX_PAGES):
            if url is None:
                return
            page = self.request("GET", url, params=query)
            if page.data is not None and not isinstance(page.data, list):
                raise GitHubError(f"GET {path}: expected a list, got {type(page.data).__name__}")
            yield from page.data or []
            url, query = page.next_url, None  # the next link carries its own query
        raise GitHubError(f"GET {path}: more than {MAX_PAGES} pages")

    def replay(self, operation: Callable[[], T]) -> T:
        """Run a read-then-write ``operation``, rerunning it whole when its write's fate is unknown.

        The operation reads the current state before it writes, so a rerun after a write that
        did land finds it instead of writing twice.
        """
        for attempt in range(self.policy.max_attempts):
            try:
                return operation()
            except ReplayableWrite as exc:
                if attempt + 1 == self.policy.max_attempts:
                    raise
                self._pause(self.policy.backoff(self.policy.server_backoff_s, attempt), str(exc))
        raise AssertionError("unreachable: the last attempt returns or raises")
