"""Exports for pytest-benchmark, github-action-benchmark and Bencher, read by their own rules."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.tools.bench import make_fixtures as mf
from tools.bench.cli.main import main
from tools.bench.report.export import to_bencher, to_github_action_benchmark, to_pytest_benchmark
from virnucpro.bench.metric_names import TOTAL_TIME_METRIC

PYTEST_BENCHMARK_KEYS = {"machine_info", "commit_info", "benchmarks", "datetime", "version"}
STATS_KEYS = {"min", "max", "mean", "stddev", "rounds", "median", "iqr", "q1", "q3", "ops"}


def test_pytest_benchmark_document_has_time_metrics_with_raw_samples() -> None:
    run = mf.load_fixture("gpu_run")
    document = to_pytest_benchmark(run)
    assert set(document) == PYTEST_BENCHMARK_KEYS
    names = {b["name"] for b in document["benchmarks"]}
    assert TOTAL_TIME_METRIC in names and "end_to_end.reads_per_s" not in names
    total = next(b for b in document["benchmarks"] if b["name"] == TOTAL_TIME_METRIC)
    metric = run.metric(TOTAL_TIME_METRIC)
    assert metric is not None
    assert set(total["stats"]) >= STATS_KEYS
    assert total["stats"]["median"] == metric.median
    assert total["stats"]["data"] == list(metric.samples)
    assert total["stats"]["rounds"] == len(metric.samples)


def test_github_action_benchmark_splits_by_direction() -> None:
    run = mf.load_fixture("gpu_run")
    smaller = to_github_action_benchmark(run)
    bigger = to_github_action_benchmark(run, bigger=True)
    for entries, better in ((smaller, "lower"), (bigger, "higher")):
        assert entries
        for entry in entries:
            assert set(entry) == {"name", "unit", "value", "range", "extra"}
            metric = run.metric(entry["name"])
            assert metric is not None and metric.better == better
            assert entry["value"] == metric.median


def test_bencher_metric_format_puts_times_in_nanoseconds() -> None:
    run = mf.load_fixture("gpu_run")
    document = to_bencher(run)
    total = document[TOTAL_TIME_METRIC]["latency"]
    metric = run.metric(TOTAL_TIME_METRIC)
    assert metric is not None and metric.median is not None
    assert total["value"] == pytest.approx(metric.median * 1e9)
    assert total["lower_value"] <= total["value"] <= total["upper_value"]
    for measures in document.values():
        (values,) = measures.values()
        assert set(values) == {"value", "lower_value", "upper_value"}


def test_unmeasured_metrics_are_not_exported_as_zero() -> None:
    run = mf.load_fixture("cpu_run")
    unavailable = {m.name for m in run.metrics if not m.available}
    assert unavailable
    assert not unavailable & set(to_bencher(run))
    assert not unavailable & {e["name"] for e in to_github_action_benchmark(run)}


def test_pytest_benchmark_compare_reads_two_exported_runs(tmp_path: Path) -> None:
    cli = shutil.which("pytest-benchmark", path=str(Path(sys.executable).parent))
    if cli is None:
        pytest.skip("pytest-benchmark is not installed in this environment (pip install .[dev])")
    for name in ("gpu_run", "regression_run"):
        source = Path(mf.FIXTURES_DIR) / f"{name}.json"
        target = tmp_path / f"0001_{name}.json"
        assert (
            main(["export", str(source), "--format", "pytest-benchmark", "--out", str(target)]) == 0
        )
        json.loads(target.read_text(encoding="utf-8"))
    done = subprocess.run(
        [
            cli,
            "compare",
            str(tmp_path / "0001_gpu_run.json"),
            str(tmp_path / "0001_regression_run.json"),
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
        env={**os.environ, "COLUMNS": "240"},
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert "Failed to load" not in done.stdout + done.stderr
    rows = [line for line in done.stdout.splitlines() if line.startswith(TOTAL_TIME_METRIC)]
    sources = [row.split()[1] for row in rows]  # pytest-benchmark shortens the file names
    assert len(sources) == 2
    assert sources[0].endswith("gpu_run)") and sources[1].endswith("regress)")
    assert "2,675.5000 (1.15)" in rows[1]  # the regression run's median, 15% over the base
