"""``virnucpro benchmark --against``: the A/B mode end to end, and its option checks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import pytest

from tests.bench.ab_records import ab_record, round_sample, tiny_spec
from tools.bench.judge.paired import judge_record
from tools.bench.report.document import build_report, render_markdown
from tools.bench.thresholds import DEFAULT_THRESHOLDS
from virnucpro.bench.ab.document import (
    COVERAGE_NOTE,
    NOT_RUN_IN_AB,
    NVML_MEMORY_IN_AB,
    side_document,
)
from virnucpro.bench.ab.schema import ABRecord, PairedRound, RoundSample, read_record
from virnucpro.bench.ab.worker import ON_CPU
from virnucpro.bench.metric_names import (
    CUDA_PEAK_ALLOCATED,
    CUDA_PEAK_RESERVED,
    GPU_ROUND_UTILIZATION,
    HOST_PEAK_RSS,
    NVML_DEVICE_USED,
)
from virnucpro.bench.options import for_tier
from virnucpro.bench.schema import ResultsDocument
from virnucpro.bench.workload.reads import make_reads, write_fasta
from virnucpro.cli.ab import run_against
from virnucpro.errors import InputError

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("flag", ["compare_to", "update_baseline", "append_history", "history_dir"])
def test_storing_or_comparing_options_are_refused(flag: str, tmp_path: Path) -> None:
    value = tmp_path / "x.json" if flag in ("compare_to", "history_dir") else True
    options = for_tier("quick", output_dir=tmp_path, **{flag: value})
    with pytest.raises(InputError, match="cannot be combined with --against"):
        run_against(options, ref="HEAD", command="test", overrides={})


@pytest.mark.slow
def test_the_checkout_against_its_own_commit_end_to_end(tmp_path: Path) -> None:
    """Six pairs of real rounds, head against HEAD: a verdict, a report and the raw pairs."""
    reports = tmp_path / "reports"
    argv = ["--quick", "--against", "HEAD", "--rounds", "6", "--max-rounds", "6"]
    done = subprocess.run(
        [sys.executable, "-m", "virnucpro", "benchmark", *argv, "--output-dir", str(reports)],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        cwd=tmp_path,
        timeout=600,
        check=False,
    )
    # A/A: PASS, or exit 2 (six pairs may leave the total time undecided; a busy host is
    # INVALID); never a crash, never a regression.
    assert done.returncode in (0, 2), done.stdout + done.stderr
    assert "verdict: " in done.stdout and "raw pairs: " in done.stdout
    report = json.loads(next(reports.glob("benchmark_*.json")).read_text())
    assert report["verdict"]["mode"] == "paired"
    total = next(j for j in report["verdict"]["judgements"] if j["name"].endswith("total_time"))
    assert total["pairs"] == 6
    record = read_record(next(reports.glob("runs/ab-*/ab_pairs.json")))
    assert len(record.rounds) == 6 and record.base.commit and len(record.base.commit) == 40
    assert record.base.package != record.head.package  # the base ran from its own worktree
    assert report["results"]["skipped"] == NOT_RUN_IN_AB
    assert report["results"]["run"]["suites"] == ["end_to_end", "throughput", "memory"]
    assert {p.name for p in reports.glob("runs/ab-*/results-*.json")} == {
        "results-head.json",
        "results-base.json",
    }


# ----------------------------------------------------------------------------- the A/B report

GIB = 2**30
FIXED_NOW = datetime(2026, 11, 30, 12, 0, tzinfo=timezone.utc)


def _round_sample(seconds: float, *, gpu: bool) -> RoundSample:
    if gpu:
        figures: dict[str, object] = {
            "cuda_peak_allocated": 3 * GIB,
            "cuda_peak_reserved": 4 * GIB,
            "gpu_utilization": 62.0 + seconds,
            "gpu_utilization_readings": 12,
        }
    else:
        unmeasured = ("cuda_peak_allocated", "cuda_peak_reserved", "gpu_utilization")
        figures = {"unmeasured": dict.fromkeys(unmeasured, ON_CPU)}
    return round_sample(
        seconds,
        seconds / 2,
        stages={"dnabert": seconds / 2, "esm": seconds / 4},
        reads=20,
        bases=10_000,
        kept_frames=120,
        dnabert_tokens=4000,
        esm_tokens=9000,
        host_peak_rss=GIB + int(seconds * 1000),
        **figures,
    )


def _ab_document(tmp_path: Path, *, gpu: bool) -> tuple[ABRecord, ResultsDocument]:
    workload = write_fasta(make_reads(20, expected_length=300), tmp_path / "reads.fa")
    spec = tiny_spec(workload, "cuda:0" if gpu else "cpu")
    rounds = tuple(
        PairedRound(
            index=i,
            first="base",
            base=_round_sample(1.0 + i / 100, gpu=gpu),
            head=_round_sample(1.0 + i / 100, gpu=gpu),
            wall_seconds=2.0,
            others_share=0.01,
        )
        for i in range(6)
    )
    record = ab_record(rounds, root=str(REPO), ref="HEAD", workload=str(workload), warmup=1)
    options = for_tier("quick", output_dir=tmp_path)
    document = side_document(
        record, side="head", options=options, spec=spec, command="test", notes=()
    )
    return record, document


def _rows(markdown: str) -> list[list[str]]:
    """The cells of every table row of a markdown text."""
    lines = (line.strip() for line in markdown.splitlines())
    return [[c.strip() for c in line.strip("|").split("|")] for line in lines if line[:1] == "|"]


def _has_row(markdown: str, *cells: str) -> bool:
    return any(row[: len(cells)] == list(cells) for row in _rows(markdown))


def _markdown(record: ABRecord, document: ResultsDocument) -> str:
    verdict = judge_record(record, thresholds=DEFAULT_THRESHOLDS, label="HEAD (aaaa)")
    return render_markdown(build_report(document, verdict=verdict, now=FIXED_NOW))


def test_the_report_names_the_paired_suites_and_why_the_others_did_not_run(
    tmp_path: Path,
) -> None:
    record, document = _ab_document(tmp_path, gpu=False)
    assert document.run.suites == ("end_to_end", "throughput", "memory")
    assert document.skipped == NOT_RUN_IN_AB
    markdown = _markdown(record, document)
    assert _has_row(markdown, "suites", "end_to_end, throughput, memory")
    skipped = markdown.split("## Skipped Suites")[1]
    for suite, reason in NOT_RUN_IN_AB.items():
        assert _has_row(skipped, suite, reason), suite
    assert f"## Scaling Performance\n\nNot run ({NOT_RUN_IN_AB['scaling']})." in markdown
    assert f"## Equivalence Validation\n\nNot run ({NOT_RUN_IN_AB['equivalence']})." in markdown
    assert f"- {COVERAGE_NOTE}" in markdown


def test_on_the_cpu_host_memory_is_paired_and_the_gpu_figures_say_why_not(
    tmp_path: Path,
) -> None:
    record, document = _ab_document(tmp_path, gpu=False)
    rss = document.metric(HOST_PEAK_RSS)
    assert rss is not None and len(rss.samples) == 6
    for name in (CUDA_PEAK_ALLOCATED, CUDA_PEAK_RESERVED, GPU_ROUND_UTILIZATION):
        metric = document.metric(name)
        assert metric is not None and metric.reason == ON_CPU, name
    markdown = _markdown(record, document)
    memory = markdown.split("## Memory Usage Profile")[1]
    assert _has_row(memory, "host peak RSS", f"`{HOST_PEAK_RSS}`", "1.00 GiB")
    assert _has_row(
        memory, "CUDA peak reserved", f"`{CUDA_PEAK_RESERVED}`", f"unavailable ({ON_CPU})"
    )
    assert f"Median utilization: unavailable ({ON_CPU})." in markdown
    assert _has_row(markdown.split("## Regression Check")[1], f"`{HOST_PEAK_RSS}`", "PASS")


def test_on_cuda_memory_and_utilization_are_paired_per_round(tmp_path: Path) -> None:
    record, document = _ab_document(tmp_path, gpu=True)
    for name in (CUDA_PEAK_ALLOCATED, CUDA_PEAK_RESERVED, GPU_ROUND_UTILIZATION):
        metric = document.metric(name)
        assert metric is not None and len(metric.samples) == 6, name
    assert document.metric(NVML_DEVICE_USED).reason == NVML_MEMORY_IN_AB
    markdown = _markdown(record, document)
    assert f"`{GPU_ROUND_UTILIZATION}` median of 6 round means" in markdown
    judged = markdown.split("## Regression Check")[1]
    for name in (CUDA_PEAK_ALLOCATED, CUDA_PEAK_RESERVED, GPU_ROUND_UTILIZATION):
        assert _has_row(judged, f"`{name}`", "PASS"), name
