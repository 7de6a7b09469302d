"""The GitHub poster against a real loopback server that behaves like GitHub (fake_github)."""

from __future__ import annotations

import json
import re
import socket
from pathlib import Path
from typing import Any

import pytest

from tests.bench.ab_records import timed_record
from tests.bench.output_records import ROWS, flip, same_rounds
from tests.tools.bench.fake_github import (
    BOT_LOGIN,
    HEAD_SHA,
    NOW,
    PR_NUMBER,
    PUSH_SHA,
    READ_ONLY_TOKEN,
    REPO,
    TOKEN,
    FakeGitHub,
    SleepRecorder,
    make_report,
    regression_report,
    write_report,
)
from tests.tools.bench.judge.test_rejudge import _written, forged
from tools.bench.cli.github import main_post
from tools.bench.github import render as github_render
from tools.bench.github.api import (
    REDACTED,
    GitHubError,
)
from tools.bench.github.event import normalize_marker
from tools.bench.github.post import MAX_SUMMARY_BYTES, PostConfig, PostOutcome, post_report
from tools.bench.github.render import (
    DEFAULT_MARKER,
    MAX_COMMENT_CHARS,
    MAX_DESCRIPTION_CHARS,
    TRUNCATION_NOTE,
    status_description,
)
from tools.bench.verdict import ReportDocument
from virnucpro.bench.ab.schema import ABRecord, PairOutputs, write_record
from virnucpro.bench.metric_names import TOTAL_TIME_METRIC

MERGE_SHA = "ee" * 20  # GITHUB_SHA of a pull_request event: the merge commit, not the head
RUN_URL = f"https://github.com/{REPO}/actions/runs/42"
PR_EVENT = {"pull_request": {"number": PR_NUMBER, "head": {"sha": HEAD_SHA}}}
PASS = make_report("pass")
REGRESSION = regression_report()


def _config(fake: FakeGitHub, tmp_path: Path, **changes: Any) -> PostConfig:
    values: dict[str, Any] = {
        "repo": REPO,
        "pr": PR_NUMBER,
        "sha": HEAD_SHA,
        "token": TOKEN,
        "api_url": fake.url,
        "summary_file": tmp_path / "summary.md",
        "target_url": RUN_URL,
    }
    return PostConfig(**{**values, **changes})


def _post(
    fake: FakeGitHub,
    tmp_path: Path,
    sleeps: SleepRecorder,
    report: ReportDocument = PASS,
    **changes: Any,
) -> PostOutcome:
    config = _config(fake, tmp_path, **changes)
    return post_report(report, config=config, sleep=sleeps, clock=lambda: NOW)


def _env(fake: FakeGitHub, tmp_path: Path, event: dict | None = None, **changes: str | None):
    event_path = tmp_path / "event.json"
    event_path.write_text(json.dumps(PR_EVENT if event is None else event), encoding="utf-8")
    env = {
        "GITHUB_API_URL": fake.url,
        "GITHUB_TOKEN": TOKEN,
        "GITHUB_REPOSITORY": REPO,
        "GITHUB_EVENT_PATH": str(event_path),
        "GITHUB_STEP_SUMMARY": str(tmp_path / "summary.md"),
        "GITHUB_SHA": MERGE_SHA,
        "GITHUB_SERVER_URL": "https://github.com",
        "GITHUB_RUN_ID": "42",
        **changes,
    }
    return {name: value for name, value in env.items() if value is not None}


def _main(
    fake: FakeGitHub,
    tmp_path: Path,
    sleeps: SleepRecorder,
    *flags: str,
    report: ReportDocument = PASS,
    event: dict | None = None,
    **env_changes: str | None,
) -> int:
    path = write_report(report, tmp_path / "report.json")
    env = _env(fake, tmp_path, event, **env_changes)
    return main_post([str(path), *flags], env=env, sleep=sleeps, clock=lambda: NOW)


