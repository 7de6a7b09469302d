"""The markdown/JSON report and the PR comment, replayed over the committed fixtures."""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from tests.tools.bench import make_fixtures as mf
from tools.bench.report import document as report_module
from tools.bench.report.document import (
    build_report,
    read_report,
    render_markdown,
    render_pr_comment,
    write_reports,
)
from tools.bench.verdict import ReportDocument
from virnucpro.bench.metric_names import TOTAL_TIME_METRIC
from virnucpro.bench.records import SchemaError
from virnucpro.bench.schema import StageTiming

SECTION_ORDER = (
    "## Executive Summary",
    "## Scaling Performance",
    "## End-to-End Results",
    "## Per-Stage Breakdown",
    "## Memory Usage Profile",
    "## GPU Utilization",
    "## Equivalence Validation",
    "## Regression Check",
    "## Recommendations",
    "## Workload & Environment",
    "## Validity",
    "## Skipped Suites",
)
ZERO_CELL = re.compile(r"^0(\.0+)?( ?(B|s|%|ms|x))?$")


def _report(name: str) -> ReportDocument:
    verdict = mf.load_verdict() if name == "regression_run" else None
    return build_report(mf.load_fixture(name), verdict=verdict, now=mf.FIXED_NOW)


def _table_cells(markdown: str, row_key: str) -> list[str]:
    line = next(line for line in markdown.splitlines() if line.startswith("|") and row_key in line)
    return [cell.strip() for cell in line.strip("|").split("|")]


def test_committed_fixtures_match_the_generator() -> None:
    for name, text in mf.fixture_texts().items():
        committed = (mf.FIXTURES_DIR / name).read_text(encoding="utf-8")
        assert committed == text, f"{name} is stale: python -m tests.tools.bench.make_fixtures"


@pytest.mark.parametrize("name", sorted(mf.FIXTURES))
def test_markdown_report_matches_snapshot(name: str) -> None:
    mf.assert_snapshot(f"report_{name}.md", render_markdown(_report(name)))


def test_pr_comment_matches_snapshot() -> None:
    mf.assert_snapshot("comment_regression_run.md", render_pr_comment(_report("regression_run")))


@pytest.mark.parametrize("name", sorted(mf.FIXTURES))
def test_sections_appear_in_order(name: str) -> None:
    text = render_markdown(_report(name))
    positions = [text.index(heading) for heading in SECTION_ORDER]
    assert positions == sorted(positions)


def test_unmeasured_values_render_unavailable_never_zero() -> None:
    text = render_markdown(_report("cpu_run"))
    for name in ("memory.cuda_peak_allocated", "memory.cuda_peak_reserved", "gpu.utilization"):
        assert "unavailable (no CUDA device" in text
        for line in (line for line in text.splitlines() if f"`{name}`" in line):
            cells = [cell.strip() for cell in line.strip("|").split("|")]
            assert not any(ZERO_CELL.match(cell) for cell in cells), line
    assert "unavailable (no CUDA device" in _table_cells(text, "GPU utilization (median)")[1]
    assert "GPU telemetry: unavailable (NVML unavailable" in text


def test_zero_check_itself_catches_a_zero() -> None:
    assert ZERO_CELL.match("0 B") and ZERO_CELL.match("0.00 s") and ZERO_CELL.match("0.0%")


