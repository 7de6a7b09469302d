"""A loopback HTTP server that behaves like the GitHub REST endpoints the poster uses.

It keeps comments, statuses and branch files in memory, paginates with ``Link`` headers (page
size forced small so a search crosses pages), enforces tokens (unknown: 401; read-only: 403
"Resource not accessible by integration" on writes), validates bodies like GitHub (422 for a
comment over 65,536 characters, 409 for a stale file sha), plays scripted faults, and records
every request. Also here: builders for the minimal valid reports the tests post.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from tools.bench.synthetic import synthetic_document
from tools.bench.verdict import MetricJudgement, Outcome, ReportDocument, Verdict
from virnucpro.bench.metric_names import TOTAL_TIME_METRIC
from virnucpro.bench.schema import (
    GpuTelemetry,
    ResultsDocument,
    WorkloadFingerprint,
    metric_from_samples,
)

TOKEN = "ghs_FakeTokenForTests0123456789abcdef"
READ_ONLY_TOKEN = "ghs_ReadOnlyForkTokenForTests987654321"
BOT_LOGIN = "github-actions[bot]"
REPO = "octo/virnucpro"
HEAD_SHA = "1234567890abcdef1234567890abcdef12345678"
PUSH_SHA = "fedcba0987654321fedcba0987654321fedcba09"
PR_NUMBER = 7
NOW = 1_700_000_000.0  # the clock the tests give the client
DEFAULT_PAGE_SIZE = 2
GITHUB_PER_PAGE_DEFAULT = 30
MAX_COMMENT_CHARS = 65_536
MAX_DESCRIPTION_CHARS = 140
STATUS_STATES = frozenset({"error", "failure", "pending", "success"})
NOT_ACCESSIBLE = "Resource not accessible by integration"
FIRST_COMMENT_ID = 1000
BASE64_LINE = 60  # GitHub wraps file content in the contents API
POLL_S = 0.01  # how soon shutdown() is noticed

Reply = tuple[int, Any, dict[str, str]]


class SleepRecorder:
    """Stands in for ``time.sleep``: records the delays asked for, sleeps not at all."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


@dataclass
class Comment:
    id: int
    login: str
    body: str


@dataclass
class Fault:
    """Answer the next ``times`` matching requests with ``status`` (optionally after doing them)."""

    method: str
    path: str  # a regular expression searched in the request path
    status: int
    times: int = 1
    headers: dict[str, str] = field(default_factory=dict)
    message: str = "scripted fault"
    after_processing: bool = False


@dataclass(frozen=True)
class Recorded:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]  # lower-case names
    body: Any


def _error(status: int, message: str, **extra: Any) -> Reply:
    return status, {"message": message, **extra}, {}


def _git_blob_sha(content: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(content) + content).hexdigest()