def _marked(fake: FakeGitHub, marker: str = DEFAULT_MARKER) -> list:
    return [c for c in fake.comments.get(PR_NUMBER, []) if marker in c.body]


# --- sticky comment ------------------------------------------------------------------


def test_second_post_updates_the_one_comment_found_across_pages(fake, tmp_path, sleeps):
    for n in range(5):
        fake.add_comment(f"reviewer{n}", f"looks good {n}")
    first = _post(fake, tmp_path, sleeps, PASS)
    fake.add_comment("reviewer9", "one more")
    second = _post(fake, tmp_path, sleeps, REGRESSION)

    assert first.comment.action == "created"
    assert second.comment.action == "updated"
    (ours,) = _marked(fake)
    assert second.comment_id == first.comment_id == ours.id
    assert ours.login == BOT_LOGIN and ours.body.startswith(DEFAULT_MARKER)
    assert [r.path for r in fake.recorded("PATCH")] == [f"/repos/{REPO}/issues/comments/{ours.id}"]
    assert len(fake.recorded("POST", "/comments$")) == 1
    pages = [r.query.get("page", "1") for r in fake.recorded("GET", "/comments$")]
    assert pages == ["1", "2", "3"] * 2  # page size 2: ours is on page 3; the search stops there


def test_identical_post_changes_nothing(fake, tmp_path, sleeps):
    _post(fake, tmp_path, sleeps)
    again = _post(fake, tmp_path, sleeps)
    assert again.comment.action == "unchanged"
    assert fake.recorded("PATCH") == [] and len(_marked(fake)) == 1


def test_marked_comment_of_another_user_is_left_alone(fake, tmp_path, sleeps):
    theirs = fake.add_comment("someone-else", f"{DEFAULT_MARKER}\nquoted")
    outcome = _post(fake, tmp_path, sleeps)
    assert outcome.comment.action == "created"
    assert theirs.body == f"{DEFAULT_MARKER}\nquoted"
    assert fake.recorded("PATCH") == []


def test_forbidden_user_endpoint_falls_back_to_the_actions_bot(fake, tmp_path, sleeps):
    fake.user_forbidden = True
    ours = fake.add_comment(BOT_LOGIN, f"{DEFAULT_MARKER}\nold")
    outcome = _post(fake, tmp_path, sleeps)
    assert outcome.comment.action == "updated" and outcome.comment_id == ours.id
    assert sleeps.delays == []  # a permission 403 is not retried


def test_separate_markers_keep_separate_comments(fake, tmp_path, sleeps):
    nightly = normalize_marker("virnucpro-bench:nightly")
    _post(fake, tmp_path, sleeps)
    _post(fake, tmp_path, sleeps, marker=nightly)
    _post(fake, tmp_path, sleeps, REGRESSION, marker=nightly)
    assert len(fake.comments[PR_NUMBER]) == 2
    assert len(_marked(fake)) == 1 and len(_marked(fake, nightly)) == 1
    assert len(fake.recorded("PATCH")) == 1


def test_create_that_landed_despite_a_502_is_not_duplicated(fake, tmp_path, sleeps):
    fake.fail("POST", "/comments$", 502, after_processing=True)
    outcome = _post(fake, tmp_path, sleeps)
    assert len(fake.comments[PR_NUMBER]) == 1
    assert outcome.comment.action == "unchanged"  # the rerun found the comment that landed
    assert sleeps.delays == [1.0]


# --- commit status ----------------------------------------------------------------------------


def test_status_from_the_pr_event_goes_on_the_head_sha(fake, tmp_path, sleeps, capsys):
    assert _main(fake, tmp_path, sleeps, report=REGRESSION) == 0
    ((sha, payload),) = fake.statuses
    assert sha == HEAD_SHA  # not GITHUB_SHA, the merge commit
    assert payload == {
        "state": "failure",
        "context": "virnucpro-bench",
        "description": "regression: end_to_end.total_time +14.2% (and 1 more)",
        "target_url": RUN_URL,
    }
    assert "status: posted: failure" in capsys.readouterr().out


