"""Posting a bisection against a fake GitHub: the job summary, one comment on the culprit's
merged pull request (updated, never repeated), and what a read-only token or no PR does."""

from __future__ import annotations

from pathlib import Path

from tests.bench.bisect.scripted import scripted_result
from tests.tools.bench.fake_github import (
    NOW,
    READ_ONLY_TOKEN,
    REPO,
    TOKEN,
    FakeGitHub,
    SleepRecorder,
)
from tools.bench.cli.bisect import main_bisect_post
from tools.bench.github.bisect import MARKER, BisectPostConfig, post_bisect
from virnucpro.bench.bisect.schema import BisectResult, write_result

N = 8
CULPRIT = "06" * 20
MERGED_PR = 41


def _result(steps: dict[int, float]) -> BisectResult:
    return scripted_result(steps, N)


def _post(fake: FakeGitHub, tmp_path: Path, result: BisectResult, **changes):
    values = {
        "repo": REPO,
        "token": TOKEN,
        "api_url": fake.url,
        "summary_file": tmp_path / "summary.md",
        "run_url": "https://github.com/octo/virnucpro/actions/runs/42",
        **changes,
    }
    config = BisectPostConfig(**values)
    return post_bisect(result, config=config, sleep=SleepRecorder(), clock=lambda: NOW)


def test_the_culprits_merged_pr_gets_one_comment_updated_on_a_rerun(tmp_path: Path) -> None:
    result = _result({6: 1.25})
    with FakeGitHub() as fake:
        fake.merged_prs[CULPRIT] = MERGED_PR
        first = _post(fake, tmp_path, result)
        second = _post(fake, tmp_path, result.model_copy(update={"seconds": 99.0}))
        comments = fake.comments.get(MERGED_PR, [])
    assert first.pr == MERGED_PR and first.comment.action == "created"
    assert second.comment.action == "updated"
    assert len(comments) == 1 and comments[0].body.startswith(MARKER.format(sha=CULPRIT))
    assert f"**Culprit**: `{CULPRIT}`" in comments[0].body
    assert "[The bisection's CI run](https://github.com/octo/virnucpro/actions/runs/42)" in (
        comments[0].body
    )
    summary = (tmp_path / "summary.md").read_text(encoding="utf-8")
    assert summary.count("## VirNucPro bisection: CULPRIT") == 2  # appended per run


def test_a_culprit_pushed_without_a_pr_gets_no_comment(tmp_path: Path) -> None:
    with FakeGitHub() as fake:
        posted = _post(fake, tmp_path, _result({6: 1.25}))
        assert not fake.recorded("POST")
    assert posted.comment.action == "skipped" and "no merged pull request" in posted.comment.detail
    assert posted.summary.action == "written"


def test_no_culprit_no_comment_and_a_read_only_token_only_writes_the_summary(tmp_path) -> None:
    with FakeGitHub() as fake:
        fake.merged_prs[CULPRIT] = MERGED_PR
        none = _post(fake, tmp_path, _result({}))
        read_only = _post(fake, tmp_path, _result({6: 1.25}), token=READ_ONLY_TOKEN)
        assert fake.comments.get(MERGED_PR) is None
    assert none.comment.detail == "no culprit named"
    assert read_only.comment.action == "skipped" and "cannot write" in read_only.comment.detail
    assert "NO SLOWDOWN" in (tmp_path / "summary.md").read_text(encoding="utf-8")


def test_the_command_line_posts_and_a_bad_record_is_one_line(tmp_path: Path, capsys) -> None:
    record = write_result(_result({6: 1.25}), tmp_path / "bisect.json")
    with FakeGitHub() as fake:
        fake.merged_prs[CULPRIT] = MERGED_PR
        env = {
            "GITHUB_API_URL": fake.url,
            "GITHUB_TOKEN": TOKEN,
            "GITHUB_REPOSITORY": REPO,
            "GITHUB_STEP_SUMMARY": str(tmp_path / "summary.md"),
            "GITHUB_SERVER_URL": "https://github.com",
            "GITHUB_RUN_ID": "42",
        }
        assert main_bisect_post([str(record)], env=env) == 0
        assert len(fake.comments[MERGED_PR]) == 1
        bad = tmp_path / "bad.json"
        bad.write_text('{"kind": "something-else"}', encoding="utf-8")
        assert main_bisect_post([str(bad)], env=env) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "not a bisection record" in err[0]