def test_bottleneck_is_the_slowest_stage() -> None:
    doc = mf.load_fixture("gpu_run")
    slowest = max(doc.stages, key=lambda t: sorted(t.seconds)[len(t.seconds) // 2]).stage
    assert f"**Bottleneck:** `{slowest}`" in render_markdown(
        build_report(doc, verdict=None, now=mf.FIXED_NOW)
    )
    stages = tuple(
        t.model_copy(update={"seconds": tuple(s * 100 for s in t.seconds)})
        if t.stage == "read"
        else t
        for t in doc.stages
    )
    text = render_markdown(
        build_report(doc.model_copy(update={"stages": stages}), verdict=None, now=mf.FIXED_NOW)
    )
    assert "**Bottleneck:** `read`" in text


def test_stage_metrics_stand_in_for_missing_stage_timings() -> None:
    doc = mf.load_fixture("cpu_run").model_copy(update={"stages": ()})
    text = render_markdown(build_report(doc, verdict=None, now=mf.FIXED_NOW))
    assert "**Bottleneck:** `esm`" in text
    assert _table_cells(text, "| `esm` ")[4] == "n/a"  # items/s needs item counts


def test_no_stage_data_says_unavailable() -> None:
    doc = mf.load_fixture("cpu_run")
    metrics = tuple(m for m in doc.metrics if not m.name.startswith("stage."))
    doc = doc.model_copy(
        update={"stages": (StageTiming(stage="read", seconds=()),), "metrics": metrics}
    )
    text = render_markdown(build_report(doc, verdict=None, now=mf.FIXED_NOW))
    assert "unavailable (no stage timings recorded)" in text
    assert "Bottleneck" not in text.split("## Per-Stage Breakdown")[1].split("##")[0]


def test_invalid_run_is_flagged_at_the_top_and_in_validity() -> None:
    text = render_markdown(_report("invalid_run"))
    banner = text.index("> **INVALID RUN")
    assert banner < text.index("## Executive Summary")
    assert "another compute process on GPU 1" in text[banner : text.index("## Executive Summary")]
    assert "**INVALID**: GPU 3 clocks throttled" in text.split("## Validity")[1]
    assert "**Verdict: INVALID RUN**" in text
    valid = render_markdown(_report("gpu_run"))
    assert "INVALID" not in valid and "VALID: the machine was fit to measure." in valid


def test_random_weight_models_are_labelled() -> None:
    label = "models: tiny random weights -- predictions not biologically meaningful"
    assert label in render_markdown(_report("cpu_run"))
    assert label not in render_markdown(_report("gpu_run"))


def test_regression_section_lists_judgements_and_explains_inconclusive() -> None:
    text = render_markdown(_report("regression_run"))
    section = text.split("## Regression Check")[1].split("## Recommendations")[0]
    assert _table_cells(section, "`end_to_end.total_time`")[1] == "FAIL"
    assert "+15.0%" in _table_cells(section, "`end_to_end.total_time`")[4]
    assert "`cold.first_batch` is inconclusive: 3 samples a side" in section
    plain = render_markdown(_report("gpu_run")).split("## Regression Check")[1]
    assert plain.lstrip().startswith("No baseline comparison")


def test_executive_summary_reports_verdict_and_requirements() -> None:
    text = render_markdown(_report("regression_run"))
    summary = text.split("## Executive Summary")[1].split("## Scaling Performance")[0]
    assert "**Verdict: REGRESSION** (exit code 1)" in summary
    assert _table_cells(summary, "total time not regressed")[1] == "FAIL"
    assert _table_cells(summary, "fast vs vanilla speedup")[1] == "PASS"
    assert "± " in _table_cells(summary, "total time (median ± IQR)")[1]


def test_scaling_table_has_speedup_and_efficiency() -> None:
    text = render_markdown(_report("gpu_run"))
    section = text.split("## Scaling Performance")[1].split("## End-to-End")[0]
    cells = _table_cells(section, "| total   | 4 GPUs")
    assert cells[4] == "3.44x" and cells[5] == "0.86"


def test_build_report_fills_requirements_and_recommendations() -> None:
    report = _report("regression_run")
    assert report.generated_at == "2025-03-05T12:00:00+00:00"
    assert {r.name for r in report.requirements} >= {"run valid", "total time not regressed"}
    assert any("Bottleneck: stage `esm`" in r for r in report.recommendations)


def test_pr_comment_fits_and_cuts_at_a_section_boundary() -> None:
    report = _report("regression_run")
    full = render_pr_comment(report)
    assert "Comment truncated" not in full
    assert full.startswith("### VirNucPro benchmark: REGRESSION")
    cut = render_pr_comment(report, max_chars=2500)
    assert len(cut) <= 2500
    kept, note = cut.rstrip("\n").rsplit("\n\n", 1)
    assert note.startswith("_Comment truncated:")
    assert full.startswith(kept + "\n\n")  # a prefix ending at a section boundary
    assert "<!--" not in full  # the poster adds its own marker


def test_pr_comment_with_a_tiny_limit_still_fits() -> None:
    cut = render_pr_comment(_report("regression_run"), max_chars=400)
    assert len(cut) <= 400
    assert "Comment truncated" in cut


def test_write_reports_names_files_by_utc_time(tmp_path: Path) -> None:
    local = datetime(2025, 3, 5, 14, 0, 0, tzinfo=timezone(timedelta(hours=2)))
    report = build_report(mf.load_fixture("gpu_run"), verdict=None, now=local)
    md, js = write_reports(report, tmp_path / "out")
    assert (md.name, js.name) == ("benchmark_20250305_120000.md", "benchmark_20250305_120000.json")
    data = json.loads(js.read_text(encoding="utf-8"))
    assert data == report.model_copy(update={"markdown_file": md.name}).model_dump(mode="json")
    assert md.read_text(encoding="utf-8") == render_markdown(report)
    assert read_report(js) == report.model_copy(update={"markdown_file": md.name})
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [js.name, md.name]


def test_report_stem_accepts_a_z_suffix() -> None:
    report = _report("cpu_run").model_copy(update={"generated_at": "2025-03-05T23:59:58Z"})
    assert report_module.report_stem(report) == "benchmark_20250305_235958"


def test_write_reports_goes_through_atomic_writes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    written: list[str] = []
    real = report_module.write_new_text

    def recording(path: Path, text: str) -> bool:
        written.append(Path(path).name)
        return real(path, text)

    monkeypatch.setattr(report_module, "write_new_text", recording)
    md, js = write_reports(_report("cpu_run"), tmp_path)
    assert written == [md.name, js.name]


def test_two_reports_of_one_second_keep_both(tmp_path: Path) -> None:
    first, second = _report("cpu_run"), _report("regression_run")
    second = second.model_copy(update={"generated_at": first.generated_at})
    paths = [write_reports(report, tmp_path) for report in (first, second, first)]
    stem = report_module.report_stem(first)
    assert [md.stem for md, _ in paths] == [stem, f"{stem}_2", f"{stem}_3"]
    assert [js.stem for _, js in paths] == [stem, f"{stem}_2", f"{stem}_3"]
    assert read_report(paths[1][1]).markdown_file == f"{stem}_2.md"
    assert read_report(paths[0][1]) == first.model_copy(update={"markdown_file": f"{stem}.md"})
    assert sorted(p.name for md, js in paths for p in (md, js)) == sorted(
        p.name for p in tmp_path.iterdir()
    )


def test_a_lone_json_of_that_name_is_left_and_the_next_name_taken(tmp_path: Path) -> None:
    report = _report("cpu_run")
    stem = report_module.report_stem(report)
    (tmp_path / f"{stem}.json").write_text("someone else's", encoding="utf-8")
    md, js = write_reports(report, tmp_path)
    assert (md.stem, js.stem) == (f"{stem}_2", f"{stem}_2")
    assert (tmp_path / f"{stem}.json").read_text(encoding="utf-8") == "someone else's"
    assert not (tmp_path / f"{stem}.md").exists()


def test_reports_written_at_once_by_many_threads_never_share_a_name(tmp_path: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    report = _report("cpu_run")
    with ThreadPoolExecutor(max_workers=8) as pool:
        paths = list(pool.map(lambda _: write_reports(report, tmp_path), range(24)))
    assert len({md for md, _ in paths}) == len({js for _, js in paths}) == 24
    for md, js in paths:
        assert read_report(js).markdown_file == md.name


def test_failed_write_leaves_the_old_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    report = _report("cpu_run")
    md, _ = write_reports(report, tmp_path)
    before = md.read_text(encoding="utf-8")

    def broken(_: ReportDocument) -> str:
        raise RuntimeError("render failed")

    monkeypatch.setattr(report_module, "render_markdown", broken)
    with pytest.raises(RuntimeError):
        write_reports(report, tmp_path)
    assert md.read_text(encoding="utf-8") == before
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "no such file"),
        ("{not json", "not valid JSON"),
        ("[]", "not an object"),
        ('{"kind": "virnucpro-benchmark-results"}', "not a benchmark report"),
        ('{"kind": "virnucpro-benchmark-report", "report_version": 99}', "report_version 99"),
        ('{"kind": "virnucpro-benchmark-report", "report_version": 1}', "invalid benchmark report"),
    ],
)
def test_read_report_errors_are_one_line(tmp_path: Path, content: str | None, message: str) -> None:
    path = tmp_path / "report.json"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    with pytest.raises(SchemaError, match=message) as info:
        read_report(path)
    assert "\n" not in str(info.value)