def test_context_flag_names_the_status(fake, tmp_path, sleeps):
    assert _main(fake, tmp_path, sleeps, "--context", "bench/nightly") == 0
    assert fake.statuses[0][1]["context"] == "bench/nightly"


def test_long_status_description_is_cut_to_140(fake, tmp_path, sleeps):
    report = make_report("could_not_judge", reasons=("the machine was throttled " * 20,))
    assert len(status_description(report)) == MAX_DESCRIPTION_CHARS
    outcome = _post(fake, tmp_path, sleeps, report)  # the fake answers 422 above 140
    assert outcome.status.action == "posted" and fake.statuses[0][1]["state"] == "error"


def test_push_event_sets_a_status_and_no_comment(fake, tmp_path, sleeps):
    assert _main(fake, tmp_path, sleeps, event={"after": PUSH_SHA}) == 0
    assert [sha for sha, _ in fake.statuses] == [PUSH_SHA]
    assert fake.recorded("GET", "/comments") == [] and fake.comments == {}


# --- job summary and size limits --------------------------------------------------------------


def test_job_summary_is_appended_after_what_was_there(fake, tmp_path, sleeps):
    summary = tmp_path / "summary.md"
    summary.write_text("## earlier step", encoding="utf-8")
    _post(fake, tmp_path, sleeps, REGRESSION)
    text = summary.read_text(encoding="utf-8")
    assert text.startswith("## earlier step\n")
    assert "regression" in text.lower() and TOTAL_TIME_METRIC in text


def test_job_summary_stays_within_one_mib(fake, tmp_path, sleeps, monkeypatch):
    monkeypatch.setattr(github_render, "render_pr_comment", lambda r, max_chars: "é" * 90_000)
    summary = tmp_path / "summary.md"
    summary.write_text("x" * (MAX_SUMMARY_BYTES - 50_000), encoding="utf-8")
    outcome = _post(fake, tmp_path, sleeps)
    data = summary.read_bytes()
    assert outcome.summary.action == "written"
    assert len(data) <= MAX_SUMMARY_BYTES
    assert data.decode("utf-8").endswith(TRUNCATION_NOTE)


def test_long_comment_is_truncated_to_githubs_limit(fake, tmp_path, sleeps, monkeypatch):
    line = "| metric | value |\n"
    monkeypatch.setattr(github_render, "render_pr_comment", lambda r, max_chars: line * 9000)
    _post(fake, tmp_path, sleeps)
    (ours,) = _marked(fake)
    assert len(ours.body) <= MAX_COMMENT_CHARS
    assert ours.body.startswith(DEFAULT_MARKER) and ours.body.endswith(TRUNCATION_NOTE)


def test_comment_over_githubs_limit_is_a_422_failure(fake, tmp_path, sleeps, monkeypatch):
    monkeypatch.setattr(github_render, "render_pr_comment", lambda r, max_chars: "y" * 70_000)
    with pytest.raises(GitHubError) as caught:
        _post(fake, tmp_path, sleeps, max_comment_chars=80_000)
    assert caught.value.status == 422 and caught.value.exit_code == 1
    assert "body is too long" in str(caught.value)
    assert sleeps.delays == []


# --- retries and rate limits ------------------------------------------------------------------


def test_persistent_server_error_exits_1_with_one_line(fake, tmp_path, sleeps, capsys):
    fake.fail("POST", "/statuses/", 502, times=100)
    assert _main(fake, tmp_path, sleeps) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "HTTP 502" in err and "after 5 attempts" in err
    assert len(fake.recorded("POST", "/statuses/")) == 5
    assert sleeps.delays == [1.0, 2.0, 4.0, 8.0]