class FakeGitHub:
    """The fake API; use as a context manager, it serves on ``self.url`` until exit."""

    def __init__(self, *, page_size: int = DEFAULT_PAGE_SIZE) -> None:
        self.page_size = page_size
        self.tokens = {TOKEN: BOT_LOGIN, READ_ONLY_TOKEN: BOT_LOGIN}
        self.read_only = {READ_ONLY_TOKEN}
        self.user_forbidden = False  # installation tokens get 403 on GET /user
        self.comments: dict[int, list[Comment]] = {}
        self.statuses: list[tuple[str, dict[str, Any]]] = []
        self.files: dict[tuple[str, str], bytes] = {}  # (branch, path) -> content
        self.commits: list[dict[str, Any]] = []
        self.merged_prs: dict[str, int] = {}  # commit sha -> the PR that merged it
        self.branches = {"main", "badges"}
        self.faults: list[Fault] = []
        self.requests: list[Recorded] = []
        self.link_base: str | None = None  # override the host of Link headers
        self._next_id = FIRST_COMMENT_ID
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._server.fake = self  # type: ignore[attr-defined]
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": POLL_S}, daemon=True
        )
        self._routes: list[tuple[str, re.Pattern[str], Callable[..., Reply]]] = [
            ("GET", re.compile(r"^/user$"), self._get_user),
            (
                "GET",
                re.compile(r"^/repos/(?P<repo>[^/]+/[^/]+)/issues/(?P<n>\d+)/comments$"),
                self._list_comments,
            ),
            (
                "POST",
                re.compile(r"^/repos/(?P<repo>[^/]+/[^/]+)/issues/(?P<n>\d+)/comments$"),
                self._create_comment,
            ),
            (
                "PATCH",
                re.compile(r"^/repos/(?P<repo>[^/]+/[^/]+)/issues/comments/(?P<id>\d+)$"),
                self._update_comment,
            ),
            (
                "POST",
                re.compile(r"^/repos/(?P<repo>[^/]+/[^/]+)/statuses/(?P<sha>[0-9a-f]+)$"),
                self._create_status,
            ),
            (
                "GET",
                re.compile(r"^/repos/(?P<repo>[^/]+/[^/]+)/contents/(?P<path>.+)$"),
                self._get_file,
            ),
            (
                "GET",
                re.compile(r"^/repos/(?P<repo>[^/]+/[^/]+)/commits/(?P<sha>[0-9a-f]+)/pulls$"),
                self._commit_pulls,
            ),
            (
                "PUT",
                re.compile(r"^/repos/(?P<repo>[^/]+/[^/]+)/contents/(?P<path>.+)$"),
                self._put_file,
            ),
        ]

    # --- lifecycle and scripting ---------------------------------------------------------------

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> FakeGitHub:
        self._thread.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    def fail(self, method: str, path: str, status: int, **options: Any) -> Fault:
        """Script a fault (see :class:`Fault`); returns it so a test can read ``times`` left."""
        fault = Fault(method=method, path=path, status=status, **options)
        self.faults.append(fault)
        return fault

    def add_comment(self, login: str, body: str, *, pr: int = PR_NUMBER) -> Comment:
        comment = Comment(id=self._next_id, login=login, body=body)
        self._next_id += 1
        self.comments.setdefault(pr, []).append(comment)
        return comment

    def recorded(self, method: str, path_pattern: str = "") -> list[Recorded]:
        return [r for r in self.requests if r.method == method and re.search(path_pattern, r.path)]

    # --- request handling ----------------------------------------------------------------------

    def handle(self, method: str, target: str, headers: dict[str, str], raw: bytes) -> Reply:
        parts = urlsplit(target)
        body = json.loads(raw) if raw else None
        query = dict(parse_qsl(parts.query))
        with self._lock:
            self.requests.append(Recorded(method, parts.path, query, headers, body))
            fault = self._take_fault(method, parts.path)
            if fault is not None and not fault.after_processing:
                return fault.status, {"message": fault.message}, dict(fault.headers)
            reply = self._authorized(method, parts.path, query, headers, body)
            if fault is not None:
                return fault.status, {"message": fault.message}, dict(fault.headers)
            return reply

    def _take_fault(self, method: str, path: str) -> Fault | None:
        for fault in self.faults:
            if fault.times > 0 and fault.method == method and re.search(fault.path, path):
                fault.times -= 1
                return fault
        return None

    def _authorized(
        self, method: str, path: str, query: dict[str, str], headers: dict[str, str], body: Any
    ) -> Reply:
        token = headers.get("authorization", "").removeprefix("Bearer ")
        if token not in self.tokens:
            return _error(401, "Bad credentials")
        if method != "GET" and token in self.read_only:
            return _error(403, NOT_ACCESSIBLE)
        for route_method, pattern, action in self._routes:
            match = pattern.match(path)
            if route_method == method and match:
                if match.groupdict().get("repo", REPO) != REPO:
                    return _error(404, "Not Found")
                return action(match, query=query, body=body, login=self.tokens[token])
        return _error(404, "Not Found")

    # --- endpoints -----------------------------------------------------------------------------

    def _commit_pulls(self, match: re.Match[str], **_: Any) -> Reply:
        """The PRs associated with a commit; an unmerged open one first, as GitHub may list."""
        number = self.merged_prs.get(match["sha"])
        pulls = [{"number": 99, "state": "open", "merged_at": None}]
        if number is not None:
            pulls.append({"number": number, "state": "closed", "merged_at": "2026-12-01T00:00Z"})
        return 200, pulls, {}

    def _get_user(self, match: re.Match[str], *, login: str, **_: Any) -> Reply:
        if self.user_forbidden:
            return _error(403, NOT_ACCESSIBLE)
        return 200, {"login": login, "type": "Bot"}, {}

    def _comment_json(self, comment: Comment, pr: int) -> dict[str, Any]:
        return {
            "id": comment.id,
            "body": comment.body,
            "user": {"login": comment.login},
            "html_url": f"https://github.com/{REPO}/pull/{pr}#issuecomment-{comment.id}",
        }

    def _list_comments(self, match: re.Match[str], *, query: dict[str, str], **_: Any) -> Reply:
        pr = int(match["n"])
        per_page = min(int(query.get("per_page", GITHUB_PER_PAGE_DEFAULT)), self.page_size)
        page = int(query.get("page", 1))
        everything = self.comments.get(pr, [])
        chunk = everything[(page - 1) * per_page : page * per_page]
        headers = {}
        if page * per_page < len(everything):
            base = self.link_base or self.url
            link = f"{base}{match.string}?per_page={per_page}&page={page + 1}"
            headers["Link"] = f'<{link}>; rel="next"'
        return 200, [self._comment_json(c, pr) for c in chunk], headers

    def _create_comment(self, match: re.Match[str], *, body: Any, login: str, **_: Any) -> Reply:
        text = (body or {}).get("body", "")
        if len(text) > MAX_COMMENT_CHARS:
            return _too_long("IssueComment", "body", MAX_COMMENT_CHARS)
        comment = self.add_comment(login, text, pr=int(match["n"]))
        return 201, self._comment_json(comment, int(match["n"])), {}

    def _update_comment(self, match: re.Match[str], *, body: Any, **_: Any) -> Reply:
        text = (body or {}).get("body", "")
        if len(text) > MAX_COMMENT_CHARS:
            return _too_long("IssueComment", "body", MAX_COMMENT_CHARS)
        for pr, comments in self.comments.items():
            for comment in comments:
                if comment.id == int(match["id"]):
                    comment.body = text
                    return 200, self._comment_json(comment, pr), {}
        return _error(404, "Not Found")

    def _create_status(self, match: re.Match[str], *, body: Any, **_: Any) -> Reply:
        payload = body or {}
        if payload.get("state") not in STATUS_STATES:
            return _error(422, "Validation Failed", errors=[{"field": "state", "code": "invalid"}])
        if len(payload.get("description") or "") > MAX_DESCRIPTION_CHARS:
            return _too_long("Status", "description", MAX_DESCRIPTION_CHARS)
        self.statuses.append((match["sha"], payload))
        return 201, {"id": len(self.statuses), **payload}, {}

    def _get_file(self, match: re.Match[str], *, query: dict[str, str], **_: Any) -> Reply:
        branch = query.get("ref", "main")
        content = self.files.get((branch, match["path"]))
        if content is None:
            return _error(404, "Not Found")
        encoded = base64.b64encode(content).decode()
        wrapped = "\n".join(
            encoded[i : i + BASE64_LINE] for i in range(0, len(encoded), BASE64_LINE)
        )
        reply = {
            "type": "file",
            "path": match["path"],
            "sha": _git_blob_sha(content),
            "encoding": "base64",
            "content": wrapped + "\n",
        }
        return 200, reply, {}

    def _put_file(self, match: re.Match[str], *, body: Any, **_: Any) -> Reply:
        payload = body or {}
        branch, path = payload.get("branch", "main"), match["path"]
        if branch not in self.branches:
            return _error(404, "Branch not found")
        current = self.files.get((branch, path))
        if current is not None and "sha" not in payload:
            return _error(422, 'Invalid request.\n\n"sha" wasn\'t supplied.')
        if current is not None and payload["sha"] != _git_blob_sha(current):
            return _error(409, f"{path} does not match {payload['sha']}")
        content = base64.b64decode(payload["content"])
        self.files[(branch, path)] = content
        self.commits.append({"branch": branch, "path": path, "message": payload.get("message")})
        status = 200 if current is not None else 201
        return status, {"content": {"path": path, "sha": _git_blob_sha(content)}}, {}