def test_metric_tables_give_the_median_interval_from_the_samples() -> None:
    from tools.bench.report.blocks import metrics_table
    from virnucpro.bench.schema import metric_from_samples

    six = metric_from_samples(TOTAL_TIME_METRIC, [6, 1, 5, 2, 4, 3], unit="s", better="lower")
    five = metric_from_samples("stage.esm.time", [1, 2, 3, 4, 5], unit="s", better="lower")
    rows = metrics_table([six, five]).splitlines()
    assert "95% CI of median" in rows[0]
    assert "1.00 s .. 6.00 s" in rows[2]  # with 6 samples the 95% interval is the full range
    assert "n/a (n < 6)" in rows[3]


def test_other_processes_that_could_not_be_told_read_unknown_not_unavailable() -> None:
    doc = mf.load_fixture("gpu_run")
    why = "unknown on 4 of 4 polls: NVML lists no compute process, not even this one"
    samples = tuple(s.model_copy(update={"other_processes": None}) for s in doc.gpu.samples)
    gpu = doc.gpu.model_copy(update={"samples": samples, "processes_unknown": why})
    report = build_report(doc.model_copy(update={"gpu": gpu}), verdict=None, now=mf.FIXED_NOW)
    text = render_markdown(report)
    part = text.split("## GPU Utilization")[1].split("\n## ")[0]
    assert _table_cells(part, "| 0: ")[-1] == "unknown (below)"
    assert f"Other compute processes: {why} (not counted against the run)." in part
    assert "Other compute processes" not in render_markdown(_report("gpu_run"))


def test_a_paired_verdict_says_what_it_could_detect_in_markdown_comment_and_json(
    tmp_path: Path,
) -> None:
    """The MDE line reaches every rendering of a paired verdict, and the JSON keeps the number."""
    from tests.tools.bench.history.test_runs import _doc, _paired_report

    doc = _doc("paired-1")
    report = build_report(doc, verdict=_paired_report(doc).verdict, now=mf.FIXED_NOW)
    design = report.verdict.design
    assert design is not None and design.min_detectable is not None
    line = f"this run could detect >= {design.min_detectable:.1%} slower total time"
    assert line in render_markdown(report).split("## Executive Summary")[1]
    assert line in render_pr_comment(report)
    paths = write_reports(report, tmp_path)
    saved = json.loads(next(p for p in paths if p.suffix == ".json").read_text())
    assert saved["verdict"]["design"]["min_detectable"] == pytest.approx(design.min_detectable)
    assert read_report(next(p for p in paths if p.suffix == ".json")).verdict == report.verdict