def test_network_failure_exits_1(tmp_path, sleeps, capsys):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    path = write_report(PASS, tmp_path / "report.json")
    argv = [str(path), "--api-url", f"http://127.0.0.1:{closed_port}", "--repo", REPO,
            "--pr", str(PR_NUMBER), "--sha", HEAD_SHA]  # fmt: skip
    assert main_post(argv, env={"GITHUB_TOKEN": TOKEN}, sleep=sleeps) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "ConnectionError" in err
    assert len(sleeps.delays) == 4


# --- degrading: fork PRs and missing tokens ---------------------------------------------------


def test_fork_pr_token_degrades_to_the_job_summary(fake, tmp_path, sleeps, capsys):
    assert _main(fake, tmp_path, sleeps, report=REGRESSION, GITHUB_TOKEN=READ_ONLY_TOKEN) == 0
    out = capsys.readouterr().out
    assert fake.comments == {} and fake.statuses == []
    assert sleeps.delays == []  # "not accessible" is not retried
    assert len(fake.recorded("POST")) == 2  # one try each for the comment and the status
    (why,) = [line for line in out.splitlines() if line.startswith("comment:")]
    assert "could not comment" in why and "Resource not accessible by integration" in why
    assert "regression" in (tmp_path / "summary.md").read_text(encoding="utf-8").lower()


def test_missing_token_degrades_without_any_request(fake, tmp_path, sleeps, capsys):
    assert _main(fake, tmp_path, sleeps, GITHUB_TOKEN=None) == 0
    assert fake.requests == []
    assert "no token in $GITHUB_TOKEN" in capsys.readouterr().out
    assert (tmp_path / "summary.md").exists()


def test_dry_run_sends_nothing_and_lists_the_requests(fake, tmp_path, sleeps, capsys):
    assert _main(fake, tmp_path, sleeps, "--dry-run", report=REGRESSION) == 0
    out = capsys.readouterr().out
    assert fake.requests == []
    assert f"dry-run: POST {fake.url}/repos/{REPO}/issues/{PR_NUMBER}/comments body" in out
    assert f"dry-run: POST {fake.url}/repos/{REPO}/statuses/{HEAD_SHA} body" in out
    assert 'state: "failure"' in out and "<" in out  # the long comment body shows as its size


# --- the token stays secret -------------------------------------------------------------------


def test_token_never_printed(fake, tmp_path, sleeps, capsys):
    assert _main(fake, tmp_path, sleeps) == 0
    assert _main(fake, tmp_path, sleeps, "--dry-run") == 0
    fake.fail("POST", "/statuses/", 500, times=100, message=f"proxy saw Bearer {TOKEN}")
    assert _main(fake, tmp_path, sleeps) == 1
    out, err = capsys.readouterr()
    assert TOKEN not in out and TOKEN not in err
    assert REDACTED in err
    assert TOKEN not in repr(_config(fake, tmp_path))


# --- bad input --------------------------------------------------------------------------------


@pytest.mark.parametrize("content", [None, "{not json", json.dumps({"kind": "something else"})])
def test_bad_report_exits_2_with_one_line(fake, tmp_path, sleeps, capsys, content):
    path = tmp_path / "report.json"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    assert main_post([str(path)], env=_env(fake, tmp_path), sleep=sleeps) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("python -m tools.bench post: error:")
    assert fake.requests == []


@pytest.mark.parametrize(
    "changes",
    [
        {"GITHUB_REPOSITORY": None},
        {"GITHUB_EVENT_PATH": "/nonexistent/event.json"},
        {"GITHUB_EVENT_PATH": None, "GITHUB_SHA": None},
        {"GITHUB_API_URL": "ftp://example.com"},
    ],
)
def test_missing_or_invalid_environment_exits_2(fake, tmp_path, sleeps, capsys, changes):
    assert _main(fake, tmp_path, sleeps, **changes) == 2
    assert capsys.readouterr().err.count("\n") == 1
    assert fake.requests == []


# --- the trusted mode: the verdict re-judged from the raw pairs ---------------------------------


