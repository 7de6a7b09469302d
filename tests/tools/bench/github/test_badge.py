"""The shields.io badge: its message and colour, the atomic file, publishing to a branch."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from tests.tools.bench.fake_github import (
    READ_ONLY_TOKEN,
    REPO,
    TOKEN,
    FakeGitHub,
    SleepRecorder,
    judgement,
    make_report,
    write_report,
)
from tools.bench.cli.badge import main_badge
from tools.bench.github.badge import DEFAULT_COMMIT_MESSAGE, DEFAULT_PUBLISH_PATH, make_badge
from tools.bench.report.headline import headline
from tools.bench.verdict import ReportDocument
from virnucpro.bench.metric_names import TOTAL_TIME_METRIC

BRANCH = "badges"
BADGE_PATH = "bench/badge.json"
CONTENTS = f"/repos/{REPO}/contents/{BADGE_PATH}"
REGRESSION = make_report("regression", judgements=(judgement(TOTAL_TIME_METRIC, "fail", 0.14),))


def _run(
    tmp_path: Path,
    *flags: str,
    report: ReportDocument = REGRESSION,
    env: dict[str, str] | None = None,
    sleeps: SleepRecorder | None = None,
) -> int:
    path = write_report(report, tmp_path / "report.json")
    return main_badge([str(path), *flags], env=env or {}, sleep=sleeps or SleepRecorder())


def _publish(fake: FakeGitHub, tmp_path: Path, *flags: str, **kwargs) -> int:
    env = {"GITHUB_API_URL": fake.url, "GITHUB_TOKEN": TOKEN, "GITHUB_REPOSITORY": REPO}
    publish = ("--publish-branch", BRANCH, "--publish-path", BADGE_PATH)
    return _run(tmp_path, *publish, *flags, env=kwargs.pop("env", env), **kwargs)


def _published(fake: FakeGitHub) -> dict:
    return json.loads(fake.files[(BRANCH, BADGE_PATH)])


@pytest.mark.parametrize(
    ("report", "message", "color"),
    [
        (make_report("pass"), "pass 12.30 s", "green"),
        (REGRESSION, "regression +14.0%", "red"),
        (
            make_report("warn", judgements=(judgement("gpu.utilization", "warn", 0.06),)),
            "warn +6.0%",
            "yellow",
        ),
        (make_report("no_baseline"), "no baseline", "lightgrey"),
        (make_report("could_not_judge", reasons=("invalid run",)), "could not judge", "lightgrey"),
        (make_report(None), "not compared", "lightgrey"),
    ],
)
def test_badge_message_and_color_follow_the_verdict(report, message, color):
    badge = make_badge(report)
    assert (badge.label, badge.message, badge.color) == ("benchmark", message, color)


def test_headline_names_the_worst_failure():
    report = make_report(
        "regression",
        judgements=(
            judgement("stage.esm.time", "fail", 0.12),
            judgement(TOTAL_TIME_METRIC, "fail", 0.3),
        ),
    )
    assert headline(report) == "regression: end_to_end.total_time +30.0% (and 1 more)"


def test_badge_file_is_shields_endpoint_json(tmp_path, capsys):
    out = tmp_path / "site" / "badge.json"
    assert _run(tmp_path, "--out", str(out), "--label", "bench") == 0
    assert json.loads(out.read_text(encoding="utf-8")) == {
        "schemaVersion": 1,
        "label": "bench",
        "message": "regression +14.0%",
        "color": "red",
    }
    assert sorted(p.name for p in out.parent.iterdir()) == ["badge.json"]  # no temp file left
    assert "badge: written:" in capsys.readouterr().out


def test_publish_creates_then_updates_then_leaves_alone(fake, tmp_path):
    assert _publish(fake, tmp_path, report=make_report("pass")) == 0
    assert _publish(fake, tmp_path) == 0
    assert _publish(fake, tmp_path) == 0

    create, update = fake.recorded("PUT", CONTENTS)  # the third run found nothing to change
    assert create.body["branch"] == BRANCH and create.body["message"] == DEFAULT_COMMIT_MESSAGE
    assert "sha" not in create.body
    assert json.loads(base64.b64decode(create.body["content"]))["message"] == "pass 12.30 s"
    assert update.body["sha"]  # the sha GET returned for the file on the branch
    assert [r.query for r in fake.recorded("GET", CONTENTS)] == [{"ref": BRANCH}] * 3
    assert _published(fake)["message"] == "regression +14.0%"
    assert len(fake.commits) == 2


def test_publish_replays_after_a_conflict(fake, tmp_path):
    sleeps = SleepRecorder()
    assert _publish(fake, tmp_path, report=make_report("pass")) == 0
    fake.fail("PUT", "/contents/", 409, message="is at abc but expected def")
    assert _publish(fake, tmp_path, sleeps=sleeps) == 0
    assert _published(fake)["color"] == "red"
    assert len(fake.recorded("PUT", CONTENTS)) == 3 and sleeps.delays == [1.0]


def test_publish_dry_run_sends_nothing(fake, tmp_path, capsys):
    assert _publish(fake, tmp_path, "--dry-run") == 0
    assert fake.requests == []
    out = capsys.readouterr().out
    assert f"dry-run: PUT {fake.url}{CONTENTS} body" in out and TOKEN not in out


def test_publish_with_a_read_only_token_exits_1(fake, tmp_path, capsys):
    env = {"GITHUB_API_URL": fake.url, "GITHUB_TOKEN": READ_ONLY_TOKEN, "GITHUB_REPOSITORY": REPO}
    assert _publish(fake, tmp_path, env=env) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Resource not accessible by integration" in err
    assert READ_ONLY_TOKEN not in err


@pytest.mark.parametrize(
    "flags",
    [
        (),  # neither --out nor publishing
        ("--publish-path", BADGE_PATH),  # a path without a branch
        ("--publish-branch", BRANCH, "--publish-path", BADGE_PATH),  # no token, no repo
        ("--bogus",),
    ],
)
def test_usage_errors_exit_2(tmp_path, capsys, flags):
    assert _run(tmp_path, *flags) == 2
    assert capsys.readouterr().err.strip()


def test_corrupt_report_exits_2(tmp_path, capsys):
    path = tmp_path / "report.json"
    path.write_text("{", encoding="utf-8")
    assert main_badge([str(path), "--out", str(tmp_path / "b.json")], env={}) == 2
    assert capsys.readouterr().err.count("\n") == 1
    assert not (tmp_path / "b.json").exists()


def test_publish_path_has_a_default(fake, tmp_path):
    env = {"GITHUB_API_URL": fake.url, "GITHUB_TOKEN": TOKEN, "GITHUB_REPOSITORY": REPO}
    assert _run(tmp_path, "--publish-branch", BRANCH, env=env) == 0
    assert json.loads(fake.files[(BRANCH, DEFAULT_PUBLISH_PATH)])["color"] == "red"