def _too_long(resource: str, field_name: str, limit: int) -> Reply:
    detail = {
        "resource": resource,
        "code": "custom",
        "field": field_name,
        "message": f"{field_name} is too long (maximum is {limit} characters)",
    }
    return _error(422, "Validation Failed", errors=[detail])


class _Handler(BaseHTTPRequestHandler):
    """Hands every request to the :class:`FakeGitHub` it belongs to."""

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        headers = {name.lower(): value for name, value in self.headers.items()}
        fake: FakeGitHub = self.server.fake  # type: ignore[attr-defined]
        status, data, extra = fake.handle(self.command, self.path, headers, raw)
        payload = json.dumps(data).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(payload)))
        for name, value in extra.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = do_PATCH = do_PUT = _serve

    def log_message(self, format: str, *args: Any) -> None:  # the base signature names "format"
        return None


# --- minimal valid reports --------------------------------------------------------------------


def make_results(*, total_time: Iterable[float] = (12.3, 12.25, 12.4)) -> ResultsDocument:
    """The smallest valid results document: one end-to-end time metric, no GPU."""
    return synthetic_document(
        [metric_from_samples(TOTAL_TIME_METRIC, list(total_time), unit="s", better="lower")],
        run_id="run-1",
        created_at="2025-03-05T12:00:00Z",
        cpu_model="Test CPU",
        run={"model_preset": "tiny-random", "precision": "fp32"},
        environment={"git_commit": HEAD_SHA, "git_dirty": False, "platform": "Linux-6.0-x86_64"},
        workload=WorkloadFingerprint(
            name="tiny",
            content_sha256="ab" * 32,
            reads=10,
            bases=3000,
            chunks=10,
            expected_length=300,
            kept_frames=60,
            dnabert_tokens=600,
            esm_tokens=1000,
        ),
        gpu=GpuTelemetry(available=False, reason="no GPU in the tests"),
    )