def _trusted(
    fake: FakeGitHub,
    tmp_path: Path,
    sleeps: SleepRecorder,
    report: ReportDocument | None,
    pairs: ABRecord | None,
    *flags: str,
) -> int:
    report_path = tmp_path / "benchmark_x.json"
    if report is not None:
        write_report(report, report_path)
    pairs_path = tmp_path / "ab_pairs.json"
    if pairs is not None:
        write_record(pairs, pairs_path)
    env = _env(fake, tmp_path)
    argv = [str(report_path), "--pairs", str(pairs_path), *flags]
    return main_post(argv, env=env, sleep=sleeps, clock=lambda: NOW)


def test_a_regression_report_edited_to_read_pass_posts_failure_saying_regression(
    fake, tmp_path, sleeps
):
    """The issue's done-when: the report of a real regression, every verdict and judgement
    field edited to PASS, posted in the trusted mode to a stand-in GitHub on loopback."""
    record = timed_record(0.3, head_commit=HEAD_SHA)
    honest = _written(record)
    assert honest.verdict is not None and honest.verdict.outcome == "regression"
    code = _trusted(fake, tmp_path, sleeps, forged(honest), record)
    assert code == 1
    ((sha, status),) = fake.statuses
    assert sha == HEAD_SHA and status["state"] == "failure"
    assert status["description"].startswith("written verdict differs from the re-judged one")
    (comment,) = _marked(fake)
    first = comment.body.splitlines()[1]
    assert first == "### VirNucPro benchmark: REGRESSION"
    assert "written PASS, re-judged REGRESSION" in comment.body
    assert re.search(r"^\| `end_to_end.total_time` +\| FAIL ", comment.body, re.M)


def test_an_honest_pass_posts_success_and_says_it_was_re_judged(fake, tmp_path, sleeps):
    record = timed_record(0.0, head_commit=HEAD_SHA)
    assert _trusted(fake, tmp_path, sleeps, _written(record), record) == 0
    assert fake.statuses[0][1]["state"] == "success"
    assert "re-judged from the raw pairs by the base commit's judge; it matches" in (
        _marked(fake)[0].body
    )


def test_changed_outputs_post_failure_naming_them_and_acceptance_says_so_first(
    fake, tmp_path, sleeps
):
    changed = PairOutputs(base=same_rounds(), head=same_rounds(flip(ROWS, 2)))
    record = timed_record(-0.3, head_commit=HEAD_SHA, outputs=changed)
    assert _trusted(fake, tmp_path, sleeps, _written(record), record) == 0
    status = fake.statuses[-1][1]
    assert status["state"] == "failure" and status["description"].startswith("outputs changed:")
    assert "1 label(s), 1 chunk call(s)" in status["description"]
    body = _marked(fake)[0].body
    assert body.splitlines()[1] == "### VirNucPro benchmark: OUTPUTS CHANGED"
    assert "Times not comparable: the outputs differ." in body
    accepted = _written(record, accepted=True)
    flags = ("--accept-output-change",)
    assert _trusted(fake, tmp_path, sleeps, accepted, record, *flags) == 0
    assert fake.statuses[-1][1]["state"] == "success"
    assert fake.statuses[-1][1]["description"].startswith("outputs changed and were accepted")
    title = _marked(fake)[0].body.splitlines()[1]
    assert title == "### VirNucPro benchmark: PASS (outputs changed and were accepted)"


@pytest.mark.parametrize("missing", ["pairs", "report"])
def test_missing_raw_pairs_or_report_post_an_error_never_success(
    fake, tmp_path, sleeps, missing: str
):
    record = timed_record(0.0, head_commit=HEAD_SHA)
    report = None if missing == "report" else _written(record)
    pairs = None if missing == "pairs" else record
    assert _trusted(fake, tmp_path, sleeps, report, pairs) == 2
    ((_, status),) = fake.statuses
    assert status["state"] == "error" and status["description"].startswith("could not judge")
    assert "missing" in _marked(fake)[0].body
