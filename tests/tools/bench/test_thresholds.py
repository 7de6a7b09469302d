"""Thresholds: plan defaults, TOML loading, overrides, and the rule chosen per metric."""

from __future__ import annotations

from pathlib import Path

import pytest

from tools.bench.thresholds import (
    DEFAULT_THRESHOLDS,
    MetricRule,
    describe_change,
    load_thresholds,
    relative_threshold,
    rule_for,
    with_overrides,
)
from virnucpro.bench.metric_names import TOTAL_TIME_METRIC
from virnucpro.bench.records import SchemaError
from virnucpro.bench.schema import Metric, metric_from_samples


def _metric(name: str, unit: str) -> Metric:
    return metric_from_samples(name, [1.0], unit=unit, better="lower")


def test_defaults_follow_the_benchmark_plan() -> None:
    t = DEFAULT_THRESHOLDS
    assert t.fail_slowdown == 0.10
    assert t.warn_utilization_drop_points == 5.0
    assert t.warn_memory_growth == 0.20
    assert t.warn_scaling_efficiency_drop == 0.05
    assert t.alpha == 0.05
    assert t.min_samples == 5


def test_toml_file_overrides_only_the_keys_it_names(tmp_path: Path) -> None:
    path = tmp_path / "thresholds.toml"
    path.write_text("fail_slowdown = 0.15\nalpha = 0.01\n", encoding="utf-8")
    loaded = load_thresholds(path)
    assert (loaded.fail_slowdown, loaded.alpha) == (0.15, 0.01)
    assert loaded.warn_memory_growth == DEFAULT_THRESHOLDS.warn_memory_growth


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("fail_slowdown = 0.1\nbogus = 1\n", "bogus"),
        ("alpha = 2.0\n", "alpha"),
        ("min_samples = 'five'\n", "min_samples"),
        ("fail_slowdown = = 1\n", "not valid TOML"),
    ],
)
def test_bad_thresholds_file_is_a_one_line_schema_error(
    tmp_path: Path, text: str, message: str
) -> None:
    path = tmp_path / "thresholds.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(SchemaError, match=message) as caught:
        load_thresholds(path)
    assert "\n" not in str(caught.value)
    assert caught.value.exit_code == 2


def test_missing_thresholds_file(tmp_path: Path) -> None:
    with pytest.raises(SchemaError, match="no such file"):
        load_thresholds(tmp_path / "absent.toml")


def test_overrides_skip_none_and_are_validated() -> None:
    changed = with_overrides(DEFAULT_THRESHOLDS, fail_slowdown=0.2, alpha=None)
    assert changed.fail_slowdown == 0.2
    assert changed.alpha == DEFAULT_THRESHOLDS.alpha
    with pytest.raises(SchemaError, match="fail_slowdown"):
        with_overrides(DEFAULT_THRESHOLDS, fail_slowdown=-1.0)


@pytest.mark.parametrize(
    ("name", "unit", "category", "severity", "mode", "threshold"),
    [
        (TOTAL_TIME_METRIC, "s", "time", "fail", "relative", 0.10),
        ("memory.cuda_peak_allocated", "bytes", "memory", "warn", "relative", 0.20),
        ("gpu.utilization", "%", "utilization", "warn", "absolute", 5.0),
        ("stage.esm.gpu_utilization", "fraction", "utilization", "warn", "absolute", 0.05),
        ("scaling.efficiency.4", "ratio", "scaling", "warn", "absolute", 0.05),
        ("scaling.efficiency.4", "%", "scaling", "warn", "absolute", 5.0),
        ("throughput.esm.tokens_per_s", "tokens/s", "other", "warn", "relative", 0.10),
    ],
)
def test_rule_for_each_kind_of_metric(
    name: str, unit: str, category: str, severity: str, mode: str, threshold: float
) -> None:
    rule = rule_for(_metric(name, unit), DEFAULT_THRESHOLDS)
    assert (rule.category, rule.severity, rule.mode) == (category, severity, mode)
    assert rule.threshold == pytest.approx(threshold)


def test_absolute_threshold_converts_at_the_baseline_median() -> None:
    rule = rule_for(_metric("gpu.utilization", "%"), DEFAULT_THRESHOLDS)
    assert relative_threshold(rule, 80.0) == pytest.approx(5.0 / 80.0)
    time_rule = rule_for(_metric("t", "s"), DEFAULT_THRESHOLDS)
    assert relative_threshold(time_rule, 80.0) == 0.10


@pytest.mark.parametrize(
    ("change", "rule", "unit", "delta", "words"),
    [
        (
            0.12,
            MetricRule("time", "fail", "relative", 0.10),
            "s",
            1.2,
            "12.0% worse (threshold 10%)",
        ),
        (-0.3, MetricRule("other", "warn", "relative", 0.10), "", -3.0, "30.0% better"),
        (0.075, MetricRule("utilization", "warn", "absolute", 5.0), "%", -6.0, "6 points worse"),
        (0.0, MetricRule("time", "fail", "relative", 0.10), "s", 0.0, "unchanged (threshold 10%)"),
        (0.1, MetricRule("scaling", "warn", "absolute", 0.05), "ratio", -0.09, "0.09 worse"),
    ],
)
def test_a_change_is_described_in_the_rule_s_terms(
    change: float, rule: MetricRule, unit: str, delta: float, words: str
) -> None:
    assert describe_change(change, rule=rule, unit=unit, delta=delta).startswith(words)