def judgement(name: str, status: str, change: float | None, *, reason: str = "") -> MetricJudgement:
    return MetricJudgement.model_validate(
        {"name": name, "unit": "s", "status": status, "change": change, "reason": reason}
    )


def make_report(
    outcome: Outcome | None = "pass",
    *,
    judgements: Iterable[MetricJudgement] = (),
    reasons: Iterable[str] = (),
    total_time: Iterable[float] = (12.3, 12.25, 12.4),
) -> ReportDocument:
    """A report with the given verdict outcome (None: no verdict at all)."""
    verdict = None
    if outcome is not None:
        exit_code = {"regression": 1, "could_not_judge": 2}.get(outcome, 0)
        verdict = Verdict(
            outcome=outcome,
            exit_code=exit_code,
            baseline="main@abc123",
            judgements=tuple(judgements),
            reasons=tuple(reasons),
        )
    return ReportDocument(
        generated_at="2025-03-05T12:00:00Z",
        results=make_results(total_time=total_time),
        verdict=verdict,
    )


def write_report(report: ReportDocument, path: Path) -> Path:
    path.write_text(report.model_dump_json(indent=2), encoding="utf-8")
    return path


def regression_report() -> ReportDocument:
    """A regression: total time and the ESM stage failed, GPU utilization warned."""
    return make_report(
        "regression",
        judgements=(
            judgement(TOTAL_TIME_METRIC, "fail", 0.142),
            judgement("stage.esm.time", "fail", 0.11),
            judgement("gpu.utilization", "warn", 0.06),
        ),
    )
