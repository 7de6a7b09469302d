"""The plan's public API (``from tools.bench import ...``): each name does what the plan says,
through the one implementation it names."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pytest

import tools.bench
from tests.tools.bench import make_fixtures as mf
from tests.tools.bench.fake_github import make_report, regression_report
from tools.bench import (
    RegressionTracker,
    ReportGenerator,
    check_regression,
    compare_runs,
    exit_code_for_regressions,
    generate_comparison_report,
    generate_json_report,
    generate_markdown_report,
    github_comment_format,
    identify_improvements,
    identify_regressions,
    regression_badge_data,
    update_baseline,
)
from tools.bench.github.render import DEFAULT_MARKER, MAX_COMMENT_CHARS
from tools.bench.history import baseline as baseline_module
from tools.bench.judge import stored as check_module
from tools.bench.report.document import build_report, read_report, render_markdown
from tools.bench.synthetic import SYNTHETIC_CREATED_AT, draw_samples, synthetic_document
from tools.bench.verdict import Verdict
from virnucpro.bench.metric_names import POOLED_POLLS, SAMPLES_LABEL, TOTAL_TIME_METRIC
from virnucpro.bench.schema import Metric, ResultsDocument, metric_from_samples

REPO = Path(__file__).resolve().parents[3]
NOW = datetime(2025, 3, 5, 12, 0, 0, tzinfo=timezone.utc)
STEM = "benchmark_20250305_120000"
UTILIZATION = "gpu.utilization"
MEMORY = "memory.host_peak_rss"
PLAN_NAMES = (  # every library name the plan gives (tasks 1 and 3)
    "ReportGenerator",
    "generate_markdown_report",
    "generate_json_report",
    "compare_runs",
    "identify_improvements",
    "identify_regressions",
    "generate_comparison_report",
    "RegressionTracker",
    "check_regression",
    "update_baseline",
    "github_comment_format",
    "exit_code_for_regressions",
    "regression_badge_data",
)


def _metrics(seed: int, *, total: float, utilization: float, memory: float) -> list[Metric]:
    rng = np.random.default_rng(seed)

    def drawn(level: float) -> tuple[float, ...]:
        return draw_samples(rng, level=level, noise=0.003, count=12)

    return [
        metric_from_samples(TOTAL_TIME_METRIC, drawn(total), unit="s", better="lower"),
        metric_from_samples(UTILIZATION, drawn(utilization), unit="%", better="higher"),
        metric_from_samples(MEMORY, drawn(memory), unit="B", better="lower"),
    ]


def _run(
    seed: int,
    *,
    total: float = 100.0,
    utilization: float = 90.0,
    memory: float = 1e9,
    created_at: str = SYNTHETIC_CREATED_AT,
) -> ResultsDocument:
    metrics = _metrics(seed, total=total, utilization=utilization, memory=memory)
    return synthetic_document(metrics, run_id=f"run-{seed}", created_at=created_at)


def _status(verdict: Verdict, name: str) -> str:
    return next(j.status for j in verdict.judgements if j.name == name)


def _reason(verdict: Verdict, name: str) -> str:
    return next(j.reason for j in verdict.judgements if j.name == name)


# ----------------------------------------------------------------------------- the verify lines


@pytest.mark.parametrize(
    "code",
    [
        "from tools.bench import ReportGenerator, generate_markdown_report; "
        "print('Report generator imports successfully')",
        "from tools.bench import RegressionTracker, check_regression; "
        "tracker = RegressionTracker(); print('Regression tracker initialized')",
    ],
)
def test_the_plans_verify_lines_run(code: str) -> None:
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().endswith(("successfully", "initialized"))


def test_every_name_is_exported_and_unknown_names_are_not() -> None:
    for name in tools.bench.__all__:
        assert getattr(tools.bench, name) is getattr(tools.bench.api, name)
    assert set(tools.bench.__all__) == set(PLAN_NAMES)
    with pytest.raises(AttributeError):
        _ = tools.bench.NoSuchThing  # type: ignore[attr-defined]


def test_thin_names_are_the_implementations_themselves() -> None:
    assert check_regression is check_module.check_regression
    assert update_baseline is baseline_module.update_baseline


# ----------------------------------------------------------------------------- reports


def test_report_generator_renders_and_writes_the_report(tmp_path: Path) -> None:
    results, verdict = mf.load_fixture("regression_run"), mf.load_verdict()
    generator = ReportGenerator(results, verdict=verdict, now=NOW)
    assert generator.report == build_report(results, verdict=verdict, now=NOW)
    assert generator.markdown() == render_markdown(generator.report)
    assert json.loads(generator.json())["verdict"]["outcome"] == "regression"
    md, js = generator.write(tmp_path)
    assert (md.name, js.name) == (f"{STEM}.md", f"{STEM}.json")
    assert read_report(js).results == results and read_report(js).markdown_file == md.name


def test_the_summary_is_one_page_with_requirements_and_recommendations() -> None:
    generator = ReportGenerator(mf.load_fixture("regression_run"), verdict=mf.load_verdict())
    summary = generator.summary()
    assert "**Requirements**" in summary and "**Recommendations**" in summary
    assert "**Regressions and warnings**" in summary and "`stage.esm.time`" in summary
    for requirement in generator.report.requirements:
        assert requirement.name in summary


def test_the_dashboard_charts_the_history_and_this_run(tmp_path: Path) -> None:
    generator = ReportGenerator(mf.load_fixture("regression_run"), now=NOW)
    page = generator.write_dashboard(mf.history(), tmp_path)
    text = page.read_text(encoding="utf-8")
    assert "gpu-20250304-1200" in text and "gpu-h3" in text
    assert list(tmp_path.glob("*.png"))


def test_markdown_and_json_reports_are_written_one_each(tmp_path: Path) -> None:
    results = mf.load_fixture("gpu_run")
    md = generate_markdown_report(results, out_dir=tmp_path, now=NOW)
    js = generate_json_report(results, out_dir=tmp_path, now=NOW)
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"{STEM}.json", f"{STEM}.md"]
    report = build_report(results, verdict=None, now=NOW)
    assert md.read_text(encoding="utf-8") == render_markdown(report)
    assert read_report(js) == report
    for section in ("## Scaling", "## Memory", "## Equivalence"):
        assert section in md.read_text(encoding="utf-8")


def test_comparison_utilities_diff_two_runs() -> None:
    base, slower = mf.load_fixture("gpu_run"), mf.load_fixture("regression_run")
    changes = compare_runs(base, slower)  # the checker's judgement of every directed metric
    directed = {
        m.name
        for m in (*base.metrics, *slower.metrics)
        if m.better != "none" and (m.labels or {}).get(SAMPLES_LABEL) != POOLED_POLLS
    }
    assert {c.name for c in changes} == directed  # pooled NVML polls are shown, never tested
    worse = {c.name for c in identify_regressions(base, slower)}
    assert "stage.esm.time" in worse and TOTAL_TIME_METRIC not in worse  # two runs apart: drift
    total = next(c for c in changes if c.name == TOTAL_TIME_METRIC)
    assert total.status == "inconclusive" and total.reason.startswith("drift against the stored")
    assert {c.name for c in identify_improvements(slower, base)} >= {"stage.esm.time"}
    assert identify_improvements(base, slower) == ()
    text = generate_comparison_report(base, slower)
    assert "## Regressions" in text and "## Improvements" in text and TOTAL_TIME_METRIC in text


# ----------------------------------------------------------------------------- regressions


def test_tracker_stores_loads_and_checks_against_the_baseline(tmp_path: Path) -> None:
    tracker = RegressionTracker(tmp_path, history_dir=tmp_path / "history")
    assert tracker.load_baseline(_run(1)) is None
    stored = tracker.update_baseline(_run(1))
    record = tracker.load_baseline(_run(2))
    assert record is not None and record.source_run_id == "run-1" and record.path == stored
    from_file = tracker.load_baseline(stored)
    assert from_file is not None and from_file.results == record.results
    assert tracker.check_regression(_run(2)).outcome == "pass"
    slower = tracker.check_regression(_run(3, total=115.0))
    assert (slower.outcome, slower.exit_code) == ("inconclusive", 2)  # one stored run: drift
    for k in range(4):  # a history of two days measures the between-run noise
        tracker.record(_run(40 + k, created_at=f"2024-12-2{k % 2}T08:00:00+00:00"))
    slower = tracker.check_regression(_run(3, total=115.0))
    assert (slower.outcome, slower.exit_code) == ("regression", 1)
    assert _status(slower, TOTAL_TIME_METRIC) == "fail"


@pytest.mark.parametrize(
    ("changes", "metric", "status", "outcome"),
    [
        # > 10% slower: against one stored run, drift (a fail needs a history of two days)
        ({"total": 112.0}, TOTAL_TIME_METRIC, "inconclusive", "inconclusive"),
        ({"total": 104.0}, TOTAL_TIME_METRIC, "pass", "pass"),  # 4% slower: within
        ({"utilization": 84.0}, UTILIZATION, "warn", "warn"),  # 6 points lower: warn
        ({"utilization": 87.0}, UTILIZATION, "pass", "pass"),  # 3 points lower: within
        ({"memory": 1.25e9}, MEMORY, "warn", "warn"),  # 25% more memory: warn
        ({"memory": 1.1e9}, MEMORY, "pass", "pass"),  # 10% more memory: within
    ],
)
def test_the_plans_thresholds(
    tmp_path: Path, changes: dict[str, float], metric: str, status: str, outcome: str
) -> None:
    tracker = RegressionTracker(tmp_path, history_dir=tmp_path / "history")
    verdict = tracker.check_regression(_run(5, **changes), baseline=_run(4))
    assert _status(verdict, metric) == status
    assert verdict.outcome == outcome
    assert verdict == check_regression(_run(5, **changes), _run(4))


def test_tracker_without_a_baseline(tmp_path: Path) -> None:
    assert RegressionTracker(tmp_path).check_regression(_run(1)).exit_code == 0
    required = RegressionTracker(tmp_path, require_baseline=True).check_regression(_run(1))
    assert (required.outcome, required.exit_code) == ("no_baseline", 2)


def test_tracker_checks_against_the_between_run_noise_of_its_history(tmp_path: Path) -> None:
    tracker = RegressionTracker(tmp_path / "baselines", history_dir=tmp_path / "history")
    tracker.update_baseline(_run(1))
    drifting = tracker.check_regression(_run(2, total=118.0))
    assert drifting.outcome == "inconclusive"  # one stored run: drift, never a regression
    assert "drift against the stored run" in _reason(drifting, TOTAL_TIME_METRIC)
    for k, total in enumerate((100.0, 112.0, 95.0, 118.0, 104.0, 92.0, 115.0)):
        tracker.record(_run(20 + k, total=total))
    verdict = tracker.check_regression(_run(2, total=118.0))
    assert (verdict.outcome, verdict.exit_code) == ("inconclusive", 2)
    given = tracker.check_regression(_run(2, total=118.0), baseline=_run(1))
    assert given.judgements == verdict.judgements


def test_tracker_trend_finds_the_step_in_the_history(tmp_path: Path) -> None:
    tracker = RegressionTracker(tmp_path / "baselines", history_dir=tmp_path / "history")
    for k in range(16):
        tracker.record(_run(10 + k, total=100.0 if k < 8 else 130.0))
    assert len(tracker.history(_run(0))) == 16
    (report,) = tracker.trend(_run(0), metrics=[TOTAL_TIME_METRIC])
    assert [p.index for p in report.change_points] == [8]
    assert not (tmp_path / "baselines").exists()  # the history stays out of baselines/
    page = tracker.trend_dashboard(_run(0), tmp_path / "dash", metrics=[TOTAL_TIME_METRIC])
    assert page.is_file() and list(page.parent.glob("*.png"))


@pytest.mark.parametrize(
    ("outcome", "code", "advisory"),
    [
        ("pass", 0, 0),
        ("warn", 0, 0),
        ("no_baseline", 0, 0),
        ("regression", 1, 0),
        ("could_not_judge", 2, 2),
    ],
)
def test_exit_code_for_regressions(outcome: str, code: int, advisory: int) -> None:
    verdict = make_report(outcome).verdict  # type: ignore[arg-type]
    assert exit_code_for_regressions(verdict) == code
    assert exit_code_for_regressions(verdict, fail_on_regression=False) == advisory


def test_no_verdict_could_not_be_judged() -> None:
    assert exit_code_for_regressions(None) == 2


def test_github_comment_is_the_marked_body_within_githubs_limit() -> None:
    body = github_comment_format(regression_report())
    assert body.startswith(f"{DEFAULT_MARKER}\n### VirNucPro benchmark: REGRESSION")
    assert len(body) <= MAX_COMMENT_CHARS and "`end_to_end.total_time`" in body


def test_badge_data_is_a_shields_endpoint_document() -> None:
    assert regression_badge_data(regression_report()) == {
        "schemaVersion": 1,
        "label": "benchmark",
        "message": "regression +14.2%",
        "color": "red",
    }
    assert regression_badge_data(make_report("pass"))["color"] == "green"
