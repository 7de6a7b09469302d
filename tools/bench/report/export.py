"""Export a run to the formats of the tools teams already run.

- ``pytest-benchmark``: the JSON that ``pytest --benchmark-json`` writes, read by
  ``pytest-benchmark compare`` and by github-action-benchmark's ``pytest`` tool. Only time
  metrics (seconds) are benchmarks there; each keeps its raw samples under ``stats.data``.
- ``github-action-benchmark``: the ``customSmallerIsBetter`` list (``{name, unit, value,
  range, extra}``) of every lower-is-better metric, or with ``bigger=True`` the
  ``customBiggerIsBetter`` list of the higher-is-better ones. ``range`` is the IQR.
- ``bencher``: Bencher Metric Format, ``{benchmark: {measure: {value, lower_value,
  upper_value}}}``; times go to the built-in ``latency`` measure in nanoseconds, other metrics
  to a measure named after their unit. Lower and upper values are the quartiles.

Unmeasured metrics are left out (never exported as zero).
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Sequence
from typing import Any, Literal

from tools.bench.report.formatting import SECOND_UNITS
from virnucpro.bench.schema import Metric, ResultsDocument

ExportFormat = Literal["pytest-benchmark", "github-action-benchmark", "bencher"]
FORMATS: tuple[ExportFormat, ...] = ("pytest-benchmark", "github-action-benchmark", "bencher")
PYTEST_BENCHMARK_VERSION = "5.1.0"  # the file layout version written (pytest-benchmark >= 3.1)
NANOSECONDS_PER_SECOND = 1e9
BENCHER_LATENCY = "latency"
OUTLIER_IQRS = 1.5
MIN_SAMPLES_FOR_SPREAD = 2


def _measured(results: ResultsDocument) -> list[Metric]:
    return [m for m in results.metrics if m.available and m.samples]


def _quartiles(samples: Sequence[float]) -> tuple[float, float]:
    if len(samples) < MIN_SAMPLES_FOR_SPREAD:
        return samples[0], samples[0]
    q1, _, q3 = statistics.quantiles(samples, n=4, method="inclusive")
    return q1, q3


def _pytest_stats(samples: Sequence[float]) -> dict[str, Any]:
    """pytest-benchmark's ``stats`` block, from the raw per-round seconds."""
    q1, q3 = _quartiles(samples)
    iqr = q3 - q1
    mean = statistics.fmean(samples)
    stddev = statistics.stdev(samples) if len(samples) >= MIN_SAMPLES_FOR_SPREAD else 0.0
    low, high = q1 - OUTLIER_IQRS * iqr, q3 + OUTLIER_IQRS * iqr
    iqr_outliers = sum(1 for s in samples if s < low or s > high)
    std_outliers = sum(1 for s in samples if abs(s - mean) > stddev) if stddev else 0
    return {
        "min": min(samples),
        "max": max(samples),
        "mean": mean,
        "stddev": stddev,
        "rounds": len(samples),
        "median": statistics.median(samples),
        "iqr": iqr,
        "q1": q1,
        "q3": q3,
        "iqr_outliers": iqr_outliers,
        "stddev_outliers": std_outliers,
        "outliers": f"{std_outliers};{iqr_outliers}",
        "ld15iqr": min(s for s in samples if s >= low),
        "hd15iqr": max(s for s in samples if s <= high),
        "ops": 1.0 / mean if mean > 0 else 0.0,
        "total": sum(samples),
        "data": list(samples),
        "iterations": 1,
    }


def to_pytest_benchmark(results: ResultsDocument) -> dict[str, Any]:
    """pytest-benchmark's JSON document of the run's time metrics."""
    env, run = results.environment, results.run
    benchmarks = [
        {
            "group": m.name.split(".")[0],
            "name": m.name,
            "fullname": f"virnucpro::{m.name}",
            "params": None,
            "param": None,
            "extra_info": {"unit": m.unit, "stage": m.stage, "run_id": run.run_id},
            "options": {
                "disable_gc": False,
                "timer": "perf_counter",
                "min_rounds": run.rounds,
                "max_time": 0,
                "min_time": 0,
                "warmup": run.warmup_rounds > 0,
            },
            "stats": _pytest_stats(m.samples),
        }
        for m in _measured(results)
        if m.unit in SECOND_UNITS
    ]
    return {
        "machine_info": {
            "node": "",
            "processor": env.cpu_model,
            "machine": env.platform,
            "python_implementation": "CPython",
            "python_version": env.python,
            "cpu": {"brand_raw": env.cpu_model, "count": env.cpu_count},
            "torch": env.torch,
            "gpus": list(env.gpu_names),
        },
        "commit_info": {"id": env.git_commit or "unknown", "dirty": bool(env.git_dirty)},
        "benchmarks": benchmarks,
        "datetime": run.created_at,
        "version": PYTEST_BENCHMARK_VERSION,
    }


def to_github_action_benchmark(
    results: ResultsDocument, *, bigger: bool = False
) -> list[dict[str, Any]]:
    """github-action-benchmark's customSmallerIsBetter (or customBiggerIsBetter) entries."""
    wanted = "higher" if bigger else "lower"
    entries = []
    for m in _measured(results):
        if m.better != wanted or m.median is None:
            continue
        q1, q3 = _quartiles(m.samples)
        entries.append(
            {
                "name": m.name,
                "unit": m.unit,
                "value": m.median,
                "range": f"IQR {q3 - q1:.6g}",
                "extra": f"n={len(m.samples)} run={results.run.run_id} "
                f"commit={results.environment.git_commit or 'unknown'}",
            }
        )
    return entries


def _bencher_measure(metric: Metric) -> tuple[str, float]:
    if metric.unit in SECOND_UNITS:
        return BENCHER_LATENCY, NANOSECONDS_PER_SECOND
    return metric.unit.replace("/", "-per-").replace(" ", "-") or "value", 1.0


def to_bencher(results: ResultsDocument) -> dict[str, dict[str, dict[str, float]]]:
    """Bencher Metric Format: one benchmark per metric, its measure with value and quartiles."""
    document: dict[str, dict[str, dict[str, float]]] = {}
    for m in _measured(results):
        if m.median is None:
            continue
        measure, factor = _bencher_measure(m)
        q1, q3 = _quartiles(m.samples)
        document[m.name] = {
            measure: {
                "value": m.median * factor,
                "lower_value": q1 * factor,
                "upper_value": q3 * factor,
            }
        }
    return document


def export_text(
    results: ResultsDocument,
    fmt: ExportFormat,
    *,
    bigger: bool = False,
) -> str:
    """The run in ``fmt``, as JSON text."""
    if fmt == "pytest-benchmark":
        data: object = to_pytest_benchmark(results)
    elif fmt == "github-action-benchmark":
        data = to_github_action_benchmark(results, bigger=bigger)
    else:
        data = to_bencher(results)
    return json.dumps(data, indent=2) + "\n"
